//! Configuration of the HTTP server layer.

use super::route_cache::{RouteCache, SpanNames};
use super::service::HttpTelemetryService;
use crate::catalog::UpDownCounter;
use crate::catalog::instruments::{HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION};
use crate::catalog::values::{HttpMethod, UrlScheme};
use opentelemetry::metrics::Meter;
use opentelemetry_sdk::trace::SdkTracer;
use std::sync::Arc;
use tower_layer::Layer;

/// Paths that get metrics but no span by default (scrapes and probes would drown real traces).
pub const DEFAULT_UNTRACED: &[&str] = &["/metrics", "/health", "/health/*"];

#[derive(Debug, Clone)]
enum PathMatch {
    Exact(String),
    Prefix(String),
}

impl PathMatch {
    fn parse(p: &str) -> Self {
        match p.strip_suffix('*') {
            Some(prefix) => PathMatch::Prefix(prefix.to_string()),
            None => PathMatch::Exact(p.to_string()),
        }
    }
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(p) => p == path,
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

pub(crate) struct Shared {
    pub(crate) tracer: Option<SdkTracer>,
    pub(crate) routes: RouteCache,
    pub(crate) names: SpanNames,
    pub(crate) active: UpDownCounter<(HttpMethod, UrlScheme)>,
    pub(crate) scheme: UrlScheme,
    untraced: Vec<PathMatch>,
}

impl Shared {
    /// Whether a request to `path` (matched `route`) gets a span.
    #[inline]
    pub(crate) fn traced(&self, path: &str, route: Option<&str>) -> bool {
        self.tracer.is_some() && !self.untraced.iter().any(|m| m.matches(route.unwrap_or(path)) || m.matches(path))
    }
}

/// The tower layer: metrics and spans for every request of the router it wraps.
/// Apply it with `Router::layer` so the matched route is known.
#[derive(Clone)]
pub struct HttpTelemetryLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpTelemetryLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTelemetryLayer")
            .field("tracing", &self.shared.tracer.is_some())
            .field("untraced", &self.shared.untraced)
            .finish()
    }
}

impl Default for HttpTelemetryLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpTelemetryLayer {
    /// Metrics and spans with the installed tracer and meter (install telemetry first).
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to change the defaults.
    pub fn builder() -> HttpTelemetryLayerBuilder {
        HttpTelemetryLayerBuilder::default()
    }
}

/// Builder of [`HttpTelemetryLayer`].
#[derive(Debug)]
#[must_use]
pub struct HttpTelemetryLayerBuilder {
    meter: Option<Meter>,
    tracer: Option<SdkTracer>,
    tracing: bool,
    scheme: UrlScheme,
    untraced: Vec<String>,
}

impl Default for HttpTelemetryLayerBuilder {
    fn default() -> Self {
        HttpTelemetryLayerBuilder {
            meter: None,
            tracer: None,
            tracing: true,
            scheme: UrlScheme::Http,
            untraced: DEFAULT_UNTRACED.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl HttpTelemetryLayerBuilder {
    /// Record on this meter instead of the installed one.
    pub fn with_meter(mut self, meter: Meter) -> Self {
        self.meter = Some(meter);
        self
    }
    /// Trace with this tracer instead of the installed one.
    pub fn with_tracer(mut self, tracer: SdkTracer) -> Self {
        self.tracer = Some(tracer);
        self
    }
    /// Metrics only: no spans, no propagation, no `traceparent` on responses.
    pub fn metrics_only(mut self) -> Self {
        self.tracing = false;
        self
    }
    /// `url.scheme` of this server (default `http`; set `https` behind TLS termination).
    pub fn with_scheme(mut self, scheme: UrlScheme) -> Self {
        self.scheme = scheme;
        self
    }
    /// Paths (or route templates) without spans; a trailing `*` makes a prefix.
    /// Replaces the default (`/metrics`, `/health`, `/health/*`).
    pub fn with_untraced_paths<I: IntoIterator<Item = S>, S: Into<String>>(mut self, paths: I) -> Self {
        self.untraced = paths.into_iter().map(Into::into).collect();
        self
    }
    /// Trace every path, including `/metrics` and health probes.
    pub fn trace_all_paths(mut self) -> Self {
        self.untraced.clear();
        self
    }
    /// Builds the layer.
    pub fn build(self) -> HttpTelemetryLayer {
        let handles = crate::telemetry::handles();
        let meter = self.meter.unwrap_or_else(|| handles.meter.clone());
        let tracer = self.tracing.then(|| self.tracer.unwrap_or_else(|| handles.tracer.clone()));
        let histogram = HTTP_SERVER_REQUEST_DURATION.build(&meter).raw().clone();
        HttpTelemetryLayer {
            shared: Arc::new(Shared {
                tracer,
                routes: RouteCache::new(histogram, self.scheme),
                names: SpanNames::new(),
                active: HTTP_SERVER_ACTIVE_REQUESTS.build(&meter),
                scheme: self.scheme,
                untraced: self.untraced.iter().map(|p| PathMatch::parse(p)).collect(),
            }),
        }
    }
}

impl<S> Layer<S> for HttpTelemetryLayer {
    type Service = HttpTelemetryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpTelemetryService::new(inner, self.shared.clone())
    }
}
