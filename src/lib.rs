//! # swaggy-telemetry
//!
//! OpenTelemetry-native instrumentation for the Swaggy Stacks trading platform: one builder that
//! installs traces, metrics (OTLP push and Prometheus pull) and W3C propagation; an instrument
//! [`catalog`] where every metric name lives once; instrumentation for HTTP (axum/tower), sqlx,
//! Redis and MCP; a health engine whose results become gauges; a WebSocket stream.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use swaggy_telemetry::Telemetry;
//! let guard = Telemetry::builder().with_service_name("orders").install()?;
//! // build layers, pools and clients after installing, then serve…
//! guard.shutdown()?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

// Lets the macros' absolute paths (`::swaggy_telemetry::…`) resolve inside this crate too.
#[allow(unused_extern_crates)]
extern crate self as swaggy_telemetry;

#[cfg(feature = "redis")]
pub mod cache;
pub mod catalog;
pub mod context;
#[cfg(feature = "axum")]
pub mod dashboard;
pub mod db;
pub mod genai;
#[cfg(feature = "axum")]
pub mod health;
#[cfg(feature = "axum")]
pub mod http;
pub mod instrument;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod process;
pub mod redact;
#[cfg(feature = "axum")]
pub mod stream;
pub mod telemetry;

pub use telemetry::{InitError, ShutdownError, Telemetry, TelemetryBuilder, TelemetryGuard};

#[doc(hidden)]
pub use instrument::__private;
pub use instrument::{ErrorKind, TradeOutcome, TradeResult, declare_trade_instruments};
pub use swaggy_telemetry_macros::{ErrorKind, instrument_mcp, instrument_query, instrument_trade, instrumented};
