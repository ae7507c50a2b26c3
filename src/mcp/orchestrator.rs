//! The MCP orchestrator: named servers from an `mcpServers` file, each supervised (started,
//! watched, restarted with backoff), and calls routed to them by name.
//!
//! ```json
//! {"mcpServers": {
//!   "market": {"command": "swaggy-stacks", "args": ["mcp-server"], "env": {"RUST_LOG": "warn"}},
//!   "research": {"url": "http://127.0.0.1:9000/mcp"}
//! }}
//! ```

use super::client::{CallError, ClientOptions, McpClient};
use crate::catalog::instruments::{MCP_CLIENT_SESSIONS, MCP_SERVER_RESTARTS, MCP_SERVER_STATUS};
use crate::catalog::values::{McpServer, McpServerState};
use crate::catalog::{BoundedStr, Counter};
use futures_util::future::BoxFuture;
use rmcp::model::CallToolResult;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// Most servers one file may configure.
pub const MAX_SERVERS: usize = 32;
/// First restart delay; doubles up to [`MAX_BACKOFF`], and resets after a server stayed up
/// for [`STABLE_AFTER`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// Longest restart delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A server up this long counts as stable (its next failure restarts after [`MIN_BACKOFF`]).
pub const STABLE_AFTER: Duration = Duration::from_secs(30);
/// How long a ready server (any transport) may go without answering anything before the
/// orchestrator pings it: a server that is gone over HTTP, or hung (a stopped or deadlocked
/// stdio process is still running), tells nobody. Traffic that gets answers (calls, health
/// checks) makes the ping unnecessary.
pub const KEEPALIVE: Duration = Duration::from_secs(5);
/// How long a keepalive ping waits for its answer.
pub const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// Keepalive pings in a row without an answer after which the server is failed ("not
/// answering ping for 10 s") and restarted — a stdio server's hung process is killed first. A
/// ping that cannot be sent fails the server at once.
pub const MISSED_PINGS: u32 = 2;

/// How to reach one server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEntry {
    /// A child process speaking MCP on stdin/stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Extra environment variables.
        env: BTreeMap<String, String>,
    },
    /// A streamable HTTP endpoint.
    Http {
        /// `http://host:port/mcp`.
        url: String,
    },
}

impl ServerEntry {
    fn transport(&self) -> &'static str {
        match self {
            ServerEntry::Stdio { .. } => "stdio",
            ServerEntry::Http { .. } => "http",
        }
    }
}

/// A parsed `mcpServers` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct McpServersFile {
    /// Servers by name.
    pub servers: BTreeMap<String, ServerEntry>,
}

/// What is wrong with an `mcpServers` file (never echoes `env` values: they may be secrets).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum McpConfigError {
    /// Not JSON.
    #[error("not valid JSON (line {line}, column {column})")]
    Json {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// The top level is not `{"mcpServers": {…}}`.
    #[error("expected an object {{\"mcpServers\": {{…}}}}")]
    Shape,
    /// One server entry is wrong.
    #[error("server {name:?}: {problem}")]
    Server {
        /// The entry's name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Too many servers.
    #[error("at most {MAX_SERVERS} servers")]
    TooMany,
}

fn server_err(name: &str, problem: impl Into<String>) -> McpConfigError {
    McpConfigError::Server { name: name.chars().take(64).collect(), problem: problem.into() }
}

impl McpServersFile {
    /// Parses the widely used format: `{"mcpServers": {"name": {"command", "args", "env"} |
    /// {"url"}}}`. Unknown keys in an entry (`type`, `disabled`, …) are ignored.
    pub fn parse(text: &str) -> Result<Self, McpConfigError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| McpConfigError::Json { line: e.line(), column: e.column() })?;
        let servers = v.get("mcpServers").and_then(Value::as_object).ok_or(McpConfigError::Shape)?;
        if servers.len() > MAX_SERVERS {
            return Err(McpConfigError::TooMany);
        }
        let mut out = BTreeMap::new();
        for (name, entry) in servers {
            if name.is_empty()
                || name.len() > 64
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(server_err(name, "names are 1-64 letters, digits, '_', '-' or '.'"));
            }
            let entry = entry.as_object().ok_or_else(|| server_err(name, "must be an object"))?;
            let command = entry.get("command");
            let url = entry.get("url");
            let parsed = match (command, url) {
                (Some(_), Some(_)) => return Err(server_err(name, "has both \"command\" and \"url\"")),
                (None, None) => return Err(server_err(name, "needs \"command\" (stdio) or \"url\" (HTTP)")),
                (Some(c), None) => {
                    let command = c
                        .as_str()
                        .filter(|c| !c.trim().is_empty())
                        .ok_or_else(|| server_err(name, "\"command\" must be a non-empty string"))?
                        .to_string();
                    let args = match entry.get("args") {
                        None => Vec::new(),
                        Some(Value::Array(a)) => a
                            .iter()
                            .map(|x| x.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| server_err(name, "\"args\" must be an array of strings"))?,
                        Some(_) => return Err(server_err(name, "\"args\" must be an array of strings")),
                    };
                    let env = match entry.get("env") {
                        None => BTreeMap::new(),
                        Some(Value::Object(m)) => m
                            .iter()
                            .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                            .collect::<Option<BTreeMap<_, _>>>()
                            .ok_or_else(|| server_err(name, "\"env\" values must be strings"))?,
                        Some(_) => return Err(server_err(name, "\"env\" must be an object of strings")),
                    };
                    ServerEntry::Stdio { command, args, env }
                }
                (None, Some(u)) => {
                    let url = u.as_str().ok_or_else(|| server_err(name, "\"url\" must be a string"))?;
                    let ok = (url.starts_with("http://") || url.starts_with("https://"))
                        && url.parse::<http::Uri>().is_ok_and(|u| u.host().is_some());
                    if !ok {
                        return Err(server_err(name, "\"url\" must be an http:// or https:// URL"));
                    }
                    ServerEntry::Http { url: url.to_string() }
                }
            };
            out.insert(name.clone(), parsed);
        }
        Ok(McpServersFile { servers: out })
    }
}

/// One server's state as the orchestrator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStatus {
    /// Configured name.
    pub name: String,
    /// `stdio` or `http`.
    pub transport: &'static str,
    /// Current state.
    pub state: McpServerState,
    /// Since when.
    pub since: SystemTime,
    /// (Re)starts so far.
    pub starts: u64,
    /// Why it last failed (never a secret: built from the error kind and the exit).
    pub last_error: Option<String>,
    /// The child's process id (stdio, while running).
    pub pid: Option<u32>,
}

struct SlotState {
    state: McpServerState,
    since: SystemTime,
    client: Option<Arc<McpClient>>,
    last_error: Option<String>,
    starts: u64,
}

struct Slot {
    name: String,
    label: McpServer,
    entry: ServerEntry,
    state: Mutex<SlotState>,
}

impl Slot {
    fn set(&self, state: McpServerState, client: Option<Arc<McpClient>>, error: Option<String>) {
        if let Ok(mut s) = self.state.lock() {
            if s.state != state {
                s.since = SystemTime::now();
            }
            s.state = state;
            s.client = client;
            if error.is_some() {
                s.last_error = error;
            }
        }
    }

    fn status(&self) -> ServerStatus {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        ServerStatus {
            name: self.name.clone(),
            transport: self.entry.transport(),
            state: s.state,
            since: s.since,
            starts: s.starts,
            last_error: s.last_error.clone(),
            pid: s.client.as_ref().and_then(|c| c.pid()),
        }
    }
}

struct Inner {
    slots: Vec<Arc<Slot>>,
    options: ClientOptions,
    stop: watch::Sender<bool>,
    restarts: Counter<(McpServer,)>,
    _gauges: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

/// The registry of MCP servers (cheap to clone).
#[derive(Clone)]
pub struct Orchestrator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.inner.slots.iter().map(|s| &s.name)).finish()
    }
}

impl Orchestrator {
    /// Starts supervising every server of `file` on the current tokio runtime.
    pub fn start(file: McpServersFile, options: ClientOptions) -> Orchestrator {
        let meter = crate::telemetry::meter();
        let slots: Vec<Arc<Slot>> = file
            .servers
            .into_iter()
            .map(|(name, entry)| {
                Arc::new(Slot {
                    label: McpServer(BoundedStr::from(name.clone())),
                    name,
                    entry,
                    state: Mutex::new(SlotState {
                        state: McpServerState::Starting,
                        since: SystemTime::now(),
                        client: None,
                        last_error: None,
                        starts: 0,
                    }),
                })
            })
            .collect();
        let restarts = MCP_SERVER_RESTARTS.build(&meter);
        for s in &slots {
            restarts.bind(&(s.label.clone(),));
        }
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let w = weak.clone();
            let status = MCP_SERVER_STATUS.register(&meter, move |o| {
                if let Some(inner) = w.upgrade() {
                    for slot in &inner.slots {
                        let state = slot.state.lock().map(|s| s.state).unwrap_or(McpServerState::Failed);
                        o.observe(1.0, (slot.label.clone(), state));
                    }
                }
            });
            let w = weak.clone();
            let sessions = MCP_CLIENT_SESSIONS.register(&meter, move |o| {
                if let Some(inner) = w.upgrade() {
                    for slot in &inner.slots {
                        let open = slot.state.lock().map(|s| s.client.is_some()).unwrap_or(false);
                        o.observe(i64::from(open), (slot.label.clone(),));
                    }
                }
            });
            Inner {
                slots,
                options,
                stop: watch::channel(false).0,
                restarts,
                _gauges: vec![Box::new(status), Box::new(sessions)],
            }
        });
        for slot in &inner.slots {
            tokio::spawn(supervise(Arc::downgrade(&inner), slot.clone(), inner.stop.subscribe()));
        }
        Orchestrator { inner }
    }

    /// The configured server names.
    pub fn names(&self) -> Vec<String> {
        self.inner.slots.iter().map(|s| s.name.clone()).collect()
    }

    /// Every server's state.
    pub fn statuses(&self) -> Vec<ServerStatus> {
        self.inner.slots.iter().map(|s| s.status()).collect()
    }

    /// One server's state.
    pub fn status(&self, server: &str) -> Option<ServerStatus> {
        self.slot(server).map(|s| s.status())
    }

    fn slot(&self, server: &str) -> Option<&Arc<Slot>> {
        self.inner.slots.iter().find(|s| s.name == server)
    }

    /// The ready client of `server`.
    pub fn client(&self, server: &str) -> Result<Arc<McpClient>, CallError> {
        let slot = self.slot(server).ok_or_else(|| CallError::UnknownServer(server.chars().take(64).collect()))?;
        let s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        match (&s.client, s.state) {
            (Some(c), McpServerState::Ready) if !c.is_closed() => Ok(c.clone()),
            (_, state) => Err(CallError::NotReady { server: slot.name.clone(), state: state.as_str() }),
        }
    }

    /// Routes `method` with `params` to `server` and returns the result as JSON.
    pub async fn call_mcp_method(&self, server: &str, method: &str, params: Value) -> Result<Value, CallError> {
        self.client(server)?.call(method, params).await
    }

    /// `tools/call` on `server`.
    pub async fn call_tool(&self, server: &str, tool: &str, arguments: Value) -> Result<CallToolResult, CallError> {
        self.client(server)?.call_tool(tool, arguments).await
    }

    /// Waits until every server is ready (or `within` passes); returns whether they are.
    pub async fn wait_ready(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.statuses().iter().all(|s| s.state == McpServerState::Ready) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops supervising and closes every session, all at once, each within
    /// [`CLOSE_GRACE`](super::CLOSE_GRACE): calls in flight fail at once, and a stdio server
    /// that has not exited by then (a hung one) is killed. Returns when they are gone.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        let closing: Vec<_> = self
            .inner
            .slots
            .iter()
            .map(|slot| {
                let client = slot.state.lock().ok().and_then(|mut s| s.client.take());
                slot.set(McpServerState::Stopped, None, None);
                async move {
                    if let Some(c) = client {
                        c.close().await;
                    }
                }
            })
            .collect();
        futures_util::future::join_all(closing).await;
    }
}

async fn connect(slot: &Slot, options: &ClientOptions) -> Result<McpClient, String> {
    let r = match &slot.entry {
        ServerEntry::Stdio { command, args, env } => {
            let mut cmd = tokio::process::Command::new(command);
            cmd.args(args).envs(env).kill_on_drop(true);
            McpClient::connect_stdio(&slot.name, cmd, options).await
        }
        ServerEntry::Http { url } => McpClient::connect_http(&slot.name, url, options).await,
    };
    r.map_err(|e| crate::redact::redact_urls(&e.to_string()))
}

/// Why a ready connection ended, when nothing more precise is known.
const CONNECTION_CLOSED_REASON: &str = "the connection closed (the server exited?)";

/// Pings a ready server whenever it has answered nothing for [`KEEPALIVE`], and returns once
/// the connection is failed: [`MISSED_PINGS`] pings in a row unanswered within
/// [`PING_TIMEOUT`], or a ping that could not be sent.
async fn keepalive(client: &McpClient) {
    let mut missed = 0;
    loop {
        if missed == 0 {
            let quiet = client.since_last_answer();
            if quiet < KEEPALIVE {
                tokio::time::sleep(KEEPALIVE - quiet).await;
                continue;
            }
        }
        let sent = Instant::now();
        match client.ping_within(PING_TIMEOUT).await {
            // An answer, even an error, is a live server.
            Ok(()) | Err(CallError::Rpc { .. }) => missed = 0,
            // So is any answer meanwhile (to another request, or late to an earlier ping).
            Err(CallError::Timeout(_)) if client.since_last_answer() < sent.elapsed() => missed = 0,
            Err(CallError::Timeout(_)) => {
                missed += 1;
                if missed >= MISSED_PINGS {
                    let silent = (PING_TIMEOUT * MISSED_PINGS).as_secs();
                    client.fail(format!("not answering ping for {silent} s"));
                    return;
                }
            }
            Err(e) => {
                // A failed send has already ended the connection with its own reason.
                client.fail(format!("keepalive ping failed: {e}"));
                return;
            }
        }
    }
}

async fn supervise(inner: Weak<Inner>, slot: Arc<Slot>, mut stop: watch::Receiver<bool>) {
    let mut backoff = MIN_BACKOFF;
    // The failure last logged at `warn`: a server that keeps failing the same way logs once
    // (then at `debug` on each retry), not on every attempt.
    let mut logged: Option<String> = None;
    let mut attempt: u32 = 0;
    loop {
        let Some(strong) = inner.upgrade() else { return };
        let options = strong.options.clone();
        strong.restarts.add(1, (slot.label.clone(),));
        drop(strong);
        if let Ok(mut s) = slot.state.lock() {
            s.starts += 1;
        }
        attempt += 1;
        slot.set(McpServerState::Starting, None, None);
        let connected = tokio::select! {
            r = connect(&slot, &options) => r,
            _ = stop.changed() => { slot.set(McpServerState::Stopped, None, None); return; }
        };
        match connected {
            Ok(client) => {
                let client = Arc::new(client);
                match client.pid() {
                    Some(pid) => tracing::info!(server = %slot.name, pid, attempt, "MCP server ready"),
                    None => tracing::info!(server = %slot.name, attempt, "MCP server ready"),
                }
                slot.set(McpServerState::Ready, Some(client.clone()), None);
                attempt = 0;
                let up = Instant::now();
                tokio::select! {
                    biased;
                    _ = stop.changed() => {
                        // `shutdown` closes it too: both wait for the same close.
                        client.close().await;
                        slot.set(McpServerState::Stopped, None, None);
                        return;
                    }
                    _ = client.closed() => {}
                    _ = keepalive(&client) => {}
                }
                let reason = client.close_reason().unwrap_or_else(|| CONNECTION_CLOSED_REASON.to_string());
                if up.elapsed() >= STABLE_AFTER {
                    backoff = MIN_BACKOFF;
                }
                slot.set(McpServerState::Failed, None, Some(reason.clone()));
                match client.pid() {
                    Some(pid) => {
                        tracing::warn!(server = %slot.name, pid, %reason, retry_in = ?backoff, "MCP server lost; restarting")
                    }
                    None => {
                        tracing::warn!(server = %slot.name, %reason, retry_in = ?backoff, "MCP server lost; reconnecting")
                    }
                }
                // A hung stdio server is still running: it goes before its replacement starts.
                client.abort().await;
                logged = Some(reason);
            }
            Err(e) => {
                let (server, retry_in) = (&slot.name, backoff);
                if logged.as_ref() != Some(&e) {
                    tracing::warn!(%server, error = %e, attempt, ?retry_in, "MCP server failed to start");
                } else {
                    tracing::debug!(%server, error = %e, attempt, ?retry_in, "MCP server failed to start");
                }
                slot.set(McpServerState::Failed, None, Some(e.clone()));
                logged = Some(e);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => { slot.set(McpServerState::Stopped, None, None); return; }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(feature = "axum")]
mod checks {
    use super::*;
    use crate::health::{HealthCheck, Probe};

    /// The orchestrator's own state: healthy when every server is ready, degraded when some
    /// are not, unhealthy when it was shut down.
    pub struct OrchestratorCheck(pub Orchestrator);

    impl HealthCheck for OrchestratorCheck {
        fn check(&self) -> BoxFuture<'_, Probe> {
            Box::pin(async move {
                let all = self.0.statuses();
                if *self.0.inner.stop.borrow() {
                    return Probe::unhealthy("the orchestrator is shut down");
                }
                if all.is_empty() {
                    return Probe::healthy("no MCP servers configured");
                }
                let ready = all.iter().filter(|s| s.state == McpServerState::Ready).count();
                let others: Vec<String> = all
                    .iter()
                    .filter(|s| s.state != McpServerState::Ready)
                    .map(|s| format!("{} {}", s.name, s.state))
                    .collect();
                if others.is_empty() {
                    Probe::healthy(format!("{ready}/{} servers ready", all.len()))
                } else {
                    Probe::degraded(format!("{ready}/{} servers ready; {}", all.len(), others.join(", ")))
                }
            })
        }
    }

    /// One server answers MCP `ping` over its transport.
    pub struct ServerCheck {
        /// The orchestrator.
        pub orchestrator: Orchestrator,
        /// The server's name.
        pub server: String,
    }

    impl HealthCheck for ServerCheck {
        fn check(&self) -> BoxFuture<'_, Probe> {
            Box::pin(async move {
                let client = match self.orchestrator.client(&self.server) {
                    Ok(c) => c,
                    Err(CallError::NotReady { state, .. }) => {
                        let why = self
                            .orchestrator
                            .status(&self.server)
                            .and_then(|s| s.last_error)
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default();
                        return Probe::unhealthy(format!("{state}{why}"));
                    }
                    Err(e) => return Probe::error(e.to_string()),
                };
                let started = Instant::now();
                match client.ping().await {
                    Ok(()) => {
                        let pid = client.pid().map(|p| format!(", pid {p}")).unwrap_or_default();
                        Probe::healthy(format!("ping answered in {} ms{pid}", started.elapsed().as_millis()))
                    }
                    Err(CallError::Closed) => Probe::unreachable("the connection closed"),
                    // The connection is gone (the orchestrator now reconnects).
                    Err(CallError::Transport(why)) => Probe::unreachable(format!("ping failed: {why}")),
                    Err(CallError::Rpc { code, .. }) => Probe::error(format!("ping answered JSON-RPC error {code}")),
                    Err(e) => {
                        Probe::error(format!("ping failed: {}", e.to_string().chars().take(120).collect::<String>()))
                    }
                }
            })
        }
    }
}

#[cfg(feature = "axum")]
pub use checks::{OrchestratorCheck, ServerCheck};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_common_format_and_names_what_is_wrong() {
        let f = McpServersFile::parse(
            r#"{"mcpServers": {"market": {"command": "swaggy-stacks", "args": ["mcp-server"], "env": {"K": "v"}, "type": "stdio"},
                "research": {"url": "http://127.0.0.1:9000/mcp"}}}"#,
        )
        .unwrap();
        assert_eq!(f.servers.len(), 2);
        assert!(matches!(&f.servers["market"], ServerEntry::Stdio { args, .. } if args == &["mcp-server"]));
        assert!(matches!(&f.servers["research"], ServerEntry::Http { .. }));
        let bad = |s: &str| McpServersFile::parse(s).unwrap_err().to_string();
        assert!(bad("{not json").contains("not valid JSON"));
        assert!(bad(r#"{"servers": {}}"#).contains("mcpServers"));
        assert!(bad(r#"{"mcpServers": {"a": {}}}"#).contains("\"a\": needs \"command\""));
        assert!(bad(r#"{"mcpServers": {"a": {"command": "x", "url": "http://h"}}}"#).contains("both"));
        assert!(bad(r#"{"mcpServers": {"a": {"command": ""}}}"#).contains("non-empty"));
        assert!(bad(r#"{"mcpServers": {"a": {"command": "x", "args": "y"}}}"#).contains("args"));
        assert!(bad(r#"{"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}"#).contains("env"));
        assert!(bad(r#"{"mcpServers": {"a": {"url": "ftp://h"}}}"#).contains("http://"));
        assert!(bad(r#"{"mcpServers": {"bad name": {"command": "x"}}}"#).contains("names are"));
        // A secret in env never appears in an error.
        assert!(
            !bad(r#"{"mcpServers": {"a": {"command": "x", "env": {"TOKEN": "hunter2", "N": 3}}}}"#).contains("hunter2")
        );
    }
}
