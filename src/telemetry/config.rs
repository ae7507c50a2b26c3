//! Telemetry settings resolved from code, then the standard `OTEL_*` environment variables,
//! then defaults — validated, so every bad value is an [`InitError`] naming its variable.

use super::InitError;
use crate::catalog::key;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where settings come from when code does not set them: the process environment, or a map
/// (tests).
#[derive(Debug, Clone, Default)]
pub enum EnvSource {
    /// `std::env::var`.
    #[default]
    Process,
    /// A fixed map; variables not in it are unset.
    Map(HashMap<String, String>),
}

impl EnvSource {
    /// The value of `name`, `None` when unset or empty (the spec treats empty as unset).
    pub fn get(&self, name: &str) -> Option<String> {
        let v = match self {
            EnvSource::Process => std::env::var(name).ok(),
            EnvSource::Map(m) => m.get(name).cloned(),
        };
        v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    }

    /// A map source from pairs.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        EnvSource::Map(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default port 4318; the spec default).
    HttpProtobuf,
}

impl OtlpProtocol {
    fn parse(var: &str, v: &str) -> Result<Self, InitError> {
        match v {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            _ => Err(InitError::invalid(var, v, "expected `grpc` or `http/protobuf`")),
        }
    }
}

/// Where one signal is exported over OTLP.
///
/// An `https://` endpoint's certificate is verified against the CA certificates in
/// [`ca_certificate`](Self::ca_certificate) when set (only those, as the other OpenTelemetry SDKs
/// do with `OTEL_EXPORTER_OTLP_CERTIFICATE`), else against the system trust store
/// (`/etc/ssl/certs`, or `SSL_CERT_FILE`/`SSL_CERT_DIR` when set).
#[derive(Clone, PartialEq)]
pub struct OtlpTarget {
    /// Full endpoint URL (for HTTP including `/v1/traces` or `/v1/metrics`).
    pub endpoint: String,
    /// Transport.
    pub protocol: OtlpProtocol,
    /// Extra headers (e.g. authentication).
    pub headers: Vec<(String, String)>,
    /// Per-export timeout.
    pub timeout: Duration,
    /// gzip the payloads.
    pub gzip: bool,
    /// A PEM file of the CA certificates that an `https://` endpoint is verified against,
    /// instead of the system trust store (`OTEL_EXPORTER_OTLP_{TRACES_,METRICS_,}CERTIFICATE`).
    pub ca_certificate: Option<PathBuf>,
}

impl std::fmt::Debug for OtlpTarget {
    // The endpoint's user info and query and the header values can carry credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(k, _)| (k.as_str(), "<redacted>")).collect();
        f.debug_struct("OtlpTarget")
            .field("endpoint", &crate::redact::redact_url(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("gzip", &self.gzip)
            .field("ca_certificate", &self.ca_certificate)
            .finish()
    }
}

impl OtlpTarget {
    /// Whether the endpoint is `https://` (TLS).
    pub fn is_tls(&self) -> bool {
        self.endpoint.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    }
}

/// A signal's exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExporterKind {
    /// OTLP push.
    Otlp,
    /// Prometheus pull (`/metrics`), metrics only.
    Prometheus,
    /// Human-readable output on stdout.
    Console,
}

/// Sampler, as `OTEL_TRACES_SAMPLER` names it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    /// Sample everything.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample a fraction of traces by trace id.
    TraceIdRatio(f64),
    /// Follow the parent; roots sampled.
    ParentBasedAlwaysOn,
    /// Follow the parent; roots not sampled.
    ParentBasedAlwaysOff,
    /// Follow the parent; roots by ratio.
    ParentBasedTraceIdRatio(f64),
}

/// A context propagator, as `OTEL_PROPAGATORS` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagatorKind {
    /// W3C `traceparent`/`tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
}

/// Log line format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line with `trace_id` and `span_id`.
    Json,
}

/// Metric temporality for OTLP (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalityPreference {
    /// Cumulative (default; what Prometheus expects).
    Cumulative,
    /// Delta.
    Delta,
}

/// Batch span processor settings (`OTEL_BSP_*`).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSettings {
    /// Delay between exports.
    pub schedule_delay: Duration,
    /// Spans queued at most; beyond it spans are dropped and counted.
    pub max_queue_size: usize,
    /// Spans per export at most.
    pub max_export_batch_size: usize,
    /// Bound on one export.
    pub export_timeout: Duration,
}

/// Everything the telemetry install needs, resolved and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// `OTEL_SDK_DISABLED=true`: no-op providers, nothing exported, `/metrics` empty.
    pub sdk_disabled: bool,
    /// `service.name`.
    pub service_name: String,
    /// `service.version`.
    pub service_version: String,
    /// Resource attributes from `OTEL_RESOURCE_ATTRIBUTES` (without `service.name`).
    pub resource_attributes: Vec<(String, String)>,
    /// Trace exporters.
    pub traces_exporters: Vec<ExporterKind>,
    /// Metric exporters.
    pub metrics_exporters: Vec<ExporterKind>,
    /// OTLP target for traces (when traces go to OTLP).
    pub traces_otlp: Option<OtlpTarget>,
    /// OTLP target for metrics (when metrics go to OTLP).
    pub metrics_otlp: Option<OtlpTarget>,
    /// Temporality for OTLP metrics.
    pub temporality: TemporalityPreference,
    /// Sampler.
    pub sampler: SamplerConfig,
    /// Propagators (empty: `none`).
    pub propagators: Vec<PropagatorKind>,
    /// `OTEL_METRIC_EXPORT_INTERVAL`.
    pub metric_export_interval: Duration,
    /// `OTEL_METRIC_EXPORT_TIMEOUT`.
    pub metric_export_timeout: Duration,
    /// `OTEL_BSP_*`.
    pub batch: BatchSettings,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `RUST_LOG` (default `info`).
    pub log_filter: String,
}

/// Values set in code; each wins over its environment variable.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub service_name: Option<String>,
    pub service_version: Option<String>,
    pub resource_attributes: Vec<(String, String)>,
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: Option<OtlpProtocol>,
    pub otlp_certificate: Option<PathBuf>,
    pub traces_exporters: Option<Vec<ExporterKind>>,
    pub metrics_exporters: Option<Vec<ExporterKind>>,
    pub sampler: Option<SamplerConfig>,
    pub propagators: Option<Vec<PropagatorKind>>,
    pub metric_export_interval: Option<Duration>,
    pub batch_schedule_delay: Option<Duration>,
    pub log_format: Option<LogFormat>,
    pub log_filter: Option<String>,
}

const DEFAULT_SERVICE_NAME: &str = "swaggy-stacks";
const DEFAULT_BSP_MAX_QUEUE_SIZE: usize = 2048;
const DEFAULT_BSP_MAX_EXPORT_BATCH_SIZE: usize = 512;

fn parse_bool(env: &EnvSource, var: &str) -> Result<bool, InitError> {
    match env.get(var) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(InitError::invalid(var, &v, "expected `true` or `false`")),
    }
}

fn parse_millis(env: &EnvSource, var: &str, default: u64) -> Result<Duration, InitError> {
    match env.get(var) {
        None => Ok(Duration::from_millis(default)),
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(InitError::invalid(var, &v, "expected a positive number of milliseconds")),
        },
    }
}

fn parse_usize(env: &EnvSource, var: &str, default: usize) -> Result<usize, InitError> {
    match env.get(var) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(InitError::invalid(var, &v, "expected a positive integer")),
        },
    }
}

/// Percent-decodes a `key=value` list member (W3C baggage octets, as the spec asks).
fn percent_decode(var: &str, raw: &str, s: &str) -> Result<String, InitError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => return Err(InitError::invalid(var, raw, "bad percent-encoding")),
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| InitError::invalid(var, raw, "not UTF-8 after decoding"))
}

/// Parses a `k=v,k2=v2` list (resource attributes, OTLP headers).
pub(crate) fn parse_key_values(var: &str, raw: &str) -> Result<Vec<(String, String)>, InitError> {
    let mut out = Vec::new();
    for member in raw.split(',') {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let Some((k, v)) = member.split_once('=') else {
            return Err(InitError::invalid(var, raw, "each member must be `key=value`"));
        };
        let k = k.trim();
        if k.is_empty() || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InitError::invalid(var, raw, "empty or malformed key"));
        }
        out.push((percent_decode(var, raw, k)?, percent_decode(var, raw, v.trim())?));
    }
    Ok(out)
}

fn parse_exporters(
    var: &str,
    raw: &str,
    allowed: &[(&str, Option<ExporterKind>)],
) -> Result<Vec<ExporterKind>, InitError> {
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match allowed.iter().find(|(n, _)| *n == name) {
            Some((_, Some(kind))) => {
                if !out.contains(kind) {
                    out.push(*kind);
                }
            }
            Some((_, None)) => return Ok(Vec::new()), // "none"
            None => {
                let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                return Err(InitError::invalid(var, raw, &format!("expected one of {}", names.join(", "))));
            }
        }
    }
    Ok(out)
}

/// How an endpoint value is shown in an error: never its user info or query (they can carry
/// credentials). A value that does not look like a URL is shown unless it has `@` or `?`.
fn shown_endpoint(raw: &str) -> String {
    if raw.contains("://") || raw.contains(['@', '?']) { crate::redact::redact_url(raw) } else { raw.to_string() }
}

/// Validates an endpoint URL: `http(s)://host[:port][/path]`, port 1–65535. The error never
/// echoes the value's user info or query.
pub(crate) fn validate_endpoint(var: &str, raw: &str) -> Result<String, InitError> {
    let bad = |reason: &str| InitError::invalid(var, &shown_endpoint(raw), reason);
    let uri: http::Uri = raw.parse().map_err(|_| bad("not a URL (expected http://host:port)"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(bad("the scheme must be http or https")),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => {}
        _ => return Err(bad("missing host")),
    }
    // `http::Uri` accepts any digits as a port; the URL is only usable with 1–65535.
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let port = match host_port.rfind(']') {
        Some(end) => host_port[end + 1..].strip_prefix(':'),
        None => host_port.rsplit_once(':').map(|(_, p)| p),
    };
    if let Some(p) = port
        && !matches!(p.parse::<u16>(), Ok(n) if n > 0)
    {
        return Err(bad("the port must be a number from 1 to 65535"));
    }
    if uri.query().is_some() {
        return Err(bad("query strings are not allowed"));
    }
    Ok(raw.to_string())
}

/// A CA file's PEM text and the certificates in it.
pub(crate) type CaCertificates = (Vec<u8>, Vec<rustls_pki_types::CertificateDer<'static>>);

/// Reads a PEM file of CA certificates (`var` names the setting in errors). At least one
/// certificate must be in it.
pub(crate) fn read_ca_certificates(var: &str, path: &Path) -> Result<CaCertificates, InitError> {
    use rustls_pki_types::pem::PemObject;
    let shown = path.display().to_string();
    let pem = std::fs::read(path)
        .map_err(|e| InitError::invalid(var, &shown, &format!("cannot read the file ({})", e.kind())))?;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| InitError::invalid(var, &shown, "not a valid PEM file"))?;
    if certs.is_empty() {
        return Err(InitError::invalid(var, &shown, "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file"));
    }
    // Well-armoured but undecodable certificates fail here, naming the variable, rather than
    // later inside the exporter's TLS setup.
    let mut roots = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        roots.add(cert.clone()).map_err(|e| {
            InitError::invalid(var, &shown, &format!("certificate {} in the file is not usable: {e}", i + 1))
        })?;
    }
    Ok((pem, certs))
}

fn join_signal_path(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

struct SignalVars {
    endpoint: &'static str,
    certificate: &'static str,
    protocol: &'static str,
    headers: &'static str,
    timeout: &'static str,
    compression: &'static str,
    http_path: &'static str,
}

const TRACES_VARS: SignalVars = SignalVars {
    endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    certificate: "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    compression: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    http_path: "/v1/traces",
};

const METRICS_VARS: SignalVars = SignalVars {
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    certificate: "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    compression: "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    http_path: "/v1/metrics",
};

/// Resolves one signal's OTLP target. Returns the target and whether an endpoint was set
/// explicitly (which turns OTLP on when the exporter variable is unset).
fn resolve_otlp(env: &EnvSource, o: &Overrides, vars: &SignalVars) -> Result<(OtlpTarget, bool), InitError> {
    let protocol = match (o.otlp_protocol, env.get(vars.protocol), env.get("OTEL_EXPORTER_OTLP_PROTOCOL")) {
        (Some(p), _, _) => p,
        (None, Some(v), _) => OtlpProtocol::parse(vars.protocol, &v)?,
        (None, None, Some(v)) => OtlpProtocol::parse("OTEL_EXPORTER_OTLP_PROTOCOL", &v)?,
        (None, None, None) => OtlpProtocol::HttpProtobuf,
    };
    let append = |base: &str| match protocol {
        OtlpProtocol::HttpProtobuf => join_signal_path(base, vars.http_path),
        OtlpProtocol::Grpc => base.to_string(),
    };
    // Code wins; then the signal variable (verbatim); then the generic one (+ path for HTTP).
    let (endpoint, explicit) = if let Some(e) = &o.otlp_endpoint {
        (append(&validate_endpoint("otlp_endpoint", e)?), true)
    } else if let Some(e) = env.get(vars.endpoint) {
        (validate_endpoint(vars.endpoint, &e)?, true)
    } else if let Some(e) = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        (append(&validate_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", &e)?), true)
    } else {
        let base = match protocol {
            OtlpProtocol::Grpc => "http://localhost:4317",
            OtlpProtocol::HttpProtobuf => "http://localhost:4318",
        };
        (append(base), false)
    };
    let headers = match (env.get(vars.headers), env.get("OTEL_EXPORTER_OTLP_HEADERS")) {
        (Some(h), _) => parse_key_values(vars.headers, &h)?,
        (None, Some(h)) => parse_key_values("OTEL_EXPORTER_OTLP_HEADERS", &h)?,
        (None, None) => Vec::new(),
    };
    let timeout = if env.get(vars.timeout).is_some() {
        parse_millis(env, vars.timeout, 10_000)?
    } else {
        parse_millis(env, "OTEL_EXPORTER_OTLP_TIMEOUT", 10_000)?
    };
    let (compression_var, compression) = match env.get(vars.compression) {
        Some(c) => (vars.compression, Some(c)),
        None => ("OTEL_EXPORTER_OTLP_COMPRESSION", env.get("OTEL_EXPORTER_OTLP_COMPRESSION")),
    };
    let gzip = match compression.as_deref() {
        None | Some("none") => false,
        Some("gzip") => true,
        Some(other) => return Err(InitError::invalid(compression_var, other, "expected `gzip` or `none`")),
    };
    // Code wins; then the signal variable; then the generic one. Read now so a missing or
    // malformed file is an error naming its setting, not a failed export later.
    let ca_certificate = match (&o.otlp_certificate, env.get(vars.certificate)) {
        (Some(p), _) => Some(("otlp_certificate", p.clone())),
        (None, Some(p)) => Some((vars.certificate, PathBuf::from(p))),
        (None, None) => env.get("OTEL_EXPORTER_OTLP_CERTIFICATE").map(|p| ("OTEL_EXPORTER_OTLP_CERTIFICATE", p.into())),
    };
    if let Some((var, path)) = &ca_certificate {
        read_ca_certificates(var, path)?;
    }
    let ca_certificate = ca_certificate.map(|(_, p)| p);
    Ok((OtlpTarget { endpoint, protocol, headers, timeout, gzip, ca_certificate }, explicit))
}

fn parse_ratio(env: &EnvSource) -> Result<f64, InitError> {
    match env.get("OTEL_TRACES_SAMPLER_ARG") {
        None => Ok(1.0),
        Some(v) => match v.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(InitError::invalid("OTEL_TRACES_SAMPLER_ARG", &v, "expected a ratio in [0, 1]")),
        },
    }
}

impl TelemetryConfig {
    /// Resolves the configuration from the environment alone.
    pub fn from_env(env: &EnvSource) -> Result<Self, InitError> {
        Self::resolve(env, &Overrides::default())
    }

    pub(crate) fn resolve(env: &EnvSource, o: &Overrides) -> Result<Self, InitError> {
        let sdk_disabled = parse_bool(env, "OTEL_SDK_DISABLED")?;

        // Resource: code, then OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES.
        let mut resource_attributes = match env.get("OTEL_RESOURCE_ATTRIBUTES") {
            Some(raw) => parse_key_values("OTEL_RESOURCE_ATTRIBUTES", &raw)?,
            None => Vec::new(),
        };
        let from_attrs = resource_attributes.iter().rev().find(|(k, _)| k == key::SERVICE_NAME).map(|(_, v)| v.clone());
        resource_attributes.retain(|(k, _)| k != key::SERVICE_NAME);
        for (k, v) in &o.resource_attributes {
            resource_attributes.retain(|(ek, _)| ek != k);
            resource_attributes.push((k.clone(), v.clone()));
        }
        let service_name = o
            .service_name
            .clone()
            .or_else(|| env.get("OTEL_SERVICE_NAME"))
            .or(from_attrs)
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string());
        let version_from_attrs =
            resource_attributes.iter().find(|(k, _)| k == key::SERVICE_VERSION).map(|(_, v)| v.clone());
        resource_attributes.retain(|(k, _)| k != key::SERVICE_VERSION);
        let service_version =
            o.service_version.clone().or(version_from_attrs).unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());

        let (traces_target, traces_explicit) = resolve_otlp(env, o, &TRACES_VARS)?;
        let (metrics_target, metrics_explicit) = resolve_otlp(env, o, &METRICS_VARS)?;

        let traces_exporters = match (&o.traces_exporters, env.get("OTEL_TRACES_EXPORTER")) {
            (Some(list), _) => list.clone(),
            (None, Some(raw)) => parse_exporters(
                "OTEL_TRACES_EXPORTER",
                &raw,
                &[("otlp", Some(ExporterKind::Otlp)), ("console", Some(ExporterKind::Console)), ("none", None)],
            )?,
            (None, None) if traces_explicit => vec![ExporterKind::Otlp],
            (None, None) => Vec::new(),
        };
        let metrics_exporters = match (&o.metrics_exporters, env.get("OTEL_METRICS_EXPORTER")) {
            (Some(list), _) => list.clone(),
            (None, Some(raw)) => parse_exporters(
                "OTEL_METRICS_EXPORTER",
                &raw,
                &[
                    ("otlp", Some(ExporterKind::Otlp)),
                    ("prometheus", Some(ExporterKind::Prometheus)),
                    ("console", Some(ExporterKind::Console)),
                    ("none", None),
                ],
            )?,
            (None, None) if metrics_explicit => vec![ExporterKind::Prometheus, ExporterKind::Otlp],
            (None, None) => vec![ExporterKind::Prometheus],
        };
        if traces_exporters.contains(&ExporterKind::Prometheus) {
            return Err(InitError::invalid("OTEL_TRACES_EXPORTER", "prometheus", "prometheus exports metrics only"));
        }

        let temporality = match env.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            None => TemporalityPreference::Cumulative,
            Some(v) if v.eq_ignore_ascii_case("cumulative") => TemporalityPreference::Cumulative,
            Some(v) if v.eq_ignore_ascii_case("delta") => TemporalityPreference::Delta,
            Some(v) => {
                return Err(InitError::invalid(
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                    &v,
                    "expected `cumulative` or `delta`",
                ));
            }
        };

        let sampler = match (o.sampler, env.get("OTEL_TRACES_SAMPLER")) {
            (Some(s), _) => s,
            (None, None) => {
                // A stray argument is still validated: a typo there should not go unnoticed.
                if env.get("OTEL_TRACES_SAMPLER_ARG").is_some() {
                    parse_ratio(env)?;
                }
                SamplerConfig::ParentBasedAlwaysOn
            }
            (None, Some(name)) => match name.as_str() {
                "always_on" => SamplerConfig::AlwaysOn,
                "always_off" => SamplerConfig::AlwaysOff,
                "traceidratio" => SamplerConfig::TraceIdRatio(parse_ratio(env)?),
                "parentbased_always_on" => SamplerConfig::ParentBasedAlwaysOn,
                "parentbased_always_off" => SamplerConfig::ParentBasedAlwaysOff,
                "parentbased_traceidratio" => SamplerConfig::ParentBasedTraceIdRatio(parse_ratio(env)?),
                other => {
                    return Err(InitError::invalid(
                        "OTEL_TRACES_SAMPLER",
                        other,
                        "expected always_on, always_off, traceidratio, parentbased_always_on, \
                         parentbased_always_off or parentbased_traceidratio",
                    ));
                }
            },
        };

        let propagators = match (&o.propagators, env.get("OTEL_PROPAGATORS")) {
            (Some(p), _) => p.clone(),
            (None, None) => vec![PropagatorKind::TraceContext, PropagatorKind::Baggage],
            (None, Some(raw)) => {
                let mut out = Vec::new();
                for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let kind = match name {
                        "tracecontext" => PropagatorKind::TraceContext,
                        "baggage" => PropagatorKind::Baggage,
                        "none" => {
                            out.clear();
                            break;
                        }
                        other => {
                            return Err(InitError::invalid(
                                "OTEL_PROPAGATORS",
                                other,
                                "supported: tracecontext, baggage, none",
                            ));
                        }
                    };
                    if !out.contains(&kind) {
                        out.push(kind);
                    }
                }
                out
            }
        };

        let metric_export_interval = match o.metric_export_interval {
            Some(d) => d,
            None => parse_millis(env, "OTEL_METRIC_EXPORT_INTERVAL", 60_000)?,
        };
        let metric_export_timeout = parse_millis(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30_000)?;
        let schedule_delay = match o.batch_schedule_delay {
            Some(d) => d,
            None => parse_millis(env, "OTEL_BSP_SCHEDULE_DELAY", 5_000)?,
        };
        let max_queue_size = parse_usize(env, "OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_BSP_MAX_QUEUE_SIZE)?;
        // As the spec's SDKs do: a batch size left at its default shrinks to a smaller queue;
        // only a batch size the user set can conflict with the queue size.
        let max_export_batch_size = match env.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
            None => DEFAULT_BSP_MAX_EXPORT_BATCH_SIZE.min(max_queue_size),
            Some(raw) => {
                let batch = parse_usize(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", DEFAULT_BSP_MAX_EXPORT_BATCH_SIZE)?;
                if batch > max_queue_size {
                    let queue_origin = if env.get("OTEL_BSP_MAX_QUEUE_SIZE").is_some() { "" } else { ", the default" };
                    return Err(InitError::invalid(
                        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                        &raw,
                        &format!("must not exceed OTEL_BSP_MAX_QUEUE_SIZE ({max_queue_size}{queue_origin})"),
                    ));
                }
                batch
            }
        };
        let export_timeout = parse_millis(env, "OTEL_BSP_EXPORT_TIMEOUT", 30_000)?;

        let log_format = match (o.log_format, env.get("LOG_FORMAT")) {
            (Some(f), _) => f,
            (None, None) => LogFormat::Text,
            (None, Some(v)) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            (None, Some(v)) if v.eq_ignore_ascii_case("text") => LogFormat::Text,
            (None, Some(v)) => return Err(InitError::invalid("LOG_FORMAT", &v, "expected `text` or `json`")),
        };
        let log_filter = o.log_filter.clone().or_else(|| env.get("RUST_LOG")).unwrap_or_else(|| "info".to_string());
        // Validate the filter now so a typo is an error naming RUST_LOG, not a silent default.
        if tracing_subscriber::EnvFilter::builder().parse(&log_filter).is_err() {
            return Err(InitError::invalid("RUST_LOG", &log_filter, "not a valid tracing filter"));
        }

        Ok(TelemetryConfig {
            sdk_disabled,
            service_name,
            service_version,
            resource_attributes,
            traces_otlp: traces_exporters.contains(&ExporterKind::Otlp).then_some(traces_target),
            metrics_otlp: metrics_exporters.contains(&ExporterKind::Otlp).then_some(metrics_target),
            traces_exporters,
            metrics_exporters,
            temporality,
            sampler,
            propagators,
            metric_export_interval,
            metric_export_timeout,
            batch: BatchSettings { schedule_delay, max_queue_size, max_export_batch_size, export_timeout },
            log_format,
            log_filter,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> Result<TelemetryConfig, InitError> {
        TelemetryConfig::from_env(&EnvSource::from_pairs(pairs.iter().copied()))
    }

    fn var_of(e: InitError) -> String {
        match e {
            InitError::InvalidSetting { variable, .. } => variable,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults_have_prometheus_only_and_w3c_propagation() {
        let c = resolve(&[]).unwrap();
        assert_eq!(c.service_name, "swaggy-stacks");
        assert_eq!(c.metrics_exporters, vec![ExporterKind::Prometheus]);
        assert!(c.traces_exporters.is_empty());
        assert!(c.traces_otlp.is_none());
        assert_eq!(c.propagators, vec![PropagatorKind::TraceContext, PropagatorKind::Baggage]);
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
    }

    #[test]
    fn generic_endpoint_gets_signal_paths_for_http() {
        let c = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
        assert_eq!(c.traces_otlp.unwrap().endpoint, "http://collector:4318/v1/traces");
        assert_eq!(c.metrics_otlp.unwrap().endpoint, "http://collector:4318/v1/metrics");
        assert!(c.metrics_exporters.contains(&ExporterKind::Prometheus));
    }

    #[test]
    fn signal_endpoint_is_verbatim_and_grpc_gets_no_path() {
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9999/custom"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ])
        .unwrap();
        assert_eq!(c.traces_otlp.unwrap().endpoint, "http://t:9999/custom");
        let m = c.metrics_otlp.unwrap();
        assert_eq!(m.endpoint, "http://m:4317");
        assert_eq!(m.protocol, OtlpProtocol::Grpc);
    }

    #[test]
    fn service_name_env_wins_over_resource_attributes() {
        let c = resolve(&[
            ("OTEL_SERVICE_NAME", "from-env"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,deployment.environment=prod"),
        ])
        .unwrap();
        assert_eq!(c.service_name, "from-env");
        assert_eq!(c.resource_attributes, vec![("deployment.environment".into(), "prod".into())]);
        let c = resolve(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs")]).unwrap();
        assert_eq!(c.service_name, "from-attrs");
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x:1"),
            ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
            ("OTEL_RESOURCE_ATTRIBUTES", "a=%zz"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "=x"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "-5"),
            ("OTEL_SDK_DISABLED", "maybe"),
            ("OTEL_PROPAGATORS", "b3"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_METRICS_EXPORTER", "statsd"),
            ("LOG_FORMAT", "xml"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:hunter2@127.0.0.1:1/?token=hunter2"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://u:hunter2@x"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "u:hunter2@collector:4317"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:hunter2@x:99999/v1"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://collector:4318/v1/traces?api_key=hunter2"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:99999"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:0"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1]:70000"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/nonexistent/ca.pem"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"),
        ];
        for (var, value) in cases {
            let err = resolve(&[(var, value)]).expect_err(var);
            let message = err.to_string();
            assert!(!message.contains("hunter2"), "{var}: the message echoes a credential: {message}");
            assert_eq!(var_of(err), *var, "{var}={value}");
        }
        let err = resolve(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "1.5")]).unwrap_err();
        assert_eq!(var_of(err), "OTEL_TRACES_SAMPLER_ARG");
    }

    #[test]
    fn endpoint_errors_say_what_is_wrong_without_credentials() {
        let msg = |v: &str| resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", v)]).unwrap_err().to_string();
        assert_eq!(
            msg("http://u:hunter2@127.0.0.1:1/?token=hunter2"),
            r#"invalid OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1/": query strings are not allowed"#
        );
        assert_eq!(
            msg("ftp://u:hunter2@x"),
            r#"invalid OTEL_EXPORTER_OTLP_ENDPOINT="ftp://x": the scheme must be http or https"#
        );
        assert_eq!(
            msg("http://x:99999"),
            r#"invalid OTEL_EXPORTER_OTLP_ENDPOINT="http://x:99999": the port must be a number from 1 to 65535"#
        );
        // Valid ports, IPv6 and user info (kept for the exporter, shown redacted) still pass.
        for ok in ["http://x:65535", "https://[::1]:4317", "http://[::1]", "https://u:p@collector:4318/base"] {
            resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", ok)]).expect(ok);
        }
        let c = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://u:hunter2@collector:4318")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"), "Debug of the config echoes a credential");
        let c =
            resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318"), ("OTEL_EXPORTER_OTLP_HEADERS", "k=hunter2")])
                .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"), "Debug of the config echoes a header value");
    }

    #[test]
    fn default_batch_size_follows_a_smaller_queue_an_explicit_one_must_fit() {
        let c = resolve(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100")]).unwrap();
        assert_eq!((c.batch.max_queue_size, c.batch.max_export_batch_size), (100, 100));
        let c = resolve(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50")]).unwrap();
        assert_eq!((c.batch.max_queue_size, c.batch.max_export_batch_size), (100, 50));
        let c = resolve(&[]).unwrap();
        assert_eq!((c.batch.max_queue_size, c.batch.max_export_batch_size), (2048, 512));
        let e = resolve(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid OTEL_BSP_MAX_EXPORT_BATCH_SIZE="200": must not exceed OTEL_BSP_MAX_QUEUE_SIZE (100)"#
        );
        let e = resolve(&[("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid OTEL_BSP_MAX_EXPORT_BATCH_SIZE="4096": must not exceed OTEL_BSP_MAX_QUEUE_SIZE (2048, the default)"#
        );
    }

    /// A self-signed certificate (only its PEM framing is read here).
    const TEST_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBejCCAR+gAwIBAgIUdvViJdLBlaaE/PHItDgv5YYM1HowCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHdGVzdCBjYTAeFw0yNjEyMDQwODUxMjBaFw0zNjEyMDEwODUx
MjBaMBIxEDAOBgNVBAMMB3Rlc3QgY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AAQ5qGLUjCfsQOnsRN1BbHhqi9H6L9BPAXfxOWqdckXVekbdJQd55d5alJqeK59W
ygWBigr481iApKnOS90jKsSuo1MwUTAdBgNVHQ4EFgQUS0RPjuVnsjuedkHUMWsf
JngbFIwwHwYDVR0jBBgwFoAUS0RPjuVnsjuedkHUMWsfJngbFIwwDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAmnBc0l29cVN6DcR+xa2vOH2I8zuP
36reXJ89bsldThsCIQCstGC2FuhHEIHrfX8J7mQXWT8kkFwJsFXxXK6pZI9Bfg==
-----END CERTIFICATE-----
";

    #[test]
    fn https_targets_carry_the_ca_file_for_both_transports() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, TEST_CA_PEM).unwrap();
        let ca_str = ca.to_str().unwrap();
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.internal:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_str),
        ])
        .unwrap();
        let t = c.traces_otlp.unwrap();
        assert_eq!((t.endpoint.as_str(), t.protocol), ("https://collector.internal:4317", OtlpProtocol::Grpc));
        assert!(t.is_tls());
        assert_eq!(t.ca_certificate.as_deref(), Some(ca.as_path()));
        assert_eq!(c.metrics_otlp.unwrap().ca_certificate.as_deref(), Some(ca.as_path()));
        // The signal variable wins over the generic one.
        let other = dir.path().join("other.pem");
        std::fs::write(&other, TEST_CA_PEM).unwrap();
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.internal:4318"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_str),
            ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", other.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(c.traces_otlp.unwrap().ca_certificate.as_deref(), Some(ca.as_path()));
        assert_eq!(c.metrics_otlp.unwrap().ca_certificate.as_deref(), Some(other.as_path()));
        // A file without a certificate is refused up front, naming the variable.
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", empty.to_str().unwrap()),
        ])
        .unwrap_err();
        assert_eq!(e.variable(), Some("OTEL_EXPORTER_OTLP_CERTIFICATE"), "{e}");
        // PEM armour around bytes that are no certificate: refused up front too.
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZWdhcmJhZ2U=\n-----END CERTIFICATE-----\n")
            .unwrap();
        let e = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", garbage.to_str().unwrap()),
        ])
        .unwrap_err();
        assert_eq!(e.variable(), Some("OTEL_EXPORTER_OTLP_CERTIFICATE"), "{e}");
        let plain = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).unwrap();
        assert!(!plain.traces_otlp.unwrap().is_tls());
    }

    #[test]
    fn explicit_exporter_lists_are_followed() {
        let c = resolve(&[("OTEL_METRICS_EXPORTER", "otlp"), ("OTEL_TRACES_EXPORTER", "none")]).unwrap();
        assert_eq!(c.metrics_exporters, vec![ExporterKind::Otlp]);
        assert_eq!(c.metrics_otlp.unwrap().endpoint, "http://localhost:4318/v1/metrics");
        assert!(c.traces_exporters.is_empty());
    }
}
