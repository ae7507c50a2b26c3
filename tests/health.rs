//! The health engine against real processes: a frozen Redis, a hung database, bursts of
//! on-demand refreshes, secrets.

mod common;

use common::health::check;
use common::otlp::Receiver;
use common::prom::scrape;
use common::services::free_port;
use common::{PrivateRedis, Service, require};
use serde_json::Value;
use std::time::{Duration, Instant};
use swaggy_telemetry::health::{CheckSpec, Criticality, FnCheck, HealthCollector, HealthConfig, Probe};
use swaggy_telemetry::telemetry::EnvSource;

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

fn sqlite(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display())
}

async fn get_json(c: &reqwest::Client, url: &str) -> (u16, Value, Duration) {
    let start = Instant::now();
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let v = r.json().await.unwrap_or(Value::Null);
    (status, v, start.elapsed())
}

async fn timed(c: &reqwest::Client, url: &str) -> Duration {
    let start = Instant::now();
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = r.bytes().await.unwrap();
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_redis_degrades_without_stalling_anything() {
    let Some(redis) = PrivateRedis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (db, rurl) = (sqlite(&dir), redis.url());
    let svc = Service::start(
        &["serve"],
        &[("DATABASE_URL", &db), ("REDIS_URL", &rurl), ("HEALTH_INTERVAL", "2s"), ("HEALTH_TIMEOUT", "1s")],
    );
    let c = client();
    svc.wait_ready(&c, "/health/ready", Duration::from_secs(30)).await;
    let (_, h, _) = get_json(&c, &svc.url("/health?fresh=1")).await;
    assert_eq!(h["status"], "healthy", "{h}");

    redis.signal("STOP");
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the minimum refresh interval
    let (status, h, took) = get_json(&c, &svc.url("/health?fresh=1")).await;
    assert!(took < Duration::from_secs(2), "fresh health took {took:?} (timeout 1 s + 1 s)");
    assert_eq!(status, 200, "optional Redis down is degraded, not unhealthy: {h}");
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(check(&h, "redis")["status"], "timeout", "{h}");
    let metrics_took = timed(&c, &svc.url("/metrics")).await;
    assert!(metrics_took < Duration::from_millis(500), "/metrics took {metrics_took:?} with Redis frozen");
    let s = scrape(&c, &svc.url("/metrics")).await;
    assert_eq!(
        s.sum("swaggy_health_check_status", &[("swaggy_health_check", "redis"), ("swaggy_health_state", "timeout")]),
        1.0
    );
    assert!(
        s.find("swaggy_health_check_status", &[("swaggy_health_check", "redis"), ("swaggy_health_state", "healthy")])
            .is_empty(),
        "only the current state's series exists"
    );
    assert_eq!(s.sum("swaggy_health_status", &[("swaggy_health_state", "degraded")]), 1.0);
    let (live, _, live_took) = get_json(&c, &svc.url("/health/live")).await;
    assert_eq!(live, 200);
    assert!(live_took < Duration::from_millis(500));
    let (ready, _, _) = get_json(&c, &svc.url("/health/ready")).await;
    assert_eq!(ready, 200, "Redis is optional: still ready");
    // Requests that use the cache still succeed.
    let q = c.get(svc.url("/api/quotes/AAPL")).send().await.unwrap();
    assert_eq!(q.status().as_u16(), 200);

    redis.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (_, h, _) = get_json(&c, &svc.url("/health?fresh=1")).await;
        if h["status"] == "healthy" {
            assert_eq!(check(&h, "redis")["status"], "healthy");
            break;
        }
        assert!(Instant::now() < deadline, "never recovered after SIGCONT: {h}");
    }
    // The outage and its end are in the logs, once each (not once per probe).
    let logs = svc.stderr();
    let lines = |what: &str| logs.lines().filter(|l| l.contains(what) && l.contains("check=redis")).count();
    assert_eq!(lines("health check failing"), 1, "{logs}");
    assert_eq!(lines("health check recovered"), 1, "{logs}");
}

/// A listener that accepts connections and never answers.
fn hung_listener() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_database_times_out_and_scrapes_stay_fast() {
    let port = hung_listener();
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let svc =
        Service::start(&["serve"], &[("DATABASE_URL", &url), ("HEALTH_TIMEOUT", "1s"), ("HEALTH_INTERVAL", "1s")]);
    let c = client();
    let (status, h, took) = get_json(&c, &svc.url("/health?fresh=1")).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["status"], "unhealthy");
    assert_eq!(check(&h, "postgres")["status"], "timeout", "{h}");
    for _ in 0..3 {
        let took = timed(&c, &svc.url("/metrics")).await;
        assert!(took < Duration::from_millis(500), "/metrics took {took:?} with the database hung");
    }
    let (live, _, _) = get_json(&c, &svc.url("/health/live")).await;
    assert_eq!(live, 200);
    let (ready, r, _) = get_json(&c, &svc.url("/health/ready")).await;
    assert_eq!(ready, 503, "{r}");
    // The order API says so instead of hanging.
    let start = Instant::now();
    let o = c
        .post(svc.url("/api/orders"))
        .json(&serde_json::json!({"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market"}))
        .send()
        .await
        .unwrap();
    assert_eq!(o.status().as_u16(), 503);
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_postgres_is_live_but_not_ready() {
    let url = format!("postgres://postgres@127.0.0.1:{}/test", free_port());
    let svc = Service::start(&["serve"], &[("DATABASE_URL", &url), ("HEALTH_INTERVAL", "500ms")]);
    let c = client();
    let (_, h, _) = get_json(&c, &svc.url("/health?fresh=1")).await;
    assert_eq!(check(&h, "postgres")["status"], "unreachable", "{h}");
    let (live, _, _) = get_json(&c, &svc.url("/health/live")).await;
    assert_eq!(live, 200);
    let (ready, _, _) = get_json(&c, &svc.url("/health/ready")).await;
    assert_eq!(ready, 503);
    let (bad, v, _) = get_json(&c, &svc.url("/health?fresh=maybe")).await;
    assert_eq!(bad, 400, "{v}");
    assert_eq!(v["error"]["code"], "invalid_parameter");
}

#[tokio::test]
async fn checks_run_concurrently() {
    let _guard = swaggy_telemetry::Telemetry::builder()
        .with_env(EnvSource::from_pairs(Vec::<(String, String)>::new()))
        .with_logging(false)
        .with_process_metrics(false)
        .install()
        .unwrap();
    let config = HealthConfig { timeout: Duration::from_secs(3), ..HealthConfig::default() };
    let mut b = HealthCollector::builder(config);
    for name in ["a", "b", "c"] {
        b = b.check(
            CheckSpec::new(name, "test", Criticality::Critical).slow_after(Duration::from_secs(2)),
            FnCheck(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Probe::healthy("slept 1 s")
            }),
        );
    }
    let collector = b.build();
    let start = Instant::now();
    let snap = collector.refresh().await;
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1500), "three 1 s checks took {took:?}");
    assert!(took >= Duration::from_secs(1));
    assert_eq!(snap.checks.len(), 3);
    assert!(snap.checks.iter().all(|c| c.state == swaggy_telemetry::catalog::values::HealthState::Healthy));
    eprintln!("three 1 s checks refreshed in {took:?}");
}

fn probes(s: &common::Scrape, check: &str) -> f64 {
    s.sum("swaggy_health_check_runs_total", &[("swaggy_health_check", check)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_fresh_requests_is_coalesced_and_rate_limited() {
    if !require(&["redis"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let svc = Service::start(
        &["serve"],
        &[
            ("DATABASE_URL", &db),
            ("REDIS_URL", common::services::REDIS_URL),
            ("HEALTH_INTERVAL", "1h"),
            ("HEALTH_MIN_REFRESH", "1s"),
        ],
    );
    let c = client();
    svc.wait_ready(&c, "/health/ready", Duration::from_secs(30)).await;
    // Let the start-up refresh age past the minimum interval, so the burst may probe once.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = scrape(&c, &svc.url("/metrics")).await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..25 {
        let (c, url) = (c.clone(), svc.url("/health?fresh=1"));
        tasks.push(tokio::spawn(async move {
            for _ in (w..1000).step_by(25) {
                let r = c.get(&url).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed();
    let after = scrape(&c, &svc.url("/metrics")).await;
    let allowed = elapsed.as_secs_f64().ceil() + 1.0;
    for check in ["sqlite", "redis", "task_queue", "trading", "external_api:venue"] {
        let n = probes(&after, check) - probes(&before, check);
        assert!(n <= allowed, "{check} probed {n} times in {elapsed:?} (at most {allowed})");
        assert!(n >= 1.0, "{check} was never probed");
    }
    eprintln!(
        "1000 fresh requests in {elapsed:?}: {} database probes",
        probes(&after, "sqlite") - probes(&before, "sqlite")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_reach_health_logs_or_telemetry() {
    if !require(&["postgres"]) {
        return;
    }
    const SECRET: &str = "Sup3rS3cretPw";
    let receiver = Receiver::http().await;
    let endpoint = receiver.endpoint();
    let pg = common::PgDb::create().await;
    // Trust authentication ignores the password: the service connects for real.
    let url = format!("postgres://postgres:{SECRET}@127.0.0.1:5432/{}", pg.name);
    let port = free_port();
    let apis = format!("venue=http://trader:{SECRET}@127.0.0.1:{port}/sim/venue/status?token={SECRET}");
    let svc = Service::start(
        &["serve"],
        &[
            ("DATABASE_URL", &url),
            ("EXTERNAL_APIS", &apis),
            ("RUST_LOG", "debug"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
        ],
    );
    let c = client();
    svc.wait_ready(&c, "/health/ready", Duration::from_secs(30)).await;
    let (_, h, _) = get_json(&c, &svc.url("/health?fresh=1")).await;
    let body = h.to_string();
    assert!(body.contains("127.0.0.1"), "{body}");
    assert!(!body.contains(SECRET), "/health leaked the password: {body}");
    let (_, o, _) = get_json(&c, &svc.url("/api/portfolio")).await;
    assert!(o["cash"].is_number());
    let m = c.get(svc.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!m.contains(SECRET), "/metrics leaked the password");
    receiver.wait_metric("db.client.operation.duration", Duration::from_secs(20)).await;
    let _ =
        receiver.wait_spans(Duration::from_secs(20), |s| s.iter().any(|x| x.attr("db.system.name").is_some())).await;
    let exported = format!("{:?}{:?}", receiver.store.spans.lock().unwrap(), receiver.store.metrics.lock().unwrap());
    assert!(!exported.contains(SECRET), "exported telemetry leaked the password");
    assert!(!svc.stderr().contains(SECRET), "logs leaked the password");
    assert!(!svc.stdout.lock().unwrap().join("\n").contains(SECRET), "stdout leaked the password");
}
