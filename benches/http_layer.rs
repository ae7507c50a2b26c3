//! One axum route in-process (`oneshot`, body read in full): bare, our layer (metrics only;
//! metrics + spans), and the peer layers, in the same run.
//!
//! `cargo bench --bench http_layer`

#[path = "support.rs"]
mod support;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;
use swaggy_telemetry::http::HttpTelemetryLayer;
use swaggy_telemetry::telemetry::SamplerConfig;
use tower::ServiceExt;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn route() -> Router {
    Router::new().route("/api/items/{id}", get(|| async { "ok" }))
}

fn bench(c: &mut Criterion) {
    let (guard, sink) = support::install(SamplerConfig::AlwaysOn);
    // OtelAxumLayer works through `tracing`: give it the OpenTelemetry layer, for its target only.
    let tracer = swaggy_telemetry::telemetry::tracer();
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(
            tracing_subscriber::filter::Targets::new().with_target("otel::tracing", tracing::Level::TRACE),
        ))
        .init();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let variants: Vec<(&str, Router)> = vec![
        ("bare", route()),
        ("ours_metrics", route().layer(HttpTelemetryLayer::builder().metrics_only().build())),
        ("ours_metrics_spans", route().layer(HttpTelemetryLayer::new())),
        (
            "peer_instrumentation_tower_metrics",
            route().layer(
                opentelemetry_instrumentation_tower::http::server::LayerBuilder::builder()
                    .with_tracing(false)
                    .build()
                    .unwrap(),
            ),
        ),
        (
            "peer_instrumentation_tower_traces_metrics",
            route().layer(opentelemetry_instrumentation_tower::http::server::Layer::new()),
        ),
        ("peer_otel_axum_layer", route().layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())),
    ];
    let mut group = c.benchmark_group("http_layer");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4)).sample_size(60);
    for (name, router) in variants {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let req = Request::get("/api/items/42").body(Body::empty()).unwrap();
                    let resp = router.clone().oneshot(req).await.unwrap();
                    axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap()
                })
            })
        });
    }
    group.finish();
    let exported = sink.0.load(std::sync::atomic::Ordering::Relaxed);
    drop(guard);
    eprintln!("spans exported to the counting sink: {exported}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
