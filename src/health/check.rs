//! The check contract: what a check returns, and how it is registered.

use crate::catalog::values::HealthState;
use futures_util::future::BoxFuture;
use std::time::{Duration, SystemTime};

/// What one probe found (before the checker adds timing).
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// `Healthy`, `Degraded`, `Unhealthy`, `Unreachable` or `Error` (the checker alone reports
    /// `Timeout`).
    pub state: HealthState,
    /// A short, human-readable detail. Never a secret: checks build it from what they measured,
    /// not from URLs or server messages.
    pub detail: String,
}

impl Probe {
    /// A healthy probe.
    pub fn healthy(detail: impl Into<String>) -> Self {
        Probe { state: HealthState::Healthy, detail: detail.into() }
    }
    /// A degraded probe (working, but not as it should).
    pub fn degraded(detail: impl Into<String>) -> Self {
        Probe { state: HealthState::Degraded, detail: detail.into() }
    }
    /// The dependency answered that it is not working.
    pub fn unhealthy(detail: impl Into<String>) -> Self {
        Probe { state: HealthState::Unhealthy, detail: detail.into() }
    }
    /// The dependency could not be reached (refused, DNS, reset).
    pub fn unreachable(detail: impl Into<String>) -> Self {
        Probe { state: HealthState::Unreachable, detail: detail.into() }
    }
    /// The probe itself failed in another way.
    pub fn error(detail: impl Into<String>) -> Self {
        Probe { state: HealthState::Error, detail: detail.into() }
    }
}

/// A health check. Implementations do one bounded round trip; the checker adds the timeout.
pub trait HealthCheck: Send + Sync + 'static {
    /// Probes the dependency once.
    fn check(&self) -> BoxFuture<'_, Probe>;
}

/// A check from an async closure.
pub struct FnCheck<F>(pub F);

impl<F, Fut> HealthCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Probe> + Send + 'static,
{
    fn check(&self) -> BoxFuture<'_, Probe> {
        Box::pin((self.0)())
    }
}

/// Whether a failing check makes the service unhealthy (critical) or only degraded (optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criticality {
    /// Failing means the service cannot do its job: overall `unhealthy`, not ready.
    Critical,
    /// Failing means reduced service: overall `degraded`.
    Optional,
}

/// How a check is registered.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// Name (`postgres`, `redis`, `mcp_server:market`, …): the `swaggy.health.check` label.
    pub name: String,
    /// What kind of dependency (`database`, `cache`, `mcp`, `http`, `queue`, `internal`).
    pub kind: &'static str,
    /// Critical or optional.
    pub criticality: Criticality,
    /// Bound on one probe (`None`: the checker's default).
    pub timeout: Option<Duration>,
    /// How often it runs in the background (`None`: the checker's interval).
    pub interval: Option<Duration>,
    /// A critical check slower than this makes the service `degraded` (`None`: half the timeout).
    pub slow_after: Option<Duration>,
}

impl CheckSpec {
    /// A check with defaults for timing.
    pub fn new(name: impl Into<String>, kind: &'static str, criticality: Criticality) -> Self {
        CheckSpec { name: name.into(), kind, criticality, timeout: None, interval: None, slow_after: None }
    }
    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Sets the interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }
    /// Sets the slowness threshold.
    pub fn slow_after(mut self, d: Duration) -> Self {
        self.slow_after = Some(d);
        self
    }
}

/// One check's latest result, as cached.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: &'static str,
    /// Whether it is critical.
    pub critical: bool,
    /// State (`Timeout` when the probe exceeded its bound).
    pub state: HealthState,
    /// Probe latency (the timeout when it timed out).
    pub latency: Duration,
    /// Detail (redacted by construction).
    pub detail: String,
    /// When the probe finished.
    pub observed_at: SystemTime,
    /// When it last succeeded (healthy or degraded).
    pub last_success: Option<SystemTime>,
    /// Whether it was slower than its threshold.
    pub slow: bool,
}

impl CheckResult {
    /// Healthy or degraded: the dependency works.
    pub fn ok(&self) -> bool {
        matches!(self.state, HealthState::Healthy | HealthState::Degraded)
    }
}

pub use crate::redact::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            redact_url("https://user:pw@api.example.com/v1/status?token=abc"),
            "https://api.example.com/v1/status"
        );
        assert_eq!(redact_url("http://h:1"), "http://h:1");
        assert_eq!(redact_url("not a url"), "<url>");
    }
}
