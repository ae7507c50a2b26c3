//! The account: cash and positions, kept in memory as a cache of the database (the ledger).
//!
//! Memory never computes balances on its own: it takes the values the database returned for a
//! stored fill, or reloads everything. After a failed or uncertain transaction, or when this
//! instance (re)takes the writer lock, the book is marked stale and reloaded before the next
//! order or read ([`crate::broker::Broker::sync_book`]).

use crate::market::Market;
use crate::store::BookUpdate;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Starting cash of a fresh account.
pub const STARTING_CASH: f64 = 1_000_000.0;

/// One position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Position {
    /// Shares held (never negative: no short selling).
    pub quantity: i64,
    /// Average entry price.
    pub avg_price: f64,
    /// Realized profit and loss on this symbol.
    pub realized_pnl: f64,
}

/// Exposure at current prices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Exposure {
    /// Sum of absolute market values.
    pub gross: f64,
    /// Long minus short.
    pub net: f64,
    /// Market value of long positions.
    pub long: f64,
    /// Market value of short positions.
    pub short: f64,
    /// Unrealized PnL.
    pub unrealized_pnl: f64,
}

#[derive(Debug)]
struct Book {
    cash: f64,
    positions: BTreeMap<String, Position>,
}

/// The account state. Order processing is serialized by [`Portfolio::order_lock`]; readers
/// (API, gauges) take the book lock only for a copy.
#[derive(Debug)]
pub struct Portfolio {
    book: Mutex<Book>,
    /// Held for the whole check-fill-persist sequence of one order, and for a reload (each
    /// bounded by the order deadline).
    pub order_lock: tokio::sync::Mutex<()>,
    /// The book may differ from the database: reload before trusting it.
    stale: AtomicBool,
    /// The writer-lock epoch the book was last reloaded in.
    synced_epoch: AtomicU64,
}

impl Portfolio {
    /// A portfolio with `cash` and `positions`.
    pub fn new(cash: f64, positions: BTreeMap<String, Position>) -> Self {
        Portfolio {
            book: Mutex::new(Book { cash, positions }),
            order_lock: tokio::sync::Mutex::new(()),
            stale: AtomicBool::new(false),
            synced_epoch: AtomicU64::new(0),
        }
    }

    /// Replaces the book with the stored state, read without the order lock (at startup): it is
    /// then marked stale, so the first order reloads it under the lock.
    pub fn load(&self, cash: f64, positions: BTreeMap<String, Position>) {
        self.replace(cash, positions);
        self.mark_stale();
    }

    /// Replaces the book with the state stored in writer epoch `epoch`, read under the order
    /// lock: the book is current.
    pub fn load_synced(&self, epoch: u64, cash: f64, positions: BTreeMap<String, Position>) {
        self.replace(cash, positions);
        self.synced_epoch.store(epoch, Ordering::Release);
        self.stale.store(false, Ordering::Release);
    }

    fn replace(&self, cash: f64, positions: BTreeMap<String, Position>) {
        if let Ok(mut b) = self.book.lock() {
            b.cash = cash;
            b.positions = positions;
        }
    }

    /// The book may no longer match the database (a transaction failed or its outcome is
    /// unknown).
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// Whether the book must be reloaded before use, the writer lock being in `epoch`.
    pub fn needs_reload(&self, epoch: u64) -> bool {
        self.stale.load(Ordering::Acquire) || self.synced_epoch.load(Ordering::Acquire) != epoch
    }

    /// Takes the values the database computed for a stored fill of `symbol`.
    pub fn apply(&self, symbol: &str, update: BookUpdate) {
        if let Ok(mut b) = self.book.lock() {
            b.cash = update.cash;
            b.positions.insert(symbol.to_string(), update.position);
        }
    }

    /// Cash balance.
    pub fn cash(&self) -> f64 {
        self.book.lock().map(|b| b.cash).unwrap_or(0.0)
    }

    /// Position of `symbol`.
    pub fn position(&self, symbol: &str) -> Position {
        self.book.lock().ok().and_then(|b| b.positions.get(symbol).copied()).unwrap_or_default()
    }

    /// Non-zero positions.
    pub fn positions(&self) -> Vec<(String, i64)> {
        self.book
            .lock()
            .map(|b| {
                b.positions.iter().filter(|(_, p)| p.quantity != 0).map(|(s, p)| (s.clone(), p.quantity)).collect()
            })
            .unwrap_or_default()
    }

    /// Realized PnL across symbols.
    pub fn realized_pnl(&self) -> f64 {
        self.book.lock().map(|b| b.positions.values().map(|p| p.realized_pnl).sum()).unwrap_or(0.0)
    }

    /// Exposure and unrealized PnL at current prices.
    pub fn exposure(&self, market: &Market) -> Exposure {
        let positions: Vec<(String, Position)> =
            self.book.lock().map(|b| b.positions.iter().map(|(s, p)| (s.clone(), *p)).collect()).unwrap_or_default();
        let mut e = Exposure::default();
        for (symbol, p) in positions {
            if p.quantity == 0 {
                continue;
            }
            let Some(q) = market.quote(&symbol) else { continue };
            let value = p.quantity as f64 * q.last;
            if value >= 0.0 {
                e.long += value;
            } else {
                e.short += -value;
            }
            e.unrealized_pnl += (q.last - p.avg_price) * p.quantity as f64;
        }
        e.gross = e.long + e.short;
        e.net = e.long - e.short;
        e
    }

    /// The book for the API.
    pub fn view(&self, market: &Market) -> serde_json::Value {
        let positions: Vec<(String, Position)> =
            self.book.lock().map(|b| b.positions.iter().map(|(s, p)| (s.clone(), *p)).collect()).unwrap_or_default();
        let rows: Vec<serde_json::Value> = positions
            .iter()
            .filter(|(_, p)| p.quantity != 0)
            .map(|(s, p)| {
                let last = market.quote(s).map(|q| q.last).unwrap_or(p.avg_price);
                serde_json::json!({
                    "symbol": s,
                    "quantity": p.quantity,
                    "avg_price": round2(p.avg_price),
                    "last": last,
                    "market_value": round2(p.quantity as f64 * last),
                    "unrealized_pnl": round2((last - p.avg_price) * p.quantity as f64),
                    "realized_pnl": round2(p.realized_pnl),
                })
            })
            .collect();
        let e = self.exposure(market);
        serde_json::json!({
            "cash": round2(self.cash()),
            "positions": rows,
            "exposure": { "gross": round2(e.gross), "net": round2(e.net), "long": round2(e.long), "short": round2(e.short) },
            "pnl": { "realized": round2(self.realized_pnl()), "unrealized": round2(e.unrealized_pnl) },
        })
    }
}

/// Rounds to cents; never negative zero (a sum of no values, or a loss that rounds away, is
/// `0`, not `-0`, in JSON).
pub fn round2(v: f64) -> f64 {
    let r = (v * 100.0).round() / 100.0;
    if r == 0.0 { 0.0 } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_takes_stored_values_and_knows_when_it_is_stale() {
        let p = Portfolio::new(1000.0, BTreeMap::new());
        assert!(p.needs_reload(1), "never synced in epoch 1");
        p.load_synced(1, 1000.0, BTreeMap::new());
        assert!(!p.needs_reload(1));
        let position = Position { quantity: 2, avg_price: 100.0, realized_pnl: 0.0 };
        p.apply("AAPL", BookUpdate { cash: 800.0, position });
        assert_eq!((p.cash(), p.position("AAPL")), (800.0, position));
        p.mark_stale();
        assert!(p.needs_reload(1));
        p.load_synced(1, 900.0, BTreeMap::new());
        assert!(!p.needs_reload(1) && p.needs_reload(2), "a new writer epoch needs a reload");
        p.load(900.0, BTreeMap::new());
        assert!(p.needs_reload(1), "a load outside the order lock is not trusted");
    }

    #[test]
    fn no_negative_zero_in_the_view() {
        // A sum of no positions is -0.0 (float `Sum` starts there), and so is a tiny loss
        // rounded to cents: neither may print as `-0.0`.
        assert!(round2(-0.001).is_sign_positive() && round2(-0.0).is_sign_positive());
        assert_eq!(round2(-0.004), 0.0);
        assert_eq!(round2(-0.006), -0.01);
        let p = Portfolio::new(1000.0, BTreeMap::new());
        let market = Market::new();
        let view = p.view(&market).to_string();
        assert!(!view.contains("-0.0") && view.contains(r#""realized":0.0"#), "{view}");
    }
}
