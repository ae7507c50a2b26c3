//! The simulated broker: pre-trade risk checks, then an immediate fill at the touch, an
//! immediate-or-cancel cancellation for a limit that cannot fill, or a rejection.
//!
//! Every order is bounded by [`ORDER_DEADLINE`] (waiting for the order lock, reloading the book,
//! the transaction). Every submitted order ends in exactly one outcome series of the trade
//! counters: filled, cancelled, or rejected — an order the platform could not process (the
//! database failed, the deadline passed, the `COMMIT` went unanswered) counts as rejected with
//! reason `broker_unavailable` and answers 503.

use crate::error::AppError;
use crate::market::{Market, now_ms};
use crate::metrics::TradingMetrics;
use crate::portfolio::Portfolio;
use crate::store::{FillRecord, OrderRecord, RecordError, Store, WriterState};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Status, TraceContextExt};
use rand::Rng;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swaggy_telemetry::catalog::key;
use swaggy_telemetry::catalog::values::{CancelReason, OrderSide, OrderType, RejectReason, RiskCheck};
use swaggy_telemetry::{TradeOutcome, TradeResult, instrument_trade, instrumented};

/// Bound of one order: waiting for the order lock, reloading the book when stale, and the
/// transaction. Past it the client gets 503 (`outcome_unknown` when the `COMMIT` was sent).
pub const ORDER_DEADLINE: Duration = Duration::from_secs(5);

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

/// A submitted order: stored now, or stored earlier under the same `client_order_id` (a retry).
#[derive(Debug)]
pub struct Submitted {
    pub order: OrderRecord,
    /// The order was stored by an earlier request with the same `client_order_id`.
    pub replayed: bool,
}

/// Why a submitted order was not processed.
enum Failure {
    /// Answer this.
    App(AppError),
    /// The unique index refused the `client_order_id` (nothing stored): look the order up.
    Duplicate,
}

/// What processing a submitted order ended with: the stored order, or a failure, which the
/// trade counters record as a `broker_unavailable` rejection.
struct Processed(Result<OrderRecord, Failure>);

impl TradeOutcome for Processed {
    fn trade_result(&self) -> TradeResult {
        match &self.0 {
            Ok(order) => order.trade_result(),
            Err(_) => TradeResult::Rejected(RejectReason::BrokerUnavailable),
        }
    }
}

/// The stored order for a retry with the same `client_order_id`, if the retry asks for the same
/// order; a different order under a used id is a conflict.
fn replay(o: &NewOrder, stored: OrderRecord) -> Result<Submitted, AppError> {
    let same = stored.symbol == o.symbol
        && stored.side == o.side.as_str()
        && stored.order_type == o.order_type.as_str()
        && stored.quantity == o.quantity
        && stored.limit_price == o.limit_price;
    if same {
        Ok(Submitted { order: stored, replayed: true })
    } else {
        Err(AppError::conflict(
            "client_order_id_conflict",
            format!("client_order_id was already used for a different order ({})", stored.id),
        ))
    }
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

    /// Submits `o` without a `client_order_id`.
    pub async fn submit(self: &Arc<Self>, o: NewOrder) -> Result<OrderRecord, AppError> {
        self.submit_idempotent(o, None).await.map(|s| s.order)
    }

    /// Submits `o` (see [`Broker::submit_once`]) in its own task, in the caller's trace: a caller
    /// that goes away (a client disconnecting or timing out) cannot cancel an order between its
    /// `COMMIT` and the book update, nor leave it without an outcome in the trade counters.
    pub async fn submit_idempotent(
        self: &Arc<Self>,
        o: NewOrder,
        client_order_id: Option<String>,
    ) -> Result<Submitted, AppError> {
        let broker = self.clone();
        swaggy_telemetry::context::spawn(async move { broker.submit_once(o, client_order_id).await })
            .await
            .map_err(|e| AppError::Internal(format!("the order task failed: {e}")))?
    }

    /// Submits `o`. With a `client_order_id` already stored, returns the stored order (same
    /// order) or a 409 (different order) instead of trading again; the unique index on the
    /// column makes that hold even when the lookup fails or races.
    async fn submit_once(&self, o: NewOrder, client_order_id: Option<String>) -> Result<Submitted, AppError> {
        let deadline = tokio::time::Instant::now() + ORDER_DEADLINE;
        // An instance that is not the writer (or not ready) takes no orders: they never reach
        // the broker and are not counted as submitted (the instance is out of rotation, its
        // readiness says so).
        self.gate()?;
        // One order at a time, from the lookup of its `client_order_id` to its commit: retries
        // racing each other find the first one's order instead of being submitted again. An
        // order that never got its turn was not submitted (no outcome is counted): 503.
        let Ok(_serial) = tokio::time::timeout_at(deadline, self.portfolio.order_lock.lock()).await else {
            return Err(AppError::Unavailable("database"));
        };
        if let Some(id) = &client_order_id {
            match tokio::time::timeout_at(deadline, self.store.order_by_client_id(id)).await {
                Ok(Ok(Some(stored))) => return replay(&o, stored),
                Ok(Ok(None)) => {}
                // No answer is not "new": the unique index still refuses a second order.
                _ => tracing::debug!("client_order_id lookup failed; the unique index decides"),
            }
        }
        let Ok(Processed(outcome)) = self.process(o.clone(), client_order_id.clone(), deadline).await;
        match outcome {
            Ok(order) => Ok(Submitted { order, replayed: false }),
            Err(Failure::App(e)) => Err(e),
            Err(Failure::Duplicate) => {
                let id = client_order_id.as_deref().unwrap_or_default();
                match self.store.order_by_client_id(id).await? {
                    Some(stored) => replay(&o, stored),
                    None => Err(AppError::Unavailable("database")),
                }
            }
        }
    }

    /// Refuses orders unless this instance holds the ledger and is ready.
    pub fn gate(&self) -> Result<(), AppError> {
        match (self.store.writer_state(), self.store.not_ready_reason()) {
            (_, None) => Ok(()),
            (WriterState::HeldElsewhere | WriterState::Lost, Some(reason)) => Err(AppError::standby(reason)),
            _ => Err(AppError::Unavailable("database")),
        }
    }

    /// Reloads the book from the database when it may differ from it. The caller holds the
    /// order lock.
    async fn reload_if_needed(&self, deadline: tokio::time::Instant) -> Result<(), AppError> {
        let epoch = self.store.writer_epoch();
        if !self.portfolio.needs_reload(epoch) {
            return Ok(());
        }
        let (cash, positions) = tokio::time::timeout_at(deadline, async {
            // First move the fencing token on (only the lock's holder can): from then on a
            // previous writer commits nothing, so what is read next is final.
            self.store.claim_ledger().await?;
            self.store.load_portfolio().await
        })
        .await
        .map_err(|_| AppError::Unavailable("database"))??;
        self.portfolio.load_synced(epoch, cash, positions);
        tracing::info!("book reloaded from the database");
        Ok(())
    }

    /// Makes the book current for a reader (`GET /api/portfolio`): reloads it first when it
    /// may differ from the database. A standby has no book to show.
    pub async fn sync_book(&self) -> Result<(), AppError> {
        match self.store.writer_state() {
            WriterState::HeldElsewhere | WriterState::Lost => return self.gate(),
            // Starting up: the book as the bootstrap loads it.
            WriterState::Pending => return Ok(()),
            WriterState::Held if !self.store.is_ready() => return Ok(()),
            WriterState::Held => {}
        }
        if !self.portfolio.needs_reload(self.store.writer_epoch()) {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + ORDER_DEADLINE;
        let _serial = tokio::time::timeout_at(deadline, self.portfolio.order_lock.lock())
            .await
            .map_err(|_| AppError::Unavailable("database"))?;
        self.reload_if_needed(deadline).await
    }

    /// Processes a submitted order: decides, persists and updates the book. The order metrics
    /// (submitted, filled/rejected/cancelled, latency, fills, notional) come from
    /// `#[instrument_trade]`; a failure is a `broker_unavailable` rejection there, and an error
    /// on this span.
    #[instrument_trade(side = o.side, order_type = o.order_type, name = "submit_order")]
    async fn process(
        &self,
        o: NewOrder,
        client_order_id: Option<String>,
        deadline: tokio::time::Instant,
    ) -> Result<Processed, Infallible> {
        let outcome = self.execute(&o, client_order_id, deadline).await;
        if let Err(f) = &outcome {
            let error_type = match f {
                Failure::App(AppError::Client { code, .. }) => *code,
                Failure::App(AppError::Unavailable(_)) => "unavailable",
                Failure::App(AppError::Internal(_)) => "internal",
                Failure::Duplicate => "duplicate_client_order_id",
            };
            let cx = opentelemetry::Context::current();
            cx.span().set_attribute(KeyValue::new(key::ERROR_TYPE, error_type));
            cx.span().set_status(Status::error("the order was not processed"));
        }
        Ok(Processed(outcome))
    }

    async fn execute(
        &self,
        o: &NewOrder,
        client_order_id: Option<String>,
        deadline: tokio::time::Instant,
    ) -> Result<OrderRecord, Failure> {
        // The caller holds the order lock.
        self.reload_if_needed(deadline).await.map_err(Failure::App)?;
        let decision = self.decide(o);
        // The venue's acknowledgement takes a moment.
        let venue_latency = Duration::from_micros(rand::rng().random_range(200..3000));
        tokio::time::sleep(venue_latency).await;
        let now = now_ms();
        let mut order = OrderRecord {
            id: uuid::Uuid::new_v4().to_string(),
            client_order_id,
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
        let fill = match decision {
            Decision::Fill(price) => {
                order.status = "filled".into();
                order.fill_price = Some(price);
                Some(FillRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    side: o.side,
                    quantity: o.quantity,
                    price,
                    filled_at_ms: now,
                })
            }
            Decision::Reject(reason) => {
                order.status = "rejected".into();
                order.reason = Some(reason.as_str().into());
                None
            }
            Decision::Cancel(reason) => {
                order.status = "cancelled".into();
                order.reason = Some(reason.as_str().into());
                None
            }
        };
        match self.store.record(&order, fill.as_ref(), deadline).await {
            Ok(update) => {
                if let Some(update) = update {
                    self.portfolio.apply(o.symbol, update);
                }
                tracing::debug!(order_id = %order.id, status = %order.status, "order processed");
                Ok(order)
            }
            // Nothing stored, nothing changed.
            Err(RecordError::DuplicateClientOrderId) => Err(Failure::Duplicate),
            // The lock connection broke and another instance took the ledger; this one finds
            // out at its next lock check and stands by.
            Err(RecordError::Fenced) => {
                self.portfolio.mark_stale();
                tracing::warn!(order_id = %order.id, "another instance took the ledger: the order was not stored");
                Err(Failure::App(AppError::standby(
                    "another instance took the ledger (single writer): this one stands by, retry later",
                )))
            }
            Err(RecordError::OutcomeUnknown) => {
                self.portfolio.mark_stale();
                tracing::warn!(order_id = %order.id, "the COMMIT of an order got no answer: its outcome is unknown");
                Err(Failure::App(AppError::outcome_unknown(&order.id)))
            }
            Err(RecordError::NotStored(e)) => {
                self.portfolio.mark_stale();
                tracing::warn!(
                    order_id = %order.id,
                    error = %swaggy_telemetry::db::sqlx_error_type(&e),
                    "an order could not be stored"
                );
                Err(Failure::App(AppError::from(e)))
            }
        }
    }
}
