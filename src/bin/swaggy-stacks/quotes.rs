//! Quotes served through a Redis cache with a TTL. Redis is optional: without it, or while it
//! is down or frozen, every lookup is a miss served from the market (bounded by a short timeout)
//! and the error is recorded.

use crate::market::{Market, Quote};
use crate::metrics::{TradingMetrics, quote_cache};
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;
use swaggy_telemetry::cache::InstrumentedRedis;
use swaggy_telemetry::catalog::values::CacheResult;

/// Bound on one cache operation: a frozen Redis must not slow a request by more.
pub const CACHE_TIMEOUT: Duration = Duration::from_millis(250);

/// The quote cache.
#[derive(Clone)]
pub struct QuoteCache {
    conn: Option<InstrumentedRedis<ConnectionManager>>,
    ttl_secs: u64,
    metrics: Arc<TradingMetrics>,
}

/// Host and port of a Redis URL (for `server.address`/`server.port`).
pub fn redis_host_port(client: &redis::Client) -> (String, u16) {
    match &client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(h, p) => (h.clone(), *p),
        redis::ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port),
        _ => ("unix".into(), 0),
    }
}

impl QuoteCache {
    /// A cache on `client` (connecting lazily), or none.
    pub fn new(client: Option<&redis::Client>, ttl_secs: u64, metrics: Arc<TradingMetrics>) -> Self {
        let conn = client.and_then(|c| {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CACHE_TIMEOUT))
                .set_response_timeout(Some(CACHE_TIMEOUT))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(2));
            let (host, port) = redis_host_port(c);
            match c.get_connection_manager_lazy(config) {
                Ok(m) => Some(InstrumentedRedis::new(m, &host, port)),
                Err(e) => {
                    tracing::warn!(error = %e, "redis connection manager could not be created; running without cache");
                    None
                }
            }
        });
        QuoteCache { conn, ttl_secs, metrics }
    }

    /// The connection (health checks).
    pub fn connection(&self) -> Option<InstrumentedRedis<ConnectionManager>> {
        self.conn.clone()
    }

    /// The quote of `symbol` (canonical), from the cache or the market; the cache result is
    /// `None` when no cache is configured (no lookup happened, none is counted).
    pub async fn get(&self, market: &Market, symbol: &str) -> Option<(Quote, Option<CacheResult>)> {
        let key = format!("quote:{symbol}");
        let Some(mut conn) = self.conn.clone() else {
            return market.quote(symbol).map(|q| (q, None));
        };
        let cached: Result<Result<Option<String>, redis::RedisError>, _> =
            tokio::time::timeout(CACHE_TIMEOUT, conn.get(&key)).await;
        let result = match cached {
            Ok(Ok(Some(json))) => match serde_json::from_str::<Quote>(&json) {
                Ok(q) => {
                    self.metrics.cache.add(1, (quote_cache(), CacheResult::Hit));
                    return Some((q, Some(CacheResult::Hit)));
                }
                Err(_) => CacheResult::Error,
            },
            Ok(Ok(None)) => CacheResult::Miss,
            Ok(Err(_)) | Err(_) => CacheResult::Error,
        };
        self.metrics.cache.add(1, (quote_cache(), result));
        let quote = market.quote(symbol)?;
        if result == CacheResult::Miss
            && let Ok(json) = serde_json::to_string(&quote)
        {
            let _ = tokio::time::timeout(CACHE_TIMEOUT, conn.set_ex::<_, _, ()>(&key, json, self.ttl_secs)).await;
        }
        Some((quote, Some(result)))
    }

    /// Writes the current quote of `symbol` to the cache (after a fill moves interest to it).
    pub async fn refresh(&self, market: &Market, symbol: &str) {
        let (Some(mut conn), Some(quote)) = (self.conn.clone(), market.quote(symbol)) else { return };
        if let Ok(json) = serde_json::to_string(&quote) {
            let key = format!("quote:{symbol}");
            let _ = tokio::time::timeout(CACHE_TIMEOUT, conn.set_ex::<_, _, ()>(&key, json, self.ttl_secs)).await;
        }
    }
}
