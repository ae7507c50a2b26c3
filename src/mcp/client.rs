//! The instrumented MCP client: connect over stdio (a child process) or streamable HTTP, then
//! make calls that are traced, measured and bounded in time.

use super::transport::{CONNECTION_CLOSED, ConnectionShared, ParentContext, TracedTransport};
use crate::catalog::instruments::{MCP_CLIENT_SESSION_DURATION, McpSessionLabels};
use crate::catalog::values::{ErrorType, McpProtocolVersion, NetworkTransport};
use crate::catalog::{BoundedStr, Histogram};
use crate::redact::redact_urls;
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use rmcp::ServiceExt as _;
use rmcp::model::{
    CallToolResult, ClientConfig, ClientJsonRpcMessage, ClientRequest, GetExtensions, Implementation, JsonRpcMessage,
    ServerResult,
};
use rmcp::service::{ClientInitializeError, Peer, PeerRequestOptions, RoleClient, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Timeouts of a client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Bound on the handshake (spawn or connect, then `initialize`).
    pub connect_timeout: Duration,
    /// Bound on each call; the request is cancelled (`notifications/cancelled`) when it passes.
    pub call_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions { connect_timeout: Duration::from_secs(10), call_timeout: Duration::from_secs(30) }
    }
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The server command could not be started.
    #[error("cannot start {command:?}: {source}")]
    Spawn {
        /// The program.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The handshake did not finish within the connect timeout.
    #[error("no answer to initialize within {0:?}")]
    Timeout(Duration),
    /// The handshake failed (the server exited, refused, or answered something else).
    #[error("initialize failed: {0}")]
    Handshake(String),
}

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum CallError {
    /// No server of that name is configured.
    #[error("unknown MCP server {0:?}")]
    UnknownServer(String),
    /// The server is configured but not ready (starting, failed or stopped).
    #[error("MCP server {server:?} is {state}")]
    NotReady {
        /// The server.
        server: String,
        /// Its state.
        state: &'static str,
    },
    /// The method and parameters do not form an MCP request.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The server answered with a JSON-RPC error.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc {
        /// The JSON-RPC code.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// No answer within the call timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection ended before the answer.
    #[error("the connection to the MCP server closed")]
    Closed,
    /// Another transport failure.
    #[error("transport error: {0}")]
    Transport(String),
}

impl From<ServiceError> for CallError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::McpError(d) => CallError::Rpc { code: d.code.0, message: d.message.to_string() },
            ServiceError::Timeout { timeout } => CallError::Timeout(timeout),
            ServiceError::TransportClosed => CallError::Closed,
            ServiceError::TransportSend(e) => CallError::Transport(describe(&*e.error)),
            ServiceError::UnexpectedResponse => CallError::Transport("unexpected response type".into()),
            ServiceError::Cancelled { .. } => CallError::Transport("the request was cancelled".into()),
            other => CallError::Transport(clip(&redact_urls(&other.to_string()))),
        }
    }
}

/// Longest description of a failure (health details and log lines stay short).
const MAX_DESCRIPTION: usize = 200;

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_DESCRIPTION) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// A short, human description of a transport failure: what failed and its root cause (`error
/// sending request: Connection refused (os error 111)`), URLs redacted, no Rust type names.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    // rmcp's HTTP error keeps the client's error out of the source chain: start from it.
    let e: &(dyn std::error::Error + 'static) = match e.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
        Some(StreamableHttpError::Client(inner)) => inner,
        _ => e,
    };
    let top = e.to_string();
    let mut root = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let root = root.to_string();
    let text = if top.contains(&root) { top } else { format!("{top}: {root}") };
    clip(&redact_urls(&text))
}

/// [`describe`] for a failed handshake.
fn describe_init(e: &ClientInitializeError) -> String {
    match e {
        ClientInitializeError::TransportError { error, .. } => describe(&*error.error),
        ClientInitializeError::ConnectionClosed(_) => "the connection closed during the handshake".into(),
        ClientInitializeError::JsonRpcError(d) => {
            format!("the server answered JSON-RPC error {}: {}", d.code.0, clip(&redact_urls(&d.message)))
        }
        ClientInitializeError::NoCompatibleProtocolVersion { .. } => "no protocol version in common".into(),
        ClientInitializeError::Cancelled => "cancelled".into(),
        ClientInitializeError::LegacyFallbackFailed { fallback, .. } => describe_init(fallback),
        _ => "the server did not answer initialize as MCP requires".into(),
    }
}

/// The client's `initialize` identity.
fn client_info() -> ClientConfig {
    let mut info = ClientConfig::default();
    info.client_info = Implementation::new("swaggy-telemetry", env!("CARGO_PKG_VERSION"));
    info
}

/// A connected, instrumented MCP client.
///
/// Every request — including the handshake's `initialize` — gets a CLIENT span named
/// `{mcp.method.name} {tool}` parented to the caller's current context, carries that span in
/// `params._meta.traceparent` (and in the HTTP headers over streamable HTTP), and records
/// `mcp.client.operation.duration`. The session's duration is recorded when the client closes.
pub struct McpClient {
    peer: Peer<RoleClient>,
    running: Mutex<Option<RunningService<RoleClient, ClientConfig>>>,
    shared: Arc<ConnectionShared>,
    sessions: Histogram<McpSessionLabels>,
    started: Instant,
    pid: Option<u32>,
    call_timeout: Duration,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient").field("server", &self.shared.server.as_str()).field("pid", &self.pid).finish()
    }
}

impl McpClient {
    /// Spawns `command` and speaks MCP over its stdin/stdout (its stderr is inherited).
    pub async fn connect_stdio(
        server: &str,
        command: tokio::process::Command,
        options: &ClientOptions,
    ) -> Result<McpClient, ConnectError> {
        let program = command.as_std().get_program().to_string_lossy().into_owned();
        let (child, _) = TokioChildProcess::builder(command)
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .map_err(|source| ConnectError::Spawn { command: program, source })?;
        let pid = child.id();
        Self::handshake(TracedTransport::new(child, server, NetworkTransport::Pipe), pid, options).await
    }

    /// Connects to a streamable HTTP endpoint (`http://host:port/mcp`).
    pub async fn connect_http(server: &str, url: &str, options: &ClientOptions) -> Result<McpClient, ConnectError> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(|e| ConnectError::Handshake(describe(&e.without_url())))?;
        let transport = StreamableHttpClientTransport::with_client(
            TraceHeaders(http),
            StreamableHttpClientTransportConfig::with_uri(url.to_string()),
        );
        Self::handshake(TracedTransport::new(transport, server, NetworkTransport::Tcp), None, options).await
    }

    async fn handshake<T>(
        transport: TracedTransport<T>,
        pid: Option<u32>,
        options: &ClientOptions,
    ) -> Result<Self, ConnectError>
    where
        T: rmcp::transport::Transport<RoleClient> + 'static,
    {
        let shared = transport.shared();
        let sessions = MCP_CLIENT_SESSION_DURATION.build(&crate::telemetry::meter());
        let started = Instant::now();
        // The handshake runs in this task: its spans are children of the caller's context.
        let serve = client_info().serve(transport).with_context(Context::current());
        let running = match tokio::time::timeout(options.connect_timeout, serve).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(ConnectError::Handshake(describe_init(&e))),
            Err(_) => return Err(ConnectError::Timeout(options.connect_timeout)),
        };
        Ok(McpClient {
            peer: running.peer().clone(),
            running: Mutex::new(Some(running)),
            shared,
            sessions,
            started,
            pid,
            call_timeout: options.call_timeout,
        })
    }

    /// The child's process id (stdio servers).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Resolves when the connection ends (the server exited or closed it).
    pub async fn closed(&self) {
        self.shared.closed().await
    }

    /// The protocol version the server agreed to.
    pub fn protocol_version(&self) -> Option<String> {
        self.shared.protocol_version().map(|v| v.to_string())
    }

    /// Why the connection ended, when it ended on a failure this client saw (a request that
    /// could not be sent).
    pub fn close_reason(&self) -> Option<String> {
        self.shared.close_reason()
    }

    /// Ends the connection as failed, with `reason` (what [`McpClient::close_reason`] answers).
    pub(crate) fn fail(&self, reason: String) {
        self.shared.fail(reason);
    }

    /// Sends one request and waits for its answer (bounded by the call timeout).
    ///
    /// A request the transport cannot send (refused, reset, the server gone) ends the
    /// connection: over streamable HTTP nothing else would notice that the server is gone, so
    /// the orchestrator learns it here and reconnects.
    pub async fn send(&self, mut request: ClientRequest) -> Result<ServerResult, CallError> {
        let method = request.method().to_string();
        request.extensions_mut().insert(ParentContext(Context::current()));
        let sent = self.peer.send_request_with_option(request, PeerRequestOptions::with_timeout(self.call_timeout));
        let result = match sent.await {
            Ok(handle) => handle.await_response().await,
            Err(e) => Err(e),
        };
        result.map_err(|e| {
            let lost = matches!(e, ServiceError::TransportSend(_) | ServiceError::TransportClosed);
            let e = CallError::from(e);
            if lost {
                self.shared.fail(format!("{method} failed: {e}"));
            }
            e
        })
    }

    /// Any MCP method with JSON parameters; the result as JSON.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, CallError> {
        let request = parse_request(method, params)?;
        let result = self.send(request).await?;
        serde_json::to_value(&result).map_err(|e| CallError::Transport(e.to_string()))
    }

    /// `tools/call`. A result with `isError: true` is returned as is (its span and metric carry
    /// `error.type=tool_error`).
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<CallToolResult, CallError> {
        let request = parse_request("tools/call", json!({ "name": name, "arguments": arguments }))?;
        match self.send(request).await? {
            ServerResult::CallToolResult(r) => Ok(r),
            other => Err(CallError::Transport(format!("unexpected answer to tools/call: {other:?}"))),
        }
    }

    /// `ping`.
    pub async fn ping(&self) -> Result<(), CallError> {
        self.call("ping", Value::Null).await.map(|_| ())
    }

    /// Closes the session (stdio: the child is stopped).
    pub async fn close(&self) {
        let running = self.running.lock().ok().and_then(|mut r| r.take());
        if let Some(r) = running {
            let _ = r.cancel().await;
        }
        self.shared.close_all();
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        // A session that ended because the server went away is an error session.
        let error = self.shared.is_closed() && self.running.lock().map(|r| r.is_some()).unwrap_or(false);
        self.sessions.record(
            self.started.elapsed().as_secs_f64(),
            (
                self.shared.server.clone(),
                self.shared.transport,
                self.shared.protocol_version().map(|v| McpProtocolVersion(BoundedStr::Shared(v))),
                error.then_some(ErrorType(BoundedStr::Static(CONNECTION_CLOSED))),
            ),
        );
    }
}

/// An MCP request from a method name and JSON parameters (unknown methods become custom
/// requests).
pub fn parse_request(method: &str, params: Value) -> Result<ClientRequest, CallError> {
    if method.is_empty() || method.len() > 128 {
        return Err(CallError::InvalidRequest("the method must be 1-128 characters".into()));
    }
    let mut envelope = serde_json::Map::new();
    envelope.insert("method".into(), Value::String(method.to_string()));
    match params {
        Value::Null => {}
        p @ Value::Object(_) => {
            envelope.insert("params".into(), p);
        }
        _ => return Err(CallError::InvalidRequest("params must be an object".into())),
    }
    serde_json::from_value(Value::Object(envelope)).map_err(|e| CallError::InvalidRequest(e.to_string()))
}

/// The streamable HTTP client (reqwest) that also writes the request's trace context (already
/// in `params._meta`) as `traceparent`/`tracestate`/`baggage` headers, for HTTP-level tracing
/// on the server's side, and whose errors never carry the URL: rmcp logs them, and a query
/// string or user info can hold a credential.
#[derive(Debug, Clone)]
pub struct TraceHeaders<C = reqwest::Client>(pub C);

fn with_trace_headers(
    message: &ClientJsonRpcMessage,
    mut headers: HashMap<HeaderName, HeaderValue>,
) -> HashMap<HeaderName, HeaderValue> {
    use rmcp::model::GetMeta as _;
    let meta = match message {
        JsonRpcMessage::Request(r) => &r.request.get_meta().0,
        JsonRpcMessage::Notification(n) => &n.notification.get_meta().0,
        _ => return headers,
    };
    for field in super::propagation::META_FIELDS {
        if let Some(v) = meta.0.get(field).and_then(Value::as_str)
            && let Ok(v) = HeaderValue::from_str(v)
        {
            headers.insert(HeaderName::from_static(field), v);
        }
    }
    headers
}

type HttpError = StreamableHttpError<reqwest::Error>;

/// Drops the URL from a reqwest error inside an rmcp HTTP error.
fn without_url(e: HttpError) -> HttpError {
    match e {
        StreamableHttpError::Client(e) => StreamableHttpError::Client(e.without_url()),
        StreamableHttpError::Sse(e) => StreamableHttpError::Sse(sse_without_url(e)),
        other => other,
    }
}

fn sse_without_url(e: SseError) -> SseError {
    match e {
        SseError::Body(body) => match body.downcast::<reqwest::Error>() {
            Ok(e) => SseError::Body(Box::new(e.without_url())),
            Err(body) => SseError::Body(body),
        },
        other => other,
    }
}

type SseEvents = BoxStream<'static, Result<sse_stream::Sse, SseError>>;

fn events_without_url(r: Result<SseEvents, HttpError>) -> Result<SseEvents, HttpError> {
    match r {
        Ok(events) => Ok(events.map(|e| e.map_err(sse_without_url)).boxed()),
        Err(e) => Err(without_url(e)),
    }
}

impl StreamableHttpClient for TraceHeaders<reqwest::Client> {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let headers = with_trace_headers(&message, custom_headers);
        self.0.post_message(uri, message, session_id, auth_header, headers).await.map_err(without_url)
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let headers = with_trace_headers(&message, custom_headers);
        self.0
            .post_message_with_max_sse_event_size(uri, message, session_id, auth_header, headers, max_sse_event_size)
            .await
            .map_err(without_url)
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let headers = with_trace_headers(&message, custom_headers);
        self.0
            .post_message_with_response_limits(uri, message, session_id, auth_header, headers, limits)
            .await
            .map_err(without_url)
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        self.0.delete_session(uri, session_id, auth_header, custom_headers).await.map_err(without_url)
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<SseEvents, HttpError> {
        events_without_url(self.0.get_stream(uri, session_id, last_event_id, auth_header, custom_headers).await)
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<SseEvents, HttpError> {
        events_without_url(
            self.0
                .get_stream_with_max_sse_event_size(
                    uri,
                    session_id,
                    last_event_id,
                    auth_header,
                    custom_headers,
                    max_sse_event_size,
                )
                .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::transport::DynamicTransportError;

    /// A real reqwest failure for a URL with credentials (nothing listens on port 9).
    async fn refused() -> reqwest::Error {
        reqwest::Client::new().post("http://u:s3cretpw@127.0.0.1:9/mcp?k=s3cretpw").send().await.unwrap_err()
    }

    #[tokio::test]
    async fn transport_failures_read_as_short_text_without_secrets() {
        let e = refused().await;
        assert!(format!("{e:?}").contains("s3cretpw"), "the raw error holds the URL");
        // As rmcp reports a failed handshake: a type name around the client's error.
        let init = ClientInitializeError::TransportError {
            error: DynamicTransportError::from_parts(
                std::any::type_name::<TraceHeaders>(),
                std::any::TypeId::of::<TraceHeaders>(),
                Box::new(StreamableHttpError::Client(e)),
            ),
            context: "send initialize request".into(),
        };
        assert!(init.to_string().contains("::"));
        let text = describe_init(&init);
        assert!(text.starts_with("error sending request"), "{text}");
        assert!(text.to_lowercase().contains("connection refused"), "{text}");
        assert!(!text.contains("s3cretpw") && !text.contains("::") && !text.contains("Transport ["), "{text}");

        // What rmcp logs and keeps: the error after our client dropped the URL.
        let scrubbed = without_url(StreamableHttpError::Client(refused().await));
        assert!(!format!("{scrubbed} {scrubbed:?}").contains("s3cretpw"), "{scrubbed:?}");

        // A failed send on a live session.
        let send = ServiceError::TransportSend(DynamicTransportError::from_parts(
            "x",
            std::any::TypeId::of::<()>(),
            Box::new(StreamableHttpError::Client(refused().await)),
        ));
        let call = CallError::from(send).to_string();
        assert!(call.starts_with("transport error: error sending request") && !call.contains("s3cretpw"), "{call}");
        assert!(clip(&"x".repeat(500)).chars().count() <= MAX_DESCRIPTION + 1);
    }
}
