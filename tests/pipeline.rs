//! The pipeline proven end to end: real Prometheus 2.42 and Alertmanager 0.25 (Debian's
//! packages) run the shipped rules and routes against the running reference service. Every
//! dashboard panel returns data, no rule or panel names a metric the service does not expose, a
//! healthy run stays quiet (the Watchdog heartbeat reaches its own receiver, and only it), and
//! induced faults reach the webhook as the right alerts, then resolve.

mod common;

use common::pipeline::{Notification, Webhook, alertmanager, metric_names, prometheus, query, root};
use common::{PgDb, PrivateRedis, Scrape, Service, require};
use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Grafana's variables, filled the way the dashboards' defaults fill them.
fn fill(expr: &str) -> String {
    expr.replace("${job}", "swaggy-stacks")
        .replace("$job", "swaggy-stacks")
        .replace("${route}", ".*")
        .replace("$route", ".*")
        .replace("$__rate_interval", "30s")
        .replace("$__interval", "5s")
        .replace("$__range", "1m")
}

fn dashboard_exprs() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let d: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        fn walk(file: &str, panels: &serde_json::Value, out: &mut Vec<(String, String, String)>) {
            for p in panels.as_array().into_iter().flatten() {
                for t in p["targets"].as_array().into_iter().flatten() {
                    if let Some(e) = t["expr"].as_str() {
                        out.push((file.to_string(), p["title"].as_str().unwrap_or("").to_string(), e.to_string()));
                    }
                }
                walk(file, &p["panels"], out);
            }
        }
        walk(&file, &d["panels"], &mut out);
    }
    out
}

/// Exposed by the service only while the condition they report holds (proven by
/// `tests/catalog.rs::overflow_is_visible_and_warned_once`).
const CONDITIONAL: &[&str] = &["swaggy_telemetry_metric_overflow"];

/// Names the pipeline itself provides: Prometheus (synthetic series and its own metrics),
/// Alertmanager's own metrics (both scraped by the shipped config), or the collector (no
/// collector binary runs here).
fn self_metric(name: &str) -> bool {
    name == "up"
        || name.starts_with("ALERTS")
        || name.starts_with("scrape_")
        || name.starts_with("prometheus_")
        || name.starts_with("alertmanager_")
        || name.starts_with("otelcol_")
}

/// The one notification a healthy pipeline sends: the always-firing Watchdog, to its own
/// receiver (the dead-man's switch) and nowhere else. A Watchdog at any other receiver, or
/// anything else at the watchdog receiver, is not a heartbeat.
fn is_heartbeat(n: &Notification) -> bool {
    let alerts = n.alerts();
    n.receiver == "watchdog"
        && !alerts.is_empty()
        && alerts.iter().all(|(name, status)| name == "Watchdog" && status == "firing")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_fires_resolves_and_stays_quiet() {
    if !require(&["postgres"]) {
        return;
    }
    let Some(redis) = PrivateRedis::start() else { return };
    let redis_port = redis.port;
    let dir = tempfile::tempdir().unwrap();
    let db = PgDb::create().await;
    let rurl = redis.url();
    let svc = Service::start(
        &["demo"],
        &[
            ("DATABASE_URL", &db.url),
            ("REDIS_URL", &rurl),
            ("SIM_RATE", "10"),
            ("HEALTH_INTERVAL", "1s"),
            ("HEALTH_TIMEOUT", "1s"),
        ],
    );
    let c = reqwest::Client::new();
    svc.wait_ready(&c, "/health/ready", Duration::from_secs(30)).await;
    // A stream client, as a dashboard would be.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/ws", svc.base.replace("http://", "ws://"))).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        r#"{"type":"subscribe","topic":"quotes","interval_ms":1000}"#.into(),
    ))
    .await
    .unwrap();
    tokio::spawn(async move { while ws.next().await.is_some() {} });

    let webhook = Webhook::start().await;
    let Some(am) = alertmanager(dir.path(), &webhook).await else { return };
    let am_addr = am.base.trim_start_matches("http://").to_string();
    let svc_addr = svc.base.trim_start_matches("http://").to_string();
    let Some(prom) = prometheus(dir.path(), &svc_addr, &am_addr, 20).await else { return };
    let started = Instant::now();

    // --- 70 s of scraping: every panel returns data, no name dangles -----------------------
    // (The long-window SLO recording group evaluates once a minute: its first run lands
    // within 60 s of Prometheus starting.)
    tokio::time::sleep(Duration::from_secs(70)).await;
    let live = Scrape::parse(&c.get(svc.url("/metrics")).send().await.unwrap().text().await.unwrap());
    let families = live.families();
    let rules: serde_json::Value =
        c.get(format!("{}/api/v1/rules", prom.base)).send().await.unwrap().json().await.unwrap();
    let mut recorded = BTreeSet::new();
    let mut rule_exprs = Vec::new();
    for group in rules["data"]["groups"].as_array().unwrap() {
        for r in group["rules"].as_array().unwrap() {
            if r["type"] == "recording" {
                recorded.insert(r["name"].as_str().unwrap().to_string());
            }
            assert_ne!(r["health"], "err", "rule {} failed to evaluate: {}", r["name"], r["lastError"]);
            rule_exprs
                .push((format!("rule {}", r["name"].as_str().unwrap()), r["query"].as_str().unwrap().to_string()));
        }
    }
    let alerts = rule_exprs.iter().filter(|(n, _)| !recorded.contains(n.trim_start_matches("rule "))).count();
    assert!(alerts >= 12, "{alerts} alert rules loaded");
    let panels = dashboard_exprs();
    let mut dangling = BTreeSet::new();
    let exprs = rule_exprs.iter().cloned().chain(panels.iter().map(|(f, t, e)| (format!("{f}: {t}"), fill(e))));
    for (origin, expr) in exprs {
        for name in metric_names(&expr) {
            let base = name.strip_suffix("_bucket").or(name.strip_suffix("_count")).or(name.strip_suffix("_sum"));
            let exposed = families.contains(&name) || base.is_some_and(|b| families.contains(b));
            if !exposed && !recorded.contains(&name) && !self_metric(&name) && !CONDITIONAL.contains(&name.as_str()) {
                dangling.insert(format!("{name} (in {origin})"));
            }
        }
    }
    assert!(
        dangling.is_empty(),
        "names the running service does not expose:\n{}",
        dangling.into_iter().collect::<Vec<_>>().join("\n")
    );

    let mut empty = Vec::new();
    let mut skipped = Vec::new();
    for (file, title, expr) in &panels {
        let names = metric_names(&fill(expr));
        if !names.is_empty() && names.iter().all(|n| n.starts_with("otelcol_")) {
            skipped.push(format!("{file}: {title}"));
            continue; // the collector's own metrics: no collector binary runs on these machines
        }
        if query(&prom.base, &fill(expr)).await.is_empty() {
            empty.push(format!("{file}: {title}: {expr}"));
        }
    }
    assert!(empty.is_empty(), "panels without data after 70 s:\n{}", empty.join("\n"));
    eprintln!(
        "{} panel queries return data; {} collector-only panels skipped: {skipped:?}",
        panels.len() - skipped.len(),
        skipped.len()
    );

    // --- quiet while healthy, 3 minutes in all ---------------------------------------------
    // Quiet means: nothing but the Watchdog heartbeat, and that only at its own receiver (the
    // shipped routing, unchanged: the heartbeat is expected, and proven to arrive).
    let quiet_until = started + Duration::from_secs(180);
    while Instant::now() < quiet_until {
        let sent: Vec<_> = webhook.all().into_iter().filter(|n| !is_heartbeat(n)).collect();
        assert!(
            sent.is_empty(),
            "a healthy run notified: {:?}",
            sent.iter().map(|n| (n.receiver.clone(), n.alerts())).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let heartbeats: Vec<_> = webhook.all().into_iter().filter(is_heartbeat).collect();
    let first_heartbeat =
        heartbeats.first().map(|n| n.at - started).expect("the Watchdog heartbeat reached its receiver");
    let firing = query(&prom.base, "ALERTS{alertstate=\"firing\", alertname!=\"Watchdog\"}").await;
    assert!(firing.is_empty(), "alerts firing in a healthy run: {firing:?}");
    let watchdog = query(&prom.base, "ALERTS{alertstate=\"firing\", alertname=\"Watchdog\"}").await;
    assert_eq!(watchdog.len(), 1, "the Watchdog fires: {watchdog:?}");
    assert_eq!(watchdog[0]["metric"]["severity"], "none");
    eprintln!(
        "healthy for 3 minutes: no notification but the Watchdog heartbeat at its own receiver ({} heartbeat(s), \
         the first {first_heartbeat:?} after Prometheus started)",
        heartbeats.len()
    );

    // --- fault: the service's Redis dies, then comes back ----------------------------------
    let mut redis = redis;
    let fault = Instant::now();
    redis.kill();
    let fired = webhook.wait_for("RedisUnhealthy", "firing", Duration::from_secs(120)).await;
    let fire_latency = fired.at - fault;
    assert_eq!(fired.receiver, "tickets", "a warning goes to tickets");
    let recovered_at = Instant::now();
    let _redis = PrivateRedis::start_on(redis_port).expect("restart redis");
    let resolved = webhook.wait_for("RedisUnhealthy", "resolved", Duration::from_secs(120)).await;
    let resolve_latency = resolved.at - recovered_at;
    // The health-degraded alert was inhibited by the specific one.
    assert!(
        !webhook.all().iter().any(|n| n.mentions("HealthDegraded", "firing")),
        "HealthDegraded should be inhibited"
    );
    eprintln!(
        "Redis killed -> RedisUnhealthy at the webhook in {fire_latency:?}; restarted -> resolved in {resolve_latency:?}"
    );

    // --- fault: the bundled MCP server hangs (SIGSTOP); the orchestrator replaces it ----------
    // Its pid comes from its own health check's detail: the process is the service's child.
    // The health check times out at once (McpServerDown pending); the orchestrator fails the
    // server after two unanswered keepalive pings (~15 s: pings start after 5 s without an
    // answer), kills it and starts a new one, and the alert resolves with nobody resuming the
    // hung process.
    let health: serde_json::Value = c.get(svc.url("/health")).send().await.unwrap().json().await.unwrap();
    let pid = common::health::mcp_server_pid(&health, "market");
    let restarts = |m: &Scrape| m.sum("swaggy_mcp_server_restarts_total", &[("swaggy_mcp_server", "market")]);
    let restarts_before =
        restarts(&Scrape::parse(&c.get(svc.url("/metrics")).send().await.unwrap().text().await.unwrap()));
    let stopped = std::process::Command::new("kill").args(["-STOP", &pid.to_string()]).status().unwrap().success();
    assert!(stopped, "kill -STOP {pid}");
    let fault = Instant::now();
    let fired = webhook.wait_for("McpServerDown", "firing", Duration::from_secs(120)).await;
    let mcp_fire = fired.at - fault;
    assert_eq!(fired.receiver, "chat", "a critical non-paging alert goes to chat");
    let resolved = webhook.wait_for("McpServerDown", "resolved", Duration::from_secs(120)).await;
    let mcp_resolve = resolved.at - fault;
    // Resolved by the replacement: a new process serves, the hung one is gone (killed and reaped
    // by the service; nobody sent it SIGCONT), and the orchestrator counted one restart.
    let health: serde_json::Value = c.get(svc.url("/health?fresh=1")).send().await.unwrap().json().await.unwrap();
    let replacement = common::health::mcp_server_pid(&health, "market");
    assert_ne!(replacement, pid, "the hung server was replaced");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the hung server {pid} is still there");
    let live = Scrape::parse(&c.get(svc.url("/metrics")).send().await.unwrap().text().await.unwrap());
    assert_eq!(restarts(&live), restarts_before + 1.0, "one restart");
    let reason = common::health::check(&health, "mcp_orchestrator")["detail"].as_str().unwrap_or("").to_string();
    assert_eq!(reason, "1/1 servers ready");
    // One restart is no restart loop.
    assert!(!webhook.all().iter().any(|n| n.mentions("McpServerRestarting", "firing")), "one restart alerted");
    eprintln!(
        "MCP server hung (SIGSTOP) -> McpServerDown at the webhook in {mcp_fire:?}; killed and replaced by the \
         orchestrator (pid {pid} -> {replacement}) -> resolved {mcp_resolve:?} after the hang ({:?} after firing)",
        resolved.at - fired.at
    );
}
