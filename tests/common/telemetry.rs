//! Telemetry installed for in-process tests: spans into memory, metrics rendered from the
//! Prometheus registry, nothing read from the environment.

use super::Scrape;
use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use swaggy_telemetry::telemetry::EnvSource;
use swaggy_telemetry::{Telemetry, TelemetryGuard};

/// Installs telemetry with an in-memory span exporter and Prometheus.
pub fn install_in_memory() -> (TelemetryGuard, InMemorySpanExporter) {
    let spans = InMemorySpanExporter::default();
    let guard = Telemetry::builder()
        .with_env(EnvSource::from_pairs(Vec::<(String, String)>::new()))
        .with_logging(false)
        .with_process_metrics(false)
        .with_span_exporter(spans.clone())
        .install()
        .expect("install");
    (guard, spans)
}

/// The spans exported so far (after a flush).
pub fn finished(guard: &TelemetryGuard, exporter: &InMemorySpanExporter) -> Vec<SpanData> {
    guard.force_flush().expect("flush");
    exporter.get_finished_spans().expect("spans")
}

/// An attribute of a span.
pub fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key == Key::from(key.to_string())).map(|kv| kv.value.clone())
}

/// The `/metrics` text of the installed registry, parsed.
pub fn metrics(guard: &TelemetryGuard) -> Scrape {
    Scrape::parse(&swaggy_telemetry::http::render_prometheus(guard.prometheus_registry(), guard.overflow()))
}
