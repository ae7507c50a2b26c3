//! Export plumbing: a batch span processor that counts what it drops, a metric exporter
//! wrapper that counts failures and watches for cardinality overflow, and the runner that
//! drives exporter futures off the application's runtime.

use super::overflow::OverflowWatch;
use crate::catalog::Counter;
use crate::catalog::instruments::{TELEMETRY_EXPORT_FAILURES, TELEMETRY_SPANS_DROPPED, TELEMETRY_SPANS_EXPORTED};
use crate::catalog::values::TelemetrySignal;
use opentelemetry::Context;
use opentelemetry::metrics::Meter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter, SpanProcessor};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How exporter futures are driven.
#[derive(Clone, Debug)]
pub(crate) enum ExportRunner {
    /// Plain `block_on` (blocking HTTP client, console, in-memory exporters).
    Plain,
    /// On the telemetry runtime (gRPC exporters need tokio's reactor), bounded by a timeout.
    Tokio(tokio::runtime::Handle, Duration),
}

impl ExportRunner {
    /// Runs `fut` to completion on the calling (non-async) thread.
    pub(crate) fn run<F: Future<Output = OTelSdkResult>>(&self, fut: F) -> OTelSdkResult {
        // Whatever the exporter does (HTTP clients, DNS) must not produce telemetry itself.
        let _suppressed = Context::enter_telemetry_suppressed_scope();
        match self {
            ExportRunner::Plain => futures_executor::block_on(fut),
            ExportRunner::Tokio(handle, timeout) => handle.block_on(async {
                match tokio::time::timeout(*timeout, fut).await {
                    Ok(r) => r,
                    Err(_) => Err(OTelSdkError::Timeout(*timeout)),
                }
            }),
        }
    }
}

/// Logs a run of failed exports once: a warning at the first failure (the data of that signal
/// is being dropped) and an info line with the count when an export succeeds again. The
/// failures in between are counted in `swaggy.telemetry.export.failures` and logged at debug.
#[derive(Debug, Default)]
pub(crate) struct FailureStreak {
    failing: AtomicBool,
    failures: AtomicU64,
}

impl FailureStreak {
    pub(crate) fn record(&self, signal: &'static str, result: &OTelSdkResult) {
        match result {
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                // Exporter errors can carry the endpoint URL: no credentials in logs.
                let error = crate::redact::redact_urls(&e.to_string());
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "swaggy_telemetry",
                        signal,
                        %error,
                        "telemetry export failing: this signal's data is being dropped \
                         (counted in swaggy_telemetry_export_failures_total)"
                    );
                } else {
                    tracing::debug!(target: "swaggy_telemetry", signal, %error, "telemetry export failed");
                }
            }
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    let failed_exports = self.failures.swap(0, Ordering::Relaxed);
                    tracing::info!(target: "swaggy_telemetry", signal, failed_exports, "telemetry export recovered");
                }
            }
        }
    }
}

/// Self-metric handles shared by the exporters.
#[derive(Clone, Debug)]
pub(crate) struct SelfMetrics {
    pub failures: Counter<(TelemetrySignal,)>,
    pub spans_exported: Counter<()>,
    pub spans_dropped: Counter<()>,
}

impl SelfMetrics {
    pub(crate) fn new(meter: &Meter) -> Self {
        SelfMetrics {
            failures: TELEMETRY_EXPORT_FAILURES.build(meter),
            spans_exported: TELEMETRY_SPANS_EXPORTED.build(meter),
            spans_dropped: TELEMETRY_SPANS_DROPPED.build(meter),
        }
    }
}

/// Batch settings for [`QueueSpanProcessor`].
#[derive(Clone, Debug)]
pub(crate) struct QueueSettings {
    pub max_queue_size: usize,
    pub max_export_batch_size: usize,
    pub schedule_delay: Duration,
}

enum Control {
    /// The queue holds a full batch (sent at most once until the worker drains it).
    BatchReady,
    Flush(SyncSender<OTelSdkResult>),
    Shutdown(SyncSender<OTelSdkResult>),
}

/// A batch span processor: `on_end` never blocks and never wakes the worker per span (a full
/// queue drops the span and counts it in `swaggy.telemetry.spans.dropped`); the worker thread
/// exports when a batch is ready or the schedule delay passes; failures are counted in
/// `swaggy.telemetry.export.failures{signal="traces"}`.
#[derive(Debug)]
pub(crate) struct QueueSpanProcessor {
    spans: SyncSender<SpanData>,
    control: Mutex<mpsc::Sender<Control>>,
    queued: Arc<AtomicUsize>,
    batch_signalled: Arc<AtomicBool>,
    max_batch: usize,
    worker: Mutex<Option<JoinHandle<()>>>,
    metrics: SelfMetrics,
    warned_drop: AtomicBool,
    is_shutdown: AtomicBool,
}

struct Worker<E> {
    exporter: E,
    spans: Receiver<SpanData>,
    control: Receiver<Control>,
    queued: Arc<AtomicUsize>,
    batch_signalled: Arc<AtomicBool>,
    runner: ExportRunner,
    settings: QueueSettings,
    metrics: SelfMetrics,
    streak: FailureStreak,
}

impl QueueSpanProcessor {
    pub(crate) fn new<E>(
        mut exporter: E,
        resource: &Resource,
        runner: ExportRunner,
        settings: QueueSettings,
        metrics: SelfMetrics,
    ) -> std::io::Result<Self>
    where
        E: SpanExporter + 'static,
    {
        exporter.set_resource(resource);
        let (spans, spans_rx) = mpsc::sync_channel(settings.max_queue_size);
        let (control, control_rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let batch_signalled = Arc::new(AtomicBool::new(false));
        let max_batch = settings.max_export_batch_size;
        let worker = Worker {
            exporter,
            spans: spans_rx,
            control: control_rx,
            queued: queued.clone(),
            batch_signalled: batch_signalled.clone(),
            runner,
            settings,
            metrics: metrics.clone(),
            streak: FailureStreak::default(),
        };
        let worker = std::thread::Builder::new().name("swaggy-span-export".into()).spawn(move || worker.run())?;
        Ok(QueueSpanProcessor {
            spans,
            control: Mutex::new(control),
            queued,
            batch_signalled,
            max_batch,
            worker: Mutex::new(Some(worker)),
            metrics,
            warned_drop: AtomicBool::new(false),
            is_shutdown: AtomicBool::new(false),
        })
    }

    fn send_control(
        &self,
        make: impl FnOnce(SyncSender<OTelSdkResult>) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (reply, reply_rx) = mpsc::sync_channel(1);
        let sent = self.control.lock().map(|c| c.send(make(reply)).is_ok()).unwrap_or(false);
        if !sent {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match reply_rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => {
                Err(OTelSdkError::InternalFailure("span export worker is gone".into()))
            }
        }
    }

    fn dropped(&self) {
        self.metrics.spans_dropped.add(1, ());
        if !self.warned_drop.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "swaggy_telemetry",
                "span export queue is full: spans are being dropped (counted in \
                 swaggy_telemetry_spans_dropped_total); raise OTEL_BSP_MAX_QUEUE_SIZE or check the collector"
            );
        }
    }
}

impl SpanProcessor for QueueSpanProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        match self.spans.try_send(span) {
            Ok(()) => {
                let queued = self.queued.fetch_add(1, Ordering::Relaxed) + 1;
                if queued >= self.max_batch
                    && !self.batch_signalled.swap(true, Ordering::Relaxed)
                    && let Ok(c) = self.control.lock()
                {
                    let _ = c.send(Control::BatchReady);
                }
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.dropped(),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.send_control(Control::Flush, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.is_shutdown.swap(true, Ordering::SeqCst) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let r = self.send_control(Control::Shutdown, timeout);
        if r.is_ok()
            && let Some(w) = self.worker.lock().ok().and_then(|mut w| w.take())
        {
            let _ = w.join();
        }
        r
    }
}

impl<E: SpanExporter> Worker<E> {
    fn export(&self, batch: &mut Vec<SpanData>) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let spans = std::mem::take(batch);
        let n = spans.len() as u64;
        let r = self.runner.run(self.exporter.export(spans));
        match &r {
            Ok(()) => self.metrics.spans_exported.add(n, ()),
            Err(_) => {
                self.metrics.failures.add(1, (TelemetrySignal::Traces,));
                self.metrics.spans_dropped.add(n, ());
            }
        }
        self.streak.record("traces", &r);
        r
    }

    /// Exports everything queued now, in batches.
    fn drain(&self) -> OTelSdkResult {
        let mut result = Ok(());
        let mut batch = Vec::with_capacity(self.settings.max_export_batch_size);
        self.batch_signalled.store(false, Ordering::Relaxed);
        while let Ok(span) = self.spans.try_recv() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            batch.push(span);
            if batch.len() >= self.settings.max_export_batch_size
                && let Err(e) = self.export(&mut batch)
            {
                result = Err(e);
            }
        }
        if let Err(e) = self.export(&mut batch) {
            result = Err(e);
        }
        result
    }

    fn run(self) {
        let mut deadline = Instant::now() + self.settings.schedule_delay;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.control.recv_timeout(wait) {
                Ok(Control::BatchReady) => {
                    let _ = self.drain();
                }
                Ok(Control::Flush(reply)) => {
                    let _ = reply.send(self.drain());
                }
                Ok(Control::Shutdown(reply)) => {
                    let r = self.drain();
                    let _ = self.exporter.shutdown();
                    let _ = reply.send(r);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.drain();
                    deadline = Instant::now() + self.settings.schedule_delay;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.drain();
                    let _ = self.exporter.shutdown();
                    return;
                }
            }
        }
    }
}

/// Wraps a push metric exporter: counts failed exports, notes cardinality overflow, and drives
/// the export on the right runner.
pub(crate) struct CountingMetricExporter<E> {
    pub inner: E,
    pub runner: ExportRunner,
    /// Set once the meter provider exists (the exporter is built before it).
    pub self_metrics: Arc<std::sync::OnceLock<SelfMetrics>>,
    pub overflow: Arc<OverflowWatch>,
    pub streak: FailureStreak,
}

impl<E> std::fmt::Debug for CountingMetricExporter<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CountingMetricExporter")
    }
}

impl<E: PushMetricExporter> PushMetricExporter for CountingMetricExporter<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.overflow.scan_resource_metrics(metrics);
        // The periodic reader already drives this future with `block_on`: a plain exporter is
        // awaited here (nesting `block_on` would panic); a gRPC one runs on the telemetry runtime.
        let r = match &self.runner {
            ExportRunner::Plain => self.inner.export(metrics).await,
            tokio_runner => tokio_runner.run(self.inner.export(metrics)),
        };
        if r.is_err()
            && let Some(m) = self.self_metrics.get()
        {
            m.failures.add(1, (TelemetrySignal::Metrics,));
        }
        self.streak.record("metrics", &r);
        r
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
