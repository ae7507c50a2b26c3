//! A one-route server for loopback load tests: `bare`, `metrics` (our layer, metrics only) or
//! `spans` (our layer, metrics + always-sampled spans to a counting sink).
//!
//! `cargo run --release --example bench_server -- spans 127.0.0.1:8099`

use axum::Router;
use axum::routing::get;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use swaggy_telemetry::Telemetry;
use swaggy_telemetry::http::HttpTelemetryLayer;
use swaggy_telemetry::telemetry::{EnvSource, SamplerConfig};

#[derive(Debug, Clone, Default)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "bare".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8099".into());
    let _guard = Telemetry::builder()
        .with_env(EnvSource::from_pairs(Vec::<(String, String)>::new()))
        .with_logging(false)
        .with_sampler(SamplerConfig::AlwaysOn)
        .with_span_exporter(Discard)
        .install()
        .expect("telemetry");
    let app = Router::new().route("/api/items/{id}", get(|| async { "ok" }));
    let app = match mode.as_str() {
        "bare" => app,
        "metrics" => app.layer(HttpTelemetryLayer::builder().metrics_only().build()),
        "spans" => app.layer(HttpTelemetryLayer::new()),
        other => panic!("unknown mode {other}: bare | metrics | spans"),
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("{mode} listening on {addr}");
    axum::serve(listener, app).await.expect("serve");
}
