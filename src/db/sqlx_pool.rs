//! The sqlx wrapper: an `Executor` that traces and measures every query, and pool gauges.

use super::DbMeta;
use super::summary::{SqlInfo, SummaryCache};
use crate::catalog::instruments::{
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_IDLE_MIN, DB_CLIENT_CONNECTION_MAX,
    DB_CLIENT_CONNECTION_PENDING_REQUESTS, DB_CLIENT_CONNECTION_TIMEOUTS, DB_CLIENT_CONNECTION_USE_TIME,
    DB_CLIENT_CONNECTION_WAIT_TIME, DB_CLIENT_OPERATION_DURATION, DB_CLIENT_RESPONSE_RETURNED_ROWS, DbLabels,
};
use crate::catalog::values::{
    ConnectionState, DbCollection, DbNamespace, DbOperation, DbQuerySummary, DbStatusCode, DbSystem, ErrorType,
    PoolName,
};
use crate::catalog::{BoundedStr, Counter, Histogram, key};
use either::Either;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Execute, Executor, Pool, SqlStr};
use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// `error.type` of a sqlx error: the SQLSTATE (or driver code) for database errors, else the
/// error's variant name. Never the message.
pub fn sqlx_error_type(e: &sqlx::Error) -> Cow<'static, str> {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => Cow::Owned(code.into_owned()),
            None => Cow::Borrowed("Database"),
        },
        sqlx::Error::Configuration(_) => Cow::Borrowed("Configuration"),
        sqlx::Error::InvalidArgument(_) => Cow::Borrowed("InvalidArgument"),
        sqlx::Error::Io(_) => Cow::Borrowed("Io"),
        sqlx::Error::Tls(_) => Cow::Borrowed("Tls"),
        sqlx::Error::Protocol(_) => Cow::Borrowed("Protocol"),
        sqlx::Error::RowNotFound => Cow::Borrowed("RowNotFound"),
        sqlx::Error::TypeNotFound { .. } => Cow::Borrowed("TypeNotFound"),
        sqlx::Error::ColumnIndexOutOfBounds { .. } => Cow::Borrowed("ColumnIndexOutOfBounds"),
        sqlx::Error::ColumnNotFound(_) => Cow::Borrowed("ColumnNotFound"),
        sqlx::Error::ColumnDecode { .. } => Cow::Borrowed("ColumnDecode"),
        sqlx::Error::Encode(_) => Cow::Borrowed("Encode"),
        sqlx::Error::Decode(_) => Cow::Borrowed("Decode"),
        sqlx::Error::AnyDriverError(_) => Cow::Borrowed("AnyDriverError"),
        sqlx::Error::PoolTimedOut => Cow::Borrowed("PoolTimedOut"),
        sqlx::Error::PoolClosed => Cow::Borrowed("PoolClosed"),
        sqlx::Error::WorkerCrashed => Cow::Borrowed("WorkerCrashed"),
        sqlx::Error::Migrate(_) => Cow::Borrowed("Migrate"),
        _ => Cow::Borrowed("_OTHER"),
    }
}

struct Shared {
    meta: DbMeta,
    summaries: SummaryCache,
    tracer: SdkTracer,
    duration: Histogram<DbLabels>,
    rows: Histogram<(DbSystem, DbNamespace, DbQuerySummary)>,
    wait: Histogram<(PoolName,)>,
    use_time: Histogram<(PoolName,)>,
    timeouts: Counter<(PoolName,)>,
    pending: AtomicI64,
}

impl Shared {
    fn pool_name(&self) -> PoolName {
        PoolName(BoundedStr::Shared(self.meta.pool_name.clone()))
    }
}

/// One operation in flight: its span and start time. Finishing records the metric; dropping
/// unfinished (the caller gave up) records `error.type=cancelled`.
struct Op {
    shared: Arc<Shared>,
    info: Arc<SqlInfo>,
    cx: Context,
    start: Instant,
    done: bool,
}

impl Op {
    fn start(shared: &Arc<Shared>, sql: &str) -> Op {
        let info = shared.summaries.get(sql);
        let meta = &shared.meta;
        let mut attrs = Vec::with_capacity(8);
        attrs.push(KeyValue::new(key::DB_SYSTEM_NAME, meta.system.as_str()));
        attrs.push(KeyValue::new(key::DB_NAMESPACE, meta.namespace.clone()));
        attrs.push(KeyValue::new(key::DB_OPERATION_NAME, info.operation.clone()));
        if let Some(c) = &info.collection {
            attrs.push(KeyValue::new(key::DB_COLLECTION_NAME, c.clone()));
        }
        attrs.push(KeyValue::new(key::DB_QUERY_SUMMARY, info.summary.clone()));
        attrs.push(KeyValue::new(key::DB_QUERY_TEXT, info.sanitized.clone()));
        if meta.server_port != 0 {
            attrs.push(KeyValue::new(key::SERVER_ADDRESS, meta.server_address.clone()));
            attrs.push(KeyValue::new(key::SERVER_PORT, i64::from(meta.server_port)));
        }
        let parent = Context::current();
        let span = shared
            .tracer
            .span_builder(info.summary.to_string())
            .with_kind(SpanKind::Client)
            .with_attributes(attrs)
            .start_with_context(&shared.tracer, &parent);
        Op { shared: shared.clone(), info, cx: parent.with_span(span), start: Instant::now(), done: false }
    }

    fn finish(mut self, outcome: Result<Option<u64>, &sqlx::Error>) {
        self.done = true;
        let (status, error_type) = match outcome {
            Ok(_) => (None, None),
            Err(e) => {
                let status = match e {
                    sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
                    _ => None,
                };
                (status, Some(sqlx_error_type(e)))
            }
        };
        let rows = outcome.ok().flatten();
        self.record(status, error_type, rows);
    }

    /// Finishes a single-row fetch.
    fn finish_row<R>(self, r: &Result<Option<R>, sqlx::Error>) {
        match r {
            Ok(row) => self.finish(Ok(Some(u64::from(row.is_some())))),
            Err(e) => self.finish(Err(e)),
        }
    }

    fn record(&self, status: Option<String>, error_type: Option<Cow<'static, str>>, rows: Option<u64>) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let s = &self.shared;
        let span = self.cx.span();
        if let Some(code) = &status {
            span.set_attribute(KeyValue::new(key::DB_RESPONSE_STATUS_CODE, code.clone()));
        }
        if let Some(e) = &error_type {
            span.set_attribute(KeyValue::new(key::ERROR_TYPE, e.to_string()));
            span.set_status(Status::error(""));
        }
        if let Some(n) = rows {
            span.set_attribute(KeyValue::new(key::DB_RESPONSE_RETURNED_ROWS, n as i64));
            s.rows.record(
                n as f64,
                (
                    s.meta.system,
                    DbNamespace(BoundedStr::Shared(s.meta.namespace.clone())),
                    DbQuerySummary(BoundedStr::Shared(self.info.summary.clone())),
                ),
            );
        }
        span.end();
        s.duration.record(
            elapsed,
            (
                s.meta.system,
                DbNamespace(BoundedStr::Shared(s.meta.namespace.clone())),
                DbOperation(BoundedStr::Shared(self.info.operation.clone())),
                self.info.collection.clone().map(|c| DbCollection(BoundedStr::Shared(c))),
                DbQuerySummary(BoundedStr::Shared(self.info.summary.clone())),
                status.map(|c| DbStatusCode(BoundedStr::from(c))),
                error_type.map(|e| match e {
                    Cow::Borrowed(b) => ErrorType(BoundedStr::Static(b)),
                    Cow::Owned(o) => ErrorType(BoundedStr::from(o)),
                }),
            ),
        );
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            self.record(None, Some(Cow::Borrowed("cancelled")), None);
        }
    }
}

/// Forwards `inner`, counting rows; finishes `op` at its end or at the first error.
fn observed<'s, A: Send + 's, B: Send + 's>(
    op: Op,
    mut inner: BoxStream<'s, Result<Either<A, B>, sqlx::Error>>,
) -> BoxStream<'s, Result<Either<A, B>, sqlx::Error>> {
    Box::pin(async_stream::stream! {
        let mut rows = 0u64;
        while let Some(item) = inner.next().await {
            match item {
                Ok(v) => {
                    if v.is_right() {
                        rows += 1;
                    }
                    yield Ok(v);
                }
                Err(e) => {
                    op.finish(Err(&e));
                    yield Err(e);
                    return;
                }
            }
        }
        op.finish(Ok(Some(rows)));
    })
}

/// A query with its SQL taken out (so telemetry can read it) and put back for the driver.
struct Rebuilt<DB: Database> {
    sql: SqlStr,
    args: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<DB: Database> Rebuilt<DB> {
    fn from<'q, E: Execute<'q, DB>>(mut query: E) -> Self {
        let args = Some(query.take_arguments());
        let persistent = query.persistent();
        Rebuilt { sql: query.sql(), args, persistent }
    }
}

impl<'q, DB: Database> Execute<'q, DB> for Rebuilt<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }
    fn statement(&self) -> Option<&DB::Statement> {
        None
    }
    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.args.take().unwrap_or(Ok(None))
    }
    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// A sqlx pool whose queries are traced and measured. Use `&pool` wherever sqlx takes an
/// executor.
pub struct InstrumentedPool<DB: Database> {
    pool: Pool<DB>,
    shared: Arc<Shared>,
    _gauges: Arc<PoolGauges<DB>>,
}

impl<DB: Database> Clone for InstrumentedPool<DB> {
    fn clone(&self) -> Self {
        InstrumentedPool { pool: self.pool.clone(), shared: self.shared.clone(), _gauges: self._gauges.clone() }
    }
}

impl<DB: Database> std::fmt::Debug for InstrumentedPool<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedPool").field("meta", &self.shared.meta).finish()
    }
}

/// Observable pool gauges; they stop reporting when the pool is dropped.
pub struct PoolGauges<DB: Database> {
    pool: Pool<DB>,
    shared: Arc<Shared>,
}

impl<DB: Database> PoolGauges<DB> {
    fn register(self: &Arc<Self>, meter: &opentelemetry::metrics::Meter) {
        let w: Weak<Self> = Arc::downgrade(self);
        DB_CLIENT_CONNECTION_COUNT.register(meter, move |o| {
            if let Some(g) = w.upgrade() {
                let size = g.pool.size() as i64;
                let idle = g.pool.num_idle() as i64;
                o.observe(idle, (g.shared.pool_name(), ConnectionState::Idle));
                o.observe((size - idle).max(0), (g.shared.pool_name(), ConnectionState::Used));
            }
        });
        let w: Weak<Self> = Arc::downgrade(self);
        DB_CLIENT_CONNECTION_MAX.register(meter, move |o| {
            if let Some(g) = w.upgrade() {
                o.observe(i64::from(g.pool.options().get_max_connections()), (g.shared.pool_name(),));
            }
        });
        let w: Weak<Self> = Arc::downgrade(self);
        DB_CLIENT_CONNECTION_IDLE_MIN.register(meter, move |o| {
            if let Some(g) = w.upgrade() {
                o.observe(i64::from(g.pool.options().get_min_connections()), (g.shared.pool_name(),));
            }
        });
        let w: Weak<Self> = Arc::downgrade(self);
        DB_CLIENT_CONNECTION_PENDING_REQUESTS.register(meter, move |o| {
            if let Some(g) = w.upgrade() {
                o.observe(g.shared.pending.load(Ordering::Relaxed).max(0), (g.shared.pool_name(),));
            }
        });
    }
}

impl<DB: Database> InstrumentedPool<DB> {
    /// Wraps `pool`, recording on the installed tracer and meter (install telemetry first).
    pub fn new(pool: Pool<DB>, meta: DbMeta) -> Self {
        let h = crate::telemetry::handles();
        let meter = &h.meter;
        let shared = Arc::new(Shared {
            meta,
            summaries: SummaryCache::default(),
            tracer: h.tracer.clone(),
            duration: DB_CLIENT_OPERATION_DURATION.build(meter),
            rows: DB_CLIENT_RESPONSE_RETURNED_ROWS.build(meter),
            wait: DB_CLIENT_CONNECTION_WAIT_TIME.build(meter),
            use_time: DB_CLIENT_CONNECTION_USE_TIME.build(meter),
            timeouts: DB_CLIENT_CONNECTION_TIMEOUTS.build(meter),
            pending: AtomicI64::new(0),
        });
        shared.timeouts.bind(&(shared.pool_name(),));
        let gauges = Arc::new(PoolGauges { pool: pool.clone(), shared: shared.clone() });
        gauges.register(meter);
        InstrumentedPool { pool, shared, _gauges: gauges }
    }

    /// The wrapped pool (uninstrumented).
    pub fn inner(&self) -> &Pool<DB> {
        &self.pool
    }

    /// What this pool talks to.
    pub fn meta(&self) -> &DbMeta {
        &self.shared.meta
    }

    /// Acquires a connection, measuring the wait and counting timeouts.
    async fn acquire(pool: &Pool<DB>, shared: &Shared) -> Result<Lease<DB>, sqlx::Error> {
        shared.pending.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let r = pool.acquire().await;
        shared.pending.fetch_sub(1, Ordering::Relaxed);
        shared.wait.record(start.elapsed().as_secs_f64(), (shared.pool_name(),));
        match r {
            Ok(conn) => Ok(Lease { conn, since: Instant::now() }),
            Err(e) => {
                if matches!(e, sqlx::Error::PoolTimedOut) {
                    shared.timeouts.add(1, (shared.pool_name(),));
                }
                Err(e)
            }
        }
    }

    /// Begins a transaction (the `BEGIN` is traced like any statement).
    pub async fn begin(&self) -> Result<InstrumentedTransaction<DB>, sqlx::Error>
    where
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        let op = Op::start(&self.shared, "BEGIN");
        match self.pool.begin().await {
            Ok(tx) => {
                op.finish(Ok(None));
                Ok(InstrumentedTransaction { tx: Some(tx), shared: self.shared.clone(), since: Instant::now() })
            }
            Err(e) => {
                op.finish(Err(&e));
                Err(e)
            }
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A pooled connection and when it was borrowed (for `use_time`).
struct Lease<DB: Database> {
    conn: PoolConnection<DB>,
    since: Instant,
}

fn end_lease<DB: Database>(lease: Lease<DB>, shared: &Shared) {
    shared.use_time.record(lease.since.elapsed().as_secs_f64(), (shared.pool_name(),));
    drop(lease.conn);
}

impl<'p, DB: Database> Executor<'p> for &'_ InstrumentedPool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let query = Rebuilt::<DB>::from(query);
        let op = Op::start(&self.shared, query.sql.as_str());
        let pool = self.pool.clone();
        let shared = self.shared.clone();
        Box::pin(async_stream::stream! {
            let mut lease = match InstrumentedPool::acquire(&pool, &shared).await {
                Ok(l) => l,
                Err(e) => {
                    op.finish(Err(&e));
                    yield Err(e);
                    return;
                }
            };
            {
                let mut inner = observed(op, (&mut *lease.conn).fetch_many(query));
                while let Some(item) = inner.next().await {
                    yield item;
                }
            }
            end_lease(lease, &shared);
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> futures_util::future::BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let query = Rebuilt::<DB>::from(query);
        let op = Op::start(&self.shared, query.sql.as_str());
        let pool = self.pool.clone();
        let shared = self.shared.clone();
        async move {
            let mut lease = match InstrumentedPool::acquire(&pool, &shared).await {
                Ok(l) => l,
                Err(e) => {
                    op.finish(Err(&e));
                    return Err(e);
                }
            };
            let r = (&mut *lease.conn).fetch_optional(query).await;
            end_lease(lease, &shared);
            op.finish_row(&r);
            r
        }
        .boxed()
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> futures_util::future::BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.pool.clone();
        async move { pool.acquire().await?.prepare_with(sql, parameters).await }.boxed()
    }

    fn describe<'e>(self, sql: SqlStr) -> futures_util::future::BoxFuture<'e, Result<sqlx::Describe<DB>, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.pool.clone();
        async move { pool.acquire().await?.describe(sql).await }.boxed()
    }
}

/// A transaction whose statements (and `COMMIT`/`ROLLBACK`) are traced and measured. Dropped
/// without commit, it rolls back like sqlx's own.
pub struct InstrumentedTransaction<DB: Database> {
    tx: Option<sqlx::Transaction<'static, DB>>,
    shared: Arc<Shared>,
    since: Instant,
}

impl<DB: Database> std::fmt::Debug for InstrumentedTransaction<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstrumentedTransaction")
    }
}

impl<DB: Database> InstrumentedTransaction<DB> {
    /// Commits.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let op = Op::start(&self.shared, "COMMIT");
        let r = match self.tx.take() {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        };
        op.finish(r.as_ref().map(|_| None));
        self.shared.use_time.record(self.since.elapsed().as_secs_f64(), (self.shared.pool_name(),));
        r
    }

    /// Rolls back.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let op = Op::start(&self.shared, "ROLLBACK");
        let r = match self.tx.take() {
            Some(tx) => tx.rollback().await,
            None => Ok(()),
        };
        op.finish(r.as_ref().map(|_| None));
        self.shared.use_time.record(self.since.elapsed().as_secs_f64(), (self.shared.pool_name(),));
        r
    }
}

impl<'t, DB: Database> Executor<'t> for &'t mut InstrumentedTransaction<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let query = Rebuilt::<DB>::from(query);
        let op = Op::start(&self.shared, query.sql.as_str());
        let Some(tx) = self.tx.as_mut() else {
            return futures_util::stream::once(async { Err(sqlx::Error::PoolClosed) }).boxed();
        };
        observed(op, (&mut **tx).fetch_many(query))
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> futures_util::future::BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let query = Rebuilt::<DB>::from(query);
        let op = Op::start(&self.shared, query.sql.as_str());
        let Some(tx) = self.tx.as_mut() else {
            return async { Err(sqlx::Error::PoolClosed) }.boxed();
        };
        let fut = (&mut **tx).fetch_optional(query);
        async move {
            let r = fut.await;
            op.finish_row(&r);
            r
        }
        .boxed()
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> futures_util::future::BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        't: 'e,
    {
        match self.tx.as_mut() {
            Some(tx) => (&mut **tx).prepare_with(sql, parameters),
            None => async { Err(sqlx::Error::PoolClosed) }.boxed(),
        }
    }
    fn describe<'e>(self, sql: SqlStr) -> futures_util::future::BoxFuture<'e, Result<sqlx::Describe<DB>, sqlx::Error>>
    where
        't: 'e,
    {
        match self.tx.as_mut() {
            Some(tx) => (&mut **tx).describe(sql),
            None => async { Err(sqlx::Error::PoolClosed) }.boxed(),
        }
    }
}
