//! A simulated market: a fixed universe of symbols whose prices follow a random walk.

use crate::metrics::TradingMetrics;
use rand::Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use swaggy_telemetry::catalog::BoundedSet;

/// The symbol universe and starting prices.
pub const UNIVERSE: &[(&str, f64)] = &[
    ("AAPL", 190.0),
    ("MSFT", 410.0),
    ("NVDA", 880.0),
    ("AMZN", 175.0),
    ("GOOGL", 150.0),
    ("META", 490.0),
    ("TSLA", 180.0),
    ("JPM", 195.0),
    ("V", 275.0),
    ("XOM", 115.0),
    ("UNH", 520.0),
    ("JNJ", 155.0),
    ("WMT", 60.0),
    ("PG", 165.0),
    ("MA", 455.0),
    ("HD", 345.0),
    ("KO", 61.0),
    ("PEP", 170.0),
    ("BAC", 37.0),
    ("NFLX", 610.0),
];

/// Feed name (`swaggy.market.feed`).
pub const FEED: &str = "simulated";

/// One quote.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Quote {
    /// Symbol.
    pub symbol: String,
    /// Best bid.
    pub bid: f64,
    /// Best ask.
    pub ask: f64,
    /// Last trade / mid.
    pub last: f64,
    /// When the feed produced it (epoch ms).
    pub ts_ms: i64,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The market state.
pub struct Market {
    quotes: RwLock<HashMap<&'static str, Quote>>,
    symbols: BoundedSet,
}

impl Market {
    /// A market at the starting prices.
    pub fn new() -> Arc<Self> {
        let ts = now_ms();
        let quotes = UNIVERSE.iter().map(|(s, p)| (*s, Self::make_quote(s, *p, ts))).collect();
        Arc::new(Market {
            quotes: RwLock::new(quotes),
            symbols: BoundedSet::allow_list(UNIVERSE.iter().map(|(s, _)| *s)),
        })
    }

    fn make_quote(symbol: &str, mid: f64, ts_ms: i64) -> Quote {
        let half_spread = (mid * 0.0002).max(0.01);
        let round = |v: f64| (v * 100.0).round() / 100.0;
        Quote {
            symbol: symbol.to_string(),
            bid: round(mid - half_spread),
            ask: round(mid + half_spread),
            last: round(mid),
            ts_ms,
        }
    }

    /// The canonical symbol when `s` is in the universe (case-insensitive).
    pub fn canonical(&self, s: &str) -> Option<&'static str> {
        UNIVERSE.iter().map(|(u, _)| *u).find(|u| u.eq_ignore_ascii_case(s))
    }

    /// The allow-list used for the symbol attribute.
    pub fn symbols(&self) -> &BoundedSet {
        &self.symbols
    }

    /// The current quote of `symbol`.
    pub fn quote(&self, symbol: &str) -> Option<Quote> {
        self.quotes.read().ok()?.get(symbol).cloned()
    }

    /// Every quote, by symbol (the `quotes` stream topic).
    pub fn quotes_json(&self) -> serde_json::Value {
        let quotes = self.quotes.read().map(|q| q.values().cloned().collect::<Vec<_>>()).unwrap_or_default();
        let map: serde_json::Map<String, serde_json::Value> = quotes
            .into_iter()
            .map(|q| {
                (q.symbol.clone(), serde_json::json!({ "bid": q.bid, "ask": q.ask, "last": q.last, "ts_ms": q.ts_ms }))
            })
            .collect();
        serde_json::Value::Object(map)
    }

    /// Milliseconds since the newest quote.
    pub fn age_ms(&self) -> i64 {
        let newest = self.quotes.read().map(|q| q.values().map(|q| q.ts_ms).max().unwrap_or(0)).unwrap_or(0);
        (now_ms() - newest).max(0)
    }

    /// One step of the random walk for every symbol.
    pub fn tick(&self, metrics: &TradingMetrics) {
        let ts = now_ms();
        let mut rng = rand::rng();
        if let Ok(mut quotes) = self.quotes.write() {
            for q in quotes.values_mut() {
                let step: f64 = rng.random_range(-0.0015..0.0015);
                let mid = (q.last * (1.0 + step)).max(1.0);
                *q = Self::make_quote(&q.symbol, mid, ts);
                metrics.quote_received();
            }
        }
    }

    /// Runs the feed until `stop` resolves.
    pub async fn run(
        self: Arc<Self>,
        metrics: Arc<TradingMetrics>,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut interval = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = interval.tick() => self.tick(&metrics),
                _ = stop.changed() => return,
            }
        }
    }
}
