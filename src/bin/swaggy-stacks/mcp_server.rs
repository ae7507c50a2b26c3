//! `swaggy-stacks mcp-server`: the bundled MCP server (a market-data and risk research desk),
//! over stdio (the default: the demo spawns its own executable with it) or streamable HTTP.
//!
//! Tools: `get_quote`, `get_history`, `assess_risk`; resource `swaggy://universe`; prompt
//! `market_brief`. It runs its own simulated feed (the same universe and starting prices as
//! the trading service, walking independently), instrumented server-side.

use crate::market::{Market, UNIVERSE};
use crate::metrics::TradingMetrics;
use rmcp::ErrorData as McpError;
use rmcp::ServerHandler;
use rmcp::model::*;
use rmcp::service::{RequestContext, RoleServer};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use swaggy_telemetry::catalog::values::NetworkTransport;
use swaggy_telemetry::mcp::InstrumentedServer;

/// The server's name in `swaggy.mcp.server` on its own telemetry.
pub const SERVER_NAME: &str = "swaggy-market";
/// The resource listing the symbol universe.
pub const UNIVERSE_URI: &str = "swaggy://universe";
/// Largest simulated think time `assess_risk` accepts.
pub const MAX_THINK_MS: u64 = 10_000;
/// Largest order notional the risk desk approves.
pub const MAX_APPROVED_NOTIONAL: f64 = 250_000.0;

/// The tools, resources and prompts.
#[derive(Clone)]
pub struct MarketDesk {
    market: Arc<Market>,
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, McpError> {
    serde_json::from_value(v).map_err(|e| McpError::internal_error(format!("building the result: {e}"), None))
}

fn tool_text(structured: Value, is_error: bool) -> Result<CallToolResult, McpError> {
    from_json(json!({
        "content": [{ "type": "text", "text": structured.to_string() }],
        "structuredContent": structured,
        "isError": is_error,
    }))
}

fn arg<'a>(args: &'a Option<JsonObject>, name: &str) -> Option<&'a Value> {
    args.as_ref().and_then(|a| a.get(name))
}

impl MarketDesk {
    fn symbol(&self, args: &Option<JsonObject>) -> Result<&'static str, Result<CallToolResult, McpError>> {
        let raw = match arg(args, "symbol").and_then(Value::as_str) {
            Some(s) => s,
            None => return Err(Err(McpError::invalid_params("\"symbol\" (a string) is required", None))),
        };
        // An unknown symbol is a tool-level error (the model can correct it), not a protocol one.
        self.market
            .canonical(raw)
            .ok_or_else(|| tool_text(json!({ "error": "unknown symbol", "symbols": UNIVERSE.len() }), true))
    }

    async fn call(&self, name: &str, args: &Option<JsonObject>) -> Result<CallToolResult, McpError> {
        match name {
            "get_quote" => {
                let symbol = match self.symbol(args) {
                    Ok(s) => s,
                    Err(r) => return r,
                };
                let q = self.market.quote(symbol).ok_or_else(|| McpError::internal_error("no quote", None))?;
                tool_text(serde_json::to_value(q).unwrap_or_default(), false)
            }
            "get_history" => {
                let symbol = match self.symbol(args) {
                    Ok(s) => s,
                    Err(r) => return r,
                };
                let points = match arg(args, "points") {
                    None => 30,
                    Some(v) => match v.as_u64() {
                        Some(n @ 1..=500) => n as usize,
                        _ => return Err(McpError::invalid_params("\"points\" must be an integer in [1, 500]", None)),
                    },
                };
                let q = self.market.quote(symbol).ok_or_else(|| McpError::internal_error("no quote", None))?;
                // A deterministic synthetic history ending at the current price (simulated).
                let history: Vec<Value> = (0..points)
                    .map(|i| {
                        let back = (points - 1 - i) as f64;
                        let px = q.last * (1.0 + 0.002 * (back * 0.7).sin() - 0.0005 * back.sqrt());
                        json!({ "t_ms": q.ts_ms - (back as i64) * 60_000, "close": (px * 100.0).round() / 100.0 })
                    })
                    .collect();
                tool_text(json!({ "symbol": symbol, "interval": "1m", "points": history }), false)
            }
            "assess_risk" => {
                let symbol = match self.symbol(args) {
                    Ok(s) => s,
                    Err(r) => return r,
                };
                let side = match arg(args, "side").and_then(Value::as_str) {
                    Some(s @ ("buy" | "sell")) => s,
                    _ => return Err(McpError::invalid_params("\"side\" must be \"buy\" or \"sell\"", None)),
                };
                let quantity = match arg(args, "quantity").and_then(Value::as_i64) {
                    Some(q @ 1..=1_000_000) => q,
                    _ => return Err(McpError::invalid_params("\"quantity\" must be an integer in [1, 1000000]", None)),
                };
                let think_ms = match arg(args, "think_ms") {
                    None => 0,
                    Some(v) => match v.as_u64() {
                        Some(ms) if ms <= MAX_THINK_MS => ms,
                        _ => {
                            return Err(McpError::invalid_params(
                                format!("\"think_ms\" must be an integer in [0, {MAX_THINK_MS}]"),
                                None,
                            ));
                        }
                    },
                };
                if think_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(think_ms)).await;
                }
                let q = self.market.quote(symbol).ok_or_else(|| McpError::internal_error("no quote", None))?;
                let notional = q.last * quantity as f64;
                let score = (notional / MAX_APPROVED_NOTIONAL).min(1.0);
                let approved = notional <= MAX_APPROVED_NOTIONAL;
                tool_text(
                    json!({
                        "symbol": symbol, "side": side, "quantity": quantity, "notional": notional,
                        "score": (score * 1000.0).round() / 1000.0, "approved": approved,
                        "reason": if approved { "within limits" } else { "order notional above the desk limit" },
                    }),
                    false,
                )
            }
            _ => Err(McpError::invalid_params(
                format!("unknown tool {:?}", name.chars().take(64).collect::<String>()),
                None,
            )),
        }
    }
}

fn tools() -> Value {
    let symbol = json!({ "type": "string", "description": "A symbol of the universe (swaggy://universe)" });
    json!({ "tools": [
        { "name": "get_quote", "description": "Current bid/ask/last of a symbol (simulated feed).",
          "inputSchema": { "type": "object", "properties": { "symbol": symbol }, "required": ["symbol"] } },
        { "name": "get_history", "description": "Recent one-minute closes of a symbol (simulated).",
          "inputSchema": { "type": "object", "properties": { "symbol": symbol,
              "points": { "type": "integer", "minimum": 1, "maximum": 500 } }, "required": ["symbol"] } },
        { "name": "assess_risk", "description": "Pre-trade risk opinion on an order.",
          "inputSchema": { "type": "object", "properties": { "symbol": symbol,
              "side": { "type": "string", "enum": ["buy", "sell"] },
              "quantity": { "type": "integer", "minimum": 1, "maximum": 1000000 },
              "think_ms": { "type": "integer", "minimum": 0, "maximum": MAX_THINK_MS } },
            "required": ["symbol", "side", "quantity"] } },
    ]})
}

impl ServerHandler for MarketDesk {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::default();
        info.capabilities = ServerCapabilities::builder().enable_tools().enable_resources().enable_prompts().build();
        info.server_info = Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION"));
        info.instructions = Some("Simulated market data and risk opinions for the Swaggy Stacks demo.".into());
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        from_json(tools())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.call(&request.name, &request.arguments).await.map(Into::into)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        from_json(json!({ "resources": [{ "uri": UNIVERSE_URI, "name": "universe",
            "description": "The tradable symbols and their starting prices", "mimeType": "application/json" }] }))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if request.uri != UNIVERSE_URI {
            return Err(McpError::resource_not_found("no such resource", None));
        }
        let symbols: Vec<Value> = UNIVERSE.iter().map(|(s, p)| json!({ "symbol": s, "start_price": p })).collect();
        let r: ReadResourceResult = from_json(json!({ "contents": [{ "uri": UNIVERSE_URI,
            "mimeType": "application/json", "text": Value::Array(symbols).to_string() }] }))?;
        Ok(r.into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        from_json(json!({ "prompts": [{ "name": "market_brief", "description": "Brief an analyst on a symbol",
            "arguments": [{ "name": "symbol", "required": true }] }] }))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if request.name != "market_brief" {
            return Err(McpError::invalid_params("unknown prompt", None));
        }
        let raw = request.arguments.as_ref().and_then(|a| a.get("symbol")).and_then(Value::as_str).unwrap_or("");
        let symbol = self.market.canonical(raw).ok_or_else(|| McpError::invalid_params("unknown symbol", None))?;
        let q = self.market.quote(symbol).ok_or_else(|| McpError::internal_error("no quote", None))?;
        let r: GetPromptResult = from_json(json!({ "description": format!("Brief on {symbol}"), "messages": [{
            "role": "user", "content": { "type": "text",
            "text": format!("Summarise the outlook for {symbol} (last {:.2}, spread {:.2}) in three bullet points.", q.last, q.ask - q.bid) } }] }))?;
        Ok(r.into())
    }
}

/// How the server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum McpTransportArg {
    /// stdin/stdout (what the demo spawns).
    Stdio,
    /// Streamable HTTP on `--listen`, path `/mcp`.
    Http,
}

fn desk(stop: tokio::sync::watch::Receiver<bool>) -> MarketDesk {
    let market = Market::new();
    tokio::spawn(market.clone().run(TradingMetrics::new(), Duration::from_millis(250), stop));
    MarketDesk { market }
}

/// Serves MCP on stdin/stdout until the client closes it.
pub async fn run_stdio() -> Result<(), String> {
    use rmcp::ServiceExt as _;
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let server = InstrumentedServer::new(desk(stop_rx), SERVER_NAME, NetworkTransport::Pipe);
    let running = server.serve(rmcp::transport::stdio()).await.map_err(|e| format!("MCP handshake failed: {e}"))?;
    let _ = running.waiting().await;
    Ok(())
}

/// The tools over streamable HTTP (one instrumented handler per session), on `market`.
pub fn http_service(
    market: Arc<Market>,
) -> rmcp::transport::StreamableHttpService<
    InstrumentedServer<MarketDesk>,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
    let desk = MarketDesk { market };
    StreamableHttpService::new(
        move || Ok(InstrumentedServer::new(desk.clone(), SERVER_NAME, NetworkTransport::Tcp)),
        Default::default(),
        StreamableHttpServerConfig::default(),
    )
}

/// Serves MCP over streamable HTTP at `{listener}/mcp` until `shutdown` resolves.
pub async fn run_http(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let desk = desk(stop_rx);
    let router = axum::Router::new()
        .nest_service("/mcp", http_service(desk.market))
        .layer(swaggy_telemetry::http::HttpTelemetryLayer::new());
    // The service's accept loop: header-read timeout, and a bounded shutdown even while a
    // client holds its `GET /mcp` event stream open (MCP clients do, for as long as they live).
    crate::server::serve(listener, router, shutdown, crate::server::SHUTDOWN_GRACE).await.map_err(|e| e.to_string())
}
