//! Instrumentation attribute macros for `swaggy-telemetry`. Use them through the main crate
//! (`swaggy_telemetry::instrumented` and friends): the generated code calls
//! `::swaggy_telemetry::__private`.
//!
//! * [`macro@instrumented`] — any function: an INTERNAL span, `swaggy.operation.calls` and
//!   `swaggy.operation.duration`, `error.type` from a returned `Err`.
//! * [`macro@instrument_trade`] — order submission: the order counters, latency, fills and
//!   notional from the `Ok` value's `TradeOutcome`.
//! * [`macro@instrument_query`] — a database call made without the instrumented pool: a CLIENT
//!   span and `db.client.operation.duration`.
//! * [`macro@instrument_mcp`] — an MCP call or handler made without the instrumented client or
//!   server: a CLIENT/SERVER span and `mcp.{client,server}.operation.duration`.
//! * [`macro@ErrorKind`] (derive) — `error.type` is the variant name.
//!
//! All work on `async` and plain functions, methods, generic functions and `async-trait`
//! methods (the whole future is timed, not the boxing).

mod attr;
mod derive;
mod expand;

use proc_macro::TokenStream;

/// Instruments any function: span named after the function (or `name = "..."`), call counter
/// and duration histogram, errors classified through `ErrorKind`.
#[proc_macro_attribute]
pub fn instrumented(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(attr::Kind::Operation, args.into(), item.into()).into()
}

/// Instruments an order submission: `#[instrument_trade(side = order.side, order_type = order.kind)]`.
/// The function returns `Result<T, E>` where `T: swaggy_telemetry::TradeOutcome`.
#[proc_macro_attribute]
pub fn instrument_trade(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(attr::Kind::Trade, args.into(), item.into()).into()
}

/// Instruments a database call: `#[instrument_query(system = "postgresql", operation = "SELECT", collection = "orders")]`.
#[proc_macro_attribute]
pub fn instrument_query(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(attr::Kind::Query, args.into(), item.into()).into()
}

/// Instruments an MCP call: `#[instrument_mcp(method = "tools/call", tool = "get_quote", server = "market")]`
/// (`kind = "server"` for a handler).
#[proc_macro_attribute]
pub fn instrument_mcp(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(attr::Kind::Mcp, args.into(), item.into()).into()
}

/// Derives `swaggy_telemetry::ErrorKind`: the variant name for enums, the type name for structs.
#[proc_macro_derive(ErrorKind)]
pub fn derive_error_kind(item: TokenStream) -> TokenStream {
    derive::error_kind(item.into()).into()
}
