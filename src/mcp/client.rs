//! The instrumented MCP client: connect over stdio (a child process) or streamable HTTP, then
//! make calls that are traced, measured and bounded in time.

use super::child::{ChildProcess, ChildTransport};
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
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bound on [`McpClient::close`]: the session's orderly end (for stdio: stdin closed, the
/// server's exit awaited), after which a stdio server is killed.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

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
/// sending request: Connection refused (os error 111)`), URLs redacted, no Rust type names, and
/// nothing the remote server wrote — a response body can echo the request, credentials and
/// all: an HTTP failure reads as its status line (`HTTP 400 Bad Request`).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    // rmcp's HTTP error keeps the client's error out of the source chain: start from it.
    let e: &(dyn std::error::Error + 'static) = match e.downcast_ref::<HttpError>() {
        Some(StreamableHttpError::Client(inner)) => inner,
        Some(http) => match describe_http(http) {
            Some(text) => return clip(&redact_urls(&text)),
            None => e,
        },
        None => e,
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

/// [`describe`] for the rmcp HTTP errors that hold text from the server (a body, a parse error
/// quoting it, a header, a JSON-RPC message); `None` for the others.
fn describe_http(e: &HttpError) -> Option<String> {
    use StreamableHttpError as H;
    Some(match e {
        H::UnexpectedServerResponse(text) => match without_server_text(text) {
            status if status.starts_with("HTTP ") => status,
            words => format!("unexpected server response: {words}"),
        },
        H::HttpStatus(s) => status_line(s.status),
        H::Deserialize(_) => "the server's answer is not a JSON-RPC message".into(),
        H::ReinitializationFailed(d) => format!("session re-initialization failed: JSON-RPC error {}", d.code.0),
        H::UnexpectedContentType(ct) => {
            format!("unexpected content type {}", ct.as_deref().map(media_type).unwrap_or("(none)"))
        }
        H::AuthRequired(_) => "authorization required (HTTP 401)".into(),
        H::InsufficientScope(_) => "insufficient scope (HTTP 403)".into(),
        _ => return None,
    })
}

/// `HTTP 400 Bad Request` (the standard reason, never the server's own words).
fn status_line(code: u16) -> String {
    match http::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()) {
        Some(reason) => format!("HTTP {code} {reason}"),
        None => format!("HTTP {code}"),
    }
}

/// The media type of a `Content-Type` value when it looks like one (`text/html`), else `other`.
fn media_type(content_type: &str) -> &str {
    let t = content_type.split(';').next().unwrap_or_default().trim();
    let token = |c: char| c.is_ascii_alphanumeric() || "/.+-_".contains(c);
    if !t.is_empty() && t.len() <= 64 && t.chars().all(token) { t } else { "other" }
}

/// rmcp's "unexpected server response" text without what the server sent: `HTTP 400 Bad
/// Request: <body>` becomes its status line; `could not parse …: <serde error>: <body>` and
/// `expect json, got <the answer>` keep their leading words. Idempotent.
fn without_server_text(text: &str) -> String {
    if let Some(rest) = text.strip_prefix("HTTP ") {
        let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return status_line(code.parse().unwrap_or(0));
    }
    let end = text.find([':', '(', '{', '[', '"', '\'']).unwrap_or(text.len());
    text[..end].trim_end().to_string()
}

/// [`describe`] for a failed handshake (a JSON-RPC error by its code only: its message is the
/// server's text).
fn describe_init(e: &ClientInitializeError) -> String {
    match e {
        ClientInitializeError::TransportError { error, .. } => describe(&*error.error),
        ClientInitializeError::ConnectionClosed(_) => "the connection closed during the handshake".into(),
        ClientInitializeError::JsonRpcError(d) => format!("the server answered JSON-RPC error {}", d.code.0),
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
    /// The server's process (stdio).
    child: Option<Arc<ChildProcess>>,
    call_timeout: Duration,
    /// Set by the first [`McpClient::close`]; later (or concurrent) calls wait on the same one.
    closing: tokio::sync::OnceCell<()>,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient").field("server", &self.shared.server.as_str()).field("pid", &self.pid()).finish()
    }
}

impl McpClient {
    /// Spawns `command` and speaks MCP over its stdin/stdout (its stderr is inherited). The
    /// process belongs to the client: [`McpClient::close`] ends it (stdin closed, then killed
    /// after [`CLOSE_GRACE`]), and so does dropping the client.
    pub async fn connect_stdio(
        server: &str,
        command: tokio::process::Command,
        options: &ClientOptions,
    ) -> Result<McpClient, ConnectError> {
        let program = command.as_std().get_program().to_string_lossy().into_owned();
        let (child, stdout, stdin) =
            ChildProcess::spawn(command).map_err(|source| ConnectError::Spawn { command: program, source })?;
        let transport = ChildTransport::new(child.clone(), stdout, stdin);
        let connected = Self::handshake(
            TracedTransport::new(transport, server, NetworkTransport::Pipe),
            Some(child.clone()),
            options,
        )
        .await;
        if connected.is_err() {
            // A server that did not complete the handshake (hung, or talking nonsense) is not
            // left running.
            child.kill().await;
        }
        connected
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
        child: Option<Arc<ChildProcess>>,
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
            child,
            call_timeout: options.call_timeout,
            closing: tokio::sync::OnceCell::new(),
        })
    }

    /// The child's process id (stdio servers).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.pid())
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
    /// could not be sent, a server that stopped answering).
    pub fn close_reason(&self) -> Option<String> {
        self.shared.close_reason()
    }

    /// Ends the connection as failed, with `reason` (what [`McpClient::close_reason`] answers).
    /// Calls in flight fail at once with [`CallError::Closed`].
    pub(crate) fn fail(&self, reason: String) {
        self.shared.fail(reason);
    }

    /// How long ago the server last answered a request (with a result or an error).
    pub(crate) fn since_last_answer(&self) -> Duration {
        self.shared.since_last_answer()
    }

    /// Sends one request and waits for its answer (bounded by the call timeout).
    ///
    /// A request the transport cannot send (refused, reset, the server gone) ends the
    /// connection: over streamable HTTP nothing else would notice that the server is gone, so
    /// the orchestrator learns it here and reconnects. When the connection ends while the
    /// request waits (the server exited, was failed as hung, or the client closes), the call
    /// fails at once with [`CallError::Closed`].
    pub async fn send(&self, request: ClientRequest) -> Result<ServerResult, CallError> {
        self.send_within(request, self.call_timeout).await
    }

    async fn send_within(&self, mut request: ClientRequest, timeout: Duration) -> Result<ServerResult, CallError> {
        let method = request.method().to_string();
        if self.shared.is_closed() {
            return Err(CallError::Closed);
        }
        request.extensions_mut().insert(ParentContext(Context::current()));
        let sent = self.peer.send_request_with_option(request, PeerRequestOptions::with_timeout(timeout));
        let answer = async {
            match sent.await {
                Ok(handle) => handle.await_response().await,
                Err(e) => Err(e),
            }
        };
        let result = tokio::select! {
            biased;
            r = answer => r,
            () = self.shared.closed() => Err(ServiceError::TransportClosed),
            // rmcp's timeout covers the wait for the answer; this one also covers queueing the
            // request behind a write the server does not drain.
            () = tokio::time::sleep(timeout + Duration::from_secs(1)) => Err(ServiceError::Timeout { timeout }),
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

    /// `ping`, waiting at most `timeout` for the answer.
    pub(crate) async fn ping_within(&self, timeout: Duration) -> Result<(), CallError> {
        let request = parse_request("ping", Value::Null)?;
        self.send_within(request, timeout).await.map(|_| ())
    }

    /// Closes the session within [`CLOSE_GRACE`]: calls in flight fail at once
    /// ([`CallError::Closed`]); the session ends in order (stdio: the server's stdin closes and
    /// its exit is awaited) or, past the grace, a stdio server is killed. Returns when a stdio
    /// server's process is gone. Concurrent and repeated calls wait for the same close.
    pub async fn close(&self) {
        self.closing
            .get_or_init(|| async {
                let running = self.running.lock().ok().and_then(|mut r| r.take());
                self.shared.close_all();
                if let Some(r) = running
                    && tokio::time::timeout(CLOSE_GRACE, r.cancel()).await.is_err()
                {
                    tracing::debug!(server = %self.shared.server.as_str(), "MCP session did not close in time");
                }
                if let Some(child) = &self.child {
                    child.kill().await;
                }
            })
            .await;
    }

    /// Ends a connection that failed (the server exited or stopped answering) without waiting
    /// on the server: a stdio server is killed, the session's task is told to stop.
    pub(crate) async fn abort(&self) {
        self.shared.close_all();
        if let Some(child) = &self.child {
            child.kill().await;
        }
        if let Some(r) = self.running.lock().ok().as_ref().and_then(|r| r.as_ref()) {
            r.cancellation_token().cancel();
        }
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

/// Drops the URL from a reqwest error inside an rmcp HTTP error, and the server's text (an
/// error body, which may echo the request) from an unexpected answer: rmcp logs these errors.
fn without_url(e: HttpError) -> HttpError {
    match e {
        StreamableHttpError::Client(e) => StreamableHttpError::Client(e.without_url()),
        StreamableHttpError::Sse(e) => StreamableHttpError::Sse(sse_without_url(e)),
        StreamableHttpError::UnexpectedServerResponse(text) => {
            StreamableHttpError::UnexpectedServerResponse(Cow::Owned(without_server_text(&text)))
        }
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

    fn described(e: HttpError) -> String {
        describe(&e)
    }

    #[test]
    fn what_a_server_sent_never_reaches_a_description() {
        const SECRET: &str = "s3cretpw";
        let body = |prefix: &str| StreamableHttpError::UnexpectedServerResponse(format!("{prefix}{SECRET}").into());
        for (error, want) in [
            (body("HTTP 400 Bad Request: bad request for /mcp?token="), "HTTP 400 Bad Request"),
            (body("HTTP 599 <unknown status code>: "), "HTTP 599"),
            (
                body("could not parse JSON response as ServerJsonRpcMessage: expected value at line 1 column 1: "),
                "unexpected server response: could not parse JSON response as ServerJsonRpcMessage",
            ),
            (
                body("expect json, got Json(JsonRpcMessage { message: \""),
                "unexpected server response: expect json, got Json",
            ),
            (
                StreamableHttpError::UnexpectedContentType(Some(format!("text/html; x={SECRET}"))),
                "unexpected content type text/html",
            ),
            (
                StreamableHttpError::UnexpectedContentType(Some(format!("{SECRET} <b>"))),
                "unexpected content type other",
            ),
            (
                StreamableHttpError::Deserialize(serde_json::from_str::<u8>(&format!("\"{SECRET}\"")).unwrap_err()),
                "the server's answer is not a JSON-RPC message",
            ),
            (
                StreamableHttpError::ReinitializationFailed(rmcp::ErrorData::invalid_request(SECRET, None)),
                "session re-initialization failed: JSON-RPC error -32600",
            ),
        ] {
            assert_eq!(described(error), want);
        }
        // What rmcp itself logs: the body is gone before it sees the error, and scrubbing twice
        // changes nothing.
        let scrubbed = without_url(body("HTTP 400 Bad Request: echo "));
        assert_eq!(scrubbed.to_string(), "unexpected server response: HTTP 400 Bad Request");
        assert_eq!(described(without_url(scrubbed)), "HTTP 400 Bad Request");
        // On a live session: a failed send.
        let send = ServiceError::TransportSend(DynamicTransportError::from_parts(
            "x",
            std::any::TypeId::of::<()>(),
            Box::new(body("HTTP 400 Bad Request: echo ")),
        ));
        assert_eq!(CallError::from(send).to_string(), "transport error: HTTP 400 Bad Request");
        let init = ClientInitializeError::JsonRpcError(rmcp::ErrorData::invalid_request(SECRET, None));
        assert_eq!(describe_init(&init), "the server answered JSON-RPC error -32600");
    }
}
