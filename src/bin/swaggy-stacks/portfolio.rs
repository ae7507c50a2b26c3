//! The account: cash and positions, kept in memory (the database is the durable copy).

use crate::market::Market;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use swaggy_telemetry::catalog::values::OrderSide;

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
    /// Held for the whole check-fill-persist sequence of one order.
    pub order_lock: tokio::sync::Mutex<()>,
}

/// The result of applying a fill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Applied {
    /// New cash balance.
    pub cash: f64,
    /// New position of the symbol.
    pub position: Position,
}

impl Portfolio {
    /// A portfolio with `cash` and `positions`.
    pub fn new(cash: f64, positions: BTreeMap<String, Position>) -> Self {
        Portfolio { book: Mutex::new(Book { cash, positions }), order_lock: tokio::sync::Mutex::new(()) }
    }

    /// Replaces the book with the stored state.
    pub fn load(&self, cash: f64, positions: BTreeMap<String, Position>) {
        if let Ok(mut b) = self.book.lock() {
            b.cash = cash;
            b.positions = positions;
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

    /// What applying a fill would produce (the caller persists, then commits it).
    pub fn preview_fill(&self, side: OrderSide, symbol: &str, quantity: i64, price: f64) -> Applied {
        let (cash, mut p) = {
            let b = self.book.lock().expect("book lock");
            (b.cash, b.positions.get(symbol).copied().unwrap_or_default())
        };
        let notional = quantity as f64 * price;
        match side {
            OrderSide::Buy => {
                let new_qty = p.quantity + quantity;
                p.avg_price =
                    if new_qty != 0 { (p.avg_price * p.quantity as f64 + notional) / new_qty as f64 } else { 0.0 };
                p.quantity = new_qty;
                Applied { cash: cash - notional, position: p }
            }
            OrderSide::Sell => {
                p.realized_pnl += (price - p.avg_price) * quantity as f64;
                p.quantity -= quantity;
                if p.quantity == 0 {
                    p.avg_price = 0.0;
                }
                Applied { cash: cash + notional, position: p }
            }
        }
    }

    /// Makes a previewed fill the current state.
    pub fn commit(&self, symbol: &str, applied: Applied) {
        if let Ok(mut b) = self.book.lock() {
            b.cash = applied.cash;
            b.positions.insert(symbol.to_string(), applied.position);
        }
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
    fn buy_then_sell_realizes_pnl() {
        let p = Portfolio::new(1000.0, BTreeMap::new());
        let a = p.preview_fill(OrderSide::Buy, "AAPL", 2, 100.0);
        p.commit("AAPL", a);
        assert_eq!(p.cash(), 800.0);
        let a = p.preview_fill(OrderSide::Sell, "AAPL", 1, 110.0);
        p.commit("AAPL", a);
        assert_eq!(p.cash(), 910.0);
        assert_eq!(p.position("AAPL").quantity, 1);
        assert_eq!(p.realized_pnl(), 10.0);
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
