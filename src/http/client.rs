//! An instrumented HTTP client: CLIENT spans, `traceparent` on every request, and
//! `http.client.request.duration`.

use super::classify::client_error_type;
use super::propagation::HeaderInjector;
use crate::catalog::instruments::{HTTP_CLIENT_REQUEST_DURATION, HttpClientLabels};
use crate::catalog::values::{ErrorType, HttpMethod, HttpStatusCode, ServerAddress, ServerPort};
use crate::catalog::{BoundedStr, Histogram, key};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_sdk::trace::SdkTracer;
use std::time::Instant;

/// A `reqwest::Client` whose requests are traced and measured. `https://` works through rustls
/// (the client's trust store: the system's by default, `SSL_CERT_FILE`/`SSL_CERT_DIR` when set,
/// plus what the client was built with, e.g. `tls_certs_merge`); a failed handshake is recorded
/// with `error.type=tls`.
#[derive(Clone, Debug)]
pub struct InstrumentedClient {
    client: reqwest::Client,
    duration: Histogram<HttpClientLabels>,
    tracer: SdkTracer,
}

/// The TLS failure behind `e`, if a TLS handshake failed (for instance
/// `invalid peer certificate: UnknownIssuer`). rustls errors name no URL and carry no data.
pub(crate) fn tls_failure<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // `io::Error::source` skips the error it wraps (the handshake's error is wrapped, often
        // twice): descend into it instead.
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// `error.type` for a transport failure.
fn transport_error_type(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if tls_failure(e).is_some() {
        "tls"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
}

impl InstrumentedClient {
    /// Wraps `client`, recording on the installed tracer and meter.
    pub fn new(client: reqwest::Client) -> Self {
        let h = crate::telemetry::handles();
        InstrumentedClient { client, duration: HTTP_CLIENT_REQUEST_DURATION.build(&h.meter), tracer: h.tracer.clone() }
    }

    /// The wrapped client (for building requests).
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` as a child of the current context.
    pub async fn execute(&self, mut request: reqwest::Request) -> reqwest::Result<reqwest::Response> {
        let method = HttpMethod::from_http(request.method());
        let host = request.url().host_str().unwrap_or("").to_string();
        let port = request.url().port_or_known_default().unwrap_or(0);
        let parent = Context::current();
        let span = self
            .tracer
            .span_builder(method.as_str())
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new(key::HTTP_REQUEST_METHOD, method.as_str()),
                KeyValue::new(key::SERVER_ADDRESS, host.clone()),
                KeyValue::new(key::SERVER_PORT, i64::from(port)),
            ])
            .start_with_context(&self.tracer, &parent);
        let cx = parent.with_span(span);
        global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(request.headers_mut())));
        let start = Instant::now();
        let result = self.client.execute(request).await;
        let elapsed = start.elapsed().as_secs_f64();
        let (status, error_type) = match &result {
            Ok(resp) => {
                let s = resp.status().as_u16();
                (Some(s), client_error_type(s))
            }
            Err(e) => (e.status().map(|s| s.as_u16()), Some(transport_error_type(e))),
        };
        let span = cx.span();
        if let Some(s) = status {
            span.set_attribute(KeyValue::new(key::HTTP_RESPONSE_STATUS_CODE, i64::from(s)));
        }
        if let Some(e) = error_type {
            span.set_attribute(KeyValue::new(key::ERROR_TYPE, e));
            span.set_status(Status::error(""));
        }
        span.end();
        self.duration.record(
            elapsed,
            (
                method,
                ServerAddress(BoundedStr::from(host)),
                ServerPort(port),
                status.map(HttpStatusCode),
                error_type.map(|e| ErrorType(BoundedStr::Static(e))),
            ),
        );
        result
    }
}
