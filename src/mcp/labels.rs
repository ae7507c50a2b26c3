//! Bounded metric attributes for MCP: method names and tool names come from peers and
//! configuration, so both are folded into fixed sets before they become labels.

use crate::catalog::key;
use crate::catalog::values::{McpMethod, McpServer, NetworkTransport, ToolName};
use crate::catalog::{BoundedSet, BoundedStr};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use std::sync::LazyLock;

/// The methods of the MCP specification (2025-06-18 and 2026-07-28): always their own label.
pub const KNOWN_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "server/discover",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
];

/// The label every method outside the known set becomes (semconv's `_OTHER`).
pub const OTHER_METHOD: &str = "_OTHER";

/// Distinct tool names (`gen_ai.tool.name`) one process labels on each side — every client
/// connection shares one set, every server session another — before folding into `other`.
pub const MAX_TOOL_LABELS: usize = 128;

/// The tool names client connections label (all of them, for the life of the process).
static CLIENT_TOOLS: LazyLock<BoundedSet> = LazyLock::new(|| BoundedSet::learning(MAX_TOOL_LABELS));
/// The tool names server sessions label: the streamable HTTP service builds a handler per
/// session, and peers choose the names, so the bound must not be per handler.
static SERVER_TOOLS: LazyLock<BoundedSet> = LazyLock::new(|| BoundedSet::learning(MAX_TOOL_LABELS));

/// Folds method and tool names into bounded label values.
#[derive(Debug, Clone, Copy)]
pub struct Labeler {
    tools: &'static BoundedSet,
}

impl Labeler {
    /// The labeler of client connections (one tool-name set per process).
    pub fn client() -> Self {
        Labeler { tools: &CLIENT_TOOLS }
    }

    /// The labeler of server sessions (one tool-name set per process).
    pub fn server() -> Self {
        Labeler { tools: &SERVER_TOOLS }
    }

    /// `mcp.method.name`: a known method, or `_OTHER`.
    pub fn method(&self, method: &str) -> McpMethod {
        match KNOWN_METHODS.iter().find(|m| **m == method) {
            Some(m) => McpMethod(BoundedStr::Static(m)),
            None => McpMethod(BoundedStr::Static(OTHER_METHOD)),
        }
    }

    /// `gen_ai.tool.name` for `tools/call` (bounded; `other` past [`MAX_TOOL_LABELS`]).
    pub fn tool(&self, method: &str, target: Option<&str>) -> Option<ToolName> {
        match (method, target) {
            ("tools/call", Some(t)) => Some(ToolName(self.tools.get(t))),
            _ => None,
        }
    }
}

/// `error.type` of a JSON-RPC error code: the code as a string (semconv), interned for the
/// standard codes.
pub fn error_type_of_code(code: i32) -> BoundedStr {
    match code {
        -32700 => BoundedStr::Static("-32700"),
        -32600 => BoundedStr::Static("-32600"),
        -32601 => BoundedStr::Static("-32601"),
        -32602 => BoundedStr::Static("-32602"),
        -32603 => BoundedStr::Static("-32603"),
        -32002 => BoundedStr::Static("-32002"),
        // Server-defined codes: bounded by the cardinality limit of the instrument.
        c => BoundedStr::from(c.to_string()),
    }
}

/// Ends the span in `cx` with the outcome: `rpc.response.status_code` for a JSON-RPC error,
/// `error.type` and an error status for any failure.
pub(crate) fn end_span(cx: &Context, code: Option<i32>, error: Option<&BoundedStr>) {
    let span = cx.span();
    if let Some(c) = code {
        span.set_attribute(KeyValue::new(key::RPC_RESPONSE_STATUS_CODE, i64::from(c)));
    }
    if let Some(e) = error {
        span.set_attribute(KeyValue::new(key::ERROR_TYPE, e.to_string_value()));
        span.set_status(Status::error(e.as_str().to_string()));
    }
    span.end();
}

/// What identifies one MCP operation on its span (client or server side).
pub(crate) struct SpanStart<'a> {
    pub kind: SpanKind,
    pub method: &'a str,
    /// The tool, prompt or resource the request is about, if any.
    pub target: Option<&'a str>,
    pub server: &'a McpServer,
    pub transport: NetworkTransport,
}

impl SpanStart<'_> {
    /// Starts the span `{mcp.method.name} {target}` under `parent` with the semconv attributes
    /// (`gen_ai.tool.name` + `gen_ai.operation.name=execute_tool` for tool calls,
    /// `gen_ai.prompt.name` for prompts) plus `extra`, and returns the context holding it.
    pub fn start(self, parent: &Context, extra: impl IntoIterator<Item = KeyValue>) -> Context {
        let tracer = crate::telemetry::tracer();
        let name = match self.target {
            Some(t) => format!("{} {t}", self.method),
            None => self.method.to_string(),
        };
        let mut attrs = Vec::with_capacity(8);
        attrs.push(KeyValue::new(key::MCP_METHOD_NAME, self.method.to_string()));
        attrs.push(KeyValue::new(key::MCP_SERVER, self.server.0.to_string_value()));
        attrs.push(KeyValue::new(key::NETWORK_TRANSPORT, self.transport.as_str()));
        if let Some(t) = self.target {
            match self.method {
                "tools/call" => {
                    attrs.push(KeyValue::new(key::GEN_AI_TOOL_NAME, t.to_string()));
                    attrs.push(KeyValue::new(key::GEN_AI_OPERATION_NAME, "execute_tool"));
                }
                "prompts/get" => attrs.push(KeyValue::new(key::GEN_AI_PROMPT_NAME, t.to_string())),
                _ => {}
            }
        }
        attrs.extend(extra);
        let span =
            tracer.span_builder(name).with_kind(self.kind).with_attributes(attrs).start_with_context(&tracer, parent);
        parent.with_span(span)
    }
}
