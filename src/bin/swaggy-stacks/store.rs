//! Orders, fills, positions and cash in the database (Postgres or SQLite through sqlx's `Any`
//! driver), through the instrumented pool.
//!
//! The database is the ledger; the in-memory book (`Portfolio`) is a cache of it:
//!
//! - a fill changes cash and the position as deltas computed by the database (`cash = cash +
//!   $1`, `quantity = positions.quantity + $2`) and returns the new values, so the stored
//!   balances always equal the starting cash plus the fills, whatever the memory holds;
//! - every order transaction is bounded by a deadline; a connection that was abandoned
//!   mid-conversation is closed on release (a bounded ping), never reused or leaked;
//! - one instance writes at a time ([`Writer`]): on Postgres a session-level advisory lock on a
//!   dedicated connection, on SQLite an exclusive lock on a file beside the database.

use crate::portfolio::{Position, STARTING_CASH};
use serde::Serialize;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, ConnectOptions, Connection, Row};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swaggy_telemetry::catalog::values::{CancelReason, OrderSide, RejectReason};
use swaggy_telemetry::db::{DbMeta, InstrumentedPool};
use swaggy_telemetry::{ErrorKind, TradeOutcome, TradeResult, instrumented};
use tokio::time::Instant;

/// Longest wait for a pooled connection.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// Bound of a read outside an order (order lookups, loading the book).
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound of the migrations.
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(30);
/// A released connection must answer a ping within this, or it is closed (it was abandoned
/// mid-conversation, e.g. by a deadline, and its replies may never come).
const RELEASE_PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Postgres session settings: the server gives up on a statement after 5 s, and ends a session
/// that sits in an open transaction for 10 s (a client that vanished mid-transaction without
/// closing its socket holds no row locks for longer).
const PG_SESSION_SETTINGS: &str = "SET statement_timeout = 5000; SET idle_in_transaction_session_timeout = 10000";
/// How often a standby tries the writer lock, and the lock holder checks its connection.
const LOCK_POLL: Duration = Duration::from_secs(1);
/// Bound of connecting and of one query on the lock connection.
const LOCK_IO_TIMEOUT: Duration = Duration::from_secs(2);
/// The Postgres advisory lock key of the ledger ("SWAGGYL1"). Advisory locks are per database.
pub const LEDGER_LOCK_KEY: i64 = 0x5357_4147_4759_4c31;

/// A stored order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderRecord {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
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
    pub side: OrderSide,
    pub quantity: i64,
    pub price: f64,
    pub filled_at_ms: i64,
}

impl FillRecord {
    /// The cash the fill moves: negative for a buy.
    pub fn cash_flow(&self) -> f64 {
        let notional = self.quantity as f64 * self.price;
        match self.side {
            OrderSide::Buy => -notional,
            OrderSide::Sell => notional,
        }
    }
}

/// What a stored fill made of the book, as the database computed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BookUpdate {
    pub cash: f64,
    pub position: Position,
}

/// Why an order was not (known to be) stored.
#[derive(Debug, ErrorKind)]
pub enum RecordError {
    /// Not stored: the transaction failed or ran out of time before its `COMMIT`, or the
    /// database refused the `COMMIT`.
    NotStored(sqlx::Error),
    /// The `COMMIT` was sent and no answer came: the order may or may not be stored.
    OutcomeUnknown,
    /// Another order already carries this `client_order_id`; nothing was stored.
    DuplicateClientOrderId,
    /// Another instance took the ledger (the fencing token moved on); nothing was stored.
    Fenced,
}

/// The writer lock's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterState {
    /// Not taken yet (the database was not reached).
    Pending = 0,
    /// This instance is the writer.
    Held = 1,
    /// Another instance holds the ledger; this one stands by and keeps trying.
    HeldElsewhere = 2,
    /// The connection holding the lock broke; taking it again.
    Lost = 3,
}

impl WriterState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => WriterState::Held,
            2 => WriterState::HeldElsewhere,
            3 => WriterState::Lost,
            _ => WriterState::Pending,
        }
    }
}

enum LockKind {
    /// `pg_try_advisory_lock` on a dedicated connection.
    Postgres(AnyConnectOptions),
    /// An exclusive `flock` on `<database file>.writer-lock`.
    SqliteFile(PathBuf),
    /// No lock (in-memory SQLite is private to the process anyway).
    None,
}

/// The single-writer rule: only the instance holding the lock migrates and takes orders.
struct Writer {
    kind: LockKind,
    state: AtomicU8,
    /// Bumped every time the lock is taken: the book is reloaded when it changes.
    epoch: AtomicU64,
    /// This instance's fencing token (`ledger_writer.token` as it last set it).
    token: AtomicI64,
    /// The connection holding the Postgres lock. The claim of the fencing token goes through
    /// it: a claim can only be made while the lock is held (a dead connection cannot claim).
    lock_conn: tokio::sync::Mutex<Option<AnyConnection>>,
    /// The open lock file (SQLite): the lock lives as long as the descriptor.
    file: Mutex<Option<std::fs::File>>,
}

fn timeout_error(what: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out")))
}

/// Runs `f` within `limit`; running out of time is an I/O timeout (a 503 to clients).
async fn bounded<T>(
    limit: Duration,
    what: &str,
    f: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    tokio::time::timeout(limit, f).await.unwrap_or_else(|_| Err(timeout_error(what)))
}

impl Writer {
    fn state(&self) -> WriterState {
        WriterState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Sets the state; returns the previous one.
    fn set(&self, s: WriterState) -> WriterState {
        let previous = WriterState::from_u8(self.state.swap(s as u8, Ordering::AcqRel));
        if s == WriterState::Held && previous != WriterState::Held {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        previous
    }

    fn standing_by(&self) {
        if self.set(WriterState::HeldElsewhere) != WriterState::HeldElsewhere {
            tracing::warn!("another instance holds the ledger (single writer): standing by until it exits");
        }
    }

    /// Takes the lock, waiting while another instance holds it. Fails (to be retried by the
    /// caller) when the database cannot be reached.
    async fn acquire(self: &Arc<Self>) -> Result<(), sqlx::Error> {
        if self.state() == WriterState::Held {
            return Ok(());
        }
        match &self.kind {
            LockKind::None => {
                self.set(WriterState::Held);
                Ok(())
            }
            LockKind::SqliteFile(path) => loop {
                if self.try_lock_file(path)? {
                    self.set(WriterState::Held);
                    return Ok(());
                }
                self.standing_by();
                tokio::time::sleep(LOCK_POLL).await;
            },
            LockKind::Postgres(options) => {
                let mut conn =
                    bounded(LOCK_IO_TIMEOUT, "connecting for the ledger lock", AnyConnection::connect_with(options))
                        .await?;
                loop {
                    if try_advisory_lock(&mut conn).await? {
                        *self.lock_conn.lock().await = Some(conn);
                        self.set(WriterState::Held);
                        tokio::spawn(self.clone().keep(options.clone()));
                        return Ok(());
                    }
                    self.standing_by();
                    tokio::time::sleep(LOCK_POLL).await;
                }
            }
        }
    }

    fn try_lock_file(&self, path: &PathBuf) -> Result<bool, sqlx::Error> {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        match file.try_lock() {
            Ok(()) => {
                if let Ok(mut slot) = self.file.lock() {
                    *slot = Some(file);
                }
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(sqlx::Error::Io(e)),
        }
    }

    /// Holds the Postgres lock: checks its connection every second; when the connection breaks
    /// (the lock went with it), takes the lock again on a new one — or stands by if another
    /// instance took it meanwhile.
    async fn keep(self: Arc<Self>, options: AnyConnectOptions) {
        loop {
            loop {
                tokio::time::sleep(LOCK_POLL).await;
                let mut slot = self.lock_conn.lock().await;
                let Some(conn) = slot.as_mut() else { break };
                let alive = bounded(LOCK_IO_TIMEOUT, "the ledger lock check", async {
                    sqlx::query("SELECT 1").execute(&mut *conn).await.map(|_| ())
                })
                .await;
                if alive.is_err() {
                    break;
                }
            }
            // Dropped, not closed: a connection whose replies stopped cannot say goodbye.
            drop(self.lock_conn.lock().await.take());
            self.set(WriterState::Lost);
            tracing::warn!("the connection holding the ledger lock broke: orders pause until the lock is taken again");
            loop {
                tokio::time::sleep(LOCK_POLL).await;
                let Ok(mut c) =
                    bounded(LOCK_IO_TIMEOUT, "connecting for the ledger lock", AnyConnection::connect_with(&options))
                        .await
                else {
                    continue;
                };
                match try_advisory_lock(&mut c).await {
                    Ok(true) => {
                        // The connection first: the new epoch's claim goes through it.
                        *self.lock_conn.lock().await = Some(c);
                        self.set(WriterState::Held);
                        tracing::info!("ledger lock taken again");
                        break;
                    }
                    Ok(false) => self.standing_by(),
                    Err(_) => {}
                }
            }
        }
    }
}

async fn try_advisory_lock(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    bounded(LOCK_IO_TIMEOUT, "the ledger lock", async {
        sqlx::query("SELECT pg_try_advisory_lock($1)").bind(LEDGER_LOCK_KEY).fetch_one(&mut *conn).await?.try_get(0)
    })
    .await
}

/// The database.
#[derive(Clone)]
pub struct Store {
    pool: InstrumentedPool<Any>,
    migrated: Arc<AtomicBool>,
    writer: Arc<Writer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("pool", &self.pool).field("writer", &self.writer.state()).finish()
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The columns of an order, in the order [`order_from_row`] reads them.
macro_rules! order_columns {
    () => {
        "id, symbol, side, order_type, quantity, limit_price, status, reason, fill_price, \
         created_at_ms, updated_at_ms, client_order_id"
    };
}

fn order_from_row(r: &sqlx::any::AnyRow) -> Result<OrderRecord, sqlx::Error> {
    Ok(OrderRecord {
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
        client_order_id: r.try_get(11)?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

impl Store {
    /// A lazily connecting pool (the service starts even when the database is down).
    pub fn connect_lazy(url: &str, meta: DbMeta) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        // Statement logging is off: sqlx would log SQL text at WARN for slow queries.
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let postgres = url.starts_with("postgres:") || url.starts_with("postgresql:");
        let kind = if postgres {
            LockKind::Postgres(options.clone())
        } else if url.starts_with("sqlite:") {
            let file = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.get_filename().to_path_buf();
            let name = file.as_os_str().to_string_lossy();
            if name.is_empty() || name.contains(":memory:") || url.contains("mode=memory") {
                LockKind::None
            } else {
                let mut lock = file.into_os_string();
                lock.push(".writer-lock");
                LockKind::SqliteFile(lock.into())
            }
        } else {
            LockKind::None
        };
        let mut pool =
            AnyPoolOptions::new().max_connections(8).min_connections(0).acquire_timeout(ACQUIRE_TIMEOUT).after_release(
                |conn, _| {
                    Box::pin(async move {
                        match tokio::time::timeout(RELEASE_PING_TIMEOUT, conn.ping()).await {
                            Ok(Ok(())) => Ok(true),
                            Ok(Err(e)) => Err(e),
                            Err(_) => Err(timeout_error("the release check of a connection")),
                        }
                    })
                },
            );
        if postgres {
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move { sqlx::raw_sql(PG_SESSION_SETTINGS).execute(&mut *conn).await.map(|_| ()) })
            });
        }
        let pool = pool.connect_lazy_with(options);
        Ok(Store {
            pool: InstrumentedPool::new(pool, meta),
            migrated: Arc::new(AtomicBool::new(false)),
            writer: Arc::new(Writer {
                kind,
                state: AtomicU8::new(WriterState::Pending as u8),
                epoch: AtomicU64::new(0),
                token: AtomicI64::new(0),
                lock_conn: tokio::sync::Mutex::new(None),
                file: Mutex::new(None),
            }),
        })
    }

    /// The instrumented pool.
    pub fn pool(&self) -> &InstrumentedPool<Any> {
        &self.pool
    }

    /// Whether this instance may take orders: it holds the ledger (single writer) and the
    /// migrations have run.
    pub fn is_ready(&self) -> bool {
        self.migrated.load(Ordering::Acquire) && self.writer.state() == WriterState::Held
    }

    /// The writer lock's state.
    pub fn writer_state(&self) -> WriterState {
        self.writer.state()
    }

    /// Changes every time this instance (re)takes the writer lock: the book must be reloaded.
    pub fn writer_epoch(&self) -> u64 {
        self.writer.epoch.load(Ordering::Acquire)
    }

    /// Why the instance is not ready for orders, for the database health check (`None` when
    /// ready).
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        match self.writer.state() {
            WriterState::HeldElsewhere => {
                Some("another instance holds the ledger (single writer): this one stands by, retry later")
            }
            WriterState::Lost => Some("the ledger lock was lost with its connection: taking it again, retry later"),
            WriterState::Pending => Some("the ledger lock is not taken yet"),
            WriterState::Held if !self.migrated.load(Ordering::Acquire) => Some("connected; migrations pending"),
            WriterState::Held => None,
        }
    }

    /// Takes the writer lock (waiting while another instance holds it), runs the embedded
    /// migrations and creates the account row.
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        self.writer.acquire().await?;
        self.run_migrations().await?;
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    #[instrumented(name = "migrate")]
    async fn run_migrations(&self) -> Result<(), sqlx::Error> {
        bounded(MIGRATE_TIMEOUT, "the migrations", async {
            MIGRATOR.run(self.pool.inner()).await?;
            sqlx::query("INSERT INTO account (id, cash) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
                .bind(STARTING_CASH)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    /// Claims the ledger: moves the fencing token on, so an instance that held the lock before
    /// can commit nothing more. Called under the order lock before every reload of the book
    /// (the lock was taken, or a transaction failed): every commit of a previous writer is then
    /// in what this one reads. Only the lock's holder can claim (see below).
    #[instrumented(name = "claim_ledger")]
    pub async fn claim_ledger(&self) -> Result<(), sqlx::Error> {
        const CLAIM: &str = "UPDATE ledger_writer SET token = token + 1 WHERE id = 1 RETURNING token";
        let token: i64 = bounded(READ_TIMEOUT, "claiming the ledger", async {
            match self.writer.kind {
                // Through the connection that holds the lock: only the lock's holder can claim.
                LockKind::Postgres(_) => {
                    let mut slot = self.writer.lock_conn.lock().await;
                    let conn = slot.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                    sqlx::query(CLAIM).fetch_one(&mut *conn).await?.try_get(0)
                }
                // The file lock cannot be lost while the process lives.
                LockKind::SqliteFile(_) | LockKind::None => sqlx::query(CLAIM).fetch_one(&self.pool).await?.try_get(0),
            }
        })
        .await?;
        self.writer.token.store(token, Ordering::Release);
        tracing::info!(token, "ledger claimed");
        Ok(())
    }

    /// Cash and positions as stored.
    #[instrumented]
    pub async fn load_portfolio(&self) -> Result<(f64, BTreeMap<String, Position>), sqlx::Error> {
        bounded(READ_TIMEOUT, "loading the book", async {
            let cash: f64 =
                sqlx::query("SELECT cash FROM account WHERE id = 1").fetch_one(&self.pool).await?.try_get(0)?;
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
        })
        .await
    }

    /// Stores a processed order and its fill atomically, by `deadline`. The fill moves cash and
    /// the position as deltas the database applies to its own values; the new values come back.
    /// A serialization failure or deadlock is retried once.
    #[instrumented]
    pub async fn record(
        &self,
        order: &OrderRecord,
        fill: Option<&FillRecord>,
        deadline: Instant,
    ) -> Result<Option<BookUpdate>, RecordError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let committing = AtomicBool::new(false);
            let result = tokio::time::timeout_at(deadline, self.record_once(order, fill, &committing)).await;
            let sent = committing.load(Ordering::Acquire);
            let e = match result {
                Ok(Ok(Some(update))) => return Ok(update),
                Ok(Ok(None)) => return Err(RecordError::Fenced),
                Err(_) if sent => return Err(RecordError::OutcomeUnknown),
                Err(_) => return Err(RecordError::NotStored(timeout_error("the order transaction"))),
                Ok(Err(e)) => e,
            };
            // A database's answer to COMMIT is definite; a broken connection is not.
            if sent && !matches!(e, sqlx::Error::Database(_)) {
                return Err(RecordError::OutcomeUnknown);
            }
            if order.client_order_id.is_some() && is_unique_violation(&e) {
                return Err(RecordError::DuplicateClientOrderId);
            }
            if attempts < 2 && crate::error::is_retryable_conflict(&e) && Instant::now() < deadline {
                continue;
            }
            return Err(RecordError::NotStored(e));
        }
    }

    /// One attempt: `Ok(None)` when the fencing token is no longer this instance's (nothing
    /// stored), else what the stored fill made of the book. `committing` is set once the `COMMIT`
    /// is sent: a cancelled or failed attempt after it has an unknown outcome.
    async fn record_once(
        &self,
        order: &OrderRecord,
        fill: Option<&FillRecord>,
        committing: &AtomicBool,
    ) -> Result<Option<Option<BookUpdate>>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        // Still the writer? The row stays locked until COMMIT: a new writer's claim waits for it.
        let fence = sqlx::query("UPDATE ledger_writer SET token = token WHERE id = 1 AND token = $1")
            .bind(self.writer.token.load(Ordering::Acquire))
            .execute(&mut tx)
            .await?;
        if fence.rows_affected() != 1 {
            // Fenced: another instance claimed the ledger (dropping `tx` rolls back).
            return Ok(None);
        }
        sqlx::query(concat!(
            "INSERT INTO orders (",
            order_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
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
        .bind(order.client_order_id.as_deref())
        .execute(&mut tx)
        .await?;
        let mut update = None;
        if let Some(f) = fill {
            sqlx::query(
                "INSERT INTO fills (id, order_id, symbol, side, quantity, price, filled_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&f.id)
            .bind(&order.id)
            .bind(&order.symbol)
            .bind(f.side.as_str())
            .bind(f.quantity)
            .bind(f.price)
            .bind(f.filled_at_ms)
            .execute(&mut tx)
            .await?;
            // The same arithmetic as `Portfolio` used to do in memory, on the stored row.
            let sql = match f.side {
                OrderSide::Buy => {
                    "INSERT INTO positions (symbol, quantity, avg_price, realized_pnl) VALUES ($1, $2, $3, 0) \
                     ON CONFLICT (symbol) DO UPDATE SET \
                     avg_price = CASE WHEN positions.quantity + $2 <> 0 \
                     THEN (positions.avg_price * positions.quantity + $4) / (positions.quantity + $2) ELSE 0 END, \
                     quantity = positions.quantity + $2 \
                     RETURNING quantity, avg_price, realized_pnl"
                }
                OrderSide::Sell => {
                    "INSERT INTO positions (symbol, quantity, avg_price, realized_pnl) VALUES ($1, 0 - $2, $3, 0) \
                     ON CONFLICT (symbol) DO UPDATE SET \
                     realized_pnl = positions.realized_pnl + ($3 - positions.avg_price) * $2, \
                     avg_price = CASE WHEN positions.quantity - $2 = 0 THEN 0 ELSE positions.avg_price END, \
                     quantity = positions.quantity - $2 \
                     RETURNING quantity, avg_price, realized_pnl"
                }
            };
            let mut q = sqlx::query(sql).bind(&order.symbol).bind(f.quantity).bind(f.price);
            if f.side == OrderSide::Buy {
                q = q.bind(f.quantity as f64 * f.price);
            }
            let row = q.fetch_one(&mut tx).await?;
            let position =
                Position { quantity: row.try_get(0)?, avg_price: row.try_get(1)?, realized_pnl: row.try_get(2)? };
            let cash: f64 = sqlx::query("UPDATE account SET cash = cash + $1 WHERE id = 1 RETURNING cash")
                .bind(f.cash_flow())
                .fetch_one(&mut tx)
                .await?
                .try_get(0)?;
            update = Some(BookUpdate { cash, position });
        }
        committing.store(true, Ordering::Release);
        tx.commit().await?;
        Ok(Some(update))
    }

    /// One order by id.
    #[instrumented]
    pub async fn order(&self, id: &str) -> Result<Option<OrderRecord>, sqlx::Error> {
        self.order_where(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"), id).await
    }

    /// The order carrying `client_order_id`.
    #[instrumented]
    pub async fn order_by_client_id(&self, client_order_id: &str) -> Result<Option<OrderRecord>, sqlx::Error> {
        self.order_where(
            concat!("SELECT ", order_columns!(), " FROM orders WHERE client_order_id = $1"),
            client_order_id,
        )
        .await
    }

    /// The order `sql` (selecting [`order_columns!`], one `$1`) finds for `value`.
    async fn order_where(&self, sql: &'static str, value: &str) -> Result<Option<OrderRecord>, sqlx::Error> {
        bounded(READ_TIMEOUT, "the order lookup", async {
            let row = sqlx::query(sql).bind(value).fetch_optional(&self.pool).await?;
            row.as_ref().map(order_from_row).transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, client_order_id: Option<&str>, side: OrderSide, quantity: i64, price: f64) -> OrderRecord {
        OrderRecord {
            id: id.into(),
            client_order_id: client_order_id.map(str::to_string),
            symbol: "AAPL".into(),
            side: side.as_str().into(),
            order_type: "market".into(),
            quantity,
            limit_price: None,
            status: "filled".into(),
            reason: None,
            fill_price: Some(price),
            created_at_ms: 1,
            updated_at_ms: 1,
        }
    }

    fn fill(side: OrderSide, quantity: i64, price: f64) -> FillRecord {
        FillRecord { id: uuid::Uuid::new_v4().to_string(), side, quantity, price, filled_at_ms: 1 }
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn fills_move_the_stored_book_by_deltas_and_ids_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect_lazy(&url, DbMeta::from_url(&url).unwrap()).unwrap();
        store.migrate().await.unwrap();
        assert!(store.is_ready() && store.not_ready_reason().is_none());
        let steps = [(OrderSide::Buy, 2, 100.0), (OrderSide::Buy, 2, 110.0), (OrderSide::Sell, 3, 120.0)];
        let mut last = None;
        for (i, (side, q, p)) in steps.into_iter().enumerate() {
            let o = order(&format!("o{i}"), Some(&format!("c{i}")), side, q, p);
            last = store.record(&o, Some(&fill(side, q, p)), later()).await.unwrap();
        }
        let BookUpdate { cash, position } = last.unwrap();
        assert_eq!(cash, STARTING_CASH - 200.0 - 220.0 + 360.0);
        assert_eq!(position.quantity, 1);
        assert_eq!(position.avg_price, 105.0);
        assert_eq!(position.realized_pnl, (120.0 - 105.0) * 3.0);
        let (stored_cash, positions) = store.load_portfolio().await.unwrap();
        assert_eq!((stored_cash, positions["AAPL"]), (cash, position));
        // Selling out resets the average price.
        let o = order("o3", None, OrderSide::Sell, 1, 90.0);
        let u = store.record(&o, Some(&fill(OrderSide::Sell, 1, 90.0)), later()).await.unwrap().unwrap();
        assert_eq!((u.position.quantity, u.position.avg_price), (0, 0.0));
        // A used client_order_id stores nothing.
        let dup = order("o4", Some("c1"), OrderSide::Buy, 1, 100.0);
        let r = store.record(&dup, Some(&fill(OrderSide::Buy, 1, 100.0)), later()).await;
        assert!(matches!(r, Err(RecordError::DuplicateClientOrderId)), "{r:?}");
        assert_eq!(store.load_portfolio().await.unwrap().0, u.cash);
        assert_eq!(store.order_by_client_id("c1").await.unwrap().unwrap().id, "o1");
        assert_eq!(store.order("o4").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_second_store_on_the_same_sqlite_file_stands_by_until_the_first_goes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let first = Store::connect_lazy(&url, DbMeta::from_url(&url).unwrap()).unwrap();
        first.migrate().await.unwrap();
        let second = Store::connect_lazy(&url, DbMeta::from_url(&url).unwrap()).unwrap();
        let waiting = tokio::spawn({
            let second = second.clone();
            async move { second.migrate().await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(second.writer_state(), WriterState::HeldElsewhere);
        assert!(!second.is_ready() && second.not_ready_reason().unwrap().contains("another instance holds the ledger"));
        drop(first);
        tokio::time::timeout(Duration::from_secs(3), waiting).await.unwrap().unwrap().unwrap();
        assert!(second.is_ready());
        assert_eq!(second.writer_epoch(), 1);
    }
}
