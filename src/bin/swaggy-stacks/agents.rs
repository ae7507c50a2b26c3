//! The demo's agents: a market analyst and a risk checker that work through the MCP server, an
//! insights agent on a small deterministic local model stand-in (simulated, no network), and
//! an executor that places the order. One idea is one coordination (`trade_idea`).

use crate::broker::{Broker, NewOrder};
use crate::error::AppError;
use crate::market::Market;
use opentelemetry::context::FutureExt as _;
use rand::Rng;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use swaggy_telemetry::catalog::instruments::AI_INSIGHTS;
use swaggy_telemetry::catalog::values::{AgentOutcome, GenAiOperation, InsightKind, OrderSide, OrderType};
use swaggy_telemetry::catalog::{BoundedStr, Counter};
use swaggy_telemetry::genai::{GenAiCall, Usage};
use swaggy_telemetry::mcp::{CallError, Coordination, Orchestrator};

/// The configured name of the bundled MCP server (and the server the agents prefer).
pub const MARKET_SERVER: &str = "market";
/// The coordination task of one trade idea.
pub const TRADE_IDEA: &str = "trade_idea";
/// The simulated model's provider (`gen_ai.provider.name`).
pub const SIM_PROVIDER: &str = "swaggy.simulated";
/// The simulated model (`gen_ai.request.model`).
pub const SIM_MODEL: &str = "swaggy-sim-insights-1";

/// A deterministic local stand-in for an LLM: token counts from the prompt, a short think
/// time, an answer derived from the data it is given. Clearly simulated; no network.
pub struct SimulatedModel;

impl SimulatedModel {
    /// "Completes" `prompt`, classifying a price series as momentum, mean reversion or neutral.
    pub async fn complete(&self, prompt: &str, closes: &[f64]) -> (&'static str, String) {
        let call = GenAiCall::start(GenAiOperation::Chat, SIM_PROVIDER, SIM_MODEL);
        let input_tokens = (prompt.split_whitespace().count() as u64 * 4).div_ceil(3) + closes.len() as u64 * 2;
        let slope = match (closes.first(), closes.last()) {
            (Some(a), Some(b)) if *a > 0.0 => (b - a) / a,
            _ => 0.0,
        };
        let (kind, text) = if slope > 0.002 {
            ("momentum", format!("Uptrend of {:.2}% over the window; momentum favours buyers.", slope * 100.0))
        } else if slope < -0.002 {
            ("mean_reversion", format!("Down {:.2}% over the window; watch for mean reversion.", -slope * 100.0))
        } else {
            ("neutral", "Range-bound; no edge.".to_string())
        };
        let output_tokens = (text.split_whitespace().count() as u64 * 4).div_ceil(3);
        tokio::time::sleep(Duration::from_millis(2 + output_tokens)).with_context(call.context().clone()).await;
        call.finish(Ok(Usage { input_tokens, output_tokens }));
        (kind, text)
    }
}

/// The agents and what they work with.
pub struct Agents {
    pub orchestrator: Orchestrator,
    server: Option<String>,
    broker: Arc<Broker>,
    market: Arc<Market>,
    model: SimulatedModel,
    insights: Counter<(InsightKind,)>,
}

/// A tool's structured result, or a short error for the response and the logs: a JSON-RPC
/// error by its code only (its message is the MCP server's text, which may echo the request).
fn structured(r: Result<rmcp::model::CallToolResult, CallError>) -> Result<Value, String> {
    match r {
        Ok(r) if r.is_error == Some(true) => Err("tool_error".into()),
        Ok(r) => Ok(r.structured_content.unwrap_or(Value::Null)),
        Err(CallError::Rpc { code, .. }) => Err(format!("JSON-RPC error {code}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The outcome of a trade idea whose quote arrived: `success` when every later step worked
/// (history, risk opinion, and the order when one was due), `partial` otherwise.
fn outcome_of(history_ok: bool, risk_ok: bool, execution_failed: bool) -> AgentOutcome {
    if history_ok && risk_ok && !execution_failed { AgentOutcome::Success } else { AgentOutcome::Partial }
}

/// A short reason for a failed order, fit for the response (no internal detail).
fn failure_reason(e: &AppError) -> String {
    match e {
        AppError::Unavailable(what) => format!("{what} is unavailable"),
        AppError::Client { code, .. } => (*code).to_string(),
        AppError::Internal(_) => "internal error".to_string(),
    }
}

impl Agents {
    pub fn new(orchestrator: Orchestrator, broker: Arc<Broker>, market: Arc<Market>) -> Self {
        let names = orchestrator.names();
        let server = names.iter().find(|n| *n == MARKET_SERVER).or(names.first()).cloned();
        // Failures of the task are exported at 0 from start: the first one is an increase.
        swaggy_telemetry::mcp::declare_coordination_task(TRADE_IDEA);
        Agents {
            orchestrator,
            server,
            broker,
            market,
            model: SimulatedModel,
            insights: AI_INSIGHTS.build(&swaggy_telemetry::telemetry::meter()),
        }
    }

    /// One trade idea on `symbol`: quote and history (analyst), an insight (model), a risk
    /// opinion (risk checker), and with `execute` an order of `quantity` (executor).
    pub async fn trade_idea(&self, symbol: &'static str, quantity: i64, execute: bool) -> Result<Value, AppError> {
        let Some(server) = self.server.as_deref() else {
            return Err(AppError::Unavailable("MCP server"));
        };
        let orch = &self.orchestrator;
        let coord = Coordination::start(TRADE_IDEA);
        let quote = structured(
            coord.step("market_analyst", orch.call_tool(server, "get_quote", json!({ "symbol": symbol }))).await,
        );
        let quote = match quote {
            Ok(q) => q,
            Err(e) => {
                coord.finish(AgentOutcome::Failure);
                tracing::warn!(server, error = %e, "trade idea: no quote");
                return Err(AppError::Unavailable("MCP server"));
            }
        };
        let history = structured(
            coord
                .step(
                    "market_analyst",
                    orch.call_tool(server, "get_history", json!({ "symbol": symbol, "points": 20 })),
                )
                .await,
        );
        let closes: Vec<f64> = history
            .as_ref()
            .ok()
            .and_then(|h| h["points"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p["close"].as_f64())
            .collect();
        let prompt = format!("Give a one-line trading insight for {symbol} from its last {} closes.", closes.len());
        let (kind, insight) = self.model.complete(&prompt, &closes).with_context(coord.context().clone()).await;
        self.insights.add(1, (InsightKind(BoundedStr::Static(kind)),));
        let side = if kind == "mean_reversion" { "sell" } else { "buy" };
        let risk = structured(
            coord
                .step(
                    "risk_checker",
                    orch.call_tool(
                        server,
                        "assess_risk",
                        json!({ "symbol": symbol, "side": side, "quantity": quantity }),
                    ),
                )
                .await,
        );
        let approved = risk.as_ref().ok().and_then(|r| r["approved"].as_bool()).unwrap_or(false);
        let mut order = Value::Null;
        // Whether the executor's step failed (an order was due and could not be placed).
        let mut execution_failed = false;
        if execute && approved && self.market.quote(symbol).is_some() {
            let o = NewOrder {
                symbol,
                side: if side == "buy" { OrderSide::Buy } else { OrderSide::Sell },
                order_type: OrderType::Market,
                quantity,
                limit_price: None,
            };
            match self.broker.submit(o).with_context(coord.context().clone()).await {
                Ok(rec) => order = json!({ "id": rec.id, "status": rec.status }),
                Err(e) => {
                    let detail = match &e {
                        AppError::Internal(detail) => detail.clone(),
                        other => failure_reason(other),
                    };
                    tracing::warn!(symbol, error = %detail, "trade idea: the order could not be placed");
                    execution_failed = true;
                    order = json!({ "status": "failed", "reason": failure_reason(&e) });
                }
            }
        }
        let outcome = outcome_of(history.is_ok(), risk.is_ok(), execution_failed);
        coord.finish(outcome);
        Ok(json!({
            "symbol": symbol, "outcome": outcome.as_str(), "quote": quote,
            "insight": { "kind": kind, "text": insight, "model": SIM_MODEL, "simulated": true },
            "risk": risk.unwrap_or_else(|e| json!({ "error": e })), "order": order,
        }))
    }

    /// The demo loop: a trade idea on a random symbol every `every`.
    pub async fn run(self: Arc<Self>, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        // Let the MCP server start first.
        let _ = self.orchestrator.wait_ready(Duration::from_secs(15)).await;
        let mut interval = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stop.changed() => return,
            }
            let (symbol, quantity) = {
                let mut rng = rand::rng();
                let (s, _) = crate::market::UNIVERSE[rng.random_range(0..crate::market::UNIVERSE.len())];
                (s, rng.random_range(1..=20))
            };
            let _ = self.trade_idea(symbol, quantity, true).await;
        }
    }
}
