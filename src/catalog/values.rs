//! Typed attribute values: one type per attribute key.
//!
//! Enumerations are dense (pre-bound, zero-initialised where the instrument asks for it);
//! string newtypes carry values the caller keeps bounded (templates, configured names,
//! allow-listed input through [`super::BoundedSet`]).

use super::key;
use super::labels::{LabelValue, label_enum, label_int, label_str};
use opentelemetry::Value;

// --- HTTP -----------------------------------------------------------------------------------
label_enum! {
    /// `http.request.method`; anything else is `_OTHER` (semconv).
    pub enum HttpMethod: key::HTTP_REQUEST_METHOD {
        Get = "GET", Head = "HEAD", Post = "POST", Put = "PUT", Delete = "DELETE",
        Connect = "CONNECT", Options = "OPTIONS", Trace = "TRACE", Patch = "PATCH", Other = "_OTHER",
    }
}

impl HttpMethod {
    /// Maps a request method to the bounded set.
    #[inline]
    pub fn from_http(method: &http::Method) -> Self {
        match *method {
            http::Method::GET => HttpMethod::Get,
            http::Method::HEAD => HttpMethod::Head,
            http::Method::POST => HttpMethod::Post,
            http::Method::PUT => HttpMethod::Put,
            http::Method::DELETE => HttpMethod::Delete,
            http::Method::CONNECT => HttpMethod::Connect,
            http::Method::OPTIONS => HttpMethod::Options,
            http::Method::TRACE => HttpMethod::Trace,
            http::Method::PATCH => HttpMethod::Patch,
            _ => HttpMethod::Other,
        }
    }
}

label_enum! {
    /// `url.scheme`.
    pub enum UrlScheme: key::URL_SCHEME { Http = "http", Https = "https" }
}
label_int! {
    /// `http.response.status_code`.
    pub struct HttpStatusCode(u16): key::HTTP_RESPONSE_STATUS_CODE;
}
label_str! {
    /// `http.route`: the matched route template.
    pub struct HttpRoute: key::HTTP_ROUTE;
}
label_str! {
    /// `error.type`: a bounded error class (status code, error variant name, …).
    pub struct ErrorType: key::ERROR_TYPE;
}
label_str! {
    /// `server.address`.
    pub struct ServerAddress: key::SERVER_ADDRESS;
}
label_int! {
    /// `server.port`.
    pub struct ServerPort(u16): key::SERVER_PORT;
}

// --- databases ------------------------------------------------------------------------------
label_enum! {
    /// `db.system.name`.
    pub enum DbSystem: key::DB_SYSTEM_NAME {
        Postgresql = "postgresql", Sqlite = "sqlite", Mysql = "mysql", Redis = "redis",
        OtherSql = "other_sql",
    }
}
label_str! {
    /// `db.namespace`.
    pub struct DbNamespace: key::DB_NAMESPACE;
}
label_str! {
    /// `db.operation.name`.
    pub struct DbOperation: key::DB_OPERATION_NAME;
}
label_str! {
    /// `db.collection.name`.
    pub struct DbCollection: key::DB_COLLECTION_NAME;
}
label_str! {
    /// `db.query.summary`.
    pub struct DbQuerySummary: key::DB_QUERY_SUMMARY;
}
label_str! {
    /// `db.response.status_code`.
    pub struct DbStatusCode: key::DB_RESPONSE_STATUS_CODE;
}
label_enum! {
    /// `db.client.connection.state`.
    pub enum ConnectionState: key::DB_CLIENT_CONNECTION_STATE { Idle = "idle", Used = "used" }
}
label_str! {
    /// `db.client.connection.pool.name`.
    pub struct PoolName: key::DB_CLIENT_CONNECTION_POOL_NAME;
}

// --- MCP and GenAI --------------------------------------------------------------------------
label_str! {
    /// `mcp.method.name`.
    pub struct McpMethod: key::MCP_METHOD_NAME;
}
label_str! {
    /// `mcp.protocol.version`.
    pub struct McpProtocolVersion: key::MCP_PROTOCOL_VERSION;
}
label_int! {
    /// `rpc.response.status_code`: the JSON-RPC error code.
    pub struct RpcStatusCode(i32): key::RPC_RESPONSE_STATUS_CODE;
}
label_enum! {
    /// `network.transport`.
    pub enum NetworkTransport: key::NETWORK_TRANSPORT { Tcp = "tcp", Pipe = "pipe", Unix = "unix" }
}
label_enum! {
    /// `gen_ai.operation.name`.
    pub enum GenAiOperation: key::GEN_AI_OPERATION_NAME {
        Chat = "chat", TextCompletion = "text_completion", Embeddings = "embeddings",
        ExecuteTool = "execute_tool", GenerateContent = "generate_content",
        InvokeAgent = "invoke_agent",
    }
}
label_str! {
    /// `gen_ai.provider.name`.
    pub struct GenAiProvider: key::GEN_AI_PROVIDER_NAME;
}
label_str! {
    /// `gen_ai.request.model`.
    pub struct GenAiModel: key::GEN_AI_REQUEST_MODEL;
}
label_enum! {
    /// `gen_ai.token.type`.
    pub enum TokenType: key::GEN_AI_TOKEN_TYPE { Input = "input", Output = "output" }
}
label_str! {
    /// `gen_ai.tool.name`.
    pub struct ToolName: key::GEN_AI_TOOL_NAME;
}
label_str! {
    /// `gen_ai.prompt.name`.
    pub struct PromptName: key::GEN_AI_PROMPT_NAME;
}
label_str! {
    /// `swaggy.mcp.server`: the configured server name.
    pub struct McpServer: key::MCP_SERVER;
}
label_enum! {
    /// `swaggy.mcp.server.state`.
    pub enum McpServerState: key::MCP_SERVER_STATE {
        Starting = "starting", Ready = "ready", Failed = "failed", Stopped = "stopped",
    }
}
label_str! {
    /// `swaggy.agent.name`.
    pub struct AgentName: key::AGENT_NAME;
}
label_str! {
    /// `swaggy.agent.task`.
    pub struct AgentTask: key::AGENT_TASK;
}
label_enum! {
    /// `swaggy.agent.outcome`.
    pub enum AgentOutcome: key::AGENT_OUTCOME { Success = "success", Partial = "partial", Failure = "failure" }
}
label_str! {
    /// `swaggy.insight.kind`.
    pub struct InsightKind: key::INSIGHT_KIND;
}

// --- trading --------------------------------------------------------------------------------
label_enum! {
    /// `swaggy.order.side`.
    pub enum OrderSide: key::ORDER_SIDE { Buy = "buy", Sell = "sell" }
}
label_enum! {
    /// `swaggy.order.type`.
    pub enum OrderType: key::ORDER_TYPE { Market = "market", Limit = "limit" }
}
label_enum! {
    /// `swaggy.order.reject_reason`: why the broker or risk refused an order.
    pub enum RejectReason: key::ORDER_REJECT_REASON {
        InsufficientCash = "insufficient_cash",
        InsufficientPosition = "insufficient_position",
        PositionLimit = "position_limit",
        NotionalLimit = "notional_limit",
        StaleMarketData = "stale_market_data",
        RiskAgent = "risk_agent",
        BrokerUnavailable = "broker_unavailable",
    }
}
label_enum! {
    /// `swaggy.order.cancel_reason`.
    pub enum CancelReason: key::ORDER_CANCEL_REASON {
        LimitNotMarketable = "limit_not_marketable", Expired = "expired",
    }
}
label_str! {
    /// `swaggy.trading.symbol`: allow-listed by the symbol universe.
    pub struct Symbol: key::TRADING_SYMBOL;
}
label_enum! {
    /// `swaggy.trading.exposure.kind`.
    pub enum ExposureKind: key::EXPOSURE_KIND { Gross = "gross", Net = "net", Long = "long", Short = "short" }
}
label_str! {
    /// `swaggy.market.feed`.
    pub struct MarketFeed: key::MARKET_FEED;
}
label_enum! {
    /// `swaggy.risk.check`.
    pub enum RiskCheck: key::RISK_CHECK {
        BuyingPower = "buying_power", PositionLimit = "position_limit",
        OrderNotional = "order_notional", MarketDataFreshness = "market_data_freshness",
        AgentAssessment = "agent_assessment",
    }
}
label_enum! {
    /// `swaggy.risk.outcome`.
    pub enum RiskOutcome: key::RISK_OUTCOME { Pass = "pass", Fail = "fail" }
}

// --- cache, health, stream, queue, self -----------------------------------------------------
label_str! {
    /// `swaggy.cache.name`.
    pub struct CacheName: key::CACHE_NAME;
}
label_enum! {
    /// `swaggy.cache.result`.
    pub enum CacheResult: key::CACHE_RESULT { Hit = "hit", Miss = "miss", Error = "error" }
}
label_str! {
    /// `swaggy.health.check`: a registered check name.
    pub struct HealthCheckName: key::HEALTH_CHECK;
}
label_enum! {
    /// `swaggy.health.state`: a check's or the overall state.
    pub enum HealthState: key::HEALTH_STATE {
        Healthy = "healthy", Degraded = "degraded", Unhealthy = "unhealthy",
        Timeout = "timeout", Unreachable = "unreachable", Error = "error",
    }
}
label_enum! {
    /// `swaggy.health.critical`.
    pub enum Criticality: key::HEALTH_CRITICAL { Critical = "true", Optional = "false" }
}
label_enum! {
    /// `swaggy.websocket.topic`.
    pub enum WsTopic: key::WS_TOPIC {
        SystemHealth = "system_health", MetricsSummary = "metrics_summary", Trading = "trading",
        Mcp = "mcp", Quotes = "quotes",
    }
}
label_enum! {
    /// `swaggy.websocket.reason`: why a connection was refused or closed, or an error class.
    pub enum WsReason: key::WS_REASON {
        Capacity = "capacity", Unauthorized = "unauthorized", ForbiddenOrigin = "forbidden_origin",
        Idle = "idle", MessageTooBig = "message_too_big", PolicyViolation = "policy_violation",
        InvalidMessage = "invalid_message", InvalidInterval = "invalid_interval",
        UnknownTopic = "unknown_topic", Shutdown = "shutdown", ClientClosed = "client_closed",
        Transport = "transport",
    }
}
label_str! {
    /// `swaggy.task_queue.name`.
    pub struct TaskQueue: key::TASK_QUEUE;
}
label_enum! {
    /// `swaggy.telemetry.signal`.
    pub enum TelemetrySignal: key::TELEMETRY_SIGNAL { Traces = "traces", Metrics = "metrics" }
}
label_str! {
    /// `swaggy.telemetry.instrument`.
    pub struct InstrumentName: key::TELEMETRY_INSTRUMENT;
}
label_str! {
    /// `swaggy.operation.name`: the instrumented function.
    pub struct OperationName: key::OPERATION_NAME;
}
label_enum! {
    /// `swaggy.operation.outcome`.
    pub enum Outcome: key::OPERATION_OUTCOME { Ok = "ok", Error = "error" }
}
label_enum! {
    /// `cpu.mode`.
    pub enum CpuMode: key::CPU_MODE { User = "user", System = "system" }
}
label_str! {
    /// `service.version`.
    pub struct ServiceVersion: key::SERVICE_VERSION;
}
label_str! {
    /// `swaggy.build.rustc`.
    pub struct BuildRustc: key::BUILD_RUSTC;
}
label_str! {
    /// `swaggy.build.profile`.
    pub struct BuildProfile: key::BUILD_PROFILE;
}
