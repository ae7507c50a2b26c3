//! `GET /metrics`: the Prometheus text exposition of the installed registry.

use crate::telemetry::OverflowWatch;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use prometheus::{Encoder, Registry, TextEncoder};
use std::sync::Arc;

/// Content type of the text exposition format 0.0.4.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Gathers `registry` (running the observable callbacks, which only read snapshots), notes
/// cardinality overflow, and encodes the text format.
pub fn render_prometheus(registry: &Registry, overflow: &OverflowWatch) -> String {
    let families = registry.gather();
    overflow.scan_families(&families);
    let mut buf = Vec::with_capacity(64 * 1024);
    if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
        tracing::warn!(target: "swaggy_telemetry", error = %e, "encoding /metrics failed");
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// A `GET` route serving `registry` (mount it at `/metrics`).
pub fn metrics_handler<S>(registry: Registry, overflow: Arc<OverflowWatch>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    get(move || {
        let registry = registry.clone();
        let overflow = overflow.clone();
        async move { ([(CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], render_prometheus(&registry, &overflow)).into_response() }
    })
}
