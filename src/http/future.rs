//! Response: classify, record, end the span, add `traceparent`.

use super::classify::server_error_type;
use super::layer::Shared;
use super::propagation::traceparent_of;
use crate::catalog::key;
use crate::catalog::values::HttpMethod;
use axum::extract::MatchedPath;
use http::Response;
use http::header::HeaderName;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// What the request phase hands to the response phase.
pub(crate) struct RequestState {
    pub(crate) start: Instant,
    pub(crate) method: HttpMethod,
    pub(crate) route: Option<MatchedPath>,
    pub(crate) otel_cx: Option<Context>,
}

pin_project! {
    /// Future of [`super::HttpTelemetryService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        state: Option<RequestState>,
        shared: Arc<Shared>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(state) = this.state.take() {
                // Dropped before a response (client went away): keep the gauge honest.
                this.shared.active.add(-1, (state.method, this.shared.scheme));
                if let Some(cx) = &state.otel_cx {
                    cx.span().set_attribute(KeyValue::new(key::ERROR_TYPE, "cancelled"));
                    cx.span().end();
                }
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, state: RequestState, shared: Arc<Shared>) -> Self {
        ResponseFuture { inner, state: Some(state), shared }
    }
}

fn finish<B>(shared: &Shared, state: RequestState, status: u16, response: Option<&mut Response<B>>) {
    let elapsed = state.start.elapsed().as_secs_f64();
    shared.routes.record(state.route.as_ref().map(MatchedPath::as_str), state.method, status, elapsed);
    shared.active.add(-1, (state.method, shared.scheme));
    if let Some(cx) = state.otel_cx {
        let span = cx.span();
        span.set_attribute(KeyValue::new(key::HTTP_RESPONSE_STATUS_CODE, i64::from(status)));
        if let Some(error_type) = server_error_type(status) {
            span.set_attribute(KeyValue::new(key::ERROR_TYPE, error_type));
            span.set_status(Status::error(""));
        }
        if let (Some(resp), Some(value)) = (response, traceparent_of(span.span_context())) {
            resp.headers_mut().insert(TRACEPARENT.clone(), value);
        }
        span.end();
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = {
            let _attached = this.state.as_ref().and_then(|s| s.otel_cx.as_ref()).map(|c| c.clone().attach());
            this.inner.poll(cx)
        };
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(mut response)) => {
                if let Some(state) = this.state.take() {
                    finish(this.shared, state, response.status().as_u16(), Some(&mut response));
                }
                Poll::Ready(Ok(response))
            }
            Poll::Ready(Err(e)) => {
                if let Some(state) = this.state.take() {
                    finish::<B>(this.shared, state, 500, None);
                }
                Poll::Ready(Err(e))
            }
        }
    }
}
