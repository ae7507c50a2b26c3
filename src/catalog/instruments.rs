//! The instruments. Each is defined exactly once here; everything else refers to the constant.

use super::handle::*;
use super::labels::Labels;
use super::values::*;

/// Semconv `http.server.request.duration` / `http.client.request.duration` buckets (s).
pub const HTTP_DURATION_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
/// Semconv `db.client.operation.duration` buckets (s).
pub const DB_DURATION_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];
/// Semconv MCP operation/session duration buckets (s).
pub const MCP_DURATION_BUCKETS: &[f64] =
    &[0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// Semconv `gen_ai.client.token.usage` buckets ({token}).
pub const GEN_AI_TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];
/// Semconv `gen_ai.client.operation.duration` buckets (s).
pub const GEN_AI_DURATION_BUCKETS: &[f64] =
    &[0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
/// Submit-to-fill latency buckets (s): sub-millisecond matching up to slow venues.
pub const ORDER_LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// In-process operation buckets (s): risk checks, instrumented functions.
pub const FAST_OPERATION_BUCKETS: &[f64] =
    &[0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Small counts per operation (agents, calls).
pub const SMALL_COUNT_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 50.0];
/// Rows returned by a query.
pub const ROW_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0, 10000.0];
/// Task-queue wait buckets (s): seconds to half an hour.
pub const QUEUE_WAIT_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0];
/// Fill size buckets (shares).
pub const FILL_SIZE_BUCKETS: &[f64] = &[1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0, 10000.0];

macro_rules! catalog {
    (
        $(
            $(#[doc = $cat_doc:literal])*
            category $category:literal {
                $(
                    $(#[doc = $doc:literal])*
                    $ident:ident : $def:ident < $labels:ty > {
                        $($field:ident : $value:expr),* $(,)?
                    }
                )*
            }
        )*
    ) => {
        $($(
            $(#[doc = $doc])*
            pub const $ident: $def<$labels> = $def::new(Info {
                kind: $def::<$labels>::KIND,
                attributes: <$labels as Labels>::KEYS,
                category: $category,
                $($field: $value,)*
                ..Info::DEFAULT
            });
        )*)*

        /// Every instrument in the catalog, in reference order.
        pub const ALL: &[&Info] = &[$($(&$ident.info,)*)*];

        /// The categories, in reference order, with their descriptions.
        pub const CATEGORIES: &[(&str, &str)] = &[$(($category, concat!($($cat_doc),*)),)*];
    };
}

/// `(method, scheme, status, route?, error.type?)`
pub type HttpServerLabels = (HttpMethod, UrlScheme, HttpStatusCode, Option<HttpRoute>, Option<ErrorType>);
/// `(method, server.address, server.port, status?, error.type?)`
pub type HttpClientLabels = (HttpMethod, ServerAddress, ServerPort, Option<HttpStatusCode>, Option<ErrorType>);
/// `(system, namespace, operation, collection?, summary, status?, error.type?)`
pub type DbLabels =
    (DbSystem, DbNamespace, DbOperation, Option<DbCollection>, DbQuerySummary, Option<DbStatusCode>, Option<ErrorType>);
/// `(method, server, tool?, transport, rpc status?, error.type?)`
pub type McpOperationLabels =
    (McpMethod, McpServer, Option<ToolName>, NetworkTransport, Option<RpcStatusCode>, Option<ErrorType>);
/// `(server, transport, protocol version?, error.type?)`
pub type McpSessionLabels = (McpServer, NetworkTransport, Option<McpProtocolVersion>, Option<ErrorType>);

catalog! {
    /// Server side of HTTP (semantic conventions).
    category "HTTP server" {
        /// Duration of HTTP server requests.
        HTTP_SERVER_REQUEST_DURATION: HistogramDef<HttpServerLabels> {
            name: "http.server.request.duration", unit: "s", buckets: HTTP_DURATION_BUCKETS,
            description: "Duration of HTTP server requests.", cardinality_limit: 1000,
            source: "HTTP layer",
        }
        /// Requests in flight.
        HTTP_SERVER_ACTIVE_REQUESTS: UpDownCounterDef<(HttpMethod, UrlScheme)> {
            name: "http.server.active_requests", unit: "{request}",
            description: "Number of active HTTP server requests.", source: "HTTP layer",
        }
    }
    /// Outgoing HTTP calls to external APIs (semantic conventions).
    category "HTTP client" {
        /// Duration of outgoing HTTP requests.
        HTTP_CLIENT_REQUEST_DURATION: HistogramDef<HttpClientLabels> {
            name: "http.client.request.duration", unit: "s", buckets: HTTP_DURATION_BUCKETS,
            description: "Duration of HTTP client requests.", cardinality_limit: 500,
            source: "HTTP client helper (simulator, external API checks)",
        }
    }
    /// Database client operations, Postgres, SQLite and Redis (semantic conventions).
    category "Database client" {
        /// Duration of database operations.
        DB_CLIENT_OPERATION_DURATION: HistogramDef<DbLabels> {
            name: "db.client.operation.duration", unit: "s", buckets: DB_DURATION_BUCKETS,
            description: "Duration of database client operations.", cardinality_limit: 1000,
            source: "sqlx and Redis instrumentation",
        }
        /// Rows returned per query.
        DB_CLIENT_RESPONSE_RETURNED_ROWS: HistogramDef<(DbSystem, DbNamespace, DbQuerySummary)> {
            name: "db.client.response.returned_rows", unit: "{row}", buckets: ROW_BUCKETS,
            description: "Number of rows returned by the operation.", cardinality_limit: 500,
            source: "sqlx instrumentation",
        }
    }
    /// Connection pools (semantic conventions).
    category "Database connection pool" {
        /// Connections by state.
        DB_CLIENT_CONNECTION_COUNT: ObservableUpDownCounterDef<(PoolName, ConnectionState)> {
            name: "db.client.connections.usage", unit: "{connection}",
            description: "Number of connections currently in the pool, by state. (Semconv's newer name \
                          db.client.connection.count would expose a `_count` suffix, which Prometheus \
                          reserves for histograms; the previous semconv name is kept.)",
            source: "sqlx pool gauges",
        }
        /// Pool size limit.
        DB_CLIENT_CONNECTION_MAX: ObservableUpDownCounterDef<(PoolName,)> {
            name: "db.client.connection.max", unit: "{connection}",
            description: "Maximum number of open connections allowed.", source: "sqlx pool gauges",
        }
        /// Idle connections kept at least.
        DB_CLIENT_CONNECTION_IDLE_MIN: ObservableUpDownCounterDef<(PoolName,)> {
            name: "db.client.connection.idle.min", unit: "{connection}",
            description: "Minimum number of idle connections allowed.", source: "sqlx pool gauges",
        }
        /// Callers waiting for a connection.
        DB_CLIENT_CONNECTION_PENDING_REQUESTS: ObservableUpDownCounterDef<(PoolName,)> {
            name: "db.client.connection.pending_requests", unit: "{request}",
            description: "Number of requests waiting for an open connection.",
            source: "sqlx pool gauges",
        }
        /// Acquire timeouts.
        DB_CLIENT_CONNECTION_TIMEOUTS: CounterDef<(PoolName,)> {
            name: "db.client.connection.timeouts", unit: "{timeout}",
            description: "Number of connection acquire attempts that timed out.",
            source: "sqlx pool gauges",
        }
        /// Time to obtain a connection.
        DB_CLIENT_CONNECTION_WAIT_TIME: HistogramDef<(PoolName,)> {
            name: "db.client.connection.wait_time", unit: "s", buckets: DB_DURATION_BUCKETS,
            description: "Time it took to obtain an open connection from the pool.",
            source: "sqlx pool gauges",
        }
        /// Time a connection was held.
        DB_CLIENT_CONNECTION_USE_TIME: HistogramDef<(PoolName,)> {
            name: "db.client.connection.use_time", unit: "s", buckets: DB_DURATION_BUCKETS,
            description: "Time between borrowing a connection and returning it to the pool.",
            source: "sqlx pool gauges",
        }
    }
    /// Cache lookups (Redis quote cache); Redis command latency is in `db.client.operation.duration`.
    category "Cache" {
        /// Lookups by result.
        CACHE_LOOKUPS: CounterDef<(CacheName, CacheResult)> {
            name: "swaggy.cache.lookups", unit: "{lookup}",
            description: "Cache lookups by result (hit, miss, error).", source: "Redis cache",
        }
    }
    /// MCP client operations (GenAI/MCP semantic conventions).
    category "MCP client" {
        /// Duration of MCP requests sent.
        MCP_CLIENT_OPERATION_DURATION: HistogramDef<McpOperationLabels> {
            name: "mcp.client.operation.duration", unit: "s", buckets: MCP_DURATION_BUCKETS,
            description: "Duration of MCP requests sent by the client.", cardinality_limit: 1000,
            source: "MCP client",
        }
        /// Duration of MCP client sessions.
        MCP_CLIENT_SESSION_DURATION: HistogramDef<McpSessionLabels> {
            name: "mcp.client.session.duration", unit: "s", buckets: MCP_DURATION_BUCKETS,
            description: "Duration of MCP client sessions.", source: "MCP client",
        }
    }
    /// MCP server operations (GenAI/MCP semantic conventions).
    category "MCP server" {
        /// Duration of MCP requests handled.
        MCP_SERVER_OPERATION_DURATION: HistogramDef<McpOperationLabels> {
            name: "mcp.server.operation.duration", unit: "s", buckets: MCP_DURATION_BUCKETS,
            description: "Duration of MCP requests handled by the server.", cardinality_limit: 1000,
            source: "MCP server",
        }
        /// Duration of MCP server sessions.
        MCP_SERVER_SESSION_DURATION: HistogramDef<McpSessionLabels> {
            name: "mcp.server.session.duration", unit: "s", buckets: MCP_DURATION_BUCKETS,
            description: "Duration of MCP server sessions.", source: "MCP server",
        }
    }
    /// The MCP orchestrator: configured servers and their state.
    category "MCP sessions and orchestrator" {
        /// Current state per server.
        MCP_SERVER_STATUS: ObservableGaugeDef<(McpServer, McpServerState)> {
            name: "swaggy.mcp.server.status", unit: "{state}",
            description: "1 for the current orchestrator state of each configured MCP server.",
            source: "MCP orchestrator",
        }
        /// Restarts of stdio servers.
        MCP_SERVER_RESTARTS: CounterDef<(McpServer,)> {
            name: "swaggy.mcp.server.restarts", unit: "{restart}",
            description: "MCP server (re)starts performed by the orchestrator.",
            source: "MCP orchestrator",
        }
        /// Live sessions.
        MCP_CLIENT_SESSIONS: ObservableUpDownCounterDef<(McpServer,)> {
            name: "swaggy.mcp.client.sessions", unit: "{session}",
            description: "Open MCP client sessions per server.", source: "MCP orchestrator",
        }
    }
    /// Agent tasks that span several MCP calls, possibly across servers.
    category "Agent coordination" {
        /// Duration of a coordination.
        AGENT_COORDINATION_DURATION: HistogramDef<(AgentTask, AgentOutcome)> {
            name: "swaggy.agent.coordination.duration", unit: "s", buckets: MCP_DURATION_BUCKETS,
            description: "Duration of an agent coordination (all its MCP calls).",
            source: "agent coordination",
        }
        /// Coordinations by outcome.
        AGENT_COORDINATIONS: CounterDef<(AgentTask, AgentOutcome)> {
            name: "swaggy.agent.coordinations", unit: "{coordination}",
            description: "Agent coordinations completed, by outcome.", source: "agent coordination",
        }
        /// Agents involved per coordination.
        AGENT_COORDINATION_AGENTS: HistogramDef<(AgentTask,)> {
            name: "swaggy.agent.coordination.agents", unit: "{agent}", buckets: SMALL_COUNT_BUCKETS,
            description: "Agents involved in one coordination.", source: "agent coordination",
        }
        /// MCP calls per coordination.
        AGENT_COORDINATION_CALLS: HistogramDef<(AgentTask,)> {
            name: "swaggy.agent.coordination.calls", unit: "{call}", buckets: SMALL_COUNT_BUCKETS,
            description: "MCP calls made by one coordination.", source: "agent coordination",
        }
    }
    /// Order flow through the simulated broker.
    category "Orders" {
        /// Orders accepted for processing.
        ORDERS_SUBMITTED: CounterDef<(OrderSide, OrderType)> {
            name: "swaggy.trading.orders.submitted", unit: "{order}", zero_init: true,
            description: "Valid orders submitted to the broker.", source: "reference service",
        }
        /// Orders filled.
        ORDERS_FILLED: CounterDef<(OrderSide, OrderType)> {
            name: "swaggy.trading.orders.filled", unit: "{order}", zero_init: true,
            description: "Orders filled by the broker.", source: "reference service",
        }
        /// Orders rejected, by reason.
        ORDERS_REJECTED: CounterDef<(OrderSide, OrderType, RejectReason)> {
            name: "swaggy.trading.orders.rejected", unit: "{order}", zero_init: true,
            description: "Orders rejected by risk or the broker, by reason.",
            source: "reference service",
        }
        /// Orders cancelled, by reason.
        ORDERS_CANCELLED: CounterDef<(OrderSide, OrderType, CancelReason)> {
            name: "swaggy.trading.orders.cancelled", unit: "{order}", zero_init: true,
            description: "Orders cancelled (e.g. an immediate-or-cancel limit that could not fill).",
            source: "reference service",
        }
        /// Orders in flight.
        ORDERS_ACTIVE: UpDownCounterDef<()> {
            name: "swaggy.trading.orders.active", unit: "{order}", zero_init: true,
            description: "Orders between submission and a final state.", source: "reference service",
        }
    }
    /// How long an order takes from submission to its fill.
    category "Order latency" {
        /// Submission-to-fill latency.
        ORDER_LATENCY: HistogramDef<(OrderSide, OrderType)> {
            name: "swaggy.trading.order.latency", unit: "s", buckets: ORDER_LATENCY_BUCKETS,
            zero_init: true,
            description: "Time from order submission to its fill.", source: "reference service",
        }
    }
    /// Executions.
    category "Fills and notional" {
        /// Fills.
        FILLS: CounterDef<(OrderSide,)> {
            name: "swaggy.trading.fills", unit: "{fill}", zero_init: true,
            description: "Executions (fills).", source: "reference service",
        }
        /// Notional traded (USD).
        NOTIONAL: FloatCounterDef<(OrderSide,)> {
            name: "swaggy.trading.notional", unit: "{USD}", zero_init: true,
            description: "Notional value traded, in USD.", source: "reference service",
        }
        /// Fill sizes.
        FILL_SIZE: HistogramDef<(OrderSide,)> {
            name: "swaggy.trading.fill.size", unit: "{share}", buckets: FILL_SIZE_BUCKETS,
            description: "Quantity per fill.", source: "reference service",
        }
    }
    /// Book state (observed from the portfolio snapshot).
    category "Positions and exposure" {
        /// Position per symbol.
        POSITION_QUANTITY: ObservableGaugeDef<(Symbol,)> {
            name: "swaggy.trading.position.quantity", unit: "{share}",
            description: "Signed position per symbol (allow-listed universe).",
            source: "reference service",
        }
        /// Exposure.
        EXPOSURE: ObservableGaugeDef<(ExposureKind,)> {
            name: "swaggy.trading.exposure", unit: "{USD}",
            description: "Market value of positions: gross, net, long and short.",
            source: "reference service",
        }
        /// Cash.
        CASH: ObservableGaugeDef<()> {
            name: "swaggy.trading.cash", unit: "{USD}",
            description: "Cash balance of the account.", source: "reference service",
        }
    }
    /// Profit and loss (observed from the portfolio snapshot).
    category "PnL" {
        /// Realized PnL.
        PNL_REALIZED: ObservableGaugeDef<()> {
            name: "swaggy.trading.pnl.realized", unit: "{USD}",
            description: "Realized profit and loss since start of day.", source: "reference service",
        }
        /// Unrealized PnL.
        PNL_UNREALIZED: ObservableGaugeDef<()> {
            name: "swaggy.trading.pnl.unrealized", unit: "{USD}",
            description: "Unrealized profit and loss of open positions at current prices.",
            source: "reference service",
        }
    }
    /// Quote feed freshness.
    category "Market data" {
        /// Age of the newest quote.
        MARKET_DATA_AGE: ObservableGaugeDef<(MarketFeed,)> {
            name: "swaggy.market.data.age", unit: "s",
            description: "Seconds since the feed last updated a quote.", source: "reference service",
        }
        /// Quote updates.
        MARKET_QUOTES: CounterDef<(MarketFeed,)> {
            name: "swaggy.market.quotes", unit: "{quote}",
            description: "Quote updates received from the feed.", source: "reference service",
        }
    }
    /// Pre-trade risk checks.
    category "Risk checks" {
        /// Risk checks by outcome.
        RISK_CHECKS: CounterDef<(RiskCheck, RiskOutcome)> {
            name: "swaggy.risk.checks", unit: "{check}", zero_init: true,
            description: "Pre-trade risk checks performed, by outcome.", source: "reference service",
        }
        /// Risk check duration.
        RISK_CHECK_DURATION: HistogramDef<(RiskCheck,)> {
            name: "swaggy.risk.check.duration", unit: "s", buckets: FAST_OPERATION_BUCKETS,
            description: "Duration of a pre-trade risk check.", source: "reference service",
        }
    }
    /// GenAI client calls (semantic conventions) and the insights they produce.
    category "AI insights" {
        /// Tokens used.
        GEN_AI_CLIENT_TOKEN_USAGE: HistogramDef<(GenAiOperation, GenAiProvider, TokenType, GenAiModel)> {
            name: "gen_ai.client.token.usage", unit: "{token}", buckets: GEN_AI_TOKEN_BUCKETS,
            description: "Number of input and output tokens used.", source: "GenAI instrumentation",
        }
        /// GenAI operation duration.
        GEN_AI_CLIENT_OPERATION_DURATION: HistogramDef<(GenAiOperation, GenAiProvider, GenAiModel, Option<ErrorType>)> {
            name: "gen_ai.client.operation.duration", unit: "s", buckets: GEN_AI_DURATION_BUCKETS,
            description: "GenAI operation duration.", source: "GenAI instrumentation",
        }
        /// Insights produced.
        AI_INSIGHTS: CounterDef<(InsightKind,)> {
            name: "swaggy.ai.insights", unit: "{insight}",
            description: "Insights produced by the insights agent.", source: "insights agent",
        }
    }
    /// Health checks (observed from the cached snapshot, never probed by a scrape).
    category "Health" {
        /// Current state per check.
        HEALTH_CHECK_STATUS: ObservableGaugeDef<(HealthCheckName, HealthState)> {
            name: "swaggy.health.check.status", unit: "{state}",
            description: "1 for the current state of each health check (only that state's series exists).",
            source: "health collector",
        }
        /// Check latency.
        HEALTH_CHECK_DURATION: ObservableGaugeDef<(HealthCheckName,)> {
            name: "swaggy.health.check.duration", unit: "s",
            description: "Latency of the last run of each health check.", source: "health collector",
        }
        /// Age of last success.
        HEALTH_CHECK_LAST_SUCCESS_AGE: ObservableGaugeDef<(HealthCheckName,)> {
            name: "swaggy.health.check.last_success.age", unit: "s",
            description: "Seconds since each check last succeeded (since start if never).",
            source: "health collector",
        }
        /// Overall state.
        HEALTH_STATUS: ObservableGaugeDef<(HealthState,)> {
            name: "swaggy.health.status", unit: "{state}",
            description: "1 for the current overall health state.", source: "health collector",
        }
        /// Probe runs.
        HEALTH_CHECK_RUNS: CounterDef<(HealthCheckName, HealthState)> {
            name: "swaggy.health.check.runs", unit: "{run}",
            description: "Health check executions by resulting state.", source: "health collector",
        }
    }
    /// The live WebSocket stream.
    category "WebSocket stream" {
        /// Open connections.
        WS_CONNECTIONS: UpDownCounterDef<()> {
            name: "swaggy.websocket.connections", unit: "{connection}", zero_init: true,
            description: "Open WebSocket connections.", source: "WebSocket stream",
        }
        /// Connection limit.
        WS_CONNECTION_LIMIT: ObservableUpDownCounterDef<()> {
            name: "swaggy.websocket.connection.limit", unit: "{connection}",
            description: "Configured maximum number of WebSocket connections.",
            source: "WebSocket stream",
        }
        /// Messages sent.
        WS_MESSAGES_SENT: CounterDef<(WsTopic,)> {
            name: "swaggy.websocket.messages.sent", unit: "{message}", zero_init: true,
            description: "Data frames sent to clients, by topic.", source: "WebSocket stream",
        }
        /// Gap notices.
        WS_GAPS: CounterDef<(WsTopic,)> {
            name: "swaggy.websocket.gaps", unit: "{gap}", zero_init: true,
            description: "Updates skipped for slow clients (each gap notice).",
            source: "WebSocket stream",
        }
        /// Errors.
        WS_ERRORS: CounterDef<(WsReason,)> {
            name: "swaggy.websocket.errors", unit: "{error}", zero_init: true,
            description: "Protocol errors and forced closes, by reason.", source: "WebSocket stream",
        }
        /// Refused upgrades.
        WS_REFUSALS: CounterDef<(WsReason,)> {
            name: "swaggy.websocket.refusals", unit: "{connection}", zero_init: true,
            description: "Upgrade requests refused, by reason.", source: "WebSocket stream",
        }
    }
    /// Celery-compatible task queues in Redis.
    category "Task queue" {
        /// Queue depth.
        TASK_QUEUE_DEPTH: ObservableGaugeDef<(TaskQueue,)> {
            name: "swaggy.task_queue.depth", unit: "{task}",
            description: "Tasks waiting in the queue (Redis list length).", source: "task queue check",
        }
        /// Live workers.
        TASK_QUEUE_WORKERS: ObservableGaugeDef<(TaskQueue,)> {
            name: "swaggy.task_queue.workers", unit: "{worker}",
            description: "Workers with a fresh heartbeat key.", source: "task queue check",
        }
        /// Queue wait time.
        TASK_QUEUE_WAIT_TIME: HistogramDef<(TaskQueue,)> {
            name: "swaggy.task_queue.wait_time", unit: "s", buckets: QUEUE_WAIT_BUCKETS,
            description: "Time a task waited in the queue before a worker took it.",
            source: "task queue worker",
        }
        /// Task failures.
        TASK_QUEUE_FAILURES: CounterDef<(TaskQueue, ErrorType)> {
            name: "swaggy.task_queue.failures", unit: "{task}",
            description: "Tasks that failed, by error class.", source: "task queue worker",
        }
    }
    /// The process and its async runtime (process semantic conventions where they exist).
    category "Process and runtime" {
        /// CPU time.
        PROCESS_CPU_TIME: ObservableCounterDef<(CpuMode,)> {
            name: "process.cpu.time", unit: "s",
            description: "Total CPU seconds broken down by mode.", source: "process collector",
        }
        /// CPU utilization.
        PROCESS_CPU_UTILIZATION: ObservableGaugeDef<()> {
            name: "process.cpu.utilization", unit: "1",
            description: "CPU used over the last refresh interval, as a fraction of one core.",
            source: "process collector",
        }
        /// Resident memory.
        PROCESS_MEMORY_USAGE: ObservableUpDownCounterDef<()> {
            name: "process.memory.usage", unit: "By",
            description: "Resident set size of the process.", source: "process collector",
        }
        /// Virtual memory.
        PROCESS_MEMORY_VIRTUAL: ObservableUpDownCounterDef<()> {
            name: "process.memory.virtual", unit: "By",
            description: "Virtual memory size of the process.", source: "process collector",
        }
        /// Threads.
        PROCESS_THREAD_COUNT: ObservableUpDownCounterDef<()> {
            name: "process.threads", unit: "{thread}",
            description: "Process threads currently in use. (Previous semconv name: the newer \
                          process.thread.count would end in `_count`, reserved by Prometheus.)",
            source: "process collector",
        }
        /// Open file descriptors.
        PROCESS_OPEN_FDS: ObservableUpDownCounterDef<()> {
            name: "process.open_file_descriptors", unit: "{file_descriptor}",
            description: "Number of open file descriptors. (Previous semconv name: the newer \
                          process.unix.file_descriptor.count would end in `_count`, reserved by Prometheus.)",
            source: "process collector",
        }
        /// Uptime.
        PROCESS_UPTIME: ObservableGaugeDef<()> {
            name: "process.uptime", unit: "s",
            description: "Seconds since the process started.", source: "process collector",
        }
        /// Tokio workers.
        RUNTIME_WORKERS: ObservableGaugeDef<()> {
            name: "swaggy.runtime.tokio.workers", unit: "{worker}",
            description: "Worker threads of the tokio runtime.", source: "process collector",
        }
        /// Tokio alive tasks.
        RUNTIME_TASKS: ObservableGaugeDef<()> {
            name: "swaggy.runtime.tokio.tasks", unit: "{task}",
            description: "Tasks alive in the tokio runtime.", source: "process collector",
        }
        /// Tokio global queue depth.
        RUNTIME_GLOBAL_QUEUE_DEPTH: ObservableGaugeDef<()> {
            name: "swaggy.runtime.tokio.global_queue.depth", unit: "{task}",
            description: "Tasks waiting in the tokio runtime's global queue.",
            source: "process collector",
        }
    }
    /// The telemetry pipeline watching itself.
    category "Telemetry self-metrics" {
        /// Failed exports.
        TELEMETRY_EXPORT_FAILURES: CounterDef<(TelemetrySignal,)> {
            name: "swaggy.telemetry.export.failures", unit: "{export}", zero_init: true,
            description: "Export batches that failed (collector down, timeout, rejected).",
            source: "telemetry pipeline",
        }
        /// Exported spans.
        TELEMETRY_SPANS_EXPORTED: CounterDef<()> {
            name: "swaggy.telemetry.spans.exported", unit: "{span}", zero_init: true,
            description: "Spans handed to the exporter successfully.", source: "telemetry pipeline",
        }
        /// Dropped spans.
        TELEMETRY_SPANS_DROPPED: CounterDef<()> {
            name: "swaggy.telemetry.spans.dropped", unit: "{span}", zero_init: true,
            description: "Spans dropped because the export queue was full or the export failed.",
            source: "telemetry pipeline",
        }
        /// Instruments in overflow.
        TELEMETRY_METRIC_OVERFLOW: ObservableGaugeDef<(InstrumentName,)> {
            name: "swaggy.telemetry.metric.overflow", unit: "{instrument}",
            description: "1 for each instrument that hit its cardinality limit (its excess series \
                          fold into otel_metric_overflow=\"true\").",
            source: "telemetry pipeline",
        }
    }
    /// Instrumented functions (the `#[instrumented]` family of macros).
    category "Instrumented operations" {
        /// Calls.
        OPERATION_CALLS: CounterDef<(OperationName, Outcome)> {
            name: "swaggy.operation.calls", unit: "{call}",
            description: "Calls of instrumented functions, by outcome.", source: "macros",
        }
        /// Duration.
        OPERATION_DURATION: HistogramDef<(OperationName, Option<ErrorType>)> {
            name: "swaggy.operation.duration", unit: "s", buckets: FAST_OPERATION_BUCKETS,
            description: "Duration of instrumented functions.", source: "macros",
        }
    }
    /// What is running.
    category "Build" {
        /// Build information.
        BUILD_INFO: ObservableGaugeDef<(ServiceVersion, BuildRustc, BuildProfile)> {
            name: "swaggy.build.info", unit: "{build}",
            description: "Always 1; the attributes say which build is running.",
            source: "telemetry init",
        }
    }
}

/// The catalog entry for an instrument name.
pub fn lookup(name: &str) -> Option<&'static Info> {
    ALL.iter().copied().find(|i| i.name == name)
}
