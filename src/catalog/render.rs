//! Renders the catalog as the Markdown reference (`docs/metrics.md`).

use super::{ALL, CATEGORIES, Info};
use std::fmt::Write;

fn buckets(info: &Info) -> String {
    if info.buckets.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = info.buckets.iter().map(|b| format!("{b}")).collect();
    parts.join(", ")
}

/// The reference: one section per category, one row per instrument.
pub fn render_markdown() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Metric catalog\n");
    let _ = writeln!(
        out,
        "Generated from `src/catalog` by `cargo run --example render-catalog` (a test fails when \
         this file is stale). {} instruments in {} categories.\n",
        ALL.len(),
        CATEGORIES.len()
    );
    let _ = writeln!(
        out,
        "Names follow the OpenTelemetry semantic conventions where one exists (HTTP, database, \
         MCP, GenAI, process); everything else lives under `swaggy.*`. The Prometheus name is what \
         `/metrics` and the collector's Prometheus exporter expose: dots become `_`, the unit word \
         is appended (`s` → `_seconds`, `By` → `_bytes`, `1` → `_ratio`; `{{annotations}}` add \
         nothing) and counters end in `_total`. Histograms expose `_bucket`, `_sum` and `_count`. \
         Every series also carries `otel_scope_name`. When an instrument exceeds its cardinality \
         limit, the excess is folded into one series with `otel_metric_overflow=\"true\"` and \
         `swaggy_telemetry_metric_overflow{{swaggy_telemetry_instrument=...}}` turns 1.\n"
    );
    for (category, description) in CATEGORIES {
        let _ = writeln!(out, "## {category}\n");
        if !description.is_empty() {
            let _ = writeln!(out, "{}\n", description.trim());
        }
        let _ = writeln!(
            out,
            "| Instrument | Prometheus name | Kind | Unit | Attributes | Buckets | Limit | Description |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for info in ALL.iter().filter(|i| i.category == *category) {
            let attrs: Vec<String> = info.attributes.iter().map(|a| format!("`{a}`")).collect();
            let mut desc = info.description.to_string();
            if info.zero_init {
                desc.push_str(" Exported at 0 from start for every label combination.");
            }
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | `{}` | {} | {} | {} | {} |",
                info.name,
                info.prometheus_name(),
                info.kind.as_str(),
                info.unit,
                attrs.join(", "),
                buckets(info),
                info.cardinality_limit,
                desc.replace('|', "\\|"),
            );
        }
        let _ = writeln!(out);
    }
    out
}

/// Start marker of the generated catalog table in the README.
pub const README_BEGIN: &str = "<!-- catalog:begin (generated: cargo run --example render-catalog -- --readme) -->";
/// End marker of the generated catalog table in the README.
pub const README_END: &str = "<!-- catalog:end -->";

/// The compact table the README carries: every instrument's Prometheus name, kind, unit and
/// category (the full reference with attributes and buckets is [`render_markdown`]).
pub fn render_summary() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| Prometheus name | Instrument | Kind | Unit | Category |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (category, _) in CATEGORIES {
        for info in ALL.iter().filter(|i| i.category == *category) {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | `{}` | {} |",
                info.prometheus_name(),
                info.name,
                info.kind.as_str(),
                info.unit,
                category
            );
        }
    }
    out
}

/// `readme` with the text between [`README_BEGIN`] and [`README_END`] replaced by
/// [`render_summary`]; `None` when the markers are missing.
pub fn with_readme_summary(readme: &str) -> Option<String> {
    let start = readme.find(README_BEGIN)? + README_BEGIN.len();
    let end = readme[start..].find(README_END)? + start;
    Some(format!("{}\n{}{}", &readme[..start], render_summary(), &readme[end..]))
}
