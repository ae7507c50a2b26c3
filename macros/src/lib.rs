//! Instrumentation attribute macros for `swaggy-telemetry`. Use them through the main crate.
