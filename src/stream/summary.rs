//! The `metrics_summary` topic: request rate, errors and latency, database and cache figures —
//! computed from the Prometheus registry once per tick (rates are differences between ticks).

use crate::catalog::instruments::{CACHE_LOOKUPS, DB_CLIENT_OPERATION_DURATION, HTTP_SERVER_REQUEST_DURATION};
use crate::catalog::key;
use crate::telemetry::OverflowWatch;
use prometheus::proto::{Metric, MetricFamily};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, Default)]
struct Hist {
    count: f64,
    sum: f64,
    errors: f64,
    client_errors: f64,
    buckets: BTreeMap<u64, f64>, // upper bound (f64 bits) → cumulative count
}

#[derive(Debug, Clone, Default)]
struct Totals {
    http: Hist,
    db: BTreeMap<String, Hist>,
    cache: BTreeMap<String, f64>,
}

fn label<'a>(m: &'a Metric, name: &str) -> Option<&'a str> {
    m.get_label().iter().find(|l| l.name() == name).map(|l| l.value())
}

fn prom_label(attribute_key: &str) -> String {
    attribute_key.replace('.', "_")
}

fn add_hist(h: &mut Hist, m: &Metric) {
    let hist = m.get_histogram();
    h.count += hist.get_sample_count() as f64;
    h.sum += hist.get_sample_sum();
    for b in hist.get_bucket() {
        *h.buckets.entry(b.upper_bound().to_bits()).or_default() += b.cumulative_count() as f64;
    }
}

fn totals(families: &[MetricFamily]) -> Totals {
    let http_name = HTTP_SERVER_REQUEST_DURATION.info.prometheus_name();
    let db_name = DB_CLIENT_OPERATION_DURATION.info.prometheus_name();
    let cache_name = CACHE_LOOKUPS.info.prometheus_name();
    let status = prom_label(key::HTTP_RESPONSE_STATUS_CODE);
    let system = prom_label(key::DB_SYSTEM_NAME);
    let error_type = prom_label(key::ERROR_TYPE);
    let result = prom_label(key::CACHE_RESULT);
    let mut t = Totals::default();
    for f in families {
        let name = f.name();
        if name == http_name {
            for m in f.get_metric() {
                add_hist(&mut t.http, m);
                let n = m.get_histogram().get_sample_count() as f64;
                match label(m, &status).and_then(|s| s.chars().next()) {
                    Some('5') => t.http.errors += n,
                    Some('4') => t.http.client_errors += n,
                    _ => {}
                }
            }
        } else if name == db_name {
            for m in f.get_metric() {
                let sys = label(m, &system).unwrap_or("other").to_string();
                let h = t.db.entry(sys).or_default();
                add_hist(h, m);
                if label(m, &error_type).is_some() {
                    h.errors += m.get_histogram().get_sample_count() as f64;
                }
            }
        } else if name == cache_name {
            for m in f.get_metric() {
                let r = label(m, &result).unwrap_or("other").to_string();
                *t.cache.entry(r).or_default() += m.get_counter().get_value();
            }
        }
    }
    t
}

/// Sums a counter (or a histogram's counts) from a gather, grouped by one label (attribute
/// key); series without the label are grouped under `""`.
pub fn totals_by(families: &[MetricFamily], info: &crate::catalog::Info, attribute_key: &str) -> BTreeMap<String, f64> {
    let name = info.prometheus_name();
    let label_name = prom_label(attribute_key);
    let mut out = BTreeMap::new();
    for f in families.iter().filter(|f| f.name() == name) {
        for m in f.get_metric() {
            let v = if info.kind == crate::catalog::InstrumentKind::Histogram {
                m.get_histogram().get_sample_count() as f64
            } else {
                m.get_counter().get_value()
            };
            *out.entry(label(m, &label_name).unwrap_or("").to_string()).or_default() += v;
        }
    }
    out
}

/// A latency quantile (ms) from the bucket deltas between two readings.
fn quantile_ms(now: &Hist, before: &Hist, q: f64) -> Option<f64> {
    let total = now.count - before.count;
    if total <= 0.0 {
        return None;
    }
    let mut last_bound = 0.0;
    for (bits, cum) in &now.buckets {
        let bound = f64::from_bits(*bits);
        let delta = cum - before.buckets.get(bits).copied().unwrap_or(0.0);
        if delta >= q * total {
            return Some(if bound.is_finite() { bound * 1000.0 } else { last_bound * 1000.0 });
        }
        if bound.is_finite() {
            last_bound = bound;
        }
    }
    None
}

fn rate(now: f64, before: f64, secs: f64) -> f64 {
    if secs > 0.0 { ((now - before).max(0.0) / secs * 100.0).round() / 100.0 } else { 0.0 }
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { (part / whole * 10000.0).round() / 10000.0 } else { 0.0 }
}

fn avg_ms(now: &Hist, before: &Hist) -> Option<f64> {
    let n = now.count - before.count;
    (n > 0.0).then(|| ((now.sum - before.sum) / n * 1000.0 * 100.0).round() / 100.0)
}

/// Computes the summary; keeps the previous reading to turn counters into rates.
pub struct MetricsSummary {
    registry: prometheus::Registry,
    overflow: Arc<OverflowWatch>,
    previous: Mutex<Option<(Instant, Totals)>>,
}

impl std::fmt::Debug for MetricsSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsSummary")
    }
}

impl MetricsSummary {
    /// A summary over `registry` (the one `/metrics` serves).
    pub fn new(registry: prometheus::Registry, overflow: Arc<OverflowWatch>) -> Self {
        MetricsSummary { registry, overflow, previous: Mutex::new(None) }
    }

    /// Reads the registry once and returns rates since the previous call.
    pub fn compute(&self) -> Value {
        let families = self.registry.gather();
        self.overflow.scan_families(&families);
        let now = totals(&families);
        let at = Instant::now();
        let (secs, before) = match self.previous.lock().ok().and_then(|mut p| p.replace((at, now.clone()))) {
            Some((t, b)) => (at.duration_since(t).as_secs_f64(), b),
            None => (0.0, Totals::default()),
        };
        let window = now.http.count - before.http.count;
        let db: serde_json::Map<String, Value> = now
            .db
            .iter()
            .map(|(sys, h)| {
                let b = before.db.get(sys).cloned().unwrap_or_default();
                (
                    sys.clone(),
                    json!({
                        "ops_per_s": rate(h.count, b.count, secs),
                        "errors_per_s": rate(h.errors, b.errors, secs),
                        "avg_latency_ms": avg_ms(h, &b),
                        "total_ops": h.count,
                    }),
                )
            })
            .collect();
        let hits = now.cache.get("hit").copied().unwrap_or(0.0) - before.cache.get("hit").copied().unwrap_or(0.0);
        let lookups: f64 = now.cache.values().sum::<f64>() - before.cache.values().sum::<f64>();
        json!({
            "window_s": (secs * 100.0).round() / 100.0,
            "http": {
                "requests_per_s": rate(now.http.count, before.http.count, secs),
                "error_ratio": ratio(now.http.errors - before.http.errors, window),
                "client_error_ratio": ratio(now.http.client_errors - before.http.client_errors, window),
                "avg_latency_ms": avg_ms(&now.http, &before.http),
                "p95_latency_ms": quantile_ms(&now.http, &before.http, 0.95),
                "total_requests": now.http.count,
            },
            "db": db,
            "cache": {
                "lookups_per_s": rate(now.cache.values().sum(), before.cache.values().sum(), secs),
                "hit_ratio": ratio(hits, lookups),
            },
        })
    }
}
