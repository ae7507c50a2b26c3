//! TLS end to end: Postgres with `sslmode`, OTLP over HTTPS (HTTP/protobuf and gRPC) to an
//! in-test receiver whose certificate comes from a CA made at test time, and the instrumented
//! HTTP client, health check and MCP client against an HTTPS server of the test's own.
//! Each test installs telemetry globally, so tests run one per process (cargo nextest).

mod common;

use axum::Router;
use axum::routing::get;
use common::otlp::Store;
use common::services::PG_ADMIN_URL;
use common::telemetry::{attr, finished, install_in_memory, metrics};
use common::tls::{GrpcsOtlpReceiver, HttpsOtlpReceiver, HttpsServer, TestPki, TlsRedis, postgres_has_ssl};
use common::{Scrape, require};
use opentelemetry::Value;
use opentelemetry::trace::Tracer;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use swaggy_telemetry::catalog::values::HealthState;
use swaggy_telemetry::health::HealthCheck;
use swaggy_telemetry::health::checks::{HttpCheck, RedisCheck, SqlxCheck};
use swaggy_telemetry::http::InstrumentedClient;
use swaggy_telemetry::telemetry::EnvSource;
use swaggy_telemetry::{Telemetry, TelemetryGuard};

const FAILURES: &str = "swaggy_telemetry_export_failures_total";

// --- Postgres ------------------------------------------------------------------------------

async fn instrumented_pool(url: &str) -> Result<swaggy_telemetry::db::InstrumentedPool<sqlx::Postgres>, sqlx::Error> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    Ok(swaggy_telemetry::db::InstrumentedPool::new(pool, swaggy_telemetry::db::DbMeta::from_url(url).unwrap()))
}

#[tokio::test]
async fn postgres_sslmode_require_runs_queries_over_tls_through_the_instrumented_pool() {
    if !require(&["postgres"]) || !postgres_has_ssl().await {
        return;
    }
    let (guard, exporter) = install_in_memory();
    let url = format!("{PG_ADMIN_URL}?sslmode=require");
    let db = instrumented_pool(&url).await.expect("sslmode=require connects (the server has ssl=on)");
    let (ssl, version): (bool, String) =
        sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(ssl, "pg_stat_ssl says this connection is not encrypted");
    assert!(version.starts_with("TLSv1."), "{version}");
    db.close().await;

    // The query went through the instrumentation, as any other.
    let spans = finished(&guard, &exporter);
    let span = spans.iter().find(|s| s.name == "SELECT pg_stat_ssl").expect("a span for the query");
    assert_eq!(attr(span, "db.system.name"), Some(Value::from("postgresql")));
    assert_eq!(attr(span, "db.namespace"), Some(Value::from("test")));
    let m = metrics(&guard);
    assert_eq!(m.sum("db_client_operation_duration_seconds_count", &[("db_collection_name", "pg_stat_ssl")]), 1.0);
}

/// Certificates are really verified: with the server's own certificate as the root,
/// `verify-ca` connects; `verify-full` to `127.0.0.1` (a name the certificate does not carry)
/// is refused, and the health check says why.
#[tokio::test]
async fn postgres_verify_modes_check_the_server_certificate() {
    if !require(&["postgres"]) || !postgres_has_ssl().await {
        return;
    }
    let (_guard, _exporter) = install_in_memory();
    let root: String = {
        let admin = sqlx::PgPool::connect(PG_ADMIN_URL).await.unwrap();
        let f = sqlx::query_scalar("SELECT current_setting('ssl_cert_file')").fetch_one(&admin).await.unwrap();
        admin.close().await;
        f
    };
    if std::fs::read(&root).is_err() {
        eprintln!("SKIPPED: the server's certificate {root} is not readable here");
        return;
    }
    let verify_ca = format!("{PG_ADMIN_URL}?sslmode=verify-ca&sslrootcert={root}");
    let db = instrumented_pool(&verify_ca).await.expect("verify-ca with the server's certificate as root connects");
    let ssl: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetch_one(&db).await.unwrap();
    assert!(ssl);
    db.close().await;

    let verify_full = format!("{PG_ADMIN_URL}?sslmode=verify-full&sslrootcert={root}");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy(&verify_full)
        .unwrap();
    let meta = swaggy_telemetry::db::DbMeta::from_url(&verify_full).unwrap();
    let probe = SqlxCheck::new(swaggy_telemetry::db::InstrumentedPool::new(pool, meta)).check().await;
    assert_eq!(probe.state, HealthState::Unreachable, "{probe:?} (does {root} name 127.0.0.1?)");
    assert!(probe.detail.contains("TLS") && probe.detail.contains("certificate"), "{probe:?}");
}

// --- OTLP ------------------------------------------------------------------------------------

/// Telemetry exporting both signals over OTLP only (plus Prometheus for the self-metrics),
/// configured from `vars` as the environment would.
fn install_otlp(vars: &[(&str, &str)]) -> TelemetryGuard {
    let mut pairs: Vec<(String, String)> = vec![
        ("OTEL_TRACES_EXPORTER".into(), "otlp".into()),
        ("OTEL_METRICS_EXPORTER".into(), "otlp,prometheus".into()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT".into(), "5000".into()),
    ];
    pairs.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Telemetry::builder()
        .with_env(EnvSource::from_pairs(pairs))
        .with_logging(false)
        .with_process_metrics(false)
        .with_span_export_delay(Duration::from_millis(100))
        .with_metric_export_interval(Duration::from_millis(200))
        .install()
        .expect("install")
}

fn one_span(name: &'static str) {
    swaggy_telemetry::telemetry::tracer().in_span(name, |_| {});
}

/// Flushes off the runtime (flushing blocks).
async fn flush(guard: &Arc<TelemetryGuard>) -> Result<(), String> {
    let g = guard.clone();
    tokio::task::spawn_blocking(move || g.force_flush().map_err(|e| e.to_string())).await.unwrap()
}

fn self_metrics(guard: &TelemetryGuard) -> Scrape {
    metrics(guard)
}

async fn wait_span(store: &Store, name: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !store.spans.lock().unwrap().iter().any(|s| s.span.name == name) {
        assert!(Instant::now() < deadline, "span {name} never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_metric(store: &Store, name: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !store.metric_names().contains(name) {
        assert!(Instant::now() < deadline, "metric {name} never arrived; got {:?}", store.metric_names());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (a little) for `n` to reach 1: the server notices a refused handshake after the client.
async fn at_least_one(n: &std::sync::atomic::AtomicUsize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while n.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    n.load(Ordering::SeqCst) >= 1
}

async fn wait_failures(guard: &TelemetryGuard, signal: &str, within: Duration) -> f64 {
    let deadline = Instant::now() + within;
    loop {
        let n = self_metrics(guard).sum(FAILURES, &[("swaggy_telemetry_signal", signal)]);
        if n >= 1.0 || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_over_tls_reaches_a_collector_trusted_through_otel_exporter_otlp_certificate() {
    let pki = TestPki::new();
    let rx = HttpsOtlpReceiver::start(&pki).await;
    let guard = Arc::new(install_otlp(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &rx.server.url()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.ca_file.to_str().unwrap()),
    ]));
    one_span("over-tls");
    flush(&guard).await.expect("the export over TLS succeeds");
    wait_span(&rx.store, "over-tls", Duration::from_secs(10)).await;
    wait_metric(&rx.store, "swaggy.telemetry.spans.exported", Duration::from_secs(10)).await;
    assert!(rx.server.handshakes.load(Ordering::SeqCst) >= 1);
    assert_eq!(rx.server.failed_handshakes.load(Ordering::SeqCst), 0);
    let paths = rx.store.paths.lock().unwrap().clone();
    assert!(paths.contains(&"/v1/traces".to_string()) && paths.contains(&"/v1/metrics".to_string()), "{paths:?}");
    assert_eq!(self_metrics(&guard).sum(FAILURES, &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_to_an_untrusted_certificate_fails_and_is_counted() {
    let pki = TestPki::new();
    let rx = HttpsOtlpReceiver::start(&pki).await;
    // No CA given: the system trust store does not know the test's CA.
    let guard = Arc::new(install_otlp(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &rx.server.url())]));
    one_span("refused");
    assert!(flush(&guard).await.is_err(), "an export to an untrusted certificate cannot succeed");
    assert!(wait_failures(&guard, "traces", Duration::from_secs(10)).await >= 1.0);
    assert!(wait_failures(&guard, "metrics", Duration::from_secs(10)).await >= 1.0);
    assert!(at_least_one(&rx.server.failed_handshakes).await, "the client never tried TLS");
    assert_eq!(rx.server.handshakes.load(Ordering::SeqCst), 0, "a handshake completed with an untrusted certificate");
    assert!(rx.store.spans.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_over_tls_reaches_a_collector_trusted_through_otel_exporter_otlp_certificate() {
    let pki = TestPki::new();
    let rx = GrpcsOtlpReceiver::start(&pki).await;
    let guard = Arc::new(install_otlp(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &rx.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.ca_file.to_str().unwrap()),
    ]));
    one_span("grpc-over-tls");
    flush(&guard).await.expect("the gRPC export over TLS succeeds");
    wait_span(&rx.store, "grpc-over-tls", Duration::from_secs(10)).await;
    wait_metric(&rx.store, "swaggy.telemetry.spans.exported", Duration::from_secs(10)).await;
    let paths = rx.store.paths.lock().unwrap().clone();
    assert!(paths.contains(&"grpc:traces".to_string()) && paths.contains(&"grpc:metrics".to_string()), "{paths:?}");
    assert_eq!(self_metrics(&guard).sum(FAILURES, &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_to_an_untrusted_certificate_fails_and_is_counted() {
    let pki = TestPki::new();
    let rx = GrpcsOtlpReceiver::start(&pki).await;
    let guard = Arc::new(install_otlp(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &rx.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]));
    one_span("refused");
    assert!(flush(&guard).await.is_err(), "an export to an untrusted certificate cannot succeed");
    assert!(wait_failures(&guard, "traces", Duration::from_secs(10)).await >= 1.0);
    assert!(wait_failures(&guard, "metrics", Duration::from_secs(10)).await >= 1.0);
    assert!(rx.store.spans.lock().unwrap().is_empty());
    assert!(rx.store.paths.lock().unwrap().is_empty());
}

/// A plain `http://` endpoint at a TLS server is not silently upgraded: TLS follows the scheme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_scheme_speaks_plain_text() {
    let pki = TestPki::new();
    let rx = HttpsOtlpReceiver::start(&pki).await;
    let guard = Arc::new(install_otlp(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &format!("http://127.0.0.1:{}", rx.server.addr.port())),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.ca_file.to_str().unwrap()),
    ]));
    one_span("plain");
    assert!(flush(&guard).await.is_err());
    assert_eq!(rx.server.handshakes.load(Ordering::SeqCst), 0);
}

// --- HTTP client, health check, MCP client ---------------------------------------------------

async fn https_ping_server(pki: &TestPki) -> HttpsServer {
    HttpsServer::start(pki, Router::new().route("/ping", get(|| async { "pong" }))).await
}

#[tokio::test]
async fn instrumented_client_reaches_an_https_endpoint_and_names_tls_failures() {
    let (guard, exporter) = install_in_memory();
    let pki = TestPki::new();
    let server = https_ping_server(&pki).await;
    let url = format!("{}/ping", server.url());

    let trusted =
        InstrumentedClient::new(reqwest::Client::builder().tls_certs_merge([pki.reqwest_ca()]).build().unwrap());
    let resp = trusted.execute(trusted.inner().get(&url).build().unwrap()).await.expect("https request");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "pong");

    // The default client trusts the system store only.
    let untrusted = InstrumentedClient::new(reqwest::Client::new());
    let err = untrusted.execute(untrusted.inner().get(&url).build().unwrap()).await.unwrap_err();
    assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");

    let spans = finished(&guard, &exporter);
    let clients: Vec<_> = spans.iter().filter(|s| s.span_kind == opentelemetry::trace::SpanKind::Client).collect();
    assert_eq!(clients.len(), 2, "{spans:?}");
    assert!(clients.iter().any(|s| attr(s, "http.response.status_code") == Some(Value::I64(200))));
    let failed = clients.iter().find(|s| attr(s, "error.type").is_some()).expect("a failed span");
    assert_eq!(attr(failed, "error.type"), Some(Value::from("tls")));
    assert_eq!(attr(failed, "server.address"), Some(Value::from("localhost")));
    let m = metrics(&guard);
    assert_eq!(m.sum("http_client_request_duration_seconds_count", &[("error_type", "tls")]), 1.0);
    assert_eq!(m.sum("http_client_request_duration_seconds_count", &[("http_response_status_code", "200")]), 1.0);
}

#[tokio::test]
async fn http_health_check_over_https_is_healthy_when_trusted_and_says_tls_when_not() {
    let (_guard, _exporter) = install_in_memory();
    let pki = TestPki::new();
    let server = https_ping_server(&pki).await;
    let url = format!("{}/ping?token=hunter2", server.url());
    let client = |c: reqwest::Client| InstrumentedClient::new(c);

    let ok = HttpCheck::new(
        client(reqwest::Client::builder().tls_certs_merge([pki.reqwest_ca()]).build().unwrap()),
        &url,
        200,
    )
    .check()
    .await;
    assert_eq!(ok.state, HealthState::Healthy, "{ok:?}");

    let bad = HttpCheck::new(client(reqwest::Client::new()), &url, 200).check().await;
    assert_eq!(bad.state, HealthState::Unreachable, "{bad:?}");
    assert!(bad.detail.contains("TLS handshake") && bad.detail.contains("UnknownIssuer"), "{bad:?}");
    assert!(!bad.detail.contains("hunter2"), "{bad:?}");
}

/// An `https://` MCP server URL is no longer refused for its scheme: the client speaks TLS (and
/// here, where the certificate is from the test's CA, refuses the certificate).
#[tokio::test]
async fn mcp_client_speaks_tls_to_an_https_url() {
    let (_guard, _exporter) = install_in_memory();
    let pki = TestPki::new();
    let server = https_ping_server(&pki).await;
    let url = format!("{}/mcp", server.url());
    let options =
        swaggy_telemetry::mcp::ClientOptions { connect_timeout: Duration::from_secs(10), ..Default::default() };
    let err = swaggy_telemetry::mcp::McpClient::connect_http("tls-test", &url, &options).await.unwrap_err().to_string();
    assert!(!err.contains("scheme is not http"), "{err}");
    assert!(err.contains("certificate") || err.contains("UnknownIssuer"), "{err}");
    assert!(at_least_one(&server.failed_handshakes).await, "the server saw no failed TLS handshake: {err}");
}

// --- Redis -----------------------------------------------------------------------------------

/// `rediss://` works (the redis crate's `tokio-rustls-comp`): commands through the instrumented
/// connection and the health check run over TLS to a server trusting the test's CA; the system
/// trust store alone refuses that server.
#[tokio::test]
async fn rediss_connects_with_a_private_ca_and_is_refused_without_it() {
    let pki = TestPki::new();
    let Some(server) = TlsRedis::start(&pki) else { return };
    let (guard, exporter) = install_in_memory();
    let tls = redis::TlsCertificates { client_tls: None, root_cert: Some(pki.ca_pem.clone().into_bytes()) };
    let client = redis::Client::build_with_tls(server.url(), tls).expect("rediss:// client");
    let conn = client.get_multiplexed_async_connection().await.expect("TLS connection to redis");
    let mut conn = swaggy_telemetry::cache::InstrumentedRedis::new(conn, "localhost", server.port);
    let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    assert_eq!(pong, "PONG");
    let probe = RedisCheck::new(conn).check().await;
    assert_eq!(probe.state, HealthState::Healthy, "{probe:?}");
    let spans = finished(&guard, &exporter);
    assert!(spans.iter().any(|s| s.name == "PING" && attr(s, "db.system.name") == Some(Value::from("redis"))));

    let untrusted = redis::Client::open(server.url()).unwrap();
    let err = untrusted.get_multiplexed_async_connection().await.expect_err("an untrusted certificate");
    assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");
}
