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
