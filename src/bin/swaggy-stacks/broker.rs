//! The simulated broker: pre-trade risk checks, then an immediate fill at the touch, an
//! immediate-or-cancel cancellation for a limit that cannot fill, or a rejection.

use crate::error::AppError;
use crate::market::{Market, now_ms};
use crate::metrics::TradingMetrics;
use crate::portfolio::Portfolio;
use crate::store::{FillRecord, OrderRecord, Store};
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swaggy_telemetry::catalog::values::{CancelReason, OrderSide, OrderType, RejectReason, RiskCheck};
use swaggy_telemetry::{instrument_trade, instrumented};

/// Largest quantity a single order may ask for (larger is a client error, not a rejection).
pub const MAX_ORDER_QUANTITY: i64 = 1_000_000;

/// Risk limits.
#[derive(Debug, Clone)]
pub struct RiskLimits {
    /// Largest position per symbol, shares.
    pub max_position: i64,
    /// Largest notional of one order, USD.
    pub max_order_notional: f64,
    /// Oldest market data an order may be priced on.
    pub max_data_age: Duration,
    /// Share of orders the simulated venue refuses (connectivity blips).
    pub venue_reject_ratio: f64,
}

impl Default for RiskLimits {
    fn default() -> Self {
        RiskLimits {
            max_position: 20_000,
            max_order_notional: 250_000.0,
            max_data_age: Duration::from_secs(5),
            venue_reject_ratio: 0.02,
        }
    }
}

/// A validated order request.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub symbol: &'static str,
    pub side: OrderSide,
    pub order_type: OrderType,
    pub quantity: i64,
    pub limit_price: Option<f64>,
}

/// Processes orders.
pub struct Broker {
    pub market: Arc<Market>,
    pub portfolio: Arc<Portfolio>,
    pub store: Store,
    pub metrics: Arc<TradingMetrics>,
    pub limits: RiskLimits,
}

enum Decision {
    Fill(f64),
    Reject(RejectReason),
    Cancel(CancelReason),
}

impl Broker {
    fn check(&self, check: RiskCheck, f: impl FnOnce() -> bool) -> bool {
        let start = Instant::now();
        let ok = f();
        self.metrics.risk(check, ok, start.elapsed());
        ok
    }

    #[instrumented(name = "risk_and_route")]
    fn decide(&self, o: &NewOrder) -> Decision {
        let Some(quote) = self.market.quote(o.symbol) else { return Decision::Reject(RejectReason::StaleMarketData) };
        let price = match o.side {
            OrderSide::Buy => quote.ask,
            OrderSide::Sell => quote.bid,
        };
        let position = self.portfolio.position(o.symbol);
        let age = Duration::from_millis((now_ms() - quote.ts_ms).max(0) as u64);
        if !self.check(RiskCheck::MarketDataFreshness, || age <= self.limits.max_data_age) {
            return Decision::Reject(RejectReason::StaleMarketData);
        }
        let notional = price * o.quantity as f64;
        if !self.check(RiskCheck::OrderNotional, || notional <= self.limits.max_order_notional) {
            return Decision::Reject(RejectReason::NotionalLimit);
        }
        match o.side {
            OrderSide::Buy => {
                if !self.check(RiskCheck::BuyingPower, || notional <= self.portfolio.cash()) {
                    return Decision::Reject(RejectReason::InsufficientCash);
                }
                if !self.check(RiskCheck::PositionLimit, || position.quantity + o.quantity <= self.limits.max_position)
                {
                    return Decision::Reject(RejectReason::PositionLimit);
                }
            }
            OrderSide::Sell => {
                if !self.check(RiskCheck::PositionLimit, || o.quantity <= position.quantity) {
                    return Decision::Reject(RejectReason::InsufficientPosition);
                }
            }
        }
        if rand::rng().random_bool(self.limits.venue_reject_ratio) {
            return Decision::Reject(RejectReason::BrokerUnavailable);
        }
        if let (OrderType::Limit, Some(limit)) = (o.order_type, o.limit_price) {
            let marketable = match o.side {
                OrderSide::Buy => limit >= price,
                OrderSide::Sell => limit <= price,
            };
            if !marketable {
                return Decision::Cancel(CancelReason::LimitNotMarketable);
            }
        }
        Decision::Fill(price)
    }

    /// Submits `o`: decides, persists and updates the book. The order metrics (submitted,
    /// filled/rejected/cancelled, latency, fills, notional) come from `#[instrument_trade]`.
    #[instrument_trade(side = o.side, order_type = o.order_type, name = "submit_order")]
    pub async fn submit(&self, o: NewOrder) -> Result<OrderRecord, AppError> {
        if !self.store.is_ready() {
            return Err(AppError::Unavailable("database"));
        }
        let _serial = self.portfolio.order_lock.lock().await;
        let decision = self.decide(&o);
        // The venue's acknowledgement takes a moment.
        let venue_latency = Duration::from_micros(rand::rng().random_range(200..3000));
        tokio::time::sleep(venue_latency).await;
        let now = now_ms();
        let mut order = OrderRecord {
            id: uuid::Uuid::new_v4().to_string(),
            symbol: o.symbol.to_string(),
            side: o.side.as_str().to_string(),
            order_type: o.order_type.as_str().to_string(),
            quantity: o.quantity,
            limit_price: o.limit_price,
            status: String::new(),
            reason: None,
            fill_price: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        match decision {
            Decision::Fill(price) => {
                order.status = "filled".into();
                order.fill_price = Some(price);
                let applied = self.portfolio.preview_fill(o.side, o.symbol, o.quantity, price);
                let fill =
                    FillRecord { id: uuid::Uuid::new_v4().to_string(), quantity: o.quantity, price, filled_at_ms: now };
                self.store.record(&order, Some((&fill, &applied.position, applied.cash))).await?;
                self.portfolio.commit(o.symbol, applied);
            }
            Decision::Reject(reason) => {
                order.status = "rejected".into();
                order.reason = Some(reason.as_str().into());
                self.store.record(&order, None).await?;
            }
            Decision::Cancel(reason) => {
                order.status = "cancelled".into();
                order.reason = Some(reason.as_str().into());
                self.store.record(&order, None).await?;
            }
        }
        tracing::debug!(order_id = %order.id, status = %order.status, "order processed");
        Ok(order)
    }
}
