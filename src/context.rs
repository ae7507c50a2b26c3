//! Carrying the current trace context across `tokio::spawn`.
//!
//! A spawned task starts with an empty context: its spans become new roots. These helpers
//! capture the caller's OpenTelemetry context (and `tracing` span) and make them current while the
//! task runs, so work fanned out from a request stays in the request's trace.
//!
//! ```no_run
//! # async fn f() {
//! let handle = swaggy_telemetry::context::spawn(async { /* DB and Redis calls: children of the caller */ });
//! handle.await.unwrap();
//! # }
//! ```

use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use std::future::Future;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

/// Spawns `fut` on the current tokio runtime with the caller's context.
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut.in_current_context())
}

/// Wrapped futures keep the context that was current when they were created.
pub trait FutureContextExt: Future + Sized {
    /// Runs this future in the context current now (OpenTelemetry and `tracing`).
    fn in_current_context(self) -> impl Future<Output = Self::Output> {
        self.with_context(Context::current()).instrument(tracing::Span::current())
    }
}

impl<F: Future> FutureContextExt for F {}
