//! Built-in checks: database round trip and pool saturation, Redis PING, external HTTP APIs,
//! Celery-compatible task queues.

use super::check::{HealthCheck, Probe, redact_url};
use futures_util::future::BoxFuture;
use std::time::Duration;

/// Pool use at or above this fraction degrades the database check.
pub const POOL_SATURATION: f64 = 0.9;

/// A database check: `SELECT 1` through the pool, plus pool saturation.
#[cfg(feature = "sqlx")]
pub struct SqlxCheck<DB: sqlx::Database> {
    pool: crate::db::InstrumentedPool<DB>,
}

#[cfg(feature = "sqlx")]
impl<DB: sqlx::Database> SqlxCheck<DB> {
    /// Checks `pool`.
    pub fn new(pool: crate::db::InstrumentedPool<DB>) -> Self {
        SqlxCheck { pool }
    }
}

/// Health state of a sqlx error (no message: it may quote data or the URL).
#[cfg(feature = "sqlx")]
pub fn sqlx_probe(e: &sqlx::Error) -> Probe {
    let kind = crate::db::sqlx_error_type(e);
    // The TLS reason (`invalid peer certificate: UnknownIssuer`, `server does not support
    // TLS`) quotes neither data nor the URL. A failed handshake surfaces as `Io` or `Tls`.
    if let Some(tls) = crate::http::client::tls_failure(e) {
        return Probe::unreachable(format!("cannot connect (TLS: {tls})"));
    }
    match e {
        sqlx::Error::Tls(tls) => {
            Probe::unreachable(format!("cannot connect (TLS: {})", crate::redact::redact_urls(&tls.to_string())))
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed => Probe::unreachable(format!("cannot connect ({kind})")),
        sqlx::Error::PoolTimedOut => Probe::unhealthy("no connection available (pool timed out)"),
        sqlx::Error::Database(_) => Probe::unhealthy(format!("database error (SQLSTATE {kind})")),
        _ => Probe::error(format!("probe failed ({kind})")),
    }
}

#[cfg(feature = "sqlx")]
impl<DB: sqlx::Database> HealthCheck for SqlxCheck<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    fn check(&self) -> BoxFuture<'_, Probe> {
        Box::pin(async move {
            let meta = self.pool.meta();
            if meta.server_port != 0 {
                // A refused connection is unreachable now; the pool would retry until it times out.
                if let Err(e) = tokio::net::TcpStream::connect((&*meta.server_address, meta.server_port)).await {
                    return Probe::unreachable(format!(
                        "cannot connect to {}:{} ({})",
                        meta.server_address,
                        meta.server_port,
                        e.kind()
                    ));
                }
            }
            let start = std::time::Instant::now();
            let r = sqlx::query::<DB>("SELECT 1").fetch_one(&self.pool).await;
            let took = start.elapsed();
            match r {
                Ok(_) => {
                    let pool = self.pool.inner();
                    let max = pool.options().get_max_connections().max(1);
                    let used = pool.size().saturating_sub(pool.num_idle() as u32);
                    let saturation = f64::from(used) / f64::from(max);
                    let detail = format!("round trip {:.1} ms, pool {used}/{max} in use", took.as_secs_f64() * 1000.0);
                    if saturation >= POOL_SATURATION {
                        Probe::degraded(format!("{detail} (saturated)"))
                    } else {
                        Probe::healthy(detail)
                    }
                }
                Err(e) => sqlx_probe(&e),
            }
        })
    }
}

/// Health state of a Redis error.
#[cfg(feature = "redis")]
pub fn redis_probe(e: &redis::RedisError) -> Probe {
    if e.is_timeout() {
        // A frozen server: the connection's own response timeout fired before ours.
        Probe { state: crate::catalog::values::HealthState::Timeout, detail: "no answer (response timeout)".into() }
    } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
        Probe::unreachable("cannot connect")
    } else {
        Probe::error(format!("command failed ({})", crate::cache::redis_error_type(e)))
    }
}

/// A Redis check: `PING`.
#[cfg(feature = "redis")]
pub struct RedisCheck<C> {
    conn: C,
}

#[cfg(feature = "redis")]
impl<C> RedisCheck<C> {
    /// Checks through `conn` (cloned per probe).
    pub fn new(conn: C) -> Self {
        RedisCheck { conn }
    }
}

#[cfg(feature = "redis")]
impl<C> HealthCheck for RedisCheck<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    fn check(&self) -> BoxFuture<'_, Probe> {
        let mut conn = self.conn.clone();
        Box::pin(async move {
            let start = std::time::Instant::now();
            match redis::cmd("PING").query_async::<String>(&mut conn).await {
                Ok(pong) if pong == "PONG" => {
                    Probe::healthy(format!("PING {:.1} ms", start.elapsed().as_secs_f64() * 1000.0))
                }
                Ok(other) => Probe::unhealthy(format!("unexpected PING reply ({} bytes)", other.len())),
                Err(e) => redis_probe(&e),
            }
        })
    }
}

/// Thresholds of a task-queue check.
#[derive(Debug, Clone)]
pub struct QueueThresholds {
    /// Depth at which the queue counts as backlogged (degraded).
    pub max_depth: u64,
    /// Workers needed while tasks wait (fewer: unhealthy).
    pub min_workers: u64,
}

impl Default for QueueThresholds {
    fn default() -> Self {
        QueueThresholds { max_depth: 1000, min_workers: 1 }
    }
}

/// The latest task-queue reading, shared with the queue gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueReading {
    /// Depth per queue.
    pub depths: Vec<(String, u64)>,
    /// Workers with a live heartbeat key.
    pub workers: u64,
}

/// A Celery-compatible task-queue check: the depth of each queue (a Redis list named after the
/// queue, as Celery's Redis broker keeps it) and the number of live worker heartbeat keys
/// (keys matching `heartbeat_pattern`, kept alive by workers with a TTL).
#[cfg(feature = "redis")]
pub struct TaskQueueCheck<C> {
    conn: C,
    queues: Vec<String>,
    heartbeat_pattern: String,
    thresholds: QueueThresholds,
    reading: std::sync::Arc<arc_swap::ArcSwap<QueueReading>>,
}

#[cfg(feature = "redis")]
impl<C> TaskQueueCheck<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A check of `queues` with workers found by `heartbeat_pattern`. Registers the queue
    /// depth and worker gauges (read from the last reading).
    pub fn new(
        conn: C,
        queues: Vec<String>,
        heartbeat_pattern: impl Into<String>,
        thresholds: QueueThresholds,
    ) -> Self {
        use crate::catalog::instruments::{TASK_QUEUE_DEPTH, TASK_QUEUE_WORKERS};
        use crate::catalog::values::TaskQueue;
        let reading: std::sync::Arc<arc_swap::ArcSwap<QueueReading>> = Default::default();
        let meter = crate::telemetry::meter();
        let r = reading.clone();
        TASK_QUEUE_DEPTH.register(&meter, move |o| {
            for (q, d) in &r.load().depths {
                o.observe(*d as f64, (TaskQueue(crate::catalog::BoundedStr::from(q.clone())),));
            }
        });
        let r = reading.clone();
        let names = queues.clone();
        TASK_QUEUE_WORKERS.register(&meter, move |o| {
            let workers = r.load().workers as f64;
            for q in &names {
                o.observe(workers, (TaskQueue(crate::catalog::BoundedStr::from(q.clone())),));
            }
        });
        TaskQueueCheck { conn, queues, heartbeat_pattern: heartbeat_pattern.into(), thresholds, reading }
    }

    async fn read(&self) -> redis::RedisResult<QueueReading> {
        let mut conn = self.conn.clone();
        let mut depths = Vec::new();
        for q in &self.queues {
            let n: u64 = redis::cmd("LLEN").arg(q).query_async(&mut conn).await?;
            depths.push((q.clone(), n));
        }
        // SCAN, bounded: a handful of round trips at most.
        let mut workers = 0u64;
        let mut cursor: u64 = 0;
        for _ in 0..32 {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&self.heartbeat_pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await?;
            workers += keys.len() as u64;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        Ok(QueueReading { depths, workers })
    }
}

#[cfg(feature = "redis")]
impl<C> HealthCheck for TaskQueueCheck<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    fn check(&self) -> BoxFuture<'_, Probe> {
        Box::pin(async move {
            match self.read().await {
                Ok(r) => {
                    self.reading.store(std::sync::Arc::new(r.clone()));
                    let waiting: u64 = r.depths.iter().map(|(_, d)| *d).sum();
                    let detail = format!(
                        "{} waiting ({}), {} worker(s)",
                        waiting,
                        r.depths.iter().map(|(q, d)| format!("{q}={d}")).collect::<Vec<_>>().join(", "),
                        r.workers
                    );
                    if waiting > 0 && r.workers < self.thresholds.min_workers {
                        Probe::unhealthy(format!("{detail}: tasks wait and no worker is alive"))
                    } else if r.depths.iter().any(|(_, d)| *d >= self.thresholds.max_depth) {
                        Probe::degraded(format!("{detail}: backlog"))
                    } else {
                        Probe::healthy(detail)
                    }
                }
                Err(e) => redis_probe(&e),
            }
        })
    }
}

/// An external HTTP API: `GET url` must answer `expected` status.
pub struct HttpCheck {
    client: crate::http::InstrumentedClient,
    url: String,
    expected: u16,
}

impl HttpCheck {
    /// Checks `url` with `client` (give the client its own timeout).
    pub fn new(client: crate::http::InstrumentedClient, url: impl Into<String>, expected: u16) -> Self {
        HttpCheck { client, url: url.into(), expected }
    }
}

impl HealthCheck for HttpCheck {
    fn check(&self) -> BoxFuture<'_, Probe> {
        Box::pin(async move {
            let shown = redact_url(&self.url);
            let req = match self.client.inner().get(&self.url).timeout(Duration::from_secs(30)).build() {
                Ok(r) => r,
                Err(_) => return Probe::error(format!("invalid URL {shown}")),
            };
            match self.client.execute(req).await {
                Ok(resp) if resp.status().as_u16() == self.expected => {
                    Probe::healthy(format!("{shown} answered {}", self.expected))
                }
                Ok(resp) => Probe::unhealthy(format!(
                    "{shown} answered {} (expected {})",
                    resp.status().as_u16(),
                    self.expected
                )),
                Err(e) if e.is_timeout() => Probe {
                    state: crate::catalog::values::HealthState::Timeout,
                    detail: format!("{shown} did not answer in time"),
                },
                Err(e) if crate::http::client::tls_failure(&e).is_some() => {
                    let why = crate::http::client::tls_failure(&e).map(ToString::to_string).unwrap_or_default();
                    Probe::unreachable(format!("TLS handshake with {shown} failed ({why})"))
                }
                Err(e) if e.is_connect() => Probe::unreachable(format!("cannot connect to {shown}")),
                Err(_) => Probe::error(format!("request to {shown} failed")),
            }
        })
    }
}
