//! The client side on the wire: a [`Transport`] wrapper that gives every request and
//! notification a CLIENT span, writes the span's context into `params._meta`, and finishes the
//! span (and `mcp.client.operation.duration`) when the response, the error, the cancellation or
//! the end of the connection arrives.
//!
//! Working at the transport sees everything the client sends, including what rmcp sends by
//! itself (`initialize` and `notifications/initialized` during the handshake,
//! `notifications/cancelled` after a timeout). The caller's context travels with a request in
//! its [`ParentContext`] extension, because rmcp sends from its own task.

use super::labels::{Labeler, SpanStart, end_span, error_type_of_code};
use crate::catalog::instruments::{MCP_CLIENT_OPERATION_DURATION, McpOperationLabels};
use crate::catalog::key;
use crate::catalog::values::{ErrorType, McpMethod, McpServer, NetworkTransport, RpcStatusCode, ToolName};
use crate::catalog::{BoundedStr, Histogram};
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ClientRequest, GetExtensions, GetMeta, JsonRpcMessage, RequestId,
    ServerJsonRpcMessage, ServerResult,
};
use rmcp::service::RoleClient;
use rmcp::transport::Transport;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// The caller's context, attached to a request's extensions so the transport can parent the
/// CLIENT span to it (rmcp sends from its own task, where the caller's context is not current).
#[derive(Debug, Clone)]
pub struct ParentContext(pub Context);

/// `error.type` when the connection ended before the answer.
pub const CONNECTION_CLOSED: &str = "connection_closed";
/// `error.type` when the client gave up waiting (rmcp cancels with reason "request timeout").
pub const TIMEOUT: &str = "timeout";
/// `error.type` when the request was cancelled for another reason.
pub const CANCELLED: &str = "cancelled";
/// `error.type` when a tool result has `isError: true`.
pub const TOOL_ERROR: &str = "tool_error";

struct Pending {
    cx: Context,
    start: Instant,
    labels: (McpMethod, Option<ToolName>),
}

/// State shared by a connection's transport wrapper and its client.
pub(crate) struct ConnectionShared {
    pub(crate) server: McpServer,
    pub(crate) transport: NetworkTransport,
    labeler: Labeler,
    duration: Histogram<McpOperationLabels>,
    pending: Mutex<HashMap<RequestId, Pending>>,
    /// Becomes true when the connection is gone (the peer closed it, or the process died).
    closed: watch::Sender<bool>,
    /// Why it ended, when a failure this side saw ended it (see [`ConnectionShared::fail`]).
    close_reason: Mutex<Option<String>>,
    protocol_version: Mutex<Option<Arc<str>>>,
    /// When the server last answered a request (a result or an error): what the keepalive
    /// goes by.
    last_answer: Mutex<Instant>,
}

impl ConnectionShared {
    pub(crate) fn new(server: &str, transport: NetworkTransport) -> Arc<Self> {
        Arc::new(ConnectionShared {
            server: McpServer(BoundedStr::from(server.to_string())),
            transport,
            labeler: Labeler::client(),
            duration: MCP_CLIENT_OPERATION_DURATION.build(&crate::telemetry::meter()),
            pending: Mutex::new(HashMap::new()),
            closed: watch::channel(false).0,
            close_reason: Mutex::new(None),
            protocol_version: Mutex::new(None),
            last_answer: Mutex::new(Instant::now()),
        })
    }

    /// Resolves when the connection has ended.
    pub(crate) async fn closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    pub(crate) fn close_reason(&self) -> Option<String> {
        self.close_reason.lock().ok().and_then(|r| r.clone())
    }

    /// The connection is unusable (a request could not be sent): it ends now, with `reason`,
    /// unless it had already ended.
    pub(crate) fn fail(&self, reason: String) {
        if self.is_closed() {
            return;
        }
        if let Ok(mut r) = self.close_reason.lock() {
            r.get_or_insert(reason);
        }
        self.close_all();
    }

    /// How long ago the server last answered a request.
    pub(crate) fn since_last_answer(&self) -> std::time::Duration {
        self.last_answer.lock().map(|t| t.elapsed()).unwrap_or_default()
    }

    fn answered(&self) {
        if let Ok(mut t) = self.last_answer.lock() {
            *t = Instant::now();
        }
    }

    pub(crate) fn protocol_version(&self) -> Option<Arc<str>> {
        self.protocol_version.lock().ok().and_then(|v| v.clone())
    }

    fn start_span(&self, parent: &Context, method: &str, target: Option<&str>, id: Option<&RequestId>) -> Context {
        let id = id.map(|id| KeyValue::new(key::JSONRPC_REQUEST_ID, id.to_string()));
        let version = self.protocol_version().map(|v| KeyValue::new(key::MCP_PROTOCOL_VERSION, v.to_string()));
        SpanStart { kind: SpanKind::Client, method, target, server: &self.server, transport: self.transport }
            .start(parent, id.into_iter().chain(version))
    }

    fn on_request(&self, id: &RequestId, request: &mut ClientRequest) {
        let method = request.method().to_string();
        let target = request_target(request);
        let parent = request.extensions().get::<ParentContext>().map(|p| p.0.clone()).unwrap_or_else(Context::current);
        let cx = self.start_span(&parent, &method, target.as_deref(), Some(id));
        super::propagation::inject(&cx, &mut request.get_meta_mut().0);
        let labels = (self.labeler.method(&method), self.labeler.tool(&method, target.as_deref()));
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id.clone(), Pending { cx, start: Instant::now(), labels });
        }
    }

    fn on_notification(&self, n: &mut ClientNotification) {
        let method = notification_method(n);
        let cx = self.start_span(&Context::current(), &method, None, None);
        super::propagation::inject(&cx, &mut n.get_meta_mut().0);
        if let ClientNotification::CancelledNotification(c) = n
            && let Some(id) = &c.params.request_id
        {
            let reason = match c.params.reason.as_deref() {
                Some(r) if r.contains("timeout") => TIMEOUT,
                _ => CANCELLED,
            };
            self.finish(id, None, Some(reason));
        }
        cx.span().end();
    }

    fn on_response(&self, msg: &ServerJsonRpcMessage) {
        if matches!(msg, JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_)) {
            self.answered();
        }
        match msg {
            JsonRpcMessage::Response(r) => {
                if let ServerResult::InitializeResult(init) = &r.result
                    && let Ok(mut v) = self.protocol_version.lock()
                {
                    *v = Some(Arc::from(init.protocol_version.as_str()));
                }
                let tool_error = matches!(&r.result, ServerResult::CallToolResult(c) if c.is_error == Some(true));
                self.finish(&r.id, None, tool_error.then_some(TOOL_ERROR));
            }
            JsonRpcMessage::Error(e) => {
                if let Some(id) = &e.id {
                    self.finish(id, Some(e.error.code.0), None);
                }
            }
            _ => {}
        }
    }

    /// Ends the pending request `id`: `code` is a JSON-RPC error code, `error` another class.
    fn finish(&self, id: &RequestId, code: Option<i32>, error: Option<&'static str>) {
        let Some(p) = self.pending.lock().ok().and_then(|mut m| m.remove(id)) else { return };
        self.end(p, code, error);
    }

    fn end(&self, p: Pending, code: Option<i32>, error: Option<&'static str>) {
        let elapsed = p.start.elapsed().as_secs_f64();
        let error_type: Option<BoundedStr> = match (code, error) {
            (Some(c), _) => Some(error_type_of_code(c)),
            (None, Some(e)) => Some(BoundedStr::Static(e)),
            (None, None) => None,
        };
        end_span(&p.cx, code, error_type.as_ref());
        let (method, target) = p.labels;
        self.duration.record(
            elapsed,
            (method, self.server.clone(), target, self.transport, code.map(RpcStatusCode), error_type.map(ErrorType)),
        );
    }

    /// The connection ended: every request still waiting fails.
    pub(crate) fn close_all(&self) {
        let pending: Vec<Pending> =
            self.pending.lock().map(|mut m| m.drain().map(|(_, p)| p).collect()).unwrap_or_default();
        for p in pending {
            self.end(p, None, Some(CONNECTION_CLOSED));
        }
        self.closed.send_replace(true);
    }
}

/// The span target of a request: the tool, prompt or resource it names.
fn request_target(r: &ClientRequest) -> Option<String> {
    match r {
        ClientRequest::CallToolRequest(c) => Some(c.params.name.to_string()),
        ClientRequest::GetPromptRequest(g) => Some(g.params.name.clone()),
        _ => None,
    }
}

fn notification_method(n: &ClientNotification) -> String {
    match n {
        ClientNotification::CancelledNotification(_) => "notifications/cancelled".into(),
        ClientNotification::ProgressNotification(_) => "notifications/progress".into(),
        ClientNotification::InitializedNotification(_) => "notifications/initialized".into(),
        ClientNotification::RootsListChangedNotification(_) => "notifications/roots/list_changed".into(),
        ClientNotification::CustomNotification(x) => x.method.clone(),
        _ => "_OTHER".into(),
    }
}

/// Wraps a client transport (stdio child process, streamable HTTP, …) with MCP telemetry.
pub struct TracedTransport<T> {
    inner: T,
    shared: Arc<ConnectionShared>,
}

impl<T> TracedTransport<T> {
    /// Wraps `inner`, naming the server `server` (the `swaggy.mcp.server` attribute).
    pub fn new(inner: T, server: &str, transport: NetworkTransport) -> Self {
        TracedTransport { inner, shared: ConnectionShared::new(server, transport) }
    }

    pub(crate) fn shared(&self) -> Arc<ConnectionShared> {
        self.shared.clone()
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for TracedTransport<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        mut item: ClientJsonRpcMessage,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        match &mut item {
            JsonRpcMessage::Request(r) => self.shared.on_request(&r.id, &mut r.request),
            JsonRpcMessage::Notification(n) => self.shared.on_notification(&mut n.notification),
            _ => {}
        }
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<rmcp::service::RxJsonRpcMessage<RoleClient>> {
        let msg = self.inner.receive().await;
        match &msg {
            Some(m) => self.shared.on_response(m),
            None => self.shared.close_all(),
        }
        msg
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let r = self.inner.close().await;
        self.shared.close_all();
        r
    }
}
