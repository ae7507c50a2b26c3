//! Writes the metric reference generated from the catalog.
//!
//! `cargo run --example render-catalog > docs/metrics.md`

fn main() {
    print!("{}", swaggy_telemetry::catalog::render_markdown());
}
