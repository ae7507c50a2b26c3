//! Shared bench setup: telemetry installed once with an always-on sampler and a span exporter
//! that only counts, so benchmarks measure instrumentation, not I/O.
#![allow(dead_code)]

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use swaggy_telemetry::telemetry::{EnvSource, SamplerConfig};
use swaggy_telemetry::{Telemetry, TelemetryGuard};

/// Counts exported spans and drops them.
#[derive(Debug, Clone, Default)]
pub struct CountingSink(pub Arc<AtomicU64>);

impl SpanExporter for CountingSink {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

pub fn install(sampler: SamplerConfig) -> (TelemetryGuard, CountingSink) {
    let sink = CountingSink::default();
    let guard = Telemetry::builder()
        .with_env(EnvSource::from_pairs(Vec::<(String, String)>::new()))
        .with_logging(false)
        .with_process_metrics(false)
        .with_sampler(sampler)
        .with_span_exporter(sink.clone())
        .install()
        .expect("install telemetry");
    (guard, sink)
}
