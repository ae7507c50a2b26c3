//! Writes the metric reference generated from the catalog.
//!
//! `cargo run --example render-catalog > docs/metrics.md` (the full reference), and
//! `cargo run --example render-catalog -- --readme` (rewrites the README's catalog table).

fn main() {
    if std::env::args().any(|a| a == "--readme") {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("read README.md");
        let updated =
            swaggy_telemetry::catalog::with_readme_summary(&readme).expect("README.md has the catalog markers");
        std::fs::write(path, updated).expect("write README.md");
        return;
    }
    print!("{}", swaggy_telemetry::catalog::render_markdown());
}
