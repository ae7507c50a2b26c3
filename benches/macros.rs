//! The instrumentation macro against hand-written OpenTelemetry calls doing the same work
//! (counter + histogram + span with the same attributes), sampled and unsampled; and typed catalog
//! handles against raw SDK calls with the same attributes.
//!
//! `cargo bench --bench macros`

#[path = "support.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use swaggy_telemetry::catalog::instruments::{OPERATION_CALLS, OPERATION_DURATION};
use swaggy_telemetry::catalog::values::{HttpMethod, OrderSide, OrderType, UrlScheme};
use swaggy_telemetry::catalog::{CounterDef, HistogramDef, Info, InstrumentKind, key};
use swaggy_telemetry::instrumented;
use swaggy_telemetry::telemetry::SamplerConfig;

/// The work being instrumented.
#[inline(never)]
fn work(x: u64) -> Result<u64, std::fmt::Error> {
    Ok(black_box(x).wrapping_mul(31).rotate_left(7))
}

#[instrumented(name = "bench_op")]
fn work_macro(x: u64) -> Result<u64, std::fmt::Error> {
    Ok(black_box(x).wrapping_mul(31).rotate_left(7))
}

/// The same as the macro, written by hand against the OpenTelemetry API.
struct HandWritten {
    tracer: opentelemetry_sdk::trace::SdkTracer,
    calls: opentelemetry::metrics::Counter<u64>,
    duration: opentelemetry::metrics::Histogram<f64>,
}

impl HandWritten {
    fn new() -> Self {
        let meter = swaggy_telemetry::telemetry::meter();
        HandWritten {
            tracer: swaggy_telemetry::telemetry::tracer(),
            calls: OPERATION_CALLS.build(&meter).raw().clone(),
            duration: OPERATION_DURATION.build(&meter).raw().clone(),
        }
    }

    #[inline(never)]
    fn call(&self, x: u64) -> Result<u64, std::fmt::Error> {
        let parent = Context::current();
        let span = self
            .tracer
            .span_builder("bench_op")
            .with_kind(SpanKind::Internal)
            .with_attributes([KeyValue::new(key::CODE_FUNCTION_NAME, "macros::work_macro")])
            .start_with_context(&self.tracer, &parent);
        let cx = parent.with_span(span);
        let start = Instant::now();
        let r = {
            let _g = cx.clone().attach();
            work(x)
        };
        let outcome = if r.is_ok() { "ok" } else { "error" };
        self.calls
            .add(1, &[KeyValue::new(key::OPERATION_NAME, "bench_op"), KeyValue::new(key::OPERATION_OUTCOME, outcome)]);
        self.duration.record(start.elapsed().as_secs_f64(), &[KeyValue::new(key::OPERATION_NAME, "bench_op")]);
        if r.is_err() {
            cx.span().set_status(Status::error(""));
        }
        cx.span().end();
        r
    }
}

fn remote_parent(sampled: bool) -> Context {
    let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    let sc = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        flags,
        true,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(sc)
}

/// A four-attribute, fully enumerable label set (the typed path pre-binds every combination).
type Four = (HttpMethod, UrlScheme, OrderSide, OrderType);
const BENCH_COUNTER: CounterDef<Four> = CounterDef::new(Info {
    name: "bench.counter",
    kind: InstrumentKind::Counter,
    description: "bench",
    ..Info::DEFAULT
});
const BENCH_HISTOGRAM: HistogramDef<Four> = HistogramDef::new(Info {
    name: "bench.histogram",
    kind: InstrumentKind::Histogram,
    description: "bench",
    buckets: &[0.001, 0.01, 0.1, 1.0, 10.0],
    ..Info::DEFAULT
});

fn four_attrs() -> [KeyValue; 4] {
    [
        KeyValue::new(key::HTTP_REQUEST_METHOD, "POST"),
        KeyValue::new(key::URL_SCHEME, "http"),
        KeyValue::new(key::ORDER_SIDE, "buy"),
        KeyValue::new(key::ORDER_TYPE, "limit"),
    ]
}

fn bench(c: &mut Criterion) {
    let (guard, _sink) = support::install(SamplerConfig::ParentBasedAlwaysOn);
    let hand = HandWritten::new();
    // Warm both paths so bound handles and interned names exist.
    let _ = work_macro(1);
    let _ = hand.call(1);

    let mut g = c.benchmark_group("instrumented_call");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(60);
    g.bench_function("bare", |b| b.iter(|| work(black_box(7))));
    for (label, sampled) in [("sampled", true), ("unsampled", false)] {
        let parent = remote_parent(sampled);
        g.bench_function(format!("hand_written_{label}"), |b| {
            let _g = parent.clone().attach();
            b.iter(|| hand.call(black_box(7)))
        });
        g.bench_function(format!("macro_{label}"), |b| {
            let _g = parent.clone().attach();
            b.iter(|| work_macro(black_box(7)))
        });
    }
    g.finish();

    let meter = swaggy_telemetry::telemetry::meter();
    let typed_counter = BENCH_COUNTER.build(&meter);
    let raw_counter = typed_counter.raw().clone();
    let typed_histogram = BENCH_HISTOGRAM.build(&meter);
    let raw_histogram = typed_histogram.raw().clone();
    let labels: Four = (HttpMethod::Post, UrlScheme::Http, OrderSide::Buy, OrderType::Limit);
    let attrs = four_attrs();
    let mut shuffled = four_attrs();
    shuffled.reverse();
    let atomic = AtomicU64::new(0);

    let mut g = c.benchmark_group("record_4_attributes");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(60);
    g.bench_function("atomic_fetch_add", |b| b.iter(|| atomic.fetch_add(black_box(1), Ordering::Relaxed)));
    g.bench_function("counter_raw_sdk", |b| b.iter(|| raw_counter.add(black_box(1), &attrs)));
    g.bench_function("counter_raw_sdk_other_order", |b| b.iter(|| raw_counter.add(black_box(1), &shuffled)));
    g.bench_function("counter_typed_handle", |b| b.iter(|| typed_counter.add(black_box(1), black_box(labels))));
    g.bench_function("histogram_raw_sdk", |b| b.iter(|| raw_histogram.record(black_box(0.05), &attrs)));
    g.bench_function("histogram_typed_handle", |b| {
        b.iter(|| typed_histogram.record(black_box(0.05), black_box(labels)))
    });
    g.finish();
    drop(guard);
}

criterion_group!(benches, bench);
criterion_main!(benches);
