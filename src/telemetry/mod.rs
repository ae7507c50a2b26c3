//! Telemetry installation: one builder that sets up traces, metrics, propagation and logs, and a
//! guard that flushes and shuts everything down within a bound.
//!
//! ```no_run
//! # fn main() -> Result<(), swaggy_telemetry::InitError> {
//! let guard = swaggy_telemetry::Telemetry::builder().with_service_name("orders").install()?;
//! // … run the service; `/metrics` renders `guard.prometheus_registry()` …
//! guard.shutdown().ok();
//! # Ok(()) }
//! ```
//!
//! # Precedence
//! Every setting is resolved as **code** (a builder method) → **environment variable** →
//! **default**. The full table is in the README; highlights:
//!
//! | setting | builder | variable | default |
//! |---|---|---|---|
//! | service name | `with_service_name` | `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES` | `swaggy-stacks` |
//! | OTLP endpoint | `with_otlp_endpoint` | `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT` (verbatim), `OTEL_EXPORTER_OTLP_ENDPOINT` (+`/v1/…` over HTTP) | off |
//! | protocol | `with_otlp_protocol` | `OTEL_EXPORTER_OTLP_{TRACES_,METRICS_,}PROTOCOL` | `http/protobuf` |
//! | CA for `https://` | `with_otlp_certificate` | `OTEL_EXPORTER_OTLP_{TRACES_,METRICS_,}CERTIFICATE` (PEM file; replaces the system trust store) | system trust store |
//! | exporters | `with_traces_exporters`, `with_metrics_exporters` | `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER` | traces: otlp when an endpoint is set; metrics: prometheus (+ otlp when an endpoint is set) |
//! | sampler | `with_sampler` | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` |
//! | propagators | `with_propagators` | `OTEL_PROPAGATORS` | `tracecontext,baggage` |
//!
//! Exports never run on the application's runtime: gRPC exporters live on a private
//! one-thread runtime, the span queue on its own thread. A slow or absent collector costs the
//! application nothing but dropped (and counted) telemetry.

mod config;
mod error;
mod export;
mod logs;
mod overflow;

pub use config::{
    BatchSettings, EnvSource, ExporterKind, LogFormat, OtlpProtocol, OtlpTarget, PropagatorKind, SamplerConfig,
    TelemetryConfig, TemporalityPreference,
};
pub use error::{InitError, ShutdownError};
pub use logs::{JsonLines, rfc3339};
pub use overflow::{OVERFLOW_ATTRIBUTE, OVERFLOW_LABEL, OverflowWatch};

use crate::catalog::instruments::{BUILD_INFO, TELEMETRY_METRIC_OVERFLOW};
use crate::catalog::values::{BuildProfile, BuildRustc, InstrumentName, ServiceVersion};
use arc_swap::ArcSwap;
use config::Overrides;
use export::{CountingMetricExporter, ExportRunner, QueueSettings, QueueSpanProcessor, SelfMetrics};
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{TracerProvider as _, noop::NoopTextMapPropagator};
use opentelemetry::{InstrumentationScope, KeyValue, global};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider, SpanExporter};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

/// Instrumentation scope name of everything this crate records.
pub const SCOPE_NAME: &str = "swaggy_telemetry";

/// Default bound on [`TelemetryGuard::shutdown`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// What instrumentation uses at run time: the installed tracer and meter.
#[derive(Debug, Clone)]
pub struct Handles {
    /// Tracer of the installed provider (non-recording before install).
    pub tracer: SdkTracer,
    /// Meter of the installed provider (no-op before install).
    pub meter: Meter,
    /// Cardinality overflow watch.
    pub overflow: Arc<OverflowWatch>,
    /// Whether spans are created at all (false before install and when the SDK is disabled).
    pub tracing: bool,
    /// Whether the sampler follows the parent's decision (then children of an unsampled span
    /// need no span of their own).
    pub parent_based: bool,
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME).with_version(env!("CARGO_PKG_VERSION")).build()
}

static HANDLES: LazyLock<ArcSwap<Handles>> = LazyLock::new(|| {
    let provider = SdkTracerProvider::builder().with_sampler(Sampler::AlwaysOff).build();
    ArcSwap::from_pointee(Handles {
        tracer: provider.tracer_with_scope(scope()),
        meter: global::meter_with_scope(scope()),
        overflow: Arc::new(OverflowWatch::default()),
        tracing: false,
        parent_based: true,
    })
});

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Increments on every install: long-lived handles compare it to know when to rebind.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Calls `f` with the installed tracer and whether its sampler is parent-based; `None` when
/// tracing is off.
pub(crate) fn with_tracer<R>(f: impl FnOnce(&SdkTracer, bool) -> Option<R>) -> Option<R> {
    let h = HANDLES.load();
    if !h.tracing {
        return None;
    }
    f(&h.tracer, h.parent_based)
}

/// The installed handles (or non-recording ones before [`TelemetryBuilder::install`]).
/// Build long-lived instrumentation (layers, pools) after installing.
pub fn handles() -> Arc<Handles> {
    HANDLES.load_full()
}

/// The installed meter.
pub fn meter() -> Meter {
    HANDLES.load().meter.clone()
}

/// The installed tracer.
pub fn tracer() -> SdkTracer {
    HANDLES.load().tracer.clone()
}

/// Entry point: `Telemetry::builder()…install()`.
#[derive(Debug)]
pub struct Telemetry;

impl Telemetry {
    /// A builder with every setting taken from the environment or its default.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }
}

type SpanHook = Box<dyn FnOnce(&Resource, SelfMetrics) -> Result<QueueSpanProcessor, InitError> + Send>;

/// Configures and installs telemetry. Code settings win over environment variables.
#[must_use = "call .install() to install telemetry"]
pub struct TelemetryBuilder {
    env: EnvSource,
    overrides: Overrides,
    shutdown_timeout: Duration,
    logging: bool,
    process_metrics: bool,
    extra_span_exporters: Vec<SpanHook>,
    extra_readers: Vec<
        Box<
            dyn FnOnce(
                    opentelemetry_sdk::metrics::MeterProviderBuilder,
                ) -> opentelemetry_sdk::metrics::MeterProviderBuilder
                + Send,
        >,
    >,
}

impl Default for TelemetryBuilder {
    fn default() -> Self {
        TelemetryBuilder {
            env: EnvSource::Process,
            overrides: Overrides::default(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            logging: true,
            process_metrics: true,
            extra_span_exporters: Vec::new(),
            extra_readers: Vec::new(),
        }
    }
}

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder").field("overrides", &self.overrides).finish_non_exhaustive()
    }
}

impl TelemetryBuilder {
    /// Reads settings from `env` instead of the process environment.
    pub fn with_env(mut self, env: EnvSource) -> Self {
        self.env = env;
        self
    }
    /// `service.name` (wins over `OTEL_SERVICE_NAME`).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.overrides.service_name = Some(name.into());
        self
    }
    /// `service.version` (default: the crate version).
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.overrides.service_version = Some(version.into());
        self
    }
    /// An extra resource attribute (wins over `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn with_resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides.resource_attributes.push((key.into(), value.into()));
        self
    }
    /// OTLP endpoint for both signals (as `OTEL_EXPORTER_OTLP_ENDPOINT`: `/v1/…` is appended over HTTP).
    pub fn with_otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.overrides.otlp_endpoint = Some(endpoint.into());
        self
    }
    /// OTLP transport for both signals.
    pub fn with_otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.overrides.otlp_protocol = Some(protocol);
        self
    }
    /// A PEM file of the CA certificates an `https://` OTLP endpoint is verified against, for
    /// both signals and both transports, instead of the system trust store (wins over
    /// `OTEL_EXPORTER_OTLP_{TRACES_,METRICS_,}CERTIFICATE`).
    pub fn with_otlp_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.overrides.otlp_certificate = Some(path.into());
        self
    }
    /// Trace exporters (empty: none).
    pub fn with_traces_exporters(mut self, exporters: Vec<ExporterKind>) -> Self {
        self.overrides.traces_exporters = Some(exporters);
        self
    }
    /// Metric exporters (empty: none).
    pub fn with_metrics_exporters(mut self, exporters: Vec<ExporterKind>) -> Self {
        self.overrides.metrics_exporters = Some(exporters);
        self
    }
    /// Sampler.
    pub fn with_sampler(mut self, sampler: SamplerConfig) -> Self {
        self.overrides.sampler = Some(sampler);
        self
    }
    /// Propagators (empty: none).
    pub fn with_propagators(mut self, propagators: Vec<PropagatorKind>) -> Self {
        self.overrides.propagators = Some(propagators);
        self
    }
    /// Interval of OTLP metric exports.
    pub fn with_metric_export_interval(mut self, interval: Duration) -> Self {
        self.overrides.metric_export_interval = Some(interval);
        self
    }
    /// Delay between span exports.
    pub fn with_span_export_delay(mut self, delay: Duration) -> Self {
        self.overrides.batch_schedule_delay = Some(delay);
        self
    }
    /// Log format (wins over `LOG_FORMAT`).
    pub fn with_log_format(mut self, format: LogFormat) -> Self {
        self.overrides.log_format = Some(format);
        self
    }
    /// Log filter (wins over `RUST_LOG`).
    pub fn with_log_filter(mut self, filter: impl Into<String>) -> Self {
        self.overrides.log_filter = Some(filter.into());
        self
    }
    /// Bound on the guard's shutdown (default 5 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }
    /// Whether to install the global `tracing` subscriber (default true; an existing one is kept).
    pub fn with_logging(mut self, enabled: bool) -> Self {
        self.logging = enabled;
        self
    }
    /// Whether to collect process and runtime metrics (default true).
    pub fn with_process_metrics(mut self, enabled: bool) -> Self {
        self.process_metrics = enabled;
        self
    }
    /// An additional span exporter behind the counting batch queue (tests, custom backends).
    pub fn with_span_exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        let settings = QueueSettings {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            schedule_delay: Duration::from_millis(100),
        };
        self.extra_span_exporters.push(Box::new(move |resource, metrics| {
            QueueSpanProcessor::new(exporter, resource, ExportRunner::Plain, settings, metrics)
                .map_err(|e| InitError::Runtime(e.to_string()))
        }));
        self
    }
    /// An additional metric reader (tests: `opentelemetry_sdk::metrics::ManualReader`, in-memory exporters).
    pub fn with_metric_reader<R>(mut self, reader: R) -> Self
    where
        R: opentelemetry_sdk::metrics::reader::MetricReader,
    {
        self.extra_readers.push(Box::new(move |b| b.with_reader(reader)));
        self
    }

    /// Resolves the configuration without installing anything.
    pub fn config(&self) -> Result<TelemetryConfig, InitError> {
        TelemetryConfig::resolve(&self.env, &self.overrides)
    }

    /// Installs the providers, the propagators and (unless disabled) the log subscriber.
    pub fn install(self) -> Result<TelemetryGuard, InitError> {
        let config = self.config()?;
        if config.sdk_disabled {
            return Ok(TelemetryGuard::disabled(config, self.shutdown_timeout));
        }
        let resource = build_resource(&config);
        let registry = prometheus::Registry::new();
        let overflow = Arc::new(OverflowWatch::default());
        let needs_runtime = [&config.traces_otlp, &config.metrics_otlp]
            .iter()
            .any(|t| t.as_ref().is_some_and(|t| t.protocol == OtlpProtocol::Grpc));
        let runtime = if needs_runtime {
            Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("swaggy-otlp")
                    .enable_all()
                    .build()
                    .map_err(|e| InitError::Runtime(e.to_string()))?,
            )
        } else {
            None
        };
        let self_metrics: Arc<OnceLock<SelfMetrics>> = Arc::new(OnceLock::new());

        // --- metrics ---------------------------------------------------------------------
        let mut mp =
            SdkMeterProvider::builder().with_resource(resource.clone()).with_view(crate::catalog::cardinality_view());
        if config.metrics_exporters.contains(&ExporterKind::Prometheus) {
            let exporter = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .build()
                .map_err(|e| InitError::Exporter { signal: "metrics", message: e.to_string() })?;
            mp = mp.with_reader(exporter);
        }
        if let Some(target) = &config.metrics_otlp {
            let temporality = match config.temporality {
                TemporalityPreference::Cumulative => Temporality::Cumulative,
                TemporalityPreference::Delta => Temporality::Delta,
            };
            let (exporter, runner) = build_metric_exporter(target, temporality, runtime.as_ref())?;
            let wrapped = CountingMetricExporter {
                inner: exporter,
                runner,
                self_metrics: self_metrics.clone(),
                overflow: overflow.clone(),
                streak: Default::default(),
            };
            mp = mp.with_reader(PeriodicReader::builder(wrapped).with_interval(config.metric_export_interval).build());
        }
        if config.metrics_exporters.contains(&ExporterKind::Console) {
            let exporter = opentelemetry_stdout::MetricExporter::builder().build();
            mp = mp.with_reader(PeriodicReader::builder(exporter).with_interval(config.metric_export_interval).build());
        }
        for hook in self.extra_readers {
            mp = hook(mp);
        }
        let meter_provider = mp.build();
        let meter = meter_provider.meter_with_scope(scope());
        let _ = self_metrics.set(SelfMetrics::new(&meter));
        let metrics = self_metrics.get().cloned().expect("just set");

        // --- traces ----------------------------------------------------------------------
        let mut tp = SdkTracerProvider::builder().with_resource(resource.clone()).with_sampler(sampler(config.sampler));
        let queue = QueueSettings {
            max_queue_size: config.batch.max_queue_size,
            max_export_batch_size: config.batch.max_export_batch_size,
            schedule_delay: config.batch.schedule_delay,
        };
        if let Some(target) = &config.traces_otlp {
            let processor = build_span_processor(target, &resource, runtime.as_ref(), queue.clone(), metrics.clone())?;
            tp = tp.with_span_processor(processor);
        }
        if config.traces_exporters.contains(&ExporterKind::Console) {
            let p = QueueSpanProcessor::new(
                opentelemetry_stdout::SpanExporter::default(),
                &resource,
                ExportRunner::Plain,
                queue.clone(),
                metrics.clone(),
            )
            .map_err(|e| InitError::Runtime(e.to_string()))?;
            tp = tp.with_span_processor(p);
        }
        for hook in self.extra_span_exporters {
            tp = tp.with_span_processor(hook(&resource, metrics.clone())?);
        }
        let tracer_provider = tp.build();
        let tracer = tracer_provider.tracer_with_scope(scope());

        // --- globals ---------------------------------------------------------------------
        global::set_text_map_propagator(build_propagator(&config.propagators));
        global::set_tracer_provider(tracer_provider.clone());
        global::set_meter_provider(meter_provider.clone());
        let parent_based = matches!(
            config.sampler,
            SamplerConfig::ParentBasedAlwaysOn
                | SamplerConfig::ParentBasedAlwaysOff
                | SamplerConfig::ParentBasedTraceIdRatio(_)
        );
        HANDLES.store(Arc::new(Handles {
            tracer: tracer.clone(),
            meter: meter.clone(),
            overflow: overflow.clone(),
            tracing: true,
            parent_based,
        }));
        GENERATION.fetch_add(1, Ordering::AcqRel);

        register_self_gauges(&meter, &overflow, &config);
        let process = if self.process_metrics { crate::process::ProcessMetrics::start(&meter) } else { None };
        if self.logging {
            logs::install(config.log_format, &config.log_filter, Some(tracer.clone()));
        }

        Ok(TelemetryGuard {
            inner: Some(GuardInner { tracer_provider, meter_provider, runtime, _process: process }),
            registry,
            overflow,
            config,
            timeout: self.shutdown_timeout,
        })
    }
}

fn build_resource(config: &TelemetryConfig) -> Resource {
    let mut attrs = vec![KeyValue::new(crate::catalog::key::SERVICE_VERSION, config.service_version.clone())];
    for (k, v) in &config.resource_attributes {
        attrs.push(KeyValue::new(k.clone(), v.clone()));
    }
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(attrs)
        .with_service_name(config.service_name.clone())
        .build()
}

fn sampler(s: SamplerConfig) -> Sampler {
    match s {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerConfig::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerConfig::ParentBasedTraceIdRatio(r) => Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r))),
    }
}

fn build_propagator(kinds: &[PropagatorKind]) -> TextMapCompositePropagator {
    let list: Vec<Box<dyn TextMapPropagator + Send + Sync>> = kinds
        .iter()
        .map(|k| -> Box<dyn TextMapPropagator + Send + Sync> {
            match k {
                PropagatorKind::TraceContext => Box::new(TraceContextPropagator::new()),
                PropagatorKind::Baggage => Box::new(BaggagePropagator::new()),
            }
        })
        .collect();
    // An empty composite injects and extracts nothing: `OTEL_PROPAGATORS=none`.
    TextMapCompositePropagator::new(list)
}

fn exporter_error(signal: &'static str) -> impl FnOnce(opentelemetry_otlp::ExporterBuildError) -> InitError {
    move |e| InitError::Exporter { signal, message: e.to_string() }
}

fn tonic_metadata(
    headers: &[(String, String)],
    signal: &'static str,
) -> Result<tonic::metadata::MetadataMap, InitError> {
    let mut map = tonic::metadata::MetadataMap::new();
    for (k, v) in headers {
        let key = tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
            .map_err(|_| InitError::Exporter { signal, message: format!("invalid header name {k:?}") })?;
        let value = v
            .parse()
            .map_err(|_| InitError::Exporter { signal, message: format!("invalid value for header {k:?}") })?;
        map.insert(key, value);
    }
    Ok(map)
}

/// The CA certificates of `target` (PEM bytes and DER), read again at build time.
fn ca_certificates(target: &OtlpTarget, signal: &'static str) -> Result<Option<config::CaCertificates>, InitError> {
    let Some(path) = &target.ca_certificate else { return Ok(None) };
    config::read_ca_certificates("OTLP CA certificate", path)
        .map(Some)
        .map_err(|e| InitError::Exporter { signal, message: e.to_string() })
}

/// TLS for an `https://` gRPC endpoint. opentelemetry-otlp would turn TLS on from the scheme
/// alone, but with a configuration that trusts no root at all (every certificate refused), so
/// the roots are always given here: the CA file when set, else the system trust store.
fn grpc_tls_config(target: &OtlpTarget, signal: &'static str) -> Result<tonic::transport::ClientTlsConfig, InitError> {
    let tls = tonic::transport::ClientTlsConfig::new().timeout(target.timeout);
    Ok(match ca_certificates(target, signal)? {
        Some((pem, _)) => tls.ca_certificate(tonic::transport::Certificate::from_pem(pem)),
        None => tls.with_enabled_roots(),
    })
}

/// The blocking HTTP client of an OTLP/HTTP exporter: rustls, verified against the CA file when
/// set, else the system trust store. A plain `http://` endpoint gets no roots at all, so it
/// works on a host without CA certificates. Built on a thread of its own: a blocking reqwest
/// client must not be created or dropped inside an async context, and `install` may run in one.
fn otlp_http_client(target: &OtlpTarget, signal: &'static str) -> Result<reqwest::blocking::Client, InitError> {
    let timeout = target.timeout;
    let roots = match ca_certificates(target, signal)? {
        Some((_, der)) => Some(der),
        None if !target.is_tls() => Some(Vec::new()),
        None => None, // the system trust store
    };
    let built = std::thread::Builder::new()
        .name("swaggy-otlp-client".into())
        .spawn(move || {
            let mut b = reqwest::blocking::Client::builder().timeout(timeout);
            if let Some(der) = roots {
                let certs = der.iter().map(|c| reqwest::Certificate::from_der(c)).collect::<Result<Vec<_>, _>>()?;
                b = b.tls_certs_only(certs);
            }
            b.build()
        })
        .map_err(|e| InitError::Runtime(e.to_string()))?
        .join()
        .map_err(|_| InitError::Exporter { signal, message: "building the HTTP client panicked".into() })?;
    built.map_err(|e| {
        // reqwest's own text is only "builder error"; the reason is further down the chain.
        let chain: Vec<String> =
            std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source()).map(|e| e.to_string()).collect();
        InitError::Exporter { signal, message: format!("cannot build the HTTP client: {}", chain.join(": ")) }
    })
}

/// Builds an OTLP exporter from `$builder` (a span or metric exporter builder) for `target`:
/// gRPC on the telemetry runtime, HTTP with the blocking client. Yields `(exporter, runner)`.
macro_rules! otlp_exporter {
    ($builder:expr, $target:expr, $runtime:expr, $signal:literal) => {{
        let target: &OtlpTarget = $target;
        match target.protocol {
            OtlpProtocol::Grpc => {
                let rt = $runtime.expect("runtime built for gRPC");
                let _enter = rt.enter();
                let mut b = $builder
                    .with_tonic()
                    .with_endpoint(target.endpoint.clone())
                    .with_timeout(target.timeout)
                    .with_metadata(tonic_metadata(&target.headers, $signal)?);
                if target.gzip {
                    b = b.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                if target.is_tls() {
                    b = b.with_tls_config(grpc_tls_config(target, $signal)?);
                }
                let e = b.build().map_err(exporter_error($signal))?;
                (e, ExportRunner::Tokio(rt.handle().clone(), target.timeout))
            }
            OtlpProtocol::HttpProtobuf => {
                let mut b = $builder
                    .with_http()
                    .with_http_client(otlp_http_client(target, $signal)?)
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(target.endpoint.clone())
                    .with_timeout(target.timeout)
                    .with_headers(target.headers.iter().cloned().collect());
                if target.gzip {
                    b = b.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                (b.build().map_err(exporter_error($signal))?, ExportRunner::Plain)
            }
        }
    }};
}

fn build_metric_exporter(
    target: &OtlpTarget,
    temporality: Temporality,
    runtime: Option<&tokio::runtime::Runtime>,
) -> Result<(opentelemetry_otlp::MetricExporter, ExportRunner), InitError> {
    Ok(otlp_exporter!(
        opentelemetry_otlp::MetricExporter::builder().with_temporality(temporality),
        target,
        runtime,
        "metrics"
    ))
}

fn build_span_processor(
    target: &OtlpTarget,
    resource: &Resource,
    runtime: Option<&tokio::runtime::Runtime>,
    settings: QueueSettings,
    metrics: SelfMetrics,
) -> Result<QueueSpanProcessor, InitError> {
    let (exporter, runner) = otlp_exporter!(opentelemetry_otlp::SpanExporter::builder(), target, runtime, "traces");
    QueueSpanProcessor::new(exporter, resource, runner, settings, metrics)
        .map_err(|e| InitError::Runtime(e.to_string()))
}

fn register_self_gauges(meter: &Meter, overflow: &Arc<OverflowWatch>, config: &TelemetryConfig) {
    let watch = overflow.clone();
    TELEMETRY_METRIC_OVERFLOW.register(meter, move |o| {
        for name in watch.instruments() {
            o.observe(1.0, (InstrumentName::new(name),));
        }
    });
    let version = ServiceVersion::new(config.service_version.clone());
    let rustc = BuildRustc::new(env!("SWAGGY_RUSTC_VERSION"));
    let profile = BuildProfile::new(if cfg!(debug_assertions) { "debug" } else { "release" });
    BUILD_INFO.register(meter, move |o| o.observe(1.0, (version.clone(), rustc.clone(), profile.clone())));
}

struct GuardInner {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    runtime: Option<tokio::runtime::Runtime>,
    _process: Option<crate::process::ProcessMetrics>,
}

/// Keeps telemetry running; flushes and shuts down on [`shutdown`](Self::shutdown) or drop,
/// never taking longer than the configured bound (default 5 s), on any thread or runtime.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    inner: Option<GuardInner>,
    registry: prometheus::Registry,
    overflow: Arc<OverflowWatch>,
    config: TelemetryConfig,
    timeout: Duration,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard").field("config", &self.config).finish_non_exhaustive()
    }
}

impl TelemetryGuard {
    fn disabled(config: TelemetryConfig, timeout: Duration) -> Self {
        global::set_text_map_propagator(NoopTextMapPropagator::new());
        TelemetryGuard { inner: None, registry: prometheus::Registry::new(), overflow: Arc::default(), config, timeout }
    }

    /// The registry `/metrics` renders (empty when Prometheus export is off).
    pub fn prometheus_registry(&self) -> &prometheus::Registry {
        &self.registry
    }

    /// The resolved configuration.
    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    /// The cardinality overflow watch.
    pub fn overflow(&self) -> &Arc<OverflowWatch> {
        &self.overflow
    }

    /// The tracer provider (`None` when the SDK is disabled).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.inner.as_ref().map(|i| &i.tracer_provider)
    }

    /// The meter provider (`None` when the SDK is disabled).
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.inner.as_ref().map(|i| &i.meter_provider)
    }

    /// Exports what is pending now (bounded like shutdown).
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let Some(inner) = &self.inner else { return Ok(()) };
        let (tp, mp) = (inner.tracer_provider.clone(), inner.meter_provider.clone());
        bounded(self.timeout, move || {
            let mut errors = Vec::new();
            if let Err(e) = tp.force_flush() {
                errors.push(format!("traces: {e}"));
            }
            if let Err(e) = mp.force_flush() {
                errors.push(format!("metrics: {e}"));
            }
            errors
        })
    }

    /// Flushes and shuts down within the bound. Safe from any thread, including inside a
    /// current-thread runtime: the work runs on its own threads and exporters never need the
    /// caller's runtime.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), ShutdownError> {
        let Some(inner) = self.inner.take() else { return Ok(()) };
        let GuardInner { tracer_provider, meter_provider, runtime, _process } = inner;
        drop(_process);
        let timeout = self.timeout;
        let r = bounded(timeout, move || {
            // Both providers in parallel so the bound is not spent twice.
            let t = std::thread::spawn(move || tracer_provider.shutdown_with_timeout(timeout));
            let mut errors = Vec::new();
            if let Err(e) = meter_provider.shutdown_with_timeout(timeout) {
                errors.push(format!("metrics: {e}"));
            }
            match t.join() {
                Ok(Err(e)) => errors.push(format!("traces: {e}")),
                Err(_) => errors.push("traces: shutdown thread panicked".into()),
                Ok(Ok(())) => {}
            }
            errors
        });
        if let Some(rt) = runtime {
            rt.shutdown_background();
        }
        r
    }
}

fn bounded(timeout: Duration, work: impl FnOnce() -> Vec<String> + Send + 'static) -> Result<(), ShutdownError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new().name("swaggy-telemetry-shutdown".into()).spawn(move || {
        let _ = tx.send(work());
    });
    if spawned.is_err() {
        return Err(ShutdownError::Provider("could not spawn the shutdown thread".into()));
    }
    match rx.recv_timeout(timeout) {
        Ok(errors) if errors.is_empty() => Ok(()),
        Ok(errors) => Err(ShutdownError::Provider(errors.join("; "))),
        Err(_) => Err(ShutdownError::Timeout(timeout)),
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown_inner() {
            // The subscriber may already be gone; stderr is the last resort.
            eprintln!("swaggy-telemetry: {e}");
        }
    }
}
