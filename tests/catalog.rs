//! The catalog itself: the generated reference is current, names are unique and well formed.

use std::collections::HashSet;
use swaggy_telemetry::catalog::{ALL, render_markdown};

#[test]
fn docs_metrics_md_matches_the_catalog() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md");
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == render_markdown(),
        "docs/metrics.md is stale: run `cargo run --example render-catalog > docs/metrics.md`"
    );
}

#[test]
fn readme_catalog_table_matches_the_catalog() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let have = std::fs::read_to_string(path).unwrap();
    let want = swaggy_telemetry::catalog::with_readme_summary(&have).expect("README.md has the catalog markers");
    assert!(have == want, "the README's catalog table is stale: run `cargo run --example render-catalog -- --readme`");
    assert!(have.contains("`mcp_client_operation_duration_seconds`"));
}

#[test]
fn every_name_is_defined_once_and_follows_the_conventions() {
    let mut names = HashSet::new();
    let mut prom = HashSet::new();
    for info in ALL {
        assert!(names.insert(info.name), "{} defined twice", info.name);
        assert!(prom.insert(info.prometheus_name()), "{} collides in Prometheus", info.prometheus_name());
        assert!(!info.name.ends_with("_total") && !info.name.ends_with(".total"), "{}: no _total in names", info.name);
        for unit_word in ["_seconds", "_bytes", ".seconds", ".bytes", "_ms", ".ms"] {
            assert!(!info.name.ends_with(unit_word), "{}: the unit goes in .with_unit()", info.name);
        }
        assert!(!info.prometheus_name().ends_with("_count") || info.kind.as_str() == "histogram", "{}", info.name);
        assert!(!info.description.is_empty(), "{} has no description", info.name);
        if info.kind.as_str() == "histogram" {
            assert!(!info.buckets.is_empty(), "{}: explicit buckets required", info.name);
            assert!(info.buckets.windows(2).all(|w| w[0] < w[1]), "{}: buckets must increase", info.name);
        }
        let keys: HashSet<&str> = info.attributes.iter().copied().collect();
        assert_eq!(keys.len(), info.attributes.len(), "{}: an attribute key repeats", info.name);
    }
    assert!(ALL.len() >= 40, "the catalog lists {} instruments", ALL.len());
}

mod common;

use common::Scrape;
use std::sync::{Arc, Mutex};
use swaggy_telemetry::catalog::instruments::{HTTP_CLIENT_REQUEST_DURATION, HTTP_SERVER_REQUEST_DURATION};
use swaggy_telemetry::catalog::values::{
    ErrorType, HttpMethod, HttpRoute, HttpStatusCode, ServerAddress, ServerPort, UrlScheme,
};
use swaggy_telemetry::catalog::{BoundedStr, lookup};
use swaggy_telemetry::telemetry::EnvSource;
use swaggy_telemetry::{Telemetry, TelemetryGuard};

fn install() -> TelemetryGuard {
    Telemetry::builder()
        .with_env(EnvSource::from_pairs(Vec::<(String, String)>::new()))
        .with_logging(false)
        .with_process_metrics(false)
        .install()
        .expect("install")
}

fn scrape(guard: &TelemetryGuard) -> Scrape {
    Scrape::parse(&swaggy_telemetry::http::render_prometheus(guard.prometheus_registry(), guard.overflow()))
}

#[test]
fn http_duration_buckets_are_the_semconv_ones() {
    let guard = install();
    let h = HTTP_SERVER_REQUEST_DURATION.build(&swaggy_telemetry::telemetry::meter());
    for v in [0.003, 0.04, 0.2, 0.9, 2.0] {
        h.record(
            v,
            (HttpMethod::Get, UrlScheme::Http, HttpStatusCode(200), Some(HttpRoute::new("/b")), None::<ErrorType>),
        );
    }
    let s = scrape(&guard);
    let buckets = s.find("http_server_request_duration_seconds_bucket", &[("http_route", "/b")]);
    let bounds: Vec<&str> = buckets.iter().map(|b| b.labels["le"].as_str()).collect();
    assert_eq!(
        bounds,
        ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5", "7.5", "10", "+Inf"]
    );
    // Cumulative counts: a bucket holds a value when its count steps up.
    let counts: Vec<f64> = buckets.iter().map(|b| b.value).collect();
    let steps = counts.windows(2).filter(|w| w[1] > w[0]).count() + usize::from(counts[0] > 0.0);
    assert!(steps >= 4, "0.003, 0.04, 0.2, 0.9, 2.0 land in {steps} distinct buckets: {counts:?}");
    assert_eq!(counts.last(), Some(&5.0));
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn overflow_is_visible_and_warned_once() {
    let guard = install();
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).init();
    let limit = lookup(HTTP_CLIENT_REQUEST_DURATION.info.name).unwrap().cardinality_limit;
    let h = HTTP_CLIENT_REQUEST_DURATION.build(&swaggy_telemetry::telemetry::meter());
    for i in 0..2500 {
        h.record(
            0.01,
            (
                HttpMethod::Get,
                ServerAddress(BoundedStr::from(format!("host-{i}.example"))),
                ServerPort(443),
                Some(HttpStatusCode(200)),
                None::<ErrorType>,
            ),
        );
    }
    let first = scrape(&guard);
    let second = scrape(&guard);
    let counts = first.find("http_client_request_duration_seconds_count", &[]);
    let overflow: Vec<_> = counts.iter().filter(|s| s.labels.contains_key("otel_metric_overflow")).collect();
    let normal = counts.len() - overflow.len();
    assert_eq!(overflow.len(), 1, "one overflow series");
    // The SDK keeps `limit` distinct attribute sets, then folds everything else into one series.
    assert_eq!(normal, limit, "limit {limit}: {normal} series + overflow");
    assert_eq!(overflow[0].value + normal as f64, 2500.0, "nothing lost: the excess is counted in the overflow series");
    assert_eq!(
        second.sum(
            "swaggy_telemetry_metric_overflow",
            &[("swaggy_telemetry_instrument", "http.client.request.duration")]
        ),
        1.0
    );
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let warnings = text.lines().filter(|l| l.contains("cardinality limit reached")).count();
    assert_eq!(warnings, 1, "exactly one warning across scrapes:\n{text}");
    assert!(text.contains("http.client.request.duration"));
}

/// Every metric name and attribute key lives in `src/catalog`; nothing else spells one.
#[test]
fn no_name_is_spelled_outside_the_catalog() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let key_file = std::fs::read_to_string(root.join("src/catalog/key.rs")).unwrap();
    let mut names: HashSet<String> = ALL.iter().map(|i| i.name.to_string()).collect();
    for line in key_file.lines() {
        if let Some(v) = line.strip_prefix("pub const ").and_then(|l| l.split('"').nth(1)) {
            names.insert(v.to_string());
        }
    }
    assert!(names.len() > 100, "{} names", names.len());
    let mut offenders = Vec::new();
    let mut stack = vec![root.join("src"), root.join("macros/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("catalog") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for lit in line.split('"').skip(1).step_by(2) {
                    if names.contains(lit) {
                        offenders.push(format!("{}:{}: \"{lit}\"", path.strip_prefix(root).unwrap().display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "names spelled outside src/catalog:\n{}", offenders.join("\n"));
}
