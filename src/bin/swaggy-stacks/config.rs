//! Command line and environment: every flag has an environment fallback; every bad value exits
//! with status 2 and one line naming the setting.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use swaggy_telemetry::db::DbMeta;

/// Swaggy Stacks: a paper-trading reference service instrumented with swaggy-telemetry.
#[derive(Debug, Parser)]
#[command(name = "swaggy-stacks", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on.
    #[arg(long = "listen", env = "LISTEN_ADDR", global = true, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Database URL (postgres://… or sqlite:…); default: an SQLite file in the temp directory.
    #[arg(long = "database-url", env = "DATABASE_URL", global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Redis URL (redis://host:port); default: no cache.
    #[arg(long = "redis-url", env = "REDIS_URL", global = true, value_name = "URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Simulated orders per second (demo only).
    #[arg(long = "rate", env = "SIM_RATE", global = true, value_name = "N")]
    pub rate: Option<String>,

    /// Quote cache TTL in seconds.
    #[arg(long = "quote-ttl", env = "QUOTE_TTL", global = true, value_name = "SECS")]
    pub quote_ttl: Option<String>,
}

/// What to run.
#[derive(Debug, Subcommand, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Serve the API with the traffic simulator (the default).
    Demo,
    /// Serve the API without the simulator.
    Serve,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub mode: Command,
    pub listen: SocketAddr,
    pub database_url: String,
    pub database_meta: DbMeta,
    pub redis: Option<redis::Client>,
    pub rate: f64,
    pub quote_ttl: u64,
}

/// A bad setting (printed as one line, exit status 2).
#[derive(Debug)]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {}: {}", self.setting, self.message)
    }
}

fn err(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { setting, message: message.into() }
}

/// The default database: an SQLite file in the temp directory.
pub fn default_database_url() -> String {
    let path = std::env::temp_dir().join("swaggy-stacks-demo.db");
    format!("sqlite://{}?mode=rwc", path.display())
}

impl AppConfig {
    /// Validates the parsed command line.
    pub fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        let mode = cli.command.unwrap_or(Command::Demo);
        let listen_raw = cli.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            err("--listen/LISTEN_ADDR", format!("{listen_raw:?} is not an address like 127.0.0.1:8080"))
        })?;
        let database_url = cli.database_url.unwrap_or_else(default_database_url);
        // Never echo the URL: it may carry a password.
        let database_meta =
            DbMeta::from_url(&database_url).map_err(|e| err("--database-url/DATABASE_URL", e.to_string()))?;
        if let Err(e) = <sqlx::any::AnyConnectOptions as std::str::FromStr>::from_str(&database_url) {
            let kind = match e {
                sqlx::Error::Configuration(_) => "malformed connection options",
                _ => "not a valid connection URL",
            };
            return Err(err("--database-url/DATABASE_URL", kind));
        }
        let redis = match cli.redis_url {
            None => None,
            Some(url) => Some(
                redis::Client::open(url.as_str())
                    .map_err(|_| err("--redis-url/REDIS_URL", "not a valid redis:// URL"))?,
            ),
        };
        let rate = match cli.rate {
            None => 5.0,
            Some(r) => match r.parse::<f64>() {
                Ok(v) if v.is_finite() && (0.0..=1000.0).contains(&v) => v,
                _ => {
                    return Err(err(
                        "--rate/SIM_RATE",
                        format!("{r:?} is not a number of orders per second in [0, 1000]"),
                    ));
                }
            },
        };
        let quote_ttl = match cli.quote_ttl {
            None => 2,
            Some(t) => match t.parse::<u64>() {
                Ok(v) if (1..=3600).contains(&v) => v,
                _ => {
                    return Err(err("--quote-ttl/QUOTE_TTL", format!("{t:?} is not a number of seconds in [1, 3600]")));
                }
            },
        };
        Ok(AppConfig { mode, listen, database_url, database_meta, redis, rate, quote_ttl })
    }
}
