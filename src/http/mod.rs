//! HTTP server instrumentation for any axum `Router` (a tower [`Layer`](tower_layer::Layer)),
//! the `/metrics` endpoint, and an instrumented HTTP client.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use swaggy_telemetry::http::HttpTelemetryLayer;
//! # fn app() -> Router {
//! Router::new()
//!     .route("/api/orders/{id}", get(|| async { "ok" }))
//!     .layer(HttpTelemetryLayer::new())
//! # }
//! ```
//!
//! # When each hook fires
//! * **Request start** ([`service`]): the layer runs *after* routing (use `Router::layer`, not
//!   around the router), so the matched route template is known. It increments
//!   `http.server.active_requests`, extracts the parent context from the request headers with the
//!   installed propagators (a malformed `traceparent` starts a new trace; the request is served
//!   either way) and starts the SERVER span `{method} {route}` unless the path is untraced
//!   (default: `/metrics`, `/health` and `/health/*`).
//! * **While the handler runs** ([`future`]): the span's context is current on every poll, so
//!   database, cache and MCP spans created by the handler become its children.
//! * **Response head ready** ([`future`]): the status is classified ([`classify`]: only 5xx is an
//!   error), `http.server.request.duration` is recorded, the span ends, the response gets a
//!   `traceparent` header, and the active count is decremented. Duration covers the handler up to
//!   the response head, not the streaming of the body.
//! * **Dropped before completion** (client went away): the active count is decremented and the
//!   span ends; no duration is recorded.
//!
//! # Attributes and cardinality
//! Metrics carry `http.request.method` (unknown methods → `_OTHER`), `url.scheme`,
//! `http.response.status_code`, `http.route` (the template, never the raw path) and, for 5xx,
//! `error.type`. Requests that match no route carry **no** `http.route` — one fixed, empty value —
//! so random paths add no series. Per (route, method, status) the histogram handle is bound once
//! and cached: a request's metric costs an integer hash and an atomic update, not a hash of five
//! attribute strings.

pub mod classify;
pub mod client;
pub mod future;
pub mod layer;
mod metrics_endpoint;
pub(crate) mod propagation;
mod route_cache;
pub mod service;

pub use client::InstrumentedClient;
pub use layer::HttpTelemetryLayer;
pub use metrics_endpoint::{PROMETHEUS_CONTENT_TYPE, metrics_handler, render_prometheus};
pub use propagation::{HeaderExtractor, HeaderInjector, traceparent_of};
pub use service::HttpTelemetryService;
