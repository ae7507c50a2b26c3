//! The reference service's stream topics. Every source reads in-memory state only: the health
//! snapshot, the metrics registry, the portfolio and the market.

use crate::market::Market;
use crate::portfolio::Portfolio;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use swaggy_telemetry::catalog::instruments::{
    AGENT_COORDINATIONS, MCP_CLIENT_OPERATION_DURATION, ORDERS_CANCELLED, ORDERS_FILLED, ORDERS_REJECTED,
    ORDERS_SUBMITTED,
};
use swaggy_telemetry::catalog::key;
use swaggy_telemetry::catalog::values::WsTopic;
use swaggy_telemetry::health::HealthCollector;
use swaggy_telemetry::health::http::snapshot_json;
use swaggy_telemetry::stream::summary::{MetricsSummary, totals_by};
use swaggy_telemetry::stream::{StreamConfig, StreamHub};
use swaggy_telemetry::telemetry::OverflowWatch;

fn total(families: &[prometheus::proto::MetricFamily], info: &swaggy_telemetry::catalog::Info) -> f64 {
    // `+ 0.0` turns the empty sum's -0.0 into 0.
    totals_by(families, info, key::ORDER_SIDE).values().sum::<f64>() + 0.0
}

/// Builds the hub with the five topics.
pub fn hub(
    config: StreamConfig,
    health: HealthCollector,
    registry: prometheus::Registry,
    overflow: Arc<OverflowWatch>,
    portfolio: Arc<Portfolio>,
    market: Arc<Market>,
) -> StreamHub {
    let summary = Arc::new(MetricsSummary::new(registry.clone(), overflow));
    let h = health.clone();
    let reg = registry.clone();
    let previous: Arc<Mutex<Option<(Instant, f64)>>> = Arc::default();
    let (p, m) = (portfolio, market.clone());
    let trading = move || {
        let families = reg.gather();
        let submitted = total(&families, &ORDERS_SUBMITTED.info);
        let now = Instant::now();
        let rate = match previous.lock().ok().and_then(|mut prev| prev.replace((now, submitted))) {
            Some((t, before)) if now > t => (submitted - before).max(0.0) / now.duration_since(t).as_secs_f64(),
            _ => 0.0,
        };
        json!({
            "portfolio": p.view(&m),
            "orders": {
                "submitted": submitted,
                "filled": total(&families, &ORDERS_FILLED.info),
                "rejected": total(&families, &ORDERS_REJECTED.info),
                "cancelled": total(&families, &ORDERS_CANCELLED.info),
                "submitted_per_s": (rate * 100.0).round() / 100.0,
            },
        })
    };
    let mcp_registry = registry;
    let mcp = move || {
        let snap = h.snapshot();
        let servers: Vec<Value> = snap
            .checks
            .iter()
            .filter(|c| c.kind == "mcp")
            .map(|c| json!({ "name": c.name, "status": c.state.as_str(), "detail": c.detail }))
            .collect();
        let families = mcp_registry.gather();
        let outcomes = totals_by(&families, &AGENT_COORDINATIONS.info, key::AGENT_OUTCOME);
        let calls: f64 =
            totals_by(&families, &MCP_CLIENT_OPERATION_DURATION.info, key::MCP_METHOD_NAME).values().sum::<f64>() + 0.0;
        json!({ "servers": servers, "coordinations": outcomes, "calls": calls })
    };
    StreamHub::builder(config)
        .topic(WsTopic::SystemHealth, Duration::from_secs(30), Arc::new(move || snapshot_json(&health.snapshot())))
        .topic(WsTopic::MetricsSummary, Duration::from_secs(5), Arc::new(move || summary.compute()))
        .topic(WsTopic::Trading, Duration::from_secs(2), Arc::new(trading))
        .topic(WsTopic::Mcp, Duration::from_secs(5), Arc::new(mcp))
        .keyed_topic(WsTopic::Quotes, Duration::from_secs(1), Arc::new(move || market.quotes_json()))
        .build()
}
