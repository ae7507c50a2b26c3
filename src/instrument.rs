//! What the instrumentation macros expand to, and the traits they rely on.
//!
//! The macros (`#[instrumented]`, `#[instrument_trade]`, `#[instrument_query]`,
//! `#[instrument_mcp]`) generate a `static` [`__private::Site`] per annotated function and wrap the
//! body between [`__private::Guard::start`] and a `finish_*` call. Everything heavy lives here, so
//! generated code stays a few lines.
//!
//! Cost model: a site binds its metric handles once per telemetry installation (the success path
//! records with no attribute hashing); spans are created through the installed tracer — and not
//! at all when the caller's span is unsampled under a parent-based sampler (children of an
//! unsampled span are unsampled anyway), so an instrumented call inside an unsampled request costs
//! two clock reads and two atomic adds.

use crate::catalog::values::{CancelReason, RejectReason};

/// Classifies an error into a bounded `error.type` value. `#[derive(ErrorKind)]` implements it
/// for enums (the variant name) and structs (the type name). Errors without it are classified by
/// their type name.
pub trait ErrorKind {
    /// The `error.type` value: a short, bounded name such as the variant.
    fn error_type(&self) -> &'static str;
}

/// How a trade ended, for `#[instrument_trade]`: the `Ok` value of the function implements
/// [`TradeOutcome`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TradeResult {
    /// Filled `quantity` at `price`.
    Filled {
        /// Execution price.
        price: f64,
        /// Executed quantity.
        quantity: f64,
    },
    /// Refused by risk or the venue.
    Rejected(RejectReason),
    /// Cancelled before a fill.
    Cancelled(CancelReason),
}

/// Implemented by the `Ok` value of a `#[instrument_trade]` function.
pub trait TradeOutcome {
    /// How the trade ended.
    fn trade_result(&self) -> TradeResult;
}

/// Builds the instruments `#[instrument_trade]` records, now: their zero-initialised series
/// (orders submitted, filled, rejected and cancelled by every side, type and reason; fills and
/// notional) are exported at 0 before the first order, so an `increase()`-based alert sees the
/// first rejection. Otherwise they appear with the first instrumented trade. Call once after
/// installing telemetry.
pub fn declare_trade_instruments() {
    let _ = __private::trade_handles();
}

/// Support for generated code. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use super::{ErrorKind, TradeOutcome, TradeResult};
    use crate::catalog::instruments::{
        DB_CLIENT_OPERATION_DURATION, DbLabels, FILL_SIZE, FILLS, MCP_CLIENT_OPERATION_DURATION,
        MCP_SERVER_OPERATION_DURATION, McpOperationLabels, NOTIONAL, OPERATION_CALLS, OPERATION_DURATION,
        ORDER_LATENCY, ORDERS_ACTIVE, ORDERS_CANCELLED, ORDERS_FILLED, ORDERS_REJECTED, ORDERS_SUBMITTED,
    };
    use crate::catalog::values::*;
    use crate::catalog::{BoundedStr, Counter, FloatCounter, Histogram, Labels, UpDownCounter, key};
    use arc_swap::ArcSwapOption;
    use opentelemetry::metrics::{BoundCounter, BoundHistogram};
    use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
    use opentelemetry::{Context, KeyValue};
    use std::borrow::Cow;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::Poll;
    use std::time::Instant;

    /// What an annotated function is.
    #[derive(Debug)]
    pub enum SiteKind {
        /// `#[instrumented]`.
        Operation,
        /// `#[instrument_trade]`.
        Trade,
        /// `#[instrument_query]`.
        Query {
            /// `db.system.name`.
            system: DbSystem,
            /// `db.operation.name`.
            operation: &'static str,
            /// `db.collection.name`.
            collection: Option<&'static str>,
            /// `db.query.summary`.
            summary: &'static str,
        },
        /// `#[instrument_mcp]`.
        Mcp {
            /// Client side (else server side).
            client: bool,
            /// `mcp.method.name`.
            method: &'static str,
            /// `gen_ai.tool.name`.
            tool: Option<&'static str>,
            /// `swaggy.mcp.server`.
            server: &'static str,
        },
    }

    /// One annotated function: static description plus its handles, bound lazily per
    /// telemetry installation.
    #[derive(Debug)]
    pub struct Site {
        /// Span and operation name.
        pub name: &'static str,
        /// Module path and function (`code.function.name`).
        pub function: &'static str,
        /// Kind.
        pub kind: SiteKind,
        handles: ArcSwapOption<SiteHandles>,
    }

    /// Per-site handles: the success path is pre-bound (no attribute hashing), errors carry
    /// their `error.type` through the attribute path.
    #[derive(Debug)]
    struct SiteHandles {
        generation: u64,
        calls_ok: BoundCounter<u64>,
        calls_error: BoundCounter<u64>,
        duration_ok: BoundHistogram<f64>,
        duration: Histogram<(OperationName, Option<ErrorType>)>,
        db_ok: Option<BoundHistogram<f64>>,
        db: Option<Histogram<DbLabels>>,
        mcp_ok: Option<BoundHistogram<f64>>,
        mcp: Option<Histogram<McpOperationLabels>>,
    }

    impl Site {
        /// A site (used in `static` items).
        pub const fn new(name: &'static str, function: &'static str, kind: SiteKind) -> Site {
            Site { name, function, kind, handles: ArcSwapOption::const_empty() }
        }

        fn handles(&self) -> arc_swap::Guard<Option<Arc<SiteHandles>>> {
            let generation = crate::telemetry::generation();
            let current = self.handles.load();
            if current.as_ref().is_some_and(|h| h.generation == generation) {
                return current;
            }
            drop(current);
            self.handles.store(Some(Arc::new(self.bind(generation))));
            self.handles.load()
        }

        fn bind(&self, generation: u64) -> SiteHandles {
            let meter = crate::telemetry::meter();
            let calls = OPERATION_CALLS.build(&meter);
            let duration = OPERATION_DURATION.build(&meter);
            let (db, db_ok) = match &self.kind {
                SiteKind::Query { .. } => {
                    let h = DB_CLIENT_OPERATION_DURATION.build(&meter);
                    let ok = h.raw().bind(&self.db_labels(None).attributes());
                    (Some(h), Some(ok))
                }
                _ => (None, None),
            };
            let (mcp, mcp_ok) = match &self.kind {
                SiteKind::Mcp { client, .. } => {
                    let h = if *client {
                        MCP_CLIENT_OPERATION_DURATION.build(&meter)
                    } else {
                        MCP_SERVER_OPERATION_DURATION.build(&meter)
                    };
                    let ok = h.raw().bind(&self.mcp_labels(None).attributes());
                    (Some(h), Some(ok))
                }
                _ => (None, None),
            };
            SiteHandles {
                generation,
                calls_ok: calls.raw().bind(&(self.op_name(), Outcome::Ok).attributes()),
                calls_error: calls.raw().bind(&(self.op_name(), Outcome::Error).attributes()),
                duration_ok: duration.raw().bind(&(self.op_name(), None::<ErrorType>).attributes()),
                duration,
                db_ok,
                db,
                mcp_ok,
                mcp,
            }
        }

        fn db_labels(&self, error: Option<ErrorType>) -> DbLabels {
            let SiteKind::Query { system, operation, collection, summary } = &self.kind else {
                unreachable!("query sites only")
            };
            (
                *system,
                DbNamespace(BoundedStr::Static("")),
                DbOperation(BoundedStr::Static(operation)),
                collection.map(|c| DbCollection(BoundedStr::Static(c))),
                DbQuerySummary(BoundedStr::Static(summary)),
                None,
                error,
            )
        }

        fn mcp_labels(&self, error: Option<ErrorType>) -> McpOperationLabels {
            let SiteKind::Mcp { method, tool, server, .. } = &self.kind else { unreachable!("MCP sites only") };
            (
                McpMethod(BoundedStr::Static(method)),
                McpServer(BoundedStr::Static(server)),
                tool.map(|t| ToolName(BoundedStr::Static(t))),
                NetworkTransport::Pipe,
                None,
                error,
            )
        }

        fn op_name(&self) -> OperationName {
            OperationName(BoundedStr::Static(self.name))
        }
    }

    /// Trading handles shared by every `#[instrument_trade]` site.
    #[derive(Debug)]
    pub(crate) struct TradeHandles {
        generation: u64,
        submitted: Counter<(OrderSide, OrderType)>,
        filled: Counter<(OrderSide, OrderType)>,
        rejected: Counter<(OrderSide, OrderType, RejectReason)>,
        cancelled: Counter<(OrderSide, OrderType, CancelReason)>,
        active: UpDownCounter<()>,
        latency: Histogram<(OrderSide, OrderType)>,
        fills: Counter<(OrderSide,)>,
        notional: FloatCounter<(OrderSide,)>,
        fill_size: Histogram<(OrderSide,)>,
    }

    static TRADE: ArcSwapOption<TradeHandles> = ArcSwapOption::const_empty();

    pub(crate) fn trade_handles() -> Arc<TradeHandles> {
        let generation = crate::telemetry::generation();
        if let Some(h) = TRADE.load_full()
            && h.generation == generation
        {
            return h;
        }
        let meter = crate::telemetry::meter();
        let h = Arc::new(TradeHandles {
            generation,
            submitted: ORDERS_SUBMITTED.build(&meter),
            filled: ORDERS_FILLED.build(&meter),
            rejected: ORDERS_REJECTED.build(&meter),
            cancelled: ORDERS_CANCELLED.build(&meter),
            active: ORDERS_ACTIVE.build(&meter),
            latency: ORDER_LATENCY.build(&meter),
            fills: FILLS.build(&meter),
            notional: NOTIONAL.build(&meter),
            fill_size: FILL_SIZE.build(&meter),
        });
        TRADE.store(Some(h.clone()));
        h
    }

    /// Probe for error classification (autoref specialization: [`ErrorKind`] when implemented,
    /// else the type name).
    pub struct Probe<'a, E>(pub &'a E);

    /// Classification through [`ErrorKind`].
    pub trait ViaErrorKind {
        /// The `error.type` value.
        fn error_type(&self) -> Cow<'static, str>;
    }
    impl<E: ErrorKind> ViaErrorKind for Probe<'_, E> {
        fn error_type(&self) -> Cow<'static, str> {
            Cow::Borrowed(self.0.error_type())
        }
    }

    /// Fallback classification: the error's type name (without its path and generics).
    pub trait ViaTypeName {
        /// The `error.type` value.
        fn error_type(&self) -> Cow<'static, str>;
    }
    impl<E> ViaTypeName for &Probe<'_, E> {
        fn error_type(&self) -> Cow<'static, str> {
            Cow::Borrowed(short_type_name(std::any::type_name::<E>()))
        }
    }

    /// `a::b::Error<T>` → `Error`.
    pub fn short_type_name(full: &'static str) -> &'static str {
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base)
    }

    /// The span and timing of one call.
    pub struct Guard {
        site: &'static Site,
        cx: Option<Context>,
        start: Instant,
        trade: Option<(OrderSide, OrderType, Arc<TradeHandles>)>,
    }

    impl std::fmt::Debug for Guard {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Guard").field("site", &self.site.name).finish()
        }
    }

    fn span_kind(site: &Site) -> SpanKind {
        match site.kind {
            SiteKind::Query { .. } => SpanKind::Client,
            SiteKind::Mcp { client: true, .. } => SpanKind::Client,
            SiteKind::Mcp { client: false, .. } => SpanKind::Server,
            _ => SpanKind::Internal,
        }
    }

    impl Guard {
        /// Starts a call: the span (child of the current context) and the clock.
        #[inline]
        pub fn start(site: &'static Site) -> Guard {
            Self::start_with(site, None)
        }

        /// Starts a trade: also counts the submission.
        pub fn start_trade(site: &'static Site, side: OrderSide, order_type: OrderType) -> Guard {
            let t = trade_handles();
            t.submitted.add(1, (side, order_type));
            t.active.add(1, ());
            Self::start_with(site, Some((side, order_type, t)))
        }

        fn start_with(site: &'static Site, trade: Option<(OrderSide, OrderType, Arc<TradeHandles>)>) -> Guard {
            let parent = Context::current();
            let cx = crate::telemetry::with_tracer(|tracer, parent_based| {
                let psc = parent.span().span_context().clone();
                if parent_based && psc.is_valid() && !psc.is_sampled() {
                    // The decision is already made: no span, children follow the parent.
                    return None;
                }
                let mut attrs = Vec::with_capacity(6);
                attrs.push(KeyValue::new(key::CODE_FUNCTION_NAME, site.function));
                match &site.kind {
                    SiteKind::Query { system, operation, collection, summary } => {
                        attrs.push(KeyValue::new(key::DB_SYSTEM_NAME, system.as_str()));
                        attrs.push(KeyValue::new(key::DB_OPERATION_NAME, *operation));
                        if let Some(c) = collection {
                            attrs.push(KeyValue::new(key::DB_COLLECTION_NAME, *c));
                        }
                        attrs.push(KeyValue::new(key::DB_QUERY_SUMMARY, *summary));
                    }
                    SiteKind::Mcp { method, tool, server, .. } => {
                        attrs.push(KeyValue::new(key::MCP_METHOD_NAME, *method));
                        if let Some(t) = tool {
                            attrs.push(KeyValue::new(key::GEN_AI_TOOL_NAME, *t));
                            attrs.push(KeyValue::new(key::GEN_AI_OPERATION_NAME, GenAiOperation::ExecuteTool.as_str()));
                        }
                        attrs.push(KeyValue::new(key::MCP_SERVER, *server));
                    }
                    SiteKind::Trade | SiteKind::Operation => {}
                }
                if let Some((side, order_type, _)) = &trade {
                    attrs.push(KeyValue::new(key::ORDER_SIDE, side.as_str()));
                    attrs.push(KeyValue::new(key::ORDER_TYPE, order_type.as_str()));
                }
                let span = tracer
                    .span_builder(site.name)
                    .with_kind(span_kind(site))
                    .with_attributes(attrs)
                    .start_with_context(tracer, &parent);
                Some(parent.with_span(span))
            });
            Guard { site, cx, start: Instant::now(), trade }
        }

        /// Runs `f` with the call's span as the current context (sync functions).
        #[inline]
        pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
            let _attached = self.cx.as_ref().map(|c| c.clone().attach());
            f()
        }

        /// Finishes a call whose function does not return a `Result`.
        #[inline]
        pub fn finish(self) {
            self.complete(None, None);
        }

        /// Finishes a call returning a `Result`: `error` is the classified error, if any.
        #[inline]
        pub fn finish_result(self, error: Option<Cow<'static, str>>) {
            self.complete(error, None);
        }

        /// Finishes a trade.
        pub fn finish_trade(self, outcome: Result<TradeResult, Cow<'static, str>>) {
            match outcome {
                Ok(t) => self.complete(None, Some(t)),
                Err(e) => self.complete(Some(e), None),
            }
        }

        fn complete(mut self, error: Option<Cow<'static, str>>, trade: Option<TradeResult>) {
            let elapsed = self.start.elapsed().as_secs_f64();
            let site = self.site;
            let guard = site.handles();
            let Some(h) = guard.as_ref() else { return };
            match &error {
                None => {
                    h.calls_ok.add(1);
                    h.duration_ok.record(elapsed);
                    if let Some(db) = &h.db_ok {
                        db.record(elapsed);
                    }
                    if let Some(mcp) = &h.mcp_ok {
                        mcp.record(elapsed);
                    }
                }
                Some(e) => {
                    let label = || {
                        Some(match e {
                            Cow::Borrowed(b) => ErrorType(BoundedStr::Static(b)),
                            Cow::Owned(o) => ErrorType(BoundedStr::from(o.clone())),
                        })
                    };
                    h.calls_error.add(1);
                    h.duration.record(elapsed, (site.op_name(), label()));
                    if let Some(db) = &h.db {
                        db.record(elapsed, site.db_labels(label()));
                    }
                    if let Some(mcp) = &h.mcp {
                        mcp.record(elapsed, site.mcp_labels(label()));
                    }
                }
            }
            if let Some((side, order_type, t)) = self.trade.take() {
                t.active.add(-1, ());
                let labels = (side, order_type);
                if let Some(r) = &trade {
                    match *r {
                        TradeResult::Filled { price, quantity } => {
                            t.filled.add(1, labels);
                            t.latency.record(elapsed, labels);
                            t.fills.add(1, (side,));
                            t.notional.add(price * quantity, (side,));
                            t.fill_size.record(quantity, (side,));
                        }
                        TradeResult::Rejected(reason) => t.rejected.add(1, (side, order_type, reason)),
                        TradeResult::Cancelled(reason) => t.cancelled.add(1, (side, order_type, reason)),
                    }
                }
                if let (Some(cx), Some(r)) = (&self.cx, &trade) {
                    let status = match r {
                        TradeResult::Filled { .. } => "filled",
                        TradeResult::Rejected(_) => "rejected",
                        TradeResult::Cancelled(_) => "cancelled",
                    };
                    cx.span().set_attribute(KeyValue::new(key::ORDER_STATUS, status));
                }
            }
            if let Some(cx) = self.cx.take() {
                let span = cx.span();
                if let Some(e) = error {
                    span.set_attribute(KeyValue::new(key::ERROR_TYPE, e));
                    span.set_status(Status::error(""));
                }
                span.end();
            }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            // Unwinding or a dropped future: close the books without recording a duration.
            if let Some((_, _, t)) = self.trade.take() {
                t.active.add(-1, ());
            }
            if let Some(cx) = self.cx.take() {
                cx.span().set_attribute(KeyValue::new(key::ERROR_TYPE, "cancelled"));
                cx.span().end();
            }
        }
    }

    pin_project_lite::pin_project! {
        /// Polls the wrapped future with the call's span as the current context.
        pub struct InContext<F> {
            #[pin]
            inner: F,
            cx: Option<Context>,
        }
    }

    impl<F: Future> Future for InContext<F> {
        type Output = F::Output;
        #[inline]
        fn poll(self: Pin<&mut Self>, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
            let this = self.project();
            let _attached = this.cx.as_ref().map(|c| c.clone().attach());
            this.inner.poll(task)
        }
    }

    /// Wraps a future so it runs in the guard's context.
    #[inline]
    pub fn in_context<F: Future>(guard: &Guard, fut: F) -> InContext<F> {
        InContext { inner: fut, cx: guard.cx.clone() }
    }
}
