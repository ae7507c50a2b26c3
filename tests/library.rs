//! The library in-process: HTTP layer, sqlx and Redis instrumentation, bounded shutdown.
//! Each test installs telemetry globally, so tests run one per process (cargo nextest).

mod common;

use common::telemetry::{attr, finished, install_in_memory as install, metrics};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use common::services::{PG_ADMIN_URL, REDIS_URL};
use common::{PgDb, require};
use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status};
use std::time::{Duration, Instant};
use swaggy_telemetry::Telemetry;
use swaggy_telemetry::telemetry::{EnvSource, ExporterKind, OtlpProtocol};
use tower::ServiceExt;

#[tokio::test]
async fn http_layer_names_spans_by_route_and_flags_only_5xx() {
    let (guard, exporter) = install();
    let app = Router::new()
        .route("/items/{id}", get(|| async { "ok" }))
        .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
        .route("/boom", get(|| async { StatusCode::BAD_GATEWAY }))
        .route("/metrics", get(|| async { "metrics" }))
        .layer(swaggy_telemetry::http::HttpTelemetryLayer::new());
    let call = |path: &str| {
        let app = app.clone();
        let req = Request::get(path).body(Body::empty()).unwrap();
        async move { app.oneshot(req).await.unwrap() }
    };
    let ok = call("/items/42").await;
    assert_eq!(ok.status(), 200);
    let tp = ok.headers().get("traceparent").expect("traceparent on the response").to_str().unwrap().to_string();
    assert_eq!(call("/teapot").await.status(), 418);
    let boom = call("/boom").await;
    assert_eq!(boom.status(), 502);
    assert_eq!(call("/not/a/route").await.status(), 404);
    let scrape = call("/metrics").await;
    assert!(scrape.headers().get("traceparent").is_none(), "/metrics is not traced by default");

    let spans = finished(&guard, &exporter);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert!(names.contains(&"GET /items/{id}"), "{names:?}");
    assert!(names.contains(&"GET"), "unmatched requests are named by method only: {names:?}");
    assert!(!names.iter().any(|n| n.contains("metrics") || n.contains("42") || n.contains("not/a")), "{names:?}");
    let item = spans.iter().find(|s| s.name == "GET /items/{id}").unwrap();
    assert_eq!(item.span_kind, SpanKind::Server);
    assert_eq!(attr(item, "http.route"), Some(Value::from("/items/{id}")));
    assert_eq!(attr(item, "url.path"), Some(Value::from("/items/42")));
    assert!(tp.contains(&item.span_context.trace_id().to_string()));
    let teapot = spans.iter().find(|s| s.name == "GET /teapot").unwrap();
    assert_eq!(teapot.status, Status::Unset, "4xx is not a server error");
    let boom = spans.iter().find(|s| s.name == "GET /boom").unwrap();
    assert!(matches!(boom.status, Status::Error { .. }));
    assert_eq!(attr(boom, "error.type"), Some(Value::from("502")));

    let m = metrics(&guard);
    let count = |route: &str, status: &str| {
        m.sum(
            "http_server_request_duration_seconds_count",
            &[("http_route", route), ("http_response_status_code", status)],
        )
    };
    assert_eq!(count("/items/{id}", "200"), 1.0);
    assert_eq!(count("/teapot", "418"), 1.0);
    assert_eq!(count("/boom", "502"), 1.0);
    assert_eq!(m.sum("http_server_request_duration_seconds_count", &[("error_type", "502")]), 1.0);
    assert_eq!(m.sum("http_server_request_duration_seconds_count", &[("error_type", "418")]), 0.0);
    assert_eq!(m.sum("http_server_active_requests", &[("http_request_method", "GET")]), 0.0);
    // Semconv buckets from the catalog.
    let buckets: Vec<&str> = m
        .find("http_server_request_duration_seconds_bucket", &[("http_route", "/items/{id}")])
        .iter()
        .map(|s| s.labels["le"].as_str())
        .collect();
    assert_eq!(buckets.first(), Some(&"0.005"));
    assert!(buckets.contains(&"10"));
}

#[tokio::test]
async fn sqlite_queries_are_client_spans_without_literals() {
    let (guard, exporter) = install();
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
    let db = swaggy_telemetry::db::InstrumentedPool::new(
        pool,
        swaggy_telemetry::db::DbMeta::from_url("sqlite::memory:").unwrap(),
    );
    sqlx::query("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT)").execute(&db).await.unwrap();
    sqlx::query("INSERT INTO accounts VALUES (4242, 'Mallory O''Secret')").execute(&db).await.unwrap();
    sqlx::query("INSERT INTO accounts VALUES ($1, $2)").bind(7_i64).bind("bound-secret").execute(&db).await.unwrap();
    let rows = sqlx::query("SELECT id FROM accounts WHERE owner <> 'x'").fetch_all(&db).await.unwrap();
    assert_eq!(rows.len(), 2);
    let err = sqlx::query("SELECT nope FROM missing_table WHERE v = 'hidden'").fetch_all(&db).await.unwrap_err();
    assert!(matches!(err, sqlx::Error::Database(_)));
    let mut tx = db.begin().await.unwrap();
    sqlx::query("DELETE FROM accounts WHERE id = 7").execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    let spans = finished(&guard, &exporter);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    for want in [
        "CREATE accounts",
        "INSERT accounts",
        "SELECT accounts",
        "SELECT missing_table",
        "BEGIN",
        "DELETE accounts",
        "COMMIT",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let everything = format!("{spans:?}");
    for secret in ["4242", "Mallory", "Secret", "bound-secret", "hidden"] {
        assert!(!everything.contains(secret), "{secret} reached a span");
    }
    let failed = spans.iter().find(|s| s.name == "SELECT missing_table").unwrap();
    assert!(matches!(failed.status, Status::Error { .. }));
    assert!(attr(failed, "error.type").is_some());
    assert_eq!(attr(failed, "db.system.name"), Some(Value::from("sqlite")));
    let select = spans.iter().find(|s| s.name == "SELECT accounts").unwrap();
    assert_eq!(select.span_kind, SpanKind::Client);
    assert_eq!(attr(select, "db.response.returned_rows"), Some(Value::I64(2)));
    assert_eq!(attr(select, "db.query.text"), Some(Value::from("SELECT id FROM accounts WHERE owner <> ?")));

    let m = metrics(&guard);
    assert_eq!(
        m.sum(
            "db_client_operation_duration_seconds_count",
            &[("db_system_name", "sqlite"), ("db_query_summary", "INSERT accounts")]
        ),
        2.0
    );
    assert!(!m.text.contains("Mallory") && !m.text.contains("4242"));
    assert_eq!(m.sum("db_client_connection_max", &[]), 1.0);
}

#[tokio::test]
async fn postgres_errors_carry_sqlstate_never_the_message() {
    if !require(&["postgres"]) {
        return;
    }
    let (guard, exporter) = install();
    let pg = PgDb::create().await;
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&pg.url).await.unwrap();
    let db =
        swaggy_telemetry::db::InstrumentedPool::new(pool, swaggy_telemetry::db::DbMeta::from_url(&pg.url).unwrap());
    sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY)").execute(&db).await.unwrap();
    sqlx::query("INSERT INTO t VALUES ($1)").bind(987654_i64).execute(&db).await.unwrap();
    let err = sqlx::query("INSERT INTO t VALUES ($1)").bind(987654_i64).execute(&db).await.unwrap_err();
    assert!(err.to_string().contains("duplicate"), "{err}");
    db.close().await;

    let spans = finished(&guard, &exporter);
    let failed =
        spans.iter().filter(|s| s.name == "INSERT t").find(|s| matches!(s.status, Status::Error { .. })).unwrap();
    assert_eq!(attr(failed, "db.response.status_code"), Some(Value::from("23505")));
    assert_eq!(attr(failed, "error.type"), Some(Value::from("23505")));
    assert_eq!(attr(failed, "db.system.name"), Some(Value::from("postgresql")));
    assert_eq!(attr(failed, "db.namespace"), Some(Value::from(pg.name.clone())));
    assert!(!format!("{spans:?}").contains("987654"), "the duplicated key reached a span");
    let m = metrics(&guard);
    assert_eq!(m.sum("db_client_operation_duration_seconds_count", &[("db_response_status_code", "23505")]), 1.0);
    let _ = PG_ADMIN_URL;
}

#[tokio::test]
async fn redis_commands_are_spans_keys_stay_out() {
    if !require(&["redis"]) {
        return;
    }
    use redis::AsyncCommands;
    let (guard, exporter) = install();
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = swaggy_telemetry::cache::InstrumentedRedis::new(
        client.get_multiplexed_async_connection().await.unwrap(),
        "127.0.0.1",
        6379,
    );
    let key = format!("swaggy-test:{:x}", rand::random::<u64>());
    let _: () = conn.set_ex(&key, "top-secret-value", 10).await.unwrap();
    let v: String = conn.get(&key).await.unwrap();
    assert_eq!(v, "top-secret-value");
    let err = conn.lpush::<_, _, ()>(&key, "x").await.unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
    let _: () = conn.del(&key).await.unwrap();

    let spans = finished(&guard, &exporter);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    for want in ["SETEX", "GET", "LPUSH", "DEL"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let lpush = spans.iter().find(|s| s.name == "LPUSH").unwrap();
    assert_eq!(attr(lpush, "db.response.status_code"), Some(Value::from("WRONGTYPE")));
    assert_eq!(attr(lpush, "db.system.name"), Some(Value::from("redis")));
    let everything = format!("{spans:?}");
    assert!(!everything.contains(&key) && !everything.contains("top-secret"), "keys or values reached a span");
    let m = metrics(&guard);
    assert_eq!(
        m.sum(
            "db_client_operation_duration_seconds_count",
            &[("db_system_name", "redis"), ("db_operation_name", "GET")]
        ),
        1.0
    );
    assert_eq!(m.sum("db_client_operation_duration_seconds_count", &[("error_type", "WRONGTYPE")]), 1.0);
}

/// A collector that accepts connections and never answers.
fn hung_collector() -> (std::net::TcpListener, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

fn bounded_shutdown(protocol: OtlpProtocol) -> Duration {
    let (_listener, url) = hung_collector();
    // A current-thread runtime: the case where a naive shutdown deadlocks.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let guard = Telemetry::builder()
            .with_env(EnvSource::from_pairs([("OTEL_EXPORTER_OTLP_TIMEOUT", "30000")]))
            .with_logging(false)
            .with_otlp_endpoint(url)
            .with_otlp_protocol(protocol)
            .with_traces_exporters(vec![ExporterKind::Otlp])
            .with_metrics_exporters(vec![ExporterKind::Otlp])
            .with_shutdown_timeout(Duration::from_secs(2))
            .install()
            .unwrap();
        let tracer = swaggy_telemetry::telemetry::tracer();
        for _ in 0..100 {
            use opentelemetry::trace::Tracer;
            tracer.in_span("work", |_| {});
        }
        let start = Instant::now();
        let r = guard.shutdown();
        let took = start.elapsed();
        assert!(r.is_err(), "a hung collector cannot have received the final export");
        took
    })
}

#[test]
fn shutdown_is_bounded_with_a_hung_grpc_collector() {
    let took = bounded_shutdown(OtlpProtocol::Grpc);
    assert!(took < Duration::from_millis(2500), "shutdown took {took:?} with a 2 s bound");
}

#[test]
fn shutdown_is_bounded_with_a_hung_http_collector() {
    let took = bounded_shutdown(OtlpProtocol::HttpProtobuf);
    assert!(took < Duration::from_millis(2500), "shutdown took {took:?} with a 2 s bound");
}

#[test]
fn sdk_disabled_installs_nothing() {
    let guard = Telemetry::builder()
        .with_env(EnvSource::from_pairs([
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ]))
        .with_logging(false)
        .install()
        .unwrap();
    assert!(guard.tracer_provider().is_none());
    assert!(guard.prometheus_registry().gather().is_empty());
    guard.shutdown().unwrap();
}
