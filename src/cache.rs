//! Redis instrumentation: wrap any async connection (`ConnectionManager`,
//! `MultiplexedConnection`) and every command gets a CLIENT span and
//! `db.client.operation.duration{db.system.name="redis", db.operation.name=<command>}`.
//!
//! ```no_run
//! # async fn f() -> redis::RedisResult<()> {
//! use redis::AsyncCommands;
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! let mut conn = swaggy_telemetry::cache::InstrumentedRedis::new(
//!     client.get_connection_manager().await?, "127.0.0.1", 6379);
//! let _: Option<String> = conn.get("quote:AAPL").await?;
//! # Ok(()) }
//! ```
//!
//! Keys and values never reach telemetry: spans carry the command name only. Errors carry the
//! Redis error prefix (`WRONGTYPE`, `ERR`) as `db.response.status_code` and a bounded
//! `error.type` (`timeout`, `io`, the prefix, …).

use crate::catalog::instruments::{DB_CLIENT_OPERATION_DURATION, DbLabels};
use crate::catalog::values::{DbNamespace, DbOperation, DbQuerySummary, DbStatusCode, DbSystem, ErrorType};
use crate::catalog::{BoundedSet, BoundedStr, Histogram, key};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use redis::aio::ConnectionLike;
use redis::{Arg, Cmd, Pipeline, RedisError, RedisFuture, Value};
use std::sync::Arc;
use std::time::Instant;

/// Distinct command names tracked before folding into `other` (commands come from code, but a
/// generic proxy could pass user input).
const MAX_COMMANDS: usize = 128;

struct Shared {
    tracer: SdkTracer,
    duration: Histogram<DbLabels>,
    commands: BoundedSet,
    namespace: Arc<str>,
    server_address: Arc<str>,
    server_port: u16,
}

/// An instrumented Redis connection (cheap to clone when `C` is).
#[derive(Clone)]
pub struct InstrumentedRedis<C> {
    conn: C,
    shared: Arc<Shared>,
}

impl<C> std::fmt::Debug for InstrumentedRedis<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedRedis").field("server", &self.shared.server_address).finish()
    }
}

/// `error.type` of a Redis error: `timeout`, `io`, the server's error prefix, or the kind.
pub fn redis_error_type(e: &RedisError) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        "io".into()
    } else if let Some(code) = e.code() {
        code.to_string()
    } else {
        format!("{:?}", e.kind()).split('(').next().unwrap_or("_OTHER").to_string()
    }
}

/// A server error delivered as a value (`-WRONGTYPE …`): its prefix twice (status code and
/// error type).
fn server_error(v: &Value) -> Option<(Option<String>, String)> {
    match v {
        Value::ServerError(e) => Some((Some(e.code().to_string()), e.code().to_string())),
        _ => None,
    }
}

fn client_error(e: &RedisError) -> (Option<String>, String) {
    (e.code().map(str::to_string), redis_error_type(e))
}

impl<C: ConnectionLike> InstrumentedRedis<C> {
    /// Wraps `conn`; `host`/`port` become `server.address`/`server.port`.
    pub fn new(conn: C, host: &str, port: u16) -> Self {
        let h = crate::telemetry::handles();
        let namespace: Arc<str> = Arc::from(conn.get_db().to_string());
        InstrumentedRedis {
            conn,
            shared: Arc::new(Shared {
                tracer: h.tracer.clone(),
                duration: DB_CLIENT_OPERATION_DURATION.build(&h.meter),
                commands: BoundedSet::learning(MAX_COMMANDS),
                namespace,
                server_address: Arc::from(host),
                server_port: port,
            }),
        }
    }

    /// The wrapped connection.
    pub fn inner(&self) -> &C {
        &self.conn
    }

    fn start(&self, command: BoundedStr) -> (Context, Instant, BoundedStr) {
        let s = &self.shared;
        let parent = Context::current();
        let span = s
            .tracer
            .span_builder(command.as_str().to_string())
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new(key::DB_SYSTEM_NAME, DbSystem::Redis.as_str()),
                KeyValue::new(key::DB_NAMESPACE, s.namespace.clone()),
                KeyValue::new(key::DB_OPERATION_NAME, command.to_string_value()),
                KeyValue::new(key::SERVER_ADDRESS, s.server_address.clone()),
                KeyValue::new(key::SERVER_PORT, i64::from(s.server_port)),
            ])
            .start_with_context(&s.tracer, &parent);
        (parent.with_span(span), Instant::now(), command)
    }

    fn finish(
        shared: &Shared,
        cx: Context,
        start: Instant,
        command: BoundedStr,
        failure: Option<(Option<String>, String)>,
    ) {
        let elapsed = start.elapsed().as_secs_f64();
        let (status, error_type) = match failure {
            None => (None, None),
            Some((status, error_type)) => (status, Some(error_type)),
        };
        let span = cx.span();
        if let Some(code) = &status {
            span.set_attribute(KeyValue::new(key::DB_RESPONSE_STATUS_CODE, code.clone()));
        }
        if let Some(e) = &error_type {
            span.set_attribute(KeyValue::new(key::ERROR_TYPE, e.clone()));
            span.set_status(Status::error(""));
        }
        span.end();
        shared.duration.record(
            elapsed,
            (
                DbSystem::Redis,
                DbNamespace(BoundedStr::Shared(shared.namespace.clone())),
                DbOperation(command.clone()),
                None,
                DbQuerySummary(command),
                status.map(|c| DbStatusCode(BoundedStr::from(c))),
                error_type.map(|e| ErrorType(BoundedStr::from(e))),
            ),
        );
    }

    fn command_name(&self, cmd: &Cmd) -> BoundedStr {
        match cmd.args_iter().next() {
            Some(Arg::Simple(bytes)) => {
                let name = String::from_utf8_lossy(bytes).to_ascii_uppercase();
                self.shared.commands.get(&name)
            }
            _ => BoundedStr::Static("_OTHER"),
        }
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for InstrumentedRedis<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let (cx, start, command) = self.start(self.command_name(cmd));
        let shared = self.shared.clone();
        let fut = self.conn.req_packed_command(cmd);
        Box::pin(async move {
            let r = fut.await;
            let failure = match &r {
                Ok(v) => server_error(v),
                Err(e) => Some(client_error(e)),
            };
            Self::finish(&shared, cx, start, command, failure);
            r
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let (cx, start, command) = self.start(BoundedStr::Static("PIPELINE"));
        let shared = self.shared.clone();
        let fut = self.conn.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let r = fut.await;
            let failure = match &r {
                Ok(values) => values.iter().find_map(server_error),
                Err(e) => Some(client_error(e)),
            };
            Self::finish(&shared, cx, start, command, failure);
            r
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}
