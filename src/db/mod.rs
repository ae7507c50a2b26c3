//! Database client instrumentation: sqlx pools (Postgres, SQLite, `Any`) with CLIENT spans,
//! `db.client.operation.duration` and pool gauges.
//!
//! One line changes: `let pool = InstrumentedPool::new(pool, DbMeta::from_url(&url)?);` and
//! `sqlx::query(…).fetch_one(&pool)` is traced and measured. Transactions:
//! `let mut tx = pool.begin().await?;` then `…execute(&mut tx)`; `tx.commit().await?`.
//!
//! No literal value from a query reaches telemetry: spans carry the sanitized statement
//! (literals replaced by `?`), metrics carry only the operation, table and summary, errors only
//! their SQLSTATE (never the server's message, which can quote values).

pub mod summary;

#[cfg(feature = "sqlx")]
mod sqlx_pool;

#[cfg(feature = "sqlx")]
pub use sqlx_pool::{InstrumentedPool, InstrumentedTransaction, PoolGauges, sqlx_error_type};
pub use summary::{SqlInfo, SummaryCache, summarize};

use crate::catalog::values::DbSystem;
use std::sync::Arc;

/// What a pool talks to: `db.system.name`, `db.namespace`, and the pool's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbMeta {
    /// `db.system.name`.
    pub system: DbSystem,
    /// `db.namespace`: the database name (Postgres), the file stem (SQLite).
    pub namespace: Arc<str>,
    /// `db.client.connection.pool.name`.
    pub pool_name: Arc<str>,
    /// `server.address` (empty for embedded databases).
    pub server_address: Arc<str>,
    /// `server.port` (0 for embedded databases).
    pub server_port: u16,
}

/// Why a database URL could not be understood (never echoes a password).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DbUrlError {
    /// The scheme is not a supported database.
    #[error("unsupported scheme {0:?} (expected postgres://, postgresql:// or sqlite:)")]
    Scheme(String),
    /// The URL is not well formed.
    #[error("malformed URL: {0}")]
    Malformed(&'static str),
}

impl DbMeta {
    /// Derives the metadata from a connection URL (`postgres://…/db`, `sqlite:path` or
    /// `sqlite::memory:`).
    pub fn from_url(url: &str) -> Result<Self, DbUrlError> {
        let (scheme, rest) = url.split_once(':').ok_or(DbUrlError::Malformed("no scheme"))?;
        match scheme {
            "postgres" | "postgresql" => {
                let rest = rest.strip_prefix("//").ok_or(DbUrlError::Malformed("expected postgres://host/db"))?;
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
                if host_port.is_empty() {
                    return Err(DbUrlError::Malformed("missing host"));
                }
                let (host, port) = match host_port.rsplit_once(':') {
                    Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                        (h, p.parse::<u16>().map_err(|_| DbUrlError::Malformed("bad port"))?)
                    }
                    _ => (host_port, 5432),
                };
                let db = path.split('?').next().unwrap_or("");
                let db = if db.is_empty() { "postgres" } else { db };
                Ok(DbMeta {
                    system: DbSystem::Postgresql,
                    namespace: Arc::from(db),
                    pool_name: Arc::from(format!("postgresql://{host}:{port}/{db}")),
                    server_address: Arc::from(host),
                    server_port: port,
                })
            }
            "sqlite" => {
                let path = rest.trim_start_matches("//");
                let path = path.split('?').next().unwrap_or("");
                let stem = if path.is_empty() || path == ":memory:" {
                    "memory".to_string()
                } else {
                    std::path::Path::new(path)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "main".into())
                };
                Ok(DbMeta {
                    system: DbSystem::Sqlite,
                    namespace: Arc::from(stem.as_str()),
                    pool_name: Arc::from(format!("sqlite:{stem}")),
                    server_address: Arc::from(""),
                    server_port: 0,
                })
            }
            other => Err(DbUrlError::Scheme(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_without_keeping_passwords() {
        let m = DbMeta::from_url("postgres://trader:hunter2@db.internal:6543/orders?sslmode=disable").unwrap();
        assert_eq!(m.system, DbSystem::Postgresql);
        assert_eq!(&*m.namespace, "orders");
        assert_eq!(&*m.server_address, "db.internal");
        assert_eq!(m.server_port, 6543);
        assert!(!format!("{m:?}").contains("hunter2"));
        let s = DbMeta::from_url("sqlite:data/swaggy.db?mode=rwc").unwrap();
        assert_eq!((s.system, &*s.namespace), (DbSystem::Sqlite, "swaggy"));
        assert_eq!(DbMeta::from_url("mysql://x/y"), Err(DbUrlError::Scheme("mysql".into())));
        assert!(DbMeta::from_url("postgres:nohost").is_err());
        assert!(DbMeta::from_url("postgres://h:notaport/db").is_err());
    }
}
