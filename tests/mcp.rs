//! MCP instrumentation against real servers: the bundled `swaggy-stacks mcp-server` over stdio
//! and streamable HTTP (its own telemetry arrives at an in-test OTLP receiver), a third-party
//! server (`@modelcontextprotocol/server-everything` from npm), the orchestrator's restart
//! after a kill, the error classes, bad input, and one trace from an HTTP request of the
//! reference service down to the MCP server's span.

mod common;

use common::health::check;
use common::otlp::{ReceivedSpan, Receiver};
use common::service::{BIN, Service, run_to_exit};
use common::telemetry::{attr, finished, install_in_memory, metrics};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, Value as OtelValue};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use swaggy_telemetry::catalog::values::HealthState;
use swaggy_telemetry::health::HealthCheck;
use swaggy_telemetry::mcp::{
    CallError, ClientOptions, KEEPALIVE, McpClient, McpServersFile, Orchestrator, ServerCheck, ServerEntry,
};

/// The request kinds every client must propagate context on, and how to make each.
fn request_kinds() -> Vec<(&'static str, Value)> {
    vec![
        ("tools/list", Value::Null),
        ("tools/call", json!({ "name": "get_quote", "arguments": { "symbol": "AAPL" } })),
        ("resources/list", Value::Null),
        ("resources/read", json!({ "uri": "swaggy://universe" })),
        ("prompts/list", Value::Null),
        ("prompts/get", json!({ "name": "market_brief", "arguments": { "symbol": "MSFT" } })),
        ("ping", Value::Null),
    ]
}

/// Environment of a bundled server child that exports its telemetry to `receiver`.
fn server_env(receiver: &Receiver) -> Vec<(String, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), receiver.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ("OTEL_SERVICE_NAME".into(), "swaggy-stacks-mcp".into()),
        ("RUST_LOG".into(), "warn".into()),
    ]
}

fn bundled_command(receiver: &Receiver) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || k == "MCP_CONFIG" {
            cmd.env_remove(k);
        }
    }
    cmd.arg("mcp-server").envs(server_env(receiver)).kill_on_drop(true);
    cmd
}

fn hex_span(s: &SpanData) -> String {
    s.span_context.span_id().to_string()
}

fn str_attr(s: &SpanData, key: &str) -> Option<String> {
    attr(s, key).map(|v| v.as_str().into_owned())
}

/// The CLIENT span of `method` (first one).
fn client_span<'a>(spans: &'a [SpanData], method: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client && str_attr(s, "mcp.method.name").as_deref() == Some(method))
        .unwrap_or_else(|| {
            panic!("no CLIENT span for {method}: {:?}", spans.iter().map(|s| s.name.to_string()).collect::<Vec<_>>())
        })
}

fn server_spans(spans: &[ReceivedSpan]) -> Vec<&ReceivedSpan> {
    spans.iter().filter(|s| s.span.kind == 2 && s.attr("mcp.method.name").is_some()).collect()
}

/// Makes every request kind under a root span; returns the root's context.
async fn exercise(client: &McpClient, cx: &Context) {
    for (method, params) in request_kinds() {
        let r = client.call(method, params).with_context(cx.clone()).await;
        assert!(r.is_ok(), "{method}: {r:?}");
    }
}

/// Asserts that each request kind's server span is the child of its client span: the server
/// learnt the client span's context from the request (`_meta`, or headers over HTTP).
fn assert_parented(client: &[SpanData], received: &[ReceivedSpan], root: &SpanData, transport: &str) {
    let servers = server_spans(received);
    let mut kinds: Vec<&str> = request_kinds().iter().map(|(m, _)| *m).collect();
    kinds.push("initialize");
    for method in kinds {
        let c = client_span(client, method);
        assert_eq!(c.parent_span_id, root.span_context.span_id(), "{method}: the CLIENT span is a child of the caller");
        assert_eq!(c.span_context.trace_id(), root.span_context.trace_id());
        assert_eq!(str_attr(c, "network.transport").as_deref(), Some(transport));
        assert_eq!(str_attr(c, "swaggy.mcp.server").as_deref(), Some("market"));
        if method != "initialize" {
            assert!(str_attr(c, "jsonrpc.request.id").is_some(), "{method}: jsonrpc.request.id");
            assert!(str_attr(c, "mcp.protocol.version").is_some(), "{method}: mcp.protocol.version");
        }
        let s = servers
            .iter()
            .find(|s| s.attr("mcp.method.name").as_deref() == Some(method) && s.parent_id() == hex_span(c))
            .unwrap_or_else(|| {
                panic!(
                    "{method}: no SERVER span parented to the client span {}; server spans: {:?}",
                    hex_span(c),
                    servers.iter().map(|s| (s.span.name.clone(), s.parent_id())).collect::<Vec<_>>()
                )
            });
        assert_eq!(s.trace_id(), c.span_context.trace_id().to_string());
        assert_eq!(s.resource_attr("service.name").as_deref(), Some("swaggy-stacks-mcp"));
        assert_eq!(s.attr("network.transport").as_deref(), Some(transport));
    }
    let call = client_span(client, "tools/call");
    assert_eq!(call.name, "tools/call get_quote");
    assert_eq!(str_attr(call, "gen_ai.tool.name").as_deref(), Some("get_quote"));
    assert_eq!(str_attr(call, "gen_ai.operation.name").as_deref(), Some("execute_tool"));
    assert_eq!(client_span(client, "prompts/get").name, "prompts/get market_brief");
    assert!(client.iter().any(|s| s.span_kind == SpanKind::Client && s.name == "notifications/initialized"));
    let server_call = servers.iter().find(|s| s.span.name == "tools/call get_quote").expect("server tools/call span");
    assert_eq!(server_call.attr("gen_ai.tool.name").as_deref(), Some("get_quote"));
}

fn root_span() -> (Context, opentelemetry::trace::SpanContext) {
    let tracer = swaggy_telemetry::telemetry::tracer();
    let span = tracer.start("test root");
    let cx = Context::current_with_span(span);
    let sc = cx.span().span_context().clone();
    (cx, sc)
}

fn find_root(spans: &[SpanData], sc: &opentelemetry::trace::SpanContext) -> SpanData {
    spans.iter().find(|s| s.span_context.span_id() == sc.span_id()).cloned().expect("root span exported")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_kind_carries_the_trace_over_stdio() {
    let (guard, exporter) = install_in_memory();
    let receiver = Receiver::http().await;
    let (cx, root_sc) = root_span();
    let client = McpClient::connect_stdio("market", bundled_command(&receiver), &ClientOptions::default())
        .with_context(cx.clone())
        .await
        .expect("connect");
    exercise(&client, &cx).await;
    client.close().await;
    cx.span().end();
    drop(client);
    let received =
        receiver.wait_spans(Duration::from_secs(20), |s| server_spans(s).len() > request_kinds().len()).await;
    let spans = finished(&guard, &exporter);
    assert_parented(&spans, &received, &find_root(&spans, &root_sc), "pipe");

    let m = metrics(&guard);
    let want = [
        ("mcp_method_name", "tools/call"),
        ("gen_ai_tool_name", "get_quote"),
        ("swaggy_mcp_server", "market"),
        ("network_transport", "pipe"),
    ];
    assert_eq!(m.sum("mcp_client_operation_duration_seconds_count", &want), 1.0);
    for (method, _) in request_kinds() {
        assert_eq!(
            m.sum("mcp_client_operation_duration_seconds_count", &[("mcp_method_name", method)]),
            1.0,
            "{method}"
        );
    }
    assert_eq!(m.sum("mcp_client_session_duration_seconds_count", &[("swaggy_mcp_server", "market")]), 1.0);
    // No request or session id on metrics (semconv: spans only).
    for s in m.find("mcp_client_operation_duration_seconds_count", &[]) {
        assert!(!s.labels.contains_key("jsonrpc_request_id") && !s.labels.contains_key("mcp_session_id"));
    }
    // The server's own metrics arrive over OTLP too.
    receiver.wait_metric("mcp.server.operation.duration", Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_kind_carries_the_trace_over_streamable_http() {
    let (guard, exporter) = install_in_memory();
    let receiver = Receiver::http().await;
    let env = server_env(&receiver);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Service::start(&["mcp-server", "--transport", "http"], &env);
    assert!(server.base.ends_with("/mcp"), "{}", server.base);
    let (cx, root_sc) = root_span();
    let client = McpClient::connect_http("market", &server.base, &ClientOptions::default())
        .with_context(cx.clone())
        .await
        .expect("connect over HTTP");
    exercise(&client, &cx).await;
    client.close().await;
    cx.span().end();
    let received =
        receiver.wait_spans(Duration::from_secs(20), |s| server_spans(s).len() > request_kinds().len()).await;
    let spans = finished(&guard, &exporter);
    assert_parented(&spans, &received, &find_root(&spans, &root_sc), "tcp");
    // The headers carried the context too: the HTTP server span of the tools/call POST is a
    // child of the same client span.
    let call = client_span(&spans, "tools/call");
    let http_child = received
        .iter()
        .find(|s| s.attr("http.request.method").as_deref() == Some("POST") && s.parent_id() == hex_span(call));
    assert!(http_child.is_some(), "no HTTP server span parented to the tools/call client span (traceparent header)");
    let m = metrics(&guard);
    assert_eq!(
        m.sum(
            "mcp_client_operation_duration_seconds_count",
            &[("mcp_method_name", "tools/call"), ("network_transport", "tcp")]
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_errors_and_tool_errors_are_classified() {
    let (guard, exporter) = install_in_memory();
    let receiver = Receiver::http().await;
    let client = McpClient::connect_stdio("market", bundled_command(&receiver), &ClientOptions::default())
        .await
        .expect("connect");
    let unknown = client.call_tool("no_such_tool", json!({})).await;
    assert!(matches!(unknown, Err(CallError::Rpc { code: -32602, .. })), "{unknown:?}");
    let tool_error = client.call_tool("get_quote", json!({ "symbol": "NOPE" })).await.expect("a result");
    assert_eq!(tool_error.is_error, Some(true));
    let bad_params = client.call_tool("get_history", json!({ "symbol": "AAPL", "points": 100000 })).await;
    assert!(matches!(bad_params, Err(CallError::Rpc { code: -32602, .. })), "{bad_params:?}");
    client.close().await;

    let spans = finished(&guard, &exporter);
    let by_name = |n: &str| spans.iter().find(|s| s.name == n).unwrap_or_else(|| panic!("no span {n}"));
    let rpc = by_name("tools/call no_such_tool");
    assert_eq!(str_attr(rpc, "error.type").as_deref(), Some("-32602"));
    assert_eq!(attr(rpc, "rpc.response.status_code"), Some(OtelValue::I64(-32602)));
    assert!(matches!(rpc.status, Status::Error { .. }));
    let tool = by_name("tools/call get_quote");
    assert_eq!(str_attr(tool, "error.type").as_deref(), Some("tool_error"));
    assert!(matches!(tool.status, Status::Error { .. }));
    assert_eq!(attr(tool, "rpc.response.status_code"), None);

    let m = metrics(&guard);
    assert_eq!(
        m.sum(
            "mcp_client_operation_duration_seconds_count",
            &[("gen_ai_tool_name", "no_such_tool"), ("error_type", "-32602"), ("rpc_response_status_code", "-32602")]
        ),
        1.0
    );
    assert_eq!(
        m.sum(
            "mcp_client_operation_duration_seconds_count",
            &[("gen_ai_tool_name", "get_quote"), ("error_type", "tool_error")]
        ),
        1.0
    );
}

fn bundled_file(receiver: &Receiver) -> McpServersFile {
    let mut env: std::collections::BTreeMap<String, String> = server_env(receiver).into_iter().collect();
    env.insert("OTEL_SDK_DISABLED".into(), "false".into());
    let mut f = McpServersFile::default();
    f.servers.insert("market".into(), ServerEntry::Stdio { command: BIN.into(), args: vec!["mcp-server".into()], env });
    f
}

async fn wait_state(orch: &Orchestrator, server: &str, state: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let s = orch.status(server).unwrap();
        if s.state.as_str() == state {
            return;
        }
        assert!(Instant::now() < deadline, "{server} never became {state}: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_call_fails_the_call_then_recovers() {
    let (guard, exporter) = install_in_memory();
    let receiver = Receiver::http().await;
    let orch = Orchestrator::start(bundled_file(&receiver), ClientOptions::default());
    assert!(orch.wait_ready(Duration::from_secs(20)).await, "{:?}", orch.statuses());
    let check = ServerCheck { orchestrator: orch.clone(), server: "market".into() };
    assert_eq!(check.check().await.state, HealthState::Healthy);
    let first_pid = orch.status("market").unwrap().pid.expect("pid");

    let o = orch.clone();
    let slow = tokio::spawn(async move {
        o.call_tool(
            "market",
            "assess_risk",
            json!({ "symbol": "AAPL", "side": "buy", "quantity": 5, "think_ms": 5000 }),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = std::process::Command::new("kill").args(["-KILL", &first_pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let result = tokio::time::timeout(Duration::from_secs(5), slow).await.expect("the call ends at once").unwrap();
    assert_eq!(result.err(), Some(CallError::Closed));
    wait_state(&orch, "market", "failed", Duration::from_secs(2)).await;
    let during = check.check().await;
    assert_eq!(during.state, HealthState::Unhealthy, "{during:?}");
    assert!(during.detail.starts_with("failed"), "{}", during.detail);

    // The orchestrator restarts it (backoff 0.5 s) and calls work again.
    wait_state(&orch, "market", "ready", Duration::from_secs(15)).await;
    let status = orch.status("market").unwrap();
    assert_ne!(status.pid, Some(first_pid), "a new process");
    assert_eq!(status.starts, 2);
    assert_eq!(check.check().await.state, HealthState::Healthy);
    let quote = orch.call_tool("market", "get_quote", json!({ "symbol": "MSFT" })).await.expect("after restart");
    assert_ne!(quote.is_error, Some(true));

    let spans = finished(&guard, &exporter);
    let dead = spans.iter().find(|s| s.name == "tools/call assess_risk").expect("the killed call's span");
    assert_eq!(str_attr(dead, "error.type").as_deref(), Some("connection_closed"));
    assert!(matches!(dead.status, Status::Error { .. }));
    let m = metrics(&guard);
    assert_eq!(m.sum("swaggy_mcp_server_restarts_total", &[("swaggy_mcp_server", "market")]), 2.0);
    assert_eq!(
        m.sum("swaggy_mcp_server_status", &[("swaggy_mcp_server", "market"), ("swaggy_mcp_server_state", "ready")]),
        1.0
    );
    assert_eq!(
        m.find("swaggy_mcp_server_status", &[("swaggy_mcp_server", "market")]).len(),
        1,
        "only the current state's series exists"
    );
    assert_eq!(
        m.sum(
            "mcp_client_operation_duration_seconds_count",
            &[("gen_ai_tool_name", "assess_risk"), ("error_type", "connection_closed")]
        ),
        1.0
    );
    orch.shutdown().await;
}

/// `node` and the installed `@modelcontextprotocol/server-everything` (tests/node, `npm ci`).
fn everything_server() -> Option<(String, String)> {
    let script =
        common::pipeline::root().join("tests/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let node = common::require_tool("node", "nodejs")?;
    if !script.is_file() {
        let msg = format!("{} is missing (run `npm ci` in tests/node; .ci/run does)", script.display());
        if std::env::var("REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
            panic!("REQUIRE_SERVICES=1 and {msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    Some((node, script.display().to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_with_a_third_party_server() {
    let Some((node, script)) = everything_server() else { return };
    let (guard, exporter) = install_in_memory();
    let mut cmd = tokio::process::Command::new(node);
    cmd.arg(script).arg("stdio").kill_on_drop(true);
    let (cx, root_sc) = root_span();
    let client = McpClient::connect_stdio("everything", cmd, &ClientOptions::default())
        .with_context(cx.clone())
        .await
        .expect("connect");
    assert!(client.protocol_version().is_some());
    let tools = client.call("tools/list", Value::Null).with_context(cx.clone()).await.expect("tools/list");
    let names: Vec<&str> = tools["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.contains(&"echo"), "{names:?}");
    let echoed = client.call_tool("echo", json!({ "message": "swaggy" })).with_context(cx.clone()).await.expect("echo");
    assert!(serde_json::to_string(&echoed.content).unwrap().contains("swaggy"));
    client.close().await;
    cx.span().end();

    let spans = finished(&guard, &exporter);
    let root = find_root(&spans, &root_sc);
    for method in ["initialize", "tools/list", "tools/call"] {
        let s = client_span(&spans, method);
        assert_eq!(s.parent_span_id, root.span_context.span_id(), "{method}");
        assert_eq!(str_attr(s, "swaggy.mcp.server").as_deref(), Some("everything"));
        assert!(matches!(s.status, Status::Unset | Status::Ok), "{method}: {:?}", s.status);
    }
    assert_eq!(client_span(&spans, "tools/call").name, "tools/call echo");
    let m = metrics(&guard);
    assert_eq!(
        m.sum(
            "mcp_client_operation_duration_seconds_count",
            &[("swaggy_mcp_server", "everything"), ("gen_ai_tool_name", "echo")]
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let _guard = install_in_memory();
    // Unknown server, a command that does not exist, malformed requests: errors, no panic.
    let mut f = McpServersFile::default();
    f.servers.insert(
        "ghost".into(),
        ServerEntry::Stdio { command: "/nonexistent/mcp-server".into(), args: vec![], env: Default::default() },
    );
    let orch = Orchestrator::start(f, ClientOptions::default());
    wait_state(&orch, "ghost", "failed", Duration::from_secs(5)).await;
    let why = orch.status("ghost").unwrap().last_error.unwrap();
    assert!(why.contains("cannot start") && why.contains("/nonexistent/mcp-server"), "{why}");
    let r = orch.call_mcp_method("ghost", "tools/list", Value::Null).await;
    assert_eq!(r, Err(CallError::NotReady { server: "ghost".into(), state: "failed" }));
    let r = orch.call_mcp_method("nobody", "tools/list", Value::Null).await;
    assert_eq!(r, Err(CallError::UnknownServer("nobody".into())));
    assert!(matches!(swaggy_telemetry::mcp::parse_request("", Value::Null), Err(CallError::InvalidRequest(_))));
    assert!(matches!(
        swaggy_telemetry::mcp::parse_request("tools/call", json!([1])),
        Err(CallError::InvalidRequest(_))
    ));
    orch.shutdown().await;

    // A malformed file, or one that cannot be read, stops the service at start: exit 2, one line.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("mcp.json");
    std::fs::write(&bad, r#"{"mcpServers": {"x": {"command": "a", "url": "http://h"}}}"#).unwrap();
    for path in [bad.display().to_string(), dir.path().join("missing.json").display().to_string()] {
        let (code, _, stderr) = run_to_exit(&["serve"], &[("MCP_CONFIG", &path), ("LISTEN_ADDR", "127.0.0.1:0")]);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--mcp-config/MCP_CONFIG"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_http_request_to_the_mcp_server() {
    let receiver = Receiver::http().await;
    let endpoint = receiver.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let svc = Service::start(
        &["serve"],
        &[("DATABASE_URL", &url), ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint), ("OTEL_BSP_SCHEDULE_DELAY", "100")],
    );
    let c = reqwest::Client::new();
    svc.wait_ready(&c, "/health/ready", Duration::from_secs(30)).await;
    let health: Value = c.get(svc.url("/health?fresh=1")).send().await.unwrap().json().await.unwrap();
    let checks: Vec<&str> = health["checks"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(checks.contains(&"mcp_orchestrator") && checks.contains(&"mcp_server:market"), "{checks:?}");
    // Readiness does not wait for the (optional) MCP server: the agents need it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        let h = crate::health(&c, &svc).await;
        if check(&h, "mcp_server:market")["status"] == "healthy" {
            break common::health::mcp_server_pid(&h, "market");
        }
        assert!(Instant::now() < deadline, "the MCP server never became healthy: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let r = c.post(svc.url("/api/agents/analyze")).json(&json!({ "symbol": "msft" })).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["outcome"], "success", "{body}");
    assert_eq!(body["insight"]["simulated"], true);
    for bad in [json!({ "symbol": "NOPE" }), json!({ "symbol": "AAPL", "quantity": 0 }), json!({ "ticker": "AAPL" })] {
        let r = c.post(svc.url("/api/agents/analyze")).json(&bad).send().await.unwrap();
        assert!(r.status().is_client_error(), "{bad}: {}", r.status());
        let e: Value = r.json().await.unwrap();
        assert!(e["error"]["code"].is_string(), "{e}");
    }

    let spans = receiver
        .wait_spans(Duration::from_secs(20), |s| {
            s.iter().any(|x| x.span.name == "POST /api/agents/analyze")
                && s.iter().any(|x| x.span.name == "tools/call assess_risk" && x.span.kind == 2)
        })
        .await;
    let http = spans.iter().find(|s| s.span.name == "POST /api/agents/analyze").unwrap();
    let trace = http.trace_id();
    let in_trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id() == trace).collect();
    let by_id = |id: &str| in_trace.iter().find(|s| s.span_id() == id).copied();
    let coordinate = in_trace.iter().find(|s| s.span.name == "coordinate trade_idea").expect("coordination span");
    assert_eq!(coordinate.parent_id(), http.span_id());
    for tool in ["get_quote", "get_history", "assess_risk"] {
        let name = format!("tools/call {tool}");
        let client = in_trace.iter().find(|s| s.span.name == name && s.span.kind == 3).expect("client span");
        assert_eq!(client.parent_id(), coordinate.span_id(), "{name}: a child of the coordination");
        let server = in_trace.iter().find(|s| s.span.name == name && s.span.kind == 2).expect("server span");
        assert_eq!(server.parent_id(), client.span_id(), "{name}: the server span's parent is the client span");
        assert_eq!(server.resource_attr("service.name").as_deref(), Some("swaggy-stacks-mcp"));
        assert_eq!(client.resource_attr("service.name").as_deref(), Some("swaggy-stacks"));
        assert!(by_id(&client.parent_id()).is_some());
    }
    let chat = in_trace.iter().find(|s| s.span.name == "chat swaggy-sim-insights-1").expect("GenAI span");
    assert_eq!(chat.parent_id(), coordinate.span_id());
    assert!(chat.attr("gen_ai.usage.input_tokens").is_some());

    // The log names the server's process by its number.
    let log = strip_ansi(&svc.stderr());
    let ready = log.lines().find(|l| l.contains("MCP server ready")).unwrap_or_else(|| panic!("no ready line:\n{log}"));
    assert!(ready.contains(&format!("pid={pid} ")) && !ready.contains("Some("), "{ready}");
}

/// `/health?fresh=1` as JSON (the status is 503 while a critical check fails: the body is the
/// same).
async fn health(c: &reqwest::Client, svc: &Service) -> Value {
    c.get(svc.url("/health?fresh=1")).send().await.unwrap().json().await.unwrap()
}

/// Log text without terminal colours.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_mcp_server_urls_never_leak() {
    const SECRET: &str = "s3cretpw";
    let receiver = Receiver::http().await;
    let endpoint = receiver.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    // One server refuses connections, the other's host does not resolve (the trial's case), the
    // third answers 400 with a body that echoes the request (its query and credentials).
    let closed = common::services::free_port();
    let echo = echo_server(400, "text/plain", |echo| echo.to_string()).await;
    let file = dir.path().join("mcp.json");
    std::fs::write(
        &file,
        json!({ "mcpServers": {
            "a": { "url": format!("http://u:{SECRET}@127.0.0.1:{closed}/mcp?k={SECRET}") },
            "b": { "url": format!("http://u:{SECRET}@y/mcp?k={SECRET}") },
            "c": { "url": echo },
        }})
        .to_string(),
    )
    .unwrap();
    let file = file.display().to_string();
    let svc = Service::start(
        &["serve"],
        &[
            ("DATABASE_URL", &db),
            ("MCP_CONFIG", &file),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let started = Instant::now();
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let h = health(&c, &svc).await;
        let failed = |n: &str| check(&h, n)["detail"].as_str().unwrap_or("").starts_with("failed");
        if failed("mcp_server:a") && failed("mcp_server:b") && failed("mcp_server:c") {
            break h;
        }
        assert!(Instant::now() < deadline, "the servers never failed: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for name in ["mcp_server:a", "mcp_server:b", "mcp_server:c", "mcp_orchestrator"] {
        let detail = check(&body, name)["detail"].as_str().unwrap().to_string();
        eprintln!("{name}: {detail}");
        assert!(!detail.contains(SECRET), "{name}: {detail}");
        assert_no_secret(name, &detail);
        // Short human text: no Rust paths or type names (`a::b`, `Foo<Bar>`, `Transport [..]`).
        assert!(!detail.contains("::") && !detail.contains('<') && !detail.contains("Transport ["), "{detail}");
        assert!(detail.chars().count() <= 240, "{name}: {} characters: {detail}", detail.chars().count());
    }
    let a = check(&body, "mcp_server:a")["detail"].as_str().unwrap();
    assert!(a.contains("initialize failed") && a.to_lowercase().contains("connection refused"), "{a}");
    let c = check(&body, "mcp_server:c")["detail"].as_str().unwrap();
    assert_eq!(c, "failed (initialize failed: HTTP 400 Bad Request)");
    assert!(!body.to_string().contains(SECRET), "{body}");
    assert_no_secret("/health", &body.to_string());

    // The live stream carries the same details.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/ws", svc.base.replace("http://", "ws://"))).await.unwrap();
    use futures_util::{SinkExt as _, StreamExt as _};
    let subscribe = json!({ "type": "subscribe", "topic": "system_health", "interval_ms": 1000 }).to_string();
    ws.send(tokio_tungstenite::tungstenite::Message::Text(subscribe.into())).await.unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m
                && t.contains("\"data\"")
                && t.contains("mcp_server:c")
            {
                return t.to_string();
            }
        }
        panic!("the stream ended");
    })
    .await
    .expect("a system_health frame naming mcp_server:c");
    assert!(frame.contains("HTTP 400 Bad Request"), "{frame}");
    assert_no_secret("/ws", &frame);

    // Keep failing for a while: no secret in the logs, and the orchestrator's warning about a
    // server is logged when its failure changes, not on every retry.
    tokio::time::sleep(Duration::from_secs(8).saturating_sub(started.elapsed())).await;
    let stderr = strip_ansi(&svc.stderr());
    assert!(!stderr.contains(SECRET), "a secret in the logs:\n{stderr}");
    assert_no_secret("the logs", &stderr);
    for server in ["a", "b", "c"] {
        let warned = stderr
            .lines()
            .filter(|l| l.contains("MCP server failed to start") && l.contains(&format!("server={server} ")))
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .count();
        assert_eq!(warned, 1, "{server}: {warned} warnings in {:?}:\n{stderr}", started.elapsed());
    }
    let errors = stderr.lines().filter(|l| l.contains("ERROR") || l.contains("WARN")).count();
    eprintln!("log lines at WARN/ERROR after {:?} of three failing servers: {errors}\n{stderr}", started.elapsed());
    let received =
        receiver.wait_spans(Duration::from_secs(20), |s| s.iter().any(|x| x.span.name.starts_with("initialize"))).await;
    for s in &received {
        let text = format!("{:?}", s.span);
        assert!(!text.contains(SECRET), "a secret in a span: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_http_server_fails_then_recovers() {
    let (guard, _exporter) = install_in_memory();
    let env = [("RUST_LOG", "warn")];
    let args = ["mcp-server", "--transport", "http"];
    let mut server = Service::start(&args, &env);
    let addr = server.base.trim_start_matches("http://").trim_end_matches("/mcp").to_string();
    let mut f = McpServersFile::default();
    f.servers.insert("remote".into(), ServerEntry::Http { url: server.base.clone() });
    let orch = Orchestrator::start(f, ClientOptions::default());
    assert!(orch.wait_ready(Duration::from_secs(20)).await, "{:?}", orch.statuses());
    let check = ServerCheck { orchestrator: orch.clone(), server: "remote".into() };
    let overall = swaggy_telemetry::mcp::OrchestratorCheck(orch.clone());
    assert_eq!(check.check().await.state, HealthState::Healthy);
    assert_eq!(overall.check().await.detail, "1/1 servers ready");

    // Killed: the next ping fails, and the server leaves `ready` with the reason.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let killed = Instant::now();
    let probe = check.check().await;
    assert_eq!(probe.state, HealthState::Unreachable, "{probe:?}");
    wait_state(&orch, "remote", "failed", Duration::from_secs(2)).await;
    let to_failed = killed.elapsed();
    let status = orch.status("remote").unwrap();
    let why = status.last_error.clone().unwrap();
    eprintln!("remote: {why}");
    assert!(why.starts_with("ping failed") && why.to_lowercase().contains("connection refused"), "{why}");
    let during = check.check().await;
    assert!(during.state == HealthState::Unhealthy && during.detail.starts_with("failed ("), "{during:?}");
    assert!(overall.check().await.detail.starts_with("0/1 servers ready; remote "), "{:?}", overall.check().await);
    let m = metrics(&guard);
    let state = |m: &common::Scrape, s: &str| {
        m.sum("swaggy_mcp_server_status", &[("swaggy_mcp_server", "remote"), ("swaggy_mcp_server_state", s)])
    };
    assert_eq!(state(&m, "ready"), 0.0);
    assert_eq!(m.find("swaggy_mcp_server_status", &[("swaggy_mcp_server", "remote")]).len(), 1);
    assert!(matches!(
        orch.call_tool("remote", "get_quote", json!({ "symbol": "AAPL" })).await,
        Err(CallError::NotReady { .. })
    ));

    // It stays down a moment (reconnects fail, backing off), then comes back on the same port:
    // the orchestrator reconnects by itself.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_ne!(orch.status("remote").unwrap().state.as_str(), "ready");
    let mut server = Service::start_on(&args, &env, &addr);
    let restarted = Instant::now();
    wait_state(&orch, "remote", "ready", Duration::from_secs(20)).await;
    let to_ready = restarted.elapsed();
    assert!(orch.status("remote").unwrap().starts >= 3, "{:?}", orch.status("remote"));
    assert_eq!(check.check().await.state, HealthState::Healthy);
    let quote = orch.call_tool("remote", "get_quote", json!({ "symbol": "MSFT" })).await.expect("after the restart");
    assert_ne!(quote.is_error, Some(true));
    assert_eq!(state(&metrics(&guard), "ready"), 1.0);

    // A transport error on a call (not only a ping) fails it too.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let r = orch.call_tool("remote", "get_quote", json!({ "symbol": "MSFT" })).await;
    assert!(matches!(r, Err(CallError::Transport(_))), "{r:?}");
    wait_state(&orch, "remote", "failed", Duration::from_secs(2)).await;
    let why = orch.status("remote").unwrap().last_error.unwrap();
    eprintln!("remote: {why}");
    assert!(why.starts_with("tools/call failed"), "{why}");
    let mut server = Service::start_on(&args, &env, &addr);
    let restarted = Instant::now();
    wait_state(&orch, "remote", "ready", Duration::from_secs(20)).await;
    let to_ready_again = restarted.elapsed();

    // Nobody calls it and no health check runs: the orchestrator's keepalive ping notices.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let killed = Instant::now();
    wait_state(&orch, "remote", "failed", KEEPALIVE + Duration::from_secs(2)).await;
    let to_failed_idle = killed.elapsed();
    let why = orch.status("remote").unwrap().last_error.unwrap();
    eprintln!("remote: {why}");
    assert!(why.starts_with("ping failed"), "{why}");
    eprintln!(
        "HTTP server killed → failed: {to_failed:?} after a health ping, at once on a call, {to_failed_idle:?} idle \
         (keepalive every {KEEPALIVE:?}); restarted → ready: {to_ready:?}, {to_ready_again:?}"
    );
    orch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_order_makes_the_coordination_partial() {
    // Postgres that nobody listens on: the analysis works (MCP), the order cannot be stored.
    let db = format!("postgres://postgres@127.0.0.1:{}/orders", common::services::free_port());
    let svc = Service::start(&["serve"], &[("DATABASE_URL", &db)]);
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = health(&c, &svc).await;
        if check(&h, "mcp_server:market")["status"] == "healthy" {
            break;
        }
        assert!(Instant::now() < deadline, "the MCP server never became healthy: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let analyze = |execute: bool| {
        let c = c.clone();
        let url = svc.url("/api/agents/analyze");
        async move {
            let r = c.post(url).json(&json!({ "symbol": "AAPL", "quantity": 1, "execute": execute })).send().await;
            let r = r.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let body = analyze(true).await;
    assert_eq!(body["risk"]["approved"], true, "{body}");
    assert_eq!(body["order"]["status"], "failed", "{body}");
    assert_eq!(body["outcome"], "partial", "the execution step failed: {body}");
    assert_eq!(body["order"]["reason"], "database is unavailable", "{body}");
    // The same analysis without an order to place is a success.
    let body = analyze(false).await;
    assert_eq!((body["order"].is_null(), &body["outcome"]), (true, &json!("success")), "{body}");

    let text = c.get(svc.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let m = common::Scrape::parse(&text);
    let count = |outcome: &str| {
        m.sum(
            "swaggy_agent_coordinations_total",
            &[("swaggy_agent_task", "trade_idea"), ("swaggy_agent_outcome", outcome)],
        )
    };
    assert_eq!((count("partial"), count("success")), (1.0, 1.0));
}

/// Sends `signal` (`-STOP`, `-CONT`, …) to `pid`; whether it was delivered.
fn signal(pid: u32, signal: &str) -> bool {
    std::process::Command::new("kill").args([signal, &pid.to_string()]).status().is_ok_and(|s| s.success())
}

/// Whether a process `pid` exists (a zombie counts: it was not reaped).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Resumes a stopped server if the test ends early (the process is the orchestrator's child:
/// it exits once its session ends).
struct ResumeOnDrop(u32);

impl Drop for ResumeOnDrop {
    fn drop(&mut self) {
        if exists(self.0) {
            signal(self.0, "-CONT");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_stdio_server_is_failed_killed_and_replaced() {
    let (guard, _exporter) = install_in_memory();
    let receiver = Receiver::http().await;
    let orch = Orchestrator::start(bundled_file(&receiver), ClientOptions::default());
    assert!(orch.wait_ready(Duration::from_secs(20)).await, "{:?}", orch.statuses());
    let overall = swaggy_telemetry::mcp::OrchestratorCheck(orch.clone());
    let hung = orch.status("market").unwrap().pid.expect("pid");
    let _resume = ResumeOnDrop(hung);

    // Stopped: the process runs on, its pipe accepts requests, nothing answers.
    assert!(signal(hung, "-STOP"));
    let stopped = Instant::now();
    let o = orch.clone();
    let waiting = tokio::spawn(async move {
        let r = o.call_tool("market", "get_quote", json!({ "symbol": "AAPL" })).await;
        (r, Instant::now())
    });
    wait_state(&orch, "market", "failed", Duration::from_secs(25)).await;
    let to_failed = stopped.elapsed();
    let status = orch.status("market").unwrap();
    assert_eq!(status.last_error.as_deref(), Some("not answering ping for 10 s"), "{status:?}");
    assert!(to_failed >= Duration::from_secs(9), "failed after {to_failed:?}: two pings must go unanswered");
    let o = overall.check().await;
    assert!(o.detail.starts_with("0/1 servers ready"), "{o:?}");

    // The call in flight fails when the server is failed, not after its 30 s timeout.
    let (r, ended) = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("the call ended").unwrap();
    assert_eq!(r.err(), Some(CallError::Closed));
    let call_waited = ended - stopped;
    assert!(call_waited < to_failed + Duration::from_secs(1), "{call_waited:?}");

    // The hung process is killed (and reaped) by the orchestrator, and a new one serves.
    wait_state(&orch, "market", "ready", Duration::from_secs(15)).await;
    let to_ready = stopped.elapsed();
    assert!(!exists(hung), "the hung server {hung} is still there");
    let status = orch.status("market").unwrap();
    assert!(status.pid.is_some() && status.pid != Some(hung), "{status:?}");
    assert_eq!(status.starts, 2);
    assert_eq!(overall.check().await.detail, "1/1 servers ready");
    let quote = orch.call_tool("market", "get_quote", json!({ "symbol": "MSFT" })).await.expect("after the restart");
    assert_ne!(quote.is_error, Some(true));
    let m = metrics(&guard);
    assert_eq!(m.sum("swaggy_mcp_server_restarts_total", &[("swaggy_mcp_server", "market")]), 2.0);
    eprintln!(
        "stdio server stopped (SIGSTOP) → failed in {:.1} s (\"{}\"), the call in flight failed after {:.1} s, \
         replaced and ready {:.1} s after the stop",
        to_failed.as_secs_f64(),
        status.last_error.as_deref().unwrap_or_default(),
        call_waited.as_secs_f64(),
        to_ready.as_secs_f64()
    );
    orch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_with_a_hung_server() {
    let _guard = install_in_memory();
    let receiver = Receiver::http().await;
    let mut file = bundled_file(&receiver);
    let market = file.servers["market"].clone();
    file.servers.insert("second".into(), market);
    let orch = Orchestrator::start(file, ClientOptions::default());
    assert!(orch.wait_ready(Duration::from_secs(20)).await, "{:?}", orch.statuses());
    let hung = orch.status("market").unwrap().pid.expect("pid");
    let healthy = orch.status("second").unwrap().pid.expect("pid");
    let _resume = ResumeOnDrop(hung);
    assert!(signal(hung, "-STOP"));
    let o = orch.clone();
    let waiting = tokio::spawn(async move {
        let r = o.call_tool("market", "get_quote", json!({ "symbol": "AAPL" })).await;
        (r, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    orch.shutdown().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    let (r, ended) = tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("the call ended").unwrap();
    assert_eq!(r.err(), Some(CallError::Closed));
    let call_ended = ended.saturating_duration_since(started);
    assert!(call_ended < Duration::from_millis(500), "the call in flight ended {call_ended:?} into the shutdown");
    assert!(!exists(hung), "the hung server {hung} is still there");
    assert!(!exists(healthy), "the healthy server {healthy} is still there");
    for s in orch.statuses() {
        assert_eq!(s.state.as_str(), "stopped", "{s:?}");
    }
    eprintln!(
        "shutdown with one of two stdio servers stopped (SIGSTOP): {took:?}; the call in flight failed after \
         {call_ended:?}"
    );
}

/// Secrets a request to an MCP URL carries, and what a server that echoes requests sends back.
const ECHO_SECRET: &str = "s3cretpw";

/// An HTTP server that answers every request with `status`, `content_type` and a body echoing
/// the request line and its `Authorization` header (as servers' error pages sometimes do).
async fn echo_server(status: u16, content_type: &'static str, body: fn(&str) -> String) -> String {
    use axum::http::{HeaderMap, StatusCode, Uri, header};
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| async move {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let echo = format!("bad request for {uri} auth={auth}");
        (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, content_type)], body(&echo))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://u:{ECHO_SECRET}@{addr}/mcp?token={ECHO_SECRET}")
}

fn assert_no_secret(what: &str, text: &str) {
    // `u:s3cretpw` as HTTP basic auth.
    const BASIC: &str = "dTpzM2NyZXRwdw==";
    assert!(!text.contains(ECHO_SECRET) && !text.contains(BASIC), "{what}: {text}");
    assert!(!text.contains("bad request for") && !text.contains("auth="), "{what}: the server's body in {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bodies_of_http_servers_never_reach_details() {
    let _guard = install_in_memory();
    let plain = echo_server(400, "text/plain", |echo| echo.to_string()).await;
    let gateway = echo_server(502, "text/html", |echo| format!("<html><body>{echo}</body></html>")).await;
    let rpc = echo_server(400, "application/json", |echo| {
        json!({ "jsonrpc": "2.0", "id": 0, "error": { "code": -32600, "message": echo } }).to_string()
    })
    .await;
    let garbage = echo_server(200, "application/json", |echo| json!({ "echo": echo }).to_string()).await;
    let mut f = McpServersFile::default();
    for (name, url) in [("plain", &plain), ("gateway", &gateway), ("rpc", &rpc), ("garbage", &garbage)] {
        f.servers.insert(name.into(), ServerEntry::Http { url: url.clone() });
    }
    let orch = Orchestrator::start(f, ClientOptions::default());
    let mut details = std::collections::BTreeMap::new();
    for name in ["plain", "gateway", "rpc", "garbage"] {
        wait_state(&orch, name, "failed", Duration::from_secs(10)).await;
        let check = ServerCheck { orchestrator: orch.clone(), server: name.into() };
        let probe = check.check().await;
        eprintln!("mcp_server:{name}: {}", probe.detail);
        assert_eq!(probe.state, HealthState::Unhealthy);
        assert_no_secret(name, &probe.detail);
        assert_no_secret(name, &format!("{:?}", orch.status(name)));
        details.insert(name, probe.detail);
    }
    assert_eq!(details["plain"], "failed (initialize failed: HTTP 400 Bad Request)");
    assert_eq!(details["gateway"], "failed (initialize failed: HTTP 502 Bad Gateway)");
    assert_eq!(details["rpc"], "failed (initialize failed: the server answered JSON-RPC error -32600)");
    assert!(details["garbage"].starts_with("failed (initialize failed: unexpected server response"), "{details:?}");
    let overall = swaggy_telemetry::mcp::OrchestratorCheck(orch.clone()).check().await;
    assert_no_secret("mcp_orchestrator", &overall.detail);
    orch.shutdown().await;
}

/// A server with no tools: every `tools/call` is an error, and still a labelled operation.
#[derive(Clone)]
struct NoTools;

impl rmcp::ServerHandler for NoTools {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_labels_are_bounded_per_process_not_per_session() {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
    use swaggy_telemetry::catalog::values::NetworkTransport;
    use swaggy_telemetry::mcp::{InstrumentedServer, MAX_TOOL_LABELS};
    let (guard, _exporter) = install_in_memory();
    // As the bundled server does: one instrumented handler per session.
    let service: StreamableHttpService<_, LocalSessionManager> = StreamableHttpService::new(
        || Ok(InstrumentedServer::new(NoTools, "junkyard", NetworkTransport::Tcp)),
        Default::default(),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    const SESSIONS: usize = 3;
    const NAMES: usize = 100;
    // Concurrent sessions, each calling its own junk names.
    let sessions = (0..SESSIONS).map(|session| {
        let url = url.clone();
        async move {
            let client = McpClient::connect_http("junkyard", &url, &ClientOptions::default()).await.expect("connect");
            for i in 0..NAMES {
                let r = client.call_tool(&format!("junk-{session}-{i}"), json!({})).await;
                assert!(matches!(r, Err(CallError::Rpc { .. })), "{r:?}");
            }
            client.close().await;
        }
    });
    futures_util::future::join_all(sessions).await;
    let m = metrics(&guard);
    for side in ["client", "server"] {
        let name = format!("mcp_{side}_operation_duration_seconds_count");
        let samples = m.find(&name, &[("mcp_method_name", "tools/call")]);
        let tools: std::collections::BTreeSet<&str> =
            samples.iter().filter_map(|s| s.labels.get("gen_ai_tool_name").map(String::as_str)).collect();
        let calls: f64 = samples.iter().map(|s| s.value).sum();
        eprintln!("{side}: {} distinct gen_ai_tool_name values for {calls} calls", tools.len());
        assert_eq!(calls, (SESSIONS * NAMES) as f64, "{side}: every call counted");
        assert!(tools.len() <= MAX_TOOL_LABELS + 1, "{side}: {} tool labels", tools.len());
        assert!(tools.contains("other"), "{side}: names past the bound fold into `other`");
        assert!(m.sum(&name, &[("gen_ai_tool_name", "other")]) >= (SESSIONS * NAMES - MAX_TOOL_LABELS) as f64);
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_server_stops_on_sigterm_while_a_client_holds_its_event_stream() {
    let mut server = Service::start(&["mcp-server", "--transport", "http"], &[("RUST_LOG", "warn")]);
    let c = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut r = c
            .post(&server.base)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .json(&body);
        if let Some(s) = session {
            r = r.header("mcp-session-id", s);
        }
        r.send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let r = post(init, None).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
    let _ = r.bytes().await;
    let r = post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}), Some(session.clone())).await;
    assert!(r.unwrap().status().is_success());
    // The standalone event stream MCP clients keep open for server messages.
    let stream = c
        .get(&server.base)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(stream.status().is_success(), "{}", stream.status());
    let (status, took) = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(8), "SIGTERM took {took:?} with an event stream open");
    eprintln!("mcp-server (http) stopped in {took:?} with an open event stream");
    drop(stream);
}
