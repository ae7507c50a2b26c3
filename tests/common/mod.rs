//! Shared test harness: real services (skip with a reason, or fail under REQUIRE_SERVICES=1),
//! the reference service as a child process, an in-test OTLP receiver, and a Prometheus text
//! parser.
#![allow(dead_code, unused_imports)]

pub mod health;
pub mod otlp;
pub mod pipeline;
pub mod prom;
pub mod proxy;
pub mod service;
pub mod services;
pub mod telemetry;
pub mod tls;

pub use prom::{Sample, Scrape};
pub use service::Service;
pub use services::{PgDb, PrivateRedis, require, require_tool};
