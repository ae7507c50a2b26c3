//! Server-side instrumentation for any `rmcp` server: wrap the handler in
//! [`InstrumentedServer`] and every request gets a SERVER span — parented to the context the
//! client sent in `params._meta` (or, over streamable HTTP, in the headers) — and records
//! `mcp.server.operation.duration`. The handler runs inside the span's context, so what it
//! does (database queries, HTTP calls) are children of the MCP span. The session's duration
//! (`mcp.server.session.duration`) is recorded when the handler is dropped: stdio serves one
//! session per process, the streamable HTTP service builds one handler per session.
//!
//! ```ignore
//! let server = InstrumentedServer::new(MyTools::default(), "market", NetworkTransport::Pipe);
//! server.serve(rmcp::transport::stdio()).await?.waiting().await?;
//! ```
#![allow(clippy::manual_async_fn, deprecated)]

use super::labels::{Labeler, SpanStart, end_span, error_type_of_code};
use super::transport::TOOL_ERROR;
use crate::catalog::instruments::{
    MCP_SERVER_OPERATION_DURATION, MCP_SERVER_SESSION_DURATION, McpOperationLabels, McpSessionLabels,
};
use crate::catalog::key;
use crate::catalog::values::{ErrorType, McpMethod, McpServer, NetworkTransport, RpcStatusCode, ToolName};
use crate::catalog::{BoundedStr, Histogram};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use rmcp::ErrorData as McpError;
use rmcp::ServerHandler;
use rmcp::model::*;
use rmcp::service::{MaybeSendFuture, NotificationContext, RequestContext, RoleServer, SubscriptionContext};
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

struct Shared {
    server: McpServer,
    transport: NetworkTransport,
    labeler: Labeler,
    duration: Histogram<McpOperationLabels>,
    sessions: Histogram<McpSessionLabels>,
}

/// An rmcp [`ServerHandler`] with MCP server telemetry around the wrapped one.
pub struct InstrumentedServer<H> {
    inner: H,
    shared: Arc<Shared>,
    started: Instant,
}

impl<H: Clone> Clone for InstrumentedServer<H> {
    /// A clone is a new session (its duration starts now).
    fn clone(&self) -> Self {
        InstrumentedServer { inner: self.inner.clone(), shared: self.shared.clone(), started: Instant::now() }
    }
}

impl<H> InstrumentedServer<H> {
    /// Wraps `inner`; `server` names this server in `swaggy.mcp.server`.
    pub fn new(inner: H, server: &str, transport: NetworkTransport) -> Self {
        let meter = crate::telemetry::meter();
        InstrumentedServer {
            inner,
            shared: Arc::new(Shared {
                server: McpServer(BoundedStr::from(server.to_string())),
                transport,
                labeler: Labeler::server(),
                duration: MCP_SERVER_OPERATION_DURATION.build(&meter),
                sessions: MCP_SERVER_SESSION_DURATION.build(&meter),
            }),
            started: Instant::now(),
        }
    }

    /// The wrapped handler.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    fn begin(&self, method: &'static str, target: Option<&str>, context: &RequestContext<RoleServer>) -> Observation {
        let parts = context.extensions.get::<http::request::Parts>();
        let parent = super::propagation::extract(&context.meta.0)
            .or_else(|| parts.and_then(|p| super::propagation::extract_headers(&p.headers)))
            .unwrap_or_default();
        let mut extra = vec![KeyValue::new(key::JSONRPC_REQUEST_ID, context.id.to_string())];
        if let Some(session) = parts.and_then(|p| p.headers.get("mcp-session-id")).and_then(|v| v.to_str().ok()) {
            extra.push(KeyValue::new(key::MCP_SESSION_ID, session.to_string()));
        }
        let cx = SpanStart {
            kind: SpanKind::Server,
            method,
            target,
            server: &self.shared.server,
            transport: self.shared.transport,
        }
        .start(&parent, extra);
        Observation {
            cx,
            start: Instant::now(),
            method: self.shared.labeler.method(method),
            tool: self.shared.labeler.tool(method, target),
            shared: self.shared.clone(),
        }
    }
}

impl<H> Drop for InstrumentedServer<H> {
    fn drop(&mut self) {
        self.shared.sessions.record(
            self.started.elapsed().as_secs_f64(),
            (self.shared.server.clone(), self.shared.transport, None, None::<ErrorType>),
        );
    }
}

/// One request being handled.
struct Observation {
    cx: Context,
    start: Instant,
    method: McpMethod,
    tool: Option<ToolName>,
    shared: Arc<Shared>,
}

fn no_tool_error<R>(_: &R) -> bool {
    false
}

fn is_tool_error(r: &CallToolResponse) -> bool {
    matches!(r, CallToolResponse::Complete(c) if c.is_error == Some(true))
}

impl Observation {
    fn run<'a, R: Send + 'a>(
        self,
        fut: impl Future<Output = Result<R, McpError>> + Send + 'a,
        tool_error: fn(&R) -> bool,
    ) -> impl Future<Output = Result<R, McpError>> + Send + 'a {
        async move {
            let result = fut.with_context(self.cx.clone()).await;
            let (code, error) = match &result {
                Ok(r) if tool_error(r) => (None, Some(BoundedStr::Static(TOOL_ERROR))),
                Ok(_) => (None, None),
                Err(e) => (Some(e.code.0), Some(error_type_of_code(e.code.0))),
            };
            end_span(&self.cx, code, error.as_ref());
            let s = &self.shared;
            s.duration.record(
                self.start.elapsed().as_secs_f64(),
                (self.method, s.server.clone(), self.tool, s.transport, code.map(RpcStatusCode), error.map(ErrorType)),
            );
            result
        }
    }
}

impl<H: ServerHandler> ServerHandler for InstrumentedServer<H> {
    fn ping(
        &self,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("ping", None, &context);
        obs.run(self.inner.ping(context), no_tool_error)
    }

    fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<InitializeResult, McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("initialize", None, &context);
        obs.run(self.inner.initialize(request, context), no_tool_error)
    }

    fn negotiate_initialize(&self, request: &InitializeRequestParams) -> Result<InitializeResult, McpError> {
        self.inner.negotiate_initialize(request)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<DiscoverResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.discover(context)
    }

    fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CompleteResult, McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("completion/complete", None, &context);
        obs.run(self.inner.complete(request, context), no_tool_error)
    }

    fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("logging/setLevel", None, &context);
        obs.run(self.inner.set_level(request, context), no_tool_error)
    }

    fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetPromptResponse, McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("prompts/get", Some(request.name.as_str()), &context);
        obs.run(self.inner.get_prompt(request, context), no_tool_error)
    }

    fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListPromptsResult, McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("prompts/list", None, &context);
        obs.run(self.inner.list_prompts(request, context), no_tool_error)
    }

    fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourcesResult, McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("resources/list", None, &context);
        obs.run(self.inner.list_resources(request, context), no_tool_error)
    }

    fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourceTemplatesResult, McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("resources/templates/list", None, &context);
        obs.run(self.inner.list_resource_templates(request, context), no_tool_error)
    }

    fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ReadResourceResponse, McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("resources/read", None, &context);
        obs.run(self.inner.read_resource(request, context), no_tool_error)
    }

    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        self.inner.accepted_subscription_filter(requested)
    }

    fn listen(
        &self,
        context: SubscriptionContext,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.listen(context)
    }

    fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("resources/subscribe", None, &context);
        obs.run(self.inner.subscribe(request, context), no_tool_error)
    }

    fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("resources/unsubscribe", None, &context);
        obs.run(self.inner.unsubscribe(request, context), no_tool_error)
    }

    fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CallToolResponse, McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("tools/call", Some(request.name.as_ref()), &context);
        obs.run(self.inner.call_tool(request, context), is_tool_error)
    }

    fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListToolsResult, McpError>> + MaybeSendFuture + '_ {
        let obs = self.begin("tools/list", None, &context);
        obs.run(self.inner.list_tools(request, context), no_tool_error)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.get_tool(name)
    }

    fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CustomResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.on_custom_request(request, context)
    }

    fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_cancelled(notification, context)
    }

    fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_progress(notification, context)
    }

    fn on_initialized(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_initialized(context)
    }

    fn on_roots_list_changed(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_roots_list_changed(context)
    }

    fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_custom_notification(notification, context)
    }

    fn get_info(&self) -> ServerConfig {
        self.inner.get_info()
    }

    fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetTaskResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.get_task(request, context)
    }

    fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.update_task(request, context)
    }

    fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.cancel_task(request, context)
    }

    fn list_skills(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListSkillsResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.list_skills(request, context)
    }

    fn get_skill(
        &self,
        request: GetSkillRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetSkillResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.get_skill(request, context)
    }

    fn read_resource_directory(
        &self,
        request: ReadResourceDirectoryRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ReadResourceDirectoryResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.read_resource_directory(request, context)
    }
}
