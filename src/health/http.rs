//! `/health`, `/health/live`, `/health/ready`.

use super::check::CheckResult;
use super::collector::{HealthCollector, HealthSnapshot};
use crate::catalog::values::HealthState;
use crate::telemetry::rfc3339;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Instant;

#[derive(Clone)]
struct HealthState_ {
    collector: HealthCollector,
    started: Instant,
}

fn check_json(c: &CheckResult) -> Value {
    json!({
        "name": c.name,
        "kind": c.kind,
        "status": c.state.as_str(),
        "critical": c.critical,
        "latency_ms": (c.latency.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
        "detail": c.detail,
        "observed_at": rfc3339(c.observed_at),
        "last_success": c.last_success.map(rfc3339),
    })
}

/// The `/health` body of a snapshot.
pub fn snapshot_json(s: &HealthSnapshot) -> Value {
    json!({
        "status": if s.refreshed_at.is_some() { s.overall.as_str() } else { "starting" },
        "ready": s.ready(),
        "refreshed_at": s.refreshed_at.map(rfc3339),
        "checks": s.checks.iter().map(check_json).collect::<Vec<_>>(),
    })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

async fn health(State(s): State<HealthState_>, Query(q): Query<HashMap<String, String>>) -> Response {
    let fresh = match q.get("fresh").map(String::as_str) {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") | Some("") => true,
        Some(_) => return error(StatusCode::BAD_REQUEST, "invalid_parameter", "fresh must be 1 or 0"),
    };
    let snap = if fresh { s.collector.refresh().await } else { s.collector.snapshot() };
    let code = if snap.refreshed_at.is_some() && snap.overall == HealthState::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, axum::Json(snapshot_json(&snap))).into_response()
}

async fn live(State(s): State<HealthState_>) -> Response {
    axum::Json(json!({ "status": "alive", "uptime_seconds": s.started.elapsed().as_secs() })).into_response()
}

async fn ready(State(s): State<HealthState_>) -> Response {
    let snap = s.collector.snapshot();
    let critical: Vec<Value> = snap.checks.iter().filter(|c| c.critical).map(check_json).collect();
    let (code, status) =
        if snap.ready() { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "not_ready") };
    (code, axum::Json(json!({ "status": status, "checks": critical }))).into_response()
}

/// The three health routes, served from the collector's cache: a request never probes a
/// dependency unless it asks for `?fresh=1` (coalesced and rate-limited). `/health/live` looks
/// at the process only.
pub fn health_routes<S>(collector: HealthCollector) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(HealthState_ { collector, started: Instant::now() })
}
