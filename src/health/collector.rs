//! The health collector: runs every check concurrently under its own timeout, in the background;
//! caches the result as a snapshot that requests and metric callbacks read; coalesces and
//! rate-limits on-demand refreshes.

use super::check::{CheckResult, CheckSpec, Criticality, HealthCheck};
use crate::catalog::instruments::{
    HEALTH_CHECK_DURATION, HEALTH_CHECK_LAST_SUCCESS_AGE, HEALTH_CHECK_RUNS, HEALTH_CHECK_STATUS, HEALTH_STATUS,
};
use crate::catalog::values::{HealthCheckName, HealthState};
use crate::catalog::{BoundedStr, Counter};
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Settings of the collector.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// Background refresh interval (`HEALTH_INTERVAL`, default 30 s).
    pub interval: Duration,
    /// Default per-check timeout (`HEALTH_TIMEOUT`, default 2 s).
    pub timeout: Duration,
    /// On-demand refreshes happen at most this often (`HEALTH_MIN_REFRESH`, default 1 s).
    pub min_refresh: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
            min_refresh: Duration::from_secs(1),
        }
    }
}

/// The cached state of every check.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSnapshot {
    /// Overall state: `healthy`, `degraded` or `unhealthy`.
    pub overall: HealthState,
    /// Each check, in registration order.
    pub checks: Vec<CheckResult>,
    /// When the last refresh finished (`None` before the first).
    pub refreshed_at: Option<SystemTime>,
    /// Increments with every refresh.
    pub generation: u64,
}

impl HealthSnapshot {
    /// Ready: every critical check works (and a first refresh happened).
    pub fn ready(&self) -> bool {
        self.refreshed_at.is_some() && self.checks.iter().filter(|c| c.critical).all(CheckResult::ok)
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The overall state from the checks:
/// * `unhealthy` when a critical check fails (unhealthy, timeout, unreachable, error);
/// * `degraded` when an optional check fails, or a critical check is degraded or slow;
/// * `healthy` otherwise.
pub fn overall(checks: &[CheckResult]) -> HealthState {
    if checks.iter().any(|c| c.critical && !c.ok()) {
        HealthState::Unhealthy
    } else if checks.iter().any(|c| !c.ok() || c.state == HealthState::Degraded || (c.critical && c.slow)) {
        HealthState::Degraded
    } else {
        HealthState::Healthy
    }
}

struct Registered {
    spec: CheckSpec,
    check: Box<dyn HealthCheck>,
    label: HealthCheckName,
    last_run: std::sync::Mutex<Option<Instant>>,
}

struct Inner {
    checks: Vec<Registered>,
    config: HealthConfig,
    snapshot: ArcSwap<HealthSnapshot>,
    run_lock: tokio::sync::Mutex<()>,
    last_refresh: std::sync::Mutex<Option<Instant>>,
    runs: Counter<(HealthCheckName, HealthState)>,
    probes: AtomicU64,
    started: SystemTime,
}

/// Builder: register checks, then [`HealthCollectorBuilder::build`].
pub struct HealthCollectorBuilder {
    config: HealthConfig,
    checks: Vec<Registered>,
}

impl std::fmt::Debug for HealthCollectorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCollectorBuilder").field("checks", &self.checks.len()).finish()
    }
}

impl HealthCollectorBuilder {
    /// Registers a check.
    pub fn check(mut self, spec: CheckSpec, check: impl HealthCheck) -> Self {
        let label = HealthCheckName(BoundedStr::from(spec.name.clone()));
        self.checks.push(Registered { spec, check: Box::new(check), label, last_run: std::sync::Mutex::new(None) });
        self
    }

    /// Builds the collector and registers its gauges on the installed meter. Nothing runs until
    /// [`HealthCollector::spawn`] or a refresh.
    pub fn build(self) -> HealthCollector {
        let meter = crate::telemetry::meter();
        let checks: Vec<CheckResult> = self
            .checks
            .iter()
            .map(|r| CheckResult {
                name: r.spec.name.clone(),
                kind: r.spec.kind,
                critical: r.spec.criticality == Criticality::Critical,
                state: HealthState::Unhealthy,
                latency: Duration::ZERO,
                detail: "not checked yet".into(),
                observed_at: SystemTime::now(),
                last_success: None,
                slow: false,
            })
            .collect();
        let runs = HEALTH_CHECK_RUNS.build(&meter);
        for r in &self.checks {
            // Failures are exported at 0 from start so `increase()` sees the first one.
            for state in HealthState::ALL {
                runs.bind(&(r.label.clone(), *state));
            }
        }
        let inner = Arc::new(Inner {
            checks: self.checks,
            config: self.config,
            snapshot: ArcSwap::from_pointee(HealthSnapshot {
                overall: HealthState::Unhealthy,
                checks,
                refreshed_at: None,
                generation: 0,
            }),
            run_lock: tokio::sync::Mutex::new(()),
            last_refresh: std::sync::Mutex::new(None),
            runs,
            probes: AtomicU64::new(0),
            started: SystemTime::now(),
        });
        register_gauges(&meter, &inner);
        HealthCollector { inner }
    }
}

/// Gauges read the snapshot only: a scrape never probes a dependency.
fn register_gauges(meter: &opentelemetry::metrics::Meter, inner: &Arc<Inner>) {
    let w = Arc::downgrade(inner);
    HEALTH_CHECK_STATUS.register(meter, move |o| {
        let Some(inner) = w.upgrade() else { return };
        let snap = inner.snapshot.load();
        if snap.refreshed_at.is_none() {
            return;
        }
        for (r, c) in inner.checks.iter().zip(snap.checks.iter()) {
            o.observe(1.0, (r.label.clone(), c.state));
        }
    });
    let w = Arc::downgrade(inner);
    HEALTH_CHECK_DURATION.register(meter, move |o| {
        let Some(inner) = w.upgrade() else { return };
        let snap = inner.snapshot.load();
        if snap.refreshed_at.is_none() {
            return;
        }
        for (r, c) in inner.checks.iter().zip(snap.checks.iter()) {
            o.observe(c.latency.as_secs_f64(), (r.label.clone(),));
        }
    });
    let w = Arc::downgrade(inner);
    HEALTH_CHECK_LAST_SUCCESS_AGE.register(meter, move |o| {
        let Some(inner) = w.upgrade() else { return };
        let snap = inner.snapshot.load();
        let now = SystemTime::now();
        for (r, c) in inner.checks.iter().zip(snap.checks.iter()) {
            let since = c.last_success.unwrap_or(inner.started);
            o.observe(now.duration_since(since).unwrap_or_default().as_secs_f64(), (r.label.clone(),));
        }
    });
    let w = Arc::downgrade(inner);
    HEALTH_STATUS.register(meter, move |o| {
        let Some(inner) = w.upgrade() else { return };
        let snap = inner.snapshot.load();
        if snap.refreshed_at.is_some() {
            o.observe(1.0, (snap.overall,));
        }
    });
}

/// The collector; cheap to clone.
#[derive(Clone)]
pub struct HealthCollector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HealthCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCollector").field("checks", &self.inner.checks.len()).finish()
    }
}

impl HealthCollector {
    /// A builder with `config`.
    pub fn builder(config: HealthConfig) -> HealthCollectorBuilder {
        HealthCollectorBuilder { config, checks: Vec::new() }
    }

    /// The cached snapshot (no probing).
    pub fn snapshot(&self) -> Arc<HealthSnapshot> {
        self.inner.snapshot.load_full()
    }

    /// The settings.
    pub fn config(&self) -> &HealthConfig {
        &self.inner.config
    }

    /// Probes run since start (all checks).
    pub fn probes(&self) -> u64 {
        self.inner.probes.load(Ordering::Relaxed)
    }

    /// An on-demand refresh: concurrent callers share one run, and runs happen at most once per
    /// `min_refresh`; otherwise the cached snapshot is returned.
    pub async fn refresh(&self) -> Arc<HealthSnapshot> {
        self.refresh_inner(false).await
    }

    /// A refresh now, whatever the rate limit (for state changes the application knows about,
    /// such as the database becoming ready). Concurrent callers still share one run.
    pub async fn refresh_now(&self) -> Arc<HealthSnapshot> {
        self.refresh_inner(true).await
    }

    async fn refresh_inner(&self, force: bool) -> Arc<HealthSnapshot> {
        let asked_at = self.inner.snapshot.load().generation;
        let _run = self.inner.run_lock.lock().await;
        let current = self.inner.snapshot.load_full();
        // Someone refreshed while we waited: share their result. Not when forced: that run may
        // have started before the change the caller knows about (the database becoming ready).
        if current.generation > asked_at && !force {
            return current;
        }
        let recent = self
            .inner
            .last_refresh
            .lock()
            .ok()
            .and_then(|l| *l)
            .is_some_and(|t| t.elapsed() < self.inner.config.min_refresh);
        if recent && !force {
            return current;
        }
        self.run(true).await
    }

    /// Runs due checks (all when `all`) and publishes a new snapshot. Callers hold `run_lock`.
    async fn run(&self, all: bool) -> Arc<HealthSnapshot> {
        let inner = &self.inner;
        if let Ok(mut l) = inner.last_refresh.lock() {
            *l = Some(Instant::now());
        }
        let previous = inner.snapshot.load_full();
        let first = previous.refreshed_at.is_none();
        let probes = inner.checks.iter().zip(previous.checks.iter()).map(|(r, prev)| async move {
            let interval = r.spec.interval.unwrap_or(inner.config.interval);
            let due = all
                || first
                || r.last_run
                    .lock()
                    .ok()
                    .and_then(|l| *l)
                    .is_none_or(|t| t.elapsed() + Duration::from_millis(50) >= interval);
            if !due {
                return prev.clone();
            }
            if let Ok(mut l) = r.last_run.lock() {
                *l = Some(Instant::now());
            }
            inner.probes.fetch_add(1, Ordering::Relaxed);
            let timeout = r.spec.timeout.unwrap_or(inner.config.timeout);
            let start = Instant::now();
            let (state, detail, latency) = match tokio::time::timeout(timeout, r.check.check()).await {
                Ok(p) => (p.state, p.detail, start.elapsed()),
                Err(_) => (HealthState::Timeout, format!("no answer within {} ms", timeout.as_millis()), timeout),
            };
            inner.runs.add(1, (r.label.clone(), state));
            let slow = latency > r.spec.slow_after.unwrap_or(timeout / 2);
            let now = SystemTime::now();
            let ok = matches!(state, HealthState::Healthy | HealthState::Degraded);
            CheckResult {
                name: r.spec.name.clone(),
                kind: r.spec.kind,
                critical: r.spec.criticality == Criticality::Critical,
                state,
                latency,
                detail,
                observed_at: now,
                last_success: if ok { Some(now) } else { prev.last_success },
                slow,
            }
        });
        let checks = futures_util::future::join_all(probes).await;
        let snapshot = Arc::new(HealthSnapshot {
            overall: overall(&checks),
            checks,
            refreshed_at: Some(SystemTime::now()),
            generation: previous.generation + 1,
        });
        log_changes(&previous, &snapshot);
        inner.snapshot.store(snapshot.clone());
        snapshot
    }

    /// Refreshes in the background until `stop` resolves: due checks every tick (the smallest
    /// interval of any check), and at least every 5 s while a critical check fails, so readiness
    /// recovers promptly.
    pub fn spawn(&self, mut stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let tick = this
            .inner
            .checks
            .iter()
            .map(|r| r.spec.interval.unwrap_or(this.inner.config.interval))
            .min()
            .unwrap_or(this.inner.config.interval);
        tokio::spawn(async move {
            loop {
                let ready = {
                    let _run = this.inner.run_lock.lock().await;
                    let unready = !this.inner.snapshot.load().ready();
                    this.run(unready).await.ready()
                };
                let wait = if ready { tick } else { tick.min(UNREADY_RETRY) };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
            }
        })
    }
}

/// One log line per change of state, so an outage and its end are in the logs, not only in the
/// gauges: a check that stops working is a warning, one that works again is info; so is the
/// overall status. The first run (nothing known before) logs only what is not healthy.
fn log_changes(previous: &HealthSnapshot, now: &HealthSnapshot) {
    let first = previous.refreshed_at.is_none();
    for (before, after) in previous.checks.iter().zip(now.checks.iter()) {
        if !first && before.state == after.state {
            continue;
        }
        let (check, state, detail) = (&after.name, after.state.as_str(), &after.detail);
        match (after.ok(), first || before.ok()) {
            (false, _) => {
                tracing::warn!(target: "swaggy_telemetry::health", %check, state, %detail, "health check failing")
            }
            (true, false) => {
                tracing::info!(target: "swaggy_telemetry::health", %check, state, %detail, "health check recovered")
            }
            (true, true) if !first => {
                tracing::info!(target: "swaggy_telemetry::health", %check, state, "health check changed")
            }
            _ => {}
        }
    }
    if previous.overall != now.overall && !(first && now.overall == HealthState::Healthy) {
        let (from, to) = (previous.overall.as_str(), now.overall.as_str());
        if now.overall == HealthState::Healthy {
            tracing::info!(target: "swaggy_telemetry::health", from, to, "overall health changed");
        } else {
            tracing::warn!(target: "swaggy_telemetry::health", from, to, "overall health changed");
        }
    }
}

/// How often checks are retried while a critical one fails.
pub const UNREADY_RETRY: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    fn result(critical: bool, state: HealthState, slow: bool) -> CheckResult {
        CheckResult {
            name: "x".into(),
            kind: "test",
            critical,
            state,
            latency: Duration::ZERO,
            detail: String::new(),
            observed_at: SystemTime::now(),
            last_success: None,
            slow,
        }
    }

    #[test]
    fn overall_rules() {
        use HealthState::*;
        assert_eq!(overall(&[result(true, Healthy, false), result(false, Healthy, false)]), Healthy);
        assert_eq!(overall(&[result(true, Healthy, false), result(false, Timeout, false)]), Degraded);
        assert_eq!(overall(&[result(true, Healthy, true)]), Degraded, "a slow critical check degrades");
        assert_eq!(overall(&[result(false, Healthy, true)]), Healthy, "a slow optional check does not");
        assert_eq!(overall(&[result(true, Degraded, false)]), Degraded);
        for bad in [Unhealthy, Timeout, Unreachable, Error] {
            assert_eq!(overall(&[result(true, bad, false), result(false, Healthy, false)]), Unhealthy);
        }
    }
}
