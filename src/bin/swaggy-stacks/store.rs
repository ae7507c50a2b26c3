//! Orders, fills, positions and cash in the database (Postgres or SQLite through sqlx's `Any`
//! driver), through the instrumented pool.

use crate::portfolio::{Position, STARTING_CASH};
use serde::Serialize;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, ConnectOptions, Row};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use swaggy_telemetry::catalog::values::{CancelReason, RejectReason};
use swaggy_telemetry::db::{DbMeta, InstrumentedPool};
use swaggy_telemetry::{TradeOutcome, TradeResult, instrumented};

/// A stored order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderRecord {
    pub id: String,
    pub symbol: String,
    pub side: String,
    #[serde(rename = "type")]
    pub order_type: String,
    pub quantity: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<f64>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill_price: Option<f64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl TradeOutcome for OrderRecord {
    fn trade_result(&self) -> TradeResult {
        let reason = self.reason.as_deref().unwrap_or("");
        match self.status.as_str() {
            "filled" => TradeResult::Filled { price: self.fill_price.unwrap_or(0.0), quantity: self.quantity as f64 },
            "cancelled" => TradeResult::Cancelled(CancelReason::parse(reason).unwrap_or(CancelReason::Expired)),
            _ => TradeResult::Rejected(RejectReason::parse(reason).unwrap_or(RejectReason::BrokerUnavailable)),
        }
    }
}

/// A fill to store with its order.
#[derive(Debug, Clone)]
pub struct FillRecord {
    pub id: String,
    pub quantity: i64,
    pub price: f64,
    pub filled_at_ms: i64,
}

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: InstrumentedPool<Any>,
    ready: Arc<AtomicBool>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// A lazily connecting pool (the service starts even when the database is down).
    pub fn connect_lazy(url: &str, meta: DbMeta) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        // Statement logging is off: sqlx would log SQL text at WARN for slow queries.
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy_with(options);
        Ok(Store { pool: InstrumentedPool::new(pool, meta), ready: Arc::new(AtomicBool::new(false)) })
    }

    /// The instrumented pool.
    pub fn pool(&self) -> &InstrumentedPool<Any> {
        &self.pool
    }

    /// Whether migrations have run.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Runs the embedded migrations and creates the account row.
    #[instrumented]
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        MIGRATOR.run(self.pool.inner()).await?;
        sqlx::query("INSERT INTO account (id, cash) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(STARTING_CASH)
            .execute(&self.pool)
            .await?;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Cash and positions as stored.
    #[instrumented]
    pub async fn load_portfolio(&self) -> Result<(f64, BTreeMap<String, Position>), sqlx::Error> {
        let cash: f64 = sqlx::query("SELECT cash FROM account WHERE id = 1").fetch_one(&self.pool).await?.try_get(0)?;
        let rows = sqlx::query("SELECT symbol, quantity, avg_price, realized_pnl FROM positions")
            .fetch_all(&self.pool)
            .await?;
        let mut positions = BTreeMap::new();
        for r in rows {
            positions.insert(
                r.try_get::<String, _>(0)?,
                Position { quantity: r.try_get(1)?, avg_price: r.try_get(2)?, realized_pnl: r.try_get(3)? },
            );
        }
        Ok((cash, positions))
    }

    /// Stores a processed order, its fill, the new position and cash, atomically.
    #[instrumented]
    pub async fn record(
        &self,
        order: &OrderRecord,
        fill: Option<(&FillRecord, &Position, f64)>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO orders (id, symbol, side, order_type, quantity, limit_price, status, reason, fill_price, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&order.id)
        .bind(&order.symbol)
        .bind(&order.side)
        .bind(&order.order_type)
        .bind(order.quantity)
        .bind(order.limit_price)
        .bind(&order.status)
        .bind(order.reason.as_deref())
        .bind(order.fill_price)
        .bind(order.created_at_ms)
        .bind(order.updated_at_ms)
        .execute(&mut tx)
        .await?;
        if let Some((f, position, cash)) = fill {
            sqlx::query(
                "INSERT INTO fills (id, order_id, symbol, side, quantity, price, filled_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&f.id)
            .bind(&order.id)
            .bind(&order.symbol)
            .bind(&order.side)
            .bind(f.quantity)
            .bind(f.price)
            .bind(f.filled_at_ms)
            .execute(&mut tx)
            .await?;
            sqlx::query(
                "INSERT INTO positions (symbol, quantity, avg_price, realized_pnl) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (symbol) DO UPDATE SET quantity = excluded.quantity, avg_price = excluded.avg_price, \
                 realized_pnl = excluded.realized_pnl",
            )
            .bind(&order.symbol)
            .bind(position.quantity)
            .bind(position.avg_price)
            .bind(position.realized_pnl)
            .execute(&mut tx)
            .await?;
            sqlx::query("UPDATE account SET cash = $1 WHERE id = 1").bind(cash).execute(&mut tx).await?;
        }
        tx.commit().await
    }

    /// One order by id.
    #[instrumented]
    pub async fn order(&self, id: &str) -> Result<Option<OrderRecord>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, symbol, side, order_type, quantity, limit_price, status, reason, fill_price, created_at_ms, updated_at_ms \
             FROM orders WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(OrderRecord {
            id: r.try_get(0)?,
            symbol: r.try_get(1)?,
            side: r.try_get(2)?,
            order_type: r.try_get(3)?,
            quantity: r.try_get(4)?,
            limit_price: r.try_get(5)?,
            status: r.try_get(6)?,
            reason: r.try_get(7)?,
            fill_price: r.try_get(8)?,
            created_at_ms: r.try_get(9)?,
            updated_at_ms: r.try_get(10)?,
        }))
    }
}
