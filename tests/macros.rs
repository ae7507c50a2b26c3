//! The instrumentation macros: what they record, on every kind of function, and context across
//! tasks. (Compile-time behaviour is in `tests/ui`, driven by `macros_ui`.)

mod common;

use common::telemetry::{attr, finished, install_in_memory as install, metrics};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use common::require;
use common::services::REDIS_URL;
use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry_sdk::trace::SpanData;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use swaggy_telemetry::catalog::values::{CancelReason, OrderSide, OrderType, RejectReason};
use swaggy_telemetry::{
    ErrorKind, TradeOutcome, TradeResult, instrument_mcp, instrument_query, instrument_trade, instrumented,
};
use tower::ServiceExt;

fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        panic!("no span {name} in {names:?}")
    })
}

#[derive(Debug, ErrorKind)]
enum LedgerError {
    InsufficientFunds,
    #[allow(dead_code)]
    Locked(u32),
    #[allow(dead_code)]
    Remote {
        code: u16,
    },
}

#[derive(Debug, ErrorKind)]
struct Timeout;

#[instrumented]
fn debit(amount: u64) -> Result<u64, LedgerError> {
    if amount > 100 {
        return Err(LedgerError::InsufficientFunds);
    }
    Ok(100 - amount)
}

#[instrumented(name = "parse_port")]
fn parse_port(s: &str) -> Result<u16, std::num::ParseIntError> {
    let port = s.parse::<u16>()?;
    Ok(port)
}

#[instrumented]
async fn slow_lookup(ms: u64) -> Result<&'static str, Timeout> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    if ms > 1000 { Err(Timeout) } else { Ok("found") }
}

#[instrumented]
fn generic_len<T: AsRef<[u8]>>(value: T) -> usize {
    value.as_ref().len()
}

struct Book {
    entries: Vec<u64>,
}

impl Book {
    #[instrumented]
    fn total(&self) -> u64 {
        self.entries.iter().sum()
    }

    #[instrumented(name = "Book::push")]
    async fn push(&mut self, v: u64) {
        tokio::task::yield_now().await;
        self.entries.push(v);
    }
}

#[async_trait::async_trait]
trait Venue {
    async fn route(&self, qty: u64) -> Result<u64, LedgerError>;
}

struct SlowVenue;

#[async_trait::async_trait]
impl Venue for SlowVenue {
    #[instrumented(name = "SlowVenue::route")]
    async fn route(&self, qty: u64) -> Result<u64, LedgerError> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if qty == 0 { Err(LedgerError::Locked(1)) } else { Ok(qty) }
    }
}

#[tokio::test]
async fn instrumented_functions_record_spans_calls_and_durations() {
    let (guard, exporter) = install();
    assert_eq!(debit(30).unwrap(), 70);
    assert!(matches!(debit(500), Err(LedgerError::InsufficientFunds)));
    assert_eq!(parse_port("8080").unwrap(), 8080);
    assert!(parse_port("http").is_err());
    assert_eq!(slow_lookup(20).await.unwrap(), "found");
    assert_eq!(generic_len("abc"), 3);
    assert_eq!(generic_len(vec![1u8, 2]), 2);
    let mut book = Book { entries: vec![1, 2] };
    book.push(3).await;
    assert_eq!(book.total(), 6);
    let venue: Box<dyn Venue + Send + Sync> = Box::new(SlowVenue);
    assert_eq!(venue.route(5).await.unwrap(), 5);
    assert!(venue.route(0).await.is_err());

    let spans = finished(&guard, &exporter);
    for name in ["debit", "parse_port", "slow_lookup", "generic_len", "total", "Book::push", "SlowVenue::route"] {
        let s = span(&spans, name);
        assert_eq!(s.span_kind, SpanKind::Internal);
        let function = attr(s, "code.function.name").unwrap().to_string();
        assert!(function.starts_with("macros::"), "{function}");
    }
    let failed_debit = spans.iter().find(|s| s.name == "debit" && matches!(s.status, Status::Error { .. })).unwrap();
    assert_eq!(attr(failed_debit, "error.type"), Some(Value::from("InsufficientFunds")));
    let failed_parse =
        spans.iter().find(|s| s.name == "parse_port" && matches!(s.status, Status::Error { .. })).unwrap();
    assert_eq!(attr(failed_parse, "error.type"), Some(Value::from("ParseIntError")), "type name fallback");

    let m = metrics(&guard);
    let calls = |name: &str, outcome: &str| {
        m.sum("swaggy_operation_calls_total", &[("swaggy_operation_name", name), ("swaggy_operation_outcome", outcome)])
    };
    assert_eq!(calls("debit", "ok"), 1.0);
    assert_eq!(calls("debit", "error"), 1.0);
    assert_eq!(calls("generic_len", "ok"), 2.0);
    assert_eq!(calls("SlowVenue::route", "error"), 1.0);
    assert_eq!(
        m.sum(
            "swaggy_operation_duration_seconds_count",
            &[("swaggy_operation_name", "debit"), ("error_type", "InsufficientFunds")]
        ),
        1.0
    );
    assert_eq!(
        m.sum(
            "swaggy_operation_duration_seconds_count",
            &[("swaggy_operation_name", "SlowVenue::route"), ("error_type", "Locked")]
        ),
        1.0
    );
    // async-trait: the whole future is timed (two calls of ~100 ms each), not the boxing.
    let total = m.sum("swaggy_operation_duration_seconds_sum", &[("swaggy_operation_name", "SlowVenue::route")]);
    assert!((0.19..0.6).contains(&total), "two 100 ms calls recorded {total} s");
    let route_span = span(&spans, "SlowVenue::route");
    let took = route_span.end_time.duration_since(route_span.start_time).unwrap();
    assert!(took >= Duration::from_millis(95), "span covers the await: {took:?}");
}

#[instrumented]
async fn outer_step() -> u64 {
    inner_step().await + sync_step()
}

#[instrumented]
async fn inner_step() -> u64 {
    tokio::task::yield_now().await;
    1
}

#[instrumented]
fn sync_step() -> u64 {
    2
}

#[tokio::test]
async fn spans_are_parented_to_the_caller() {
    let (guard, exporter) = install();
    assert_eq!(outer_step().await, 3);
    let spans = finished(&guard, &exporter);
    let outer = span(&spans, "outer_step");
    for child in ["inner_step", "sync_step"] {
        let c = span(&spans, child);
        assert_eq!(c.parent_span_id, outer.span_context.span_id(), "{child}");
        assert_eq!(c.span_context.trace_id(), outer.span_context.trace_id());
    }
}

#[tokio::test]
async fn unsampled_parents_get_no_child_spans_but_metrics_still_count() {
    let (guard, exporter) = install();
    let app = Router::new()
        .route("/x", get(|| async { outer_step().await.to_string() }))
        .layer(swaggy_telemetry::http::HttpTelemetryLayer::new());
    let req = Request::get("/x")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
        .body(Body::empty())
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let spans = finished(&guard, &exporter);
    assert!(
        spans.is_empty(),
        "an unsampled trace exports nothing: {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let m = metrics(&guard);
    assert_eq!(m.sum("swaggy_operation_calls_total", &[("swaggy_operation_name", "inner_step")]), 1.0);
}

struct Fill {
    status: &'static str,
}

impl TradeOutcome for Fill {
    fn trade_result(&self) -> TradeResult {
        match self.status {
            "filled" => TradeResult::Filled { price: 10.0, quantity: 3.0 },
            "cancelled" => TradeResult::Cancelled(CancelReason::LimitNotMarketable),
            _ => TradeResult::Rejected(RejectReason::InsufficientCash),
        }
    }
}

struct Order {
    side: OrderSide,
    kind: OrderType,
    outcome: &'static str,
}

#[instrument_trade(side = order.side, order_type = order.kind)]
async fn submit(order: Order) -> Result<Fill, LedgerError> {
    tokio::task::yield_now().await;
    match order.outcome {
        "error" => Err(LedgerError::Remote { code: 503 }),
        s => Ok(Fill { status: s }),
    }
}

#[instrument_query(system = "postgresql", operation = "SELECT", collection = "orders")]
async fn load_orders() -> Result<usize, Timeout> {
    Ok(3)
}

#[instrument_mcp(method = "tools/call", tool = "get_quote", server = "market")]
async fn call_quote_tool() -> Result<f64, Timeout> {
    Ok(101.5)
}

#[tokio::test]
async fn trade_query_and_mcp_macros_record_their_catalog_instruments() {
    let (guard, exporter) = install();
    for (side, kind, outcome) in [
        (OrderSide::Buy, OrderType::Market, "filled"),
        (OrderSide::Buy, OrderType::Market, "filled"),
        (OrderSide::Sell, OrderType::Limit, "cancelled"),
        (OrderSide::Buy, OrderType::Limit, "rejected"),
        (OrderSide::Sell, OrderType::Market, "error"),
    ] {
        let _ = submit(Order { side, kind, outcome }).await;
    }
    assert_eq!(load_orders().await.unwrap(), 3);
    assert_eq!(call_quote_tool().await.unwrap(), 101.5);

    let m = metrics(&guard);
    assert_eq!(m.sum("swaggy_trading_orders_submitted_total", &[]), 5.0);
    assert_eq!(m.sum("swaggy_trading_orders_filled_total", &[("swaggy_order_side", "buy")]), 2.0);
    assert_eq!(
        m.sum("swaggy_trading_orders_cancelled_total", &[("swaggy_order_cancel_reason", "limit_not_marketable")]),
        1.0
    );
    assert_eq!(
        m.sum("swaggy_trading_orders_rejected_total", &[("swaggy_order_reject_reason", "insufficient_cash")]),
        1.0
    );
    assert_eq!(m.sum("swaggy_trading_notional_total", &[("swaggy_order_side", "buy")]), 60.0);
    assert_eq!(m.sum("swaggy_trading_order_latency_seconds_count", &[]), 2.0);
    assert_eq!(m.sum("swaggy_trading_orders_active", &[]), 0.0);
    // Zero-initialised: every (side, type, reason) combination exists before it happens.
    assert_eq!(m.find("swaggy_trading_orders_rejected_total", &[]).len(), 2 * 2 * 7);
    assert_eq!(
        m.sum(
            "db_client_operation_duration_seconds_count",
            &[("db_system_name", "postgresql"), ("db_query_summary", "SELECT orders")]
        ),
        1.0
    );
    assert_eq!(
        m.sum(
            "mcp_client_operation_duration_seconds_count",
            &[("gen_ai_tool_name", "get_quote"), ("swaggy_mcp_server", "market")]
        ),
        1.0
    );

    let spans = finished(&guard, &exporter);
    assert_eq!(span(&spans, "SELECT orders").span_kind, SpanKind::Client);
    let mcp = span(&spans, "tools/call get_quote");
    assert_eq!(mcp.span_kind, SpanKind::Client);
    assert_eq!(attr(mcp, "gen_ai.tool.name"), Some(Value::from("get_quote")));
    let failed = spans.iter().find(|s| s.name == "submit" && matches!(s.status, Status::Error { .. })).unwrap();
    assert_eq!(attr(failed, "error.type"), Some(Value::from("Remote")));
}

/// A request handler that fans work out to a spawned task doing a sqlx query and a Redis GET.
#[instrumented(name = "quote_handler")]
async fn quote_handler(db: swaggy_telemetry::db::InstrumentedPool<sqlx::Sqlite>, redis: Option<RedisConn>) -> String {
    let mine = opentelemetry::Context::current().span().span_context().trace_id();
    let task = swaggy_telemetry::context::spawn(async move {
        let seen = opentelemetry::Context::current().span().span_context().trace_id();
        let row: (i64,) = sqlx::query_as("SELECT 41 + 1").fetch_one(&db).await.unwrap();
        if let Some(mut r) = redis {
            use redis::AsyncCommands;
            let _: Option<String> = r.get("swaggy-test:absent-key").await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(opentelemetry::Context::current().span().span_context().trace_id(), seen);
        (seen, row.0)
    });
    let (seen, n) = task.await.unwrap();
    assert_eq!(seen, mine, "the spawned task kept the request's trace");
    format!("{n}")
}

type RedisConn = swaggy_telemetry::cache::InstrumentedRedis<redis::aio::MultiplexedConnection>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_keep_their_own_traces_across_spawned_tasks() {
    let with_redis = require(&["redis"]);
    let (guard, exporter) = install();
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect("sqlite::memory:").await.unwrap();
    let db = swaggy_telemetry::db::InstrumentedPool::new(
        pool,
        swaggy_telemetry::db::DbMeta::from_url("sqlite::memory:").unwrap(),
    );
    let redis = if with_redis {
        let client = redis::Client::open(REDIS_URL).unwrap();
        Some(swaggy_telemetry::cache::InstrumentedRedis::new(
            client.get_multiplexed_async_connection().await.unwrap(),
            "127.0.0.1",
            6379,
        ))
    } else {
        None
    };
    let app = Router::new()
        .route(
            "/quote",
            get(move || {
                let (db, redis) = (db.clone(), redis.clone());
                async move { quote_handler(db, redis).await }
            }),
        )
        .layer(swaggy_telemetry::http::HttpTelemetryLayer::new());
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let resp = app.oneshot(Request::get("/quote").body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.headers()["traceparent"].to_str().unwrap().split('-').nth(1).unwrap().to_string()
        }));
    }
    let mut traces = BTreeSet::new();
    for t in tasks {
        traces.insert(t.await.unwrap());
    }
    assert_eq!(traces.len(), 100, "every request has its own trace");

    let spans = finished(&guard, &exporter);
    let mut by_trace: BTreeMap<String, Vec<&SpanData>> = BTreeMap::new();
    for s in &spans {
        by_trace.entry(s.span_context.trace_id().to_string()).or_default().push(s);
    }
    assert_eq!(by_trace.len(), 100, "no span landed in a foreign or new trace");
    for (trace, group) in &by_trace {
        assert!(traces.contains(trace));
        let server = group.iter().find(|s| s.name == "GET /quote").expect("server span");
        let handler = group.iter().find(|s| s.name == "quote_handler").expect("handler span");
        assert_eq!(handler.parent_span_id, server.span_context.span_id());
        let query = group.iter().find(|s| s.name == "SELECT").expect("sqlx span from the spawned task");
        assert_eq!(query.parent_span_id, handler.span_context.span_id(), "spawned query is a child of the handler");
        if with_redis {
            let get = group.iter().find(|s| s.name == "GET").expect("redis span from the spawned task");
            assert_eq!(get.parent_span_id, handler.span_context.span_id());
        }
    }
}
