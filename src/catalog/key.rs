//! Every attribute key, spelled once.
//!
//! OpenTelemetry semantic-convention keys keep their registry names; keys with no convention live
//! under the `swaggy.` namespace (documented in `docs/metrics.md`).

// --- semantic conventions -------------------------------------------------------------------
/// HTTP request method (`GET`, …, `_OTHER`).
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// HTTP response status code.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// Matched route template (never the raw path).
pub const HTTP_ROUTE: &str = "http.route";
/// URL scheme (`http`, `https`).
pub const URL_SCHEME: &str = "url.scheme";
/// Raw request path (spans only, never metrics).
pub const URL_PATH: &str = "url.path";
/// Protocol version (`1.1`, `2`).
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// Transport (`tcp`, `pipe`).
pub const NETWORK_TRANSPORT: &str = "network.transport";
/// Peer host name.
pub const SERVER_ADDRESS: &str = "server.address";
/// Peer port.
pub const SERVER_PORT: &str = "server.port";
/// Bounded class of error.
pub const ERROR_TYPE: &str = "error.type";
/// Database system (`postgresql`, `sqlite`, `redis`).
pub const DB_SYSTEM_NAME: &str = "db.system.name";
/// Database name or Redis database index.
pub const DB_NAMESPACE: &str = "db.namespace";
/// Operation (`SELECT`, `INSERT`, Redis command).
pub const DB_OPERATION_NAME: &str = "db.operation.name";
/// Table or collection.
pub const DB_COLLECTION_NAME: &str = "db.collection.name";
/// Low-cardinality query summary (`SELECT orders`).
pub const DB_QUERY_SUMMARY: &str = "db.query.summary";
/// Sanitized query text (literals replaced with `?`; spans only).
pub const DB_QUERY_TEXT: &str = "db.query.text";
/// SQLSTATE or Redis error prefix.
pub const DB_RESPONSE_STATUS_CODE: &str = "db.response.status_code";
/// Rows returned (spans only).
pub const DB_RESPONSE_RETURNED_ROWS: &str = "db.response.returned_rows";
/// Pool connection state (`idle`, `used`).
pub const DB_CLIENT_CONNECTION_STATE: &str = "db.client.connection.state";
/// Pool name.
pub const DB_CLIENT_CONNECTION_POOL_NAME: &str = "db.client.connection.pool.name";
/// MCP JSON-RPC method (`tools/call`).
pub const MCP_METHOD_NAME: &str = "mcp.method.name";
/// MCP session id (spans only).
pub const MCP_SESSION_ID: &str = "mcp.session.id";
/// MCP protocol version.
pub const MCP_PROTOCOL_VERSION: &str = "mcp.protocol.version";
/// JSON-RPC request id (spans only).
pub const JSONRPC_REQUEST_ID: &str = "jsonrpc.request.id";
/// JSON-RPC error code.
pub const RPC_RESPONSE_STATUS_CODE: &str = "rpc.response.status_code";
/// GenAI operation (`chat`, `execute_tool`).
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// GenAI provider.
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// Requested model.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// Token type (`input`, `output`).
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
/// Tool name.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// Prompt name.
pub const GEN_AI_PROMPT_NAME: &str = "gen_ai.prompt.name";
/// Input tokens (spans only).
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Output tokens (spans only).
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// CPU mode (`user`, `system`).
pub const CPU_MODE: &str = "cpu.mode";
/// Function or method name (code spans).
pub const CODE_FUNCTION_NAME: &str = "code.function.name";
/// Service name (resource).
pub const SERVICE_NAME: &str = "service.name";
/// Service version (build info).
pub const SERVICE_VERSION: &str = "service.version";

// --- swaggy domain namespace ----------------------------------------------------------------
/// Order side (`buy`, `sell`).
pub const ORDER_SIDE: &str = "swaggy.order.side";
/// Order type (`market`, `limit`).
pub const ORDER_TYPE: &str = "swaggy.order.type";
/// Final state of an order (`filled`, `rejected`, `cancelled`; spans only).
pub const ORDER_STATUS: &str = "swaggy.order.status";
/// Why an order was rejected (bounded set).
pub const ORDER_REJECT_REASON: &str = "swaggy.order.reject_reason";
/// Why an order was cancelled (bounded set).
pub const ORDER_CANCEL_REASON: &str = "swaggy.order.cancel_reason";
/// Trading symbol (allow-listed universe, else `other`).
pub const TRADING_SYMBOL: &str = "swaggy.trading.symbol";
/// Exposure measure (`gross`, `net`, `long`, `short`).
pub const EXPOSURE_KIND: &str = "swaggy.trading.exposure.kind";
/// Market-data feed name.
pub const MARKET_FEED: &str = "swaggy.market.feed";
/// Risk check name.
pub const RISK_CHECK: &str = "swaggy.risk.check";
/// Risk check outcome (`pass`, `fail`).
pub const RISK_OUTCOME: &str = "swaggy.risk.outcome";
/// Cache name.
pub const CACHE_NAME: &str = "swaggy.cache.name";
/// Cache lookup result (`hit`, `miss`, `error`).
pub const CACHE_RESULT: &str = "swaggy.cache.result";
/// Configured MCP server name.
pub const MCP_SERVER: &str = "swaggy.mcp.server";
/// MCP server state in the orchestrator.
pub const MCP_SERVER_STATE: &str = "swaggy.mcp.server.state";
/// Agent name.
pub const AGENT_NAME: &str = "swaggy.agent.name";
/// Coordination task kind.
pub const AGENT_TASK: &str = "swaggy.agent.task";
/// Coordination outcome.
pub const AGENT_OUTCOME: &str = "swaggy.agent.outcome";
/// Insight kind.
pub const INSIGHT_KIND: &str = "swaggy.insight.kind";
/// Health check name.
pub const HEALTH_CHECK: &str = "swaggy.health.check";
/// Health state.
pub const HEALTH_STATE: &str = "swaggy.health.state";
/// Health check criticality.
pub const HEALTH_CRITICAL: &str = "swaggy.health.critical";
/// WebSocket topic.
pub const WS_TOPIC: &str = "swaggy.websocket.topic";
/// Why a WebSocket connection was refused or closed.
pub const WS_REASON: &str = "swaggy.websocket.reason";
/// Task queue name.
pub const TASK_QUEUE: &str = "swaggy.task_queue.name";
/// Telemetry signal (`traces`, `metrics`).
pub const TELEMETRY_SIGNAL: &str = "swaggy.telemetry.signal";
/// Instrument name (self-metrics).
pub const TELEMETRY_INSTRUMENT: &str = "swaggy.telemetry.instrument";
/// Instrumented operation name (the `#[instrumented]` macro).
pub const OPERATION_NAME: &str = "swaggy.operation.name";
/// Instrumented operation outcome (`ok`, `error`).
pub const OPERATION_OUTCOME: &str = "swaggy.operation.outcome";
/// Rust toolchain that built the binary.
pub const BUILD_RUSTC: &str = "swaggy.build.rustc";
/// Cargo profile that built the binary.
pub const BUILD_PROFILE: &str = "swaggy.build.profile";
