//! The health engine: checks run concurrently, each under its own timeout, in the background;
//! requests and metric callbacks read the cached snapshot.
//!
//! # Rules
//! * A check reports `healthy`, `degraded`, `unhealthy`, `unreachable`, `error`, or — when it
//!   did not answer within its timeout — `timeout`.
//! * Overall: `unhealthy` when a **critical** check fails (unhealthy, timeout, unreachable,
//!   error); `degraded` when an **optional** check fails, or a critical check is degraded or
//!   slower than its threshold (default: half its timeout); `healthy` otherwise.
//! * `/health` answers 200 unless `unhealthy` (503); `/health/ready` answers 503 while a critical
//!   check fails (or before the first refresh); `/health/live` never looks at a dependency.
//! * The collector refreshes every interval; `GET /health?fresh=1` asks for a refresh now:
//!   concurrent asks share one run, and runs happen at most once per `min_refresh`.
//! * Gauges (`swaggy.health.*`) are observed from the snapshot: a scrape never probes.

pub mod check;
pub mod checks;
pub mod collector;
#[cfg(feature = "axum")]
pub mod http;

pub use check::{CheckResult, CheckSpec, Criticality, FnCheck, HealthCheck, Probe, redact_url};
pub use collector::{HealthCollector, HealthCollectorBuilder, HealthConfig, HealthSnapshot, overall};
