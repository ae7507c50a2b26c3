//! Notices instruments that hit their cardinality limit: warns once per instrument and exposes
//! `swaggy.telemetry.metric.overflow`.

use crate::catalog::ALL;
use opentelemetry::Value;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The attribute the SDK puts on the series that collects a stream's excess.
pub const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";
/// Its Prometheus label name.
pub const OVERFLOW_LABEL: &str = "otel_metric_overflow";

/// Instruments seen in overflow (at most one warning each).
#[derive(Debug, Default)]
pub struct OverflowWatch {
    seen: Mutex<BTreeSet<String>>,
}

impl OverflowWatch {
    /// Records that `instrument` overflowed; logs a warning the first time.
    pub fn note(&self, instrument: &str) {
        let Ok(mut seen) = self.seen.lock() else { return };
        if seen.insert(instrument.to_string()) {
            let limit = crate::catalog::lookup(instrument).map(|i| i.cardinality_limit);
            tracing::warn!(
                target: "swaggy_telemetry",
                instrument,
                limit,
                "metric cardinality limit reached: further attribute sets fold into otel_metric_overflow=\"true\""
            );
        }
    }

    /// Instruments seen in overflow so far.
    pub fn instruments(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// Scans an OTLP export for overflow series.
    pub fn scan_resource_metrics(&self, rm: &ResourceMetrics) {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                if metric_has_overflow(m.data()) {
                    self.note(m.name());
                }
            }
        }
    }

    /// Scans a Prometheus gather for overflow series (family names map back to catalog names).
    pub fn scan_families(&self, families: &[prometheus::proto::MetricFamily]) {
        for family in families {
            let overflowed = family
                .get_metric()
                .iter()
                .any(|m| m.get_label().iter().any(|l| l.name() == OVERFLOW_LABEL && l.value() == "true"));
            if overflowed {
                let name = family.name();
                let instrument = ALL.iter().find(|i| i.prometheus_name() == name).map(|i| i.name);
                self.note(instrument.unwrap_or(name));
            }
        }
    }
}

fn is_overflow<'a>(mut attrs: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> bool {
    attrs.any(|kv| kv.key.as_str() == OVERFLOW_ATTRIBUTE && kv.value == Value::Bool(true))
}

fn data_has_overflow<T>(d: &MetricData<T>) -> bool {
    match d {
        MetricData::Gauge(g) => g.data_points().any(|p| is_overflow(p.attributes())),
        MetricData::Sum(s) => s.data_points().any(|p| is_overflow(p.attributes())),
        MetricData::Histogram(h) => h.data_points().any(|p| is_overflow(p.attributes())),
        MetricData::ExponentialHistogram(h) => h.data_points().any(|p| is_overflow(p.attributes())),
    }
}

fn metric_has_overflow(m: &AggregatedMetrics) -> bool {
    match m {
        AggregatedMetrics::F64(d) => data_has_overflow(d),
        AggregatedMetrics::U64(d) => data_has_overflow(d),
        AggregatedMetrics::I64(d) => data_has_overflow(d),
    }
}
