//! MCP (Model Context Protocol) instrumentation on `rmcp`, both sides of the wire, following
//! the MCP semantic conventions:
//!
//! * [`McpClient`] — connect over stdio (a child process) or streamable HTTP; every request
//!   and notification (including the handshake's `initialize`) gets a CLIENT span
//!   `{mcp.method.name} {gen_ai.tool.name}` and `mcp.client.operation.duration`; the span's
//!   context travels in `params._meta` (`traceparent`, `tracestate`, `baggage`) and, over
//!   HTTP, in the headers too. JSON-RPC errors set `error.type` (the code) and
//!   `rpc.response.status_code`; a tool result with `isError` sets `error.type=tool_error`;
//!   timeouts and lost connections end the span as `timeout` / `connection_closed`.
//! * [`InstrumentedServer`] — wraps any rmcp [`rmcp::ServerHandler`]: SERVER spans parented to
//!   the client's context, `mcp.server.operation.duration`, session durations.
//! * [`Orchestrator`] — named servers from an `mcpServers` JSON file, per-server state with
//!   restart and backoff (a server fails when its process ends, when a request cannot be sent,
//!   or when it leaves two keepalive pings in a row unanswered — a hung stdio server is then
//!   killed and replaced), bounded shutdown,
//!   `call_mcp_method(server, method, params)`, state gauges and health checks.
//! * [`Coordination`] — one agent task over several MCP calls: a parent span and the
//!   coordination metrics (`record_mcp_agent_coordination` in the seed).
//!
//! Metric attributes are bounded: methods outside the specification fold into `_OTHER`, tool
//! names past 128 per process and side (client, server) into `other`; session and request ids go on spans only.

mod child;
mod client;
mod coordination;
mod labels;
mod orchestrator;
mod propagation;
mod server;
mod transport;

pub use client::{CLOSE_GRACE, CallError, ClientOptions, ConnectError, McpClient, TraceHeaders, parse_request};
pub use coordination::{Coordination, declare_coordination_task, record_mcp_agent_coordination};
pub use labels::{KNOWN_METHODS, MAX_TOOL_LABELS, OTHER_METHOD};
pub use orchestrator::{
    KEEPALIVE, MISSED_PINGS, McpConfigError, McpServersFile, Orchestrator, OrchestratorCheck, PING_TIMEOUT,
    ServerCheck, ServerEntry, ServerStatus,
};
pub use propagation::{META_FIELDS, extract as extract_meta, inject as inject_meta};
pub use server::InstrumentedServer;
pub use transport::{CANCELLED, CONNECTION_CLOSED, ParentContext, TIMEOUT, TOOL_ERROR, TracedTransport};
