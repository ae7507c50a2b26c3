//! The live page in a real browser: headless Chromium (Debian's package) driven by
//! playwright-core opens `/`, and within 5 s shows the live overall health and updating numbers.
//! The screenshot goes to `artifacts/live-page.png` (git-ignored).

mod common;

use common::{Service, require_tool};
use std::path::Path;
use std::process::Command;

#[test]
fn the_live_page_shows_health_and_updating_numbers_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (Some(_), Some(node)) = (require_tool("chromium", "chromium"), require_tool("node", "nodejs")) else { return };
    if !root.join("tests/node/node_modules/playwright-core").is_dir() {
        let msg = "playwright-core is not installed (cd tests/node && npm ci; .ci/run does it)";
        assert!(std::env::var("REQUIRE_SERVICES").as_deref() != Ok("1"), "REQUIRE_SERVICES=1 and {msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    let svc = Service::start(&["demo"], &[("DATABASE_URL", &db), ("SIM_RATE", "20")]);
    std::fs::create_dir_all(root.join("artifacts")).unwrap();
    let shot = root.join("artifacts/live-page.png");
    let out = Command::new(node)
        .arg(root.join("tests/node/live_page.mjs"))
        .arg(svc.url("/"))
        .arg(&shot)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser check failed:\n{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert!(["healthy", "degraded"].contains(&v["health"].as_str().unwrap()), "{v}");
    assert!(v["health_ms"].as_u64().unwrap() < 5000, "{v}");
    assert!(v["checks"].as_u64().unwrap() >= 4, "{v}");
    assert!(v["updates"].as_u64().unwrap() >= 3, "{v}");
    assert!(v["quotes"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(v["foreign_requests"].as_array().unwrap().len(), 0, "the page loads nothing from elsewhere: {v}");
    assert!(shot.metadata().unwrap().len() > 10_000, "a real screenshot");
    eprintln!("browser: {v}");
}
