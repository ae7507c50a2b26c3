//! Request start: active count, context extraction, the SERVER span.

use super::future::{RequestState, ResponseFuture};
use super::layer::Shared;
use super::propagation::HeaderExtractor;
use crate::catalog::key;
use crate::catalog::values::HttpMethod;
use axum::extract::MatchedPath;
use http::{Request, Response, Version};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{KeyValue, global};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;
use tower_service::Service;

/// The service produced by [`super::HttpTelemetryLayer`].
#[derive(Clone)]
pub struct HttpTelemetryService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for HttpTelemetryService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpTelemetryService")
    }
}

impl<S> HttpTelemetryService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        HttpTelemetryService { inner, shared }
    }
}

fn protocol_version(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "_OTHER",
    }
}

impl<S, B, ResB> Service<Request<B>> for HttpTelemetryService<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let start = Instant::now();
        let shared = &self.shared;
        let method = HttpMethod::from_http(req.method());
        let route = req.extensions().get::<MatchedPath>().cloned();
        shared.active.add(1, (method, shared.scheme));

        let otel_cx = match &shared.tracer {
            Some(tracer) if shared.traced(req.uri().path(), route.as_ref().map(MatchedPath::as_str)) => {
                let headers = req.headers();
                // Only W3C fields are propagated: skip the propagator when none is present.
                let parent = if headers.contains_key("traceparent") || headers.contains_key("baggage") {
                    global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
                } else {
                    opentelemetry::Context::new()
                };
                // Room for the two attributes added at the response, so nothing reallocates.
                let mut attributes = Vec::with_capacity(8);
                attributes.push(KeyValue::new(key::HTTP_REQUEST_METHOD, method.as_str()));
                attributes.push(KeyValue::new(key::URL_PATH, req.uri().path().to_string()));
                attributes.push(KeyValue::new(key::URL_SCHEME, shared.scheme.as_str()));
                attributes.push(KeyValue::new(key::NETWORK_PROTOCOL_VERSION, protocol_version(req.version())));
                let name = match &route {
                    Some(r) => {
                        let (name, route) = shared.names.get(r.as_str(), method);
                        attributes.push(KeyValue::new(key::HTTP_ROUTE, route));
                        name
                    }
                    None => std::borrow::Cow::Borrowed(method.as_str()),
                };
                let span = tracer
                    .span_builder(name)
                    .with_kind(SpanKind::Server)
                    .with_attributes(attributes)
                    .start_with_context(tracer, &parent);
                Some(parent.with_span(span))
            }
            _ => None,
        };

        let inner = match &otel_cx {
            Some(cx) => {
                let _attached = cx.clone().attach();
                self.inner.call(req)
            }
            None => self.inner.call(req),
        };
        ResponseFuture::new(inner, RequestState { start, method, route, otel_cx }, self.shared.clone())
    }
}
