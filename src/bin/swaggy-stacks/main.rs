//! `swaggy-stacks`: the paper-trading reference service.
//!
//! `cargo run --release` runs the demo on 127.0.0.1:8080 with embedded defaults.

mod agents;
mod api;
mod app;
mod broker;
mod config;
mod error;
mod market;
mod mcp_server;
mod metrics;
mod portfolio;
mod quotes;
mod server;
mod settlement;
mod simulator;
mod store;
mod stream;

use clap::Parser;
use clap::error::ErrorKind;
use config::{AppConfig, Cli, Command};
use std::process::ExitCode;
use swaggy_telemetry::Telemetry;
use swaggy_telemetry::health::redact_url;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let line = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
            eprintln!("swaggy-stacks: {line} (see --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("swaggy-stacks: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The bundled MCP server reads only what it uses: spawned by the service, it inherits the
    // service's environment, whose other settings are the service's business (a flag there
    // may have overridden a bad variable).
    if let Some(Command::McpServer { transport }) = cli.command {
        let listen = match transport {
            mcp_server::McpTransportArg::Stdio => None,
            mcp_server::McpTransportArg::Http => match config::listen_addr(cli.listen) {
                Ok(a) => Some(a),
                Err(e) => {
                    eprintln!("swaggy-stacks: {e}");
                    return ExitCode::from(2);
                }
            },
        };
        return runtime.block_on(run_mcp_server(listen));
    }
    let config = match AppConfig::from_cli(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("swaggy-stacks: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(config))
}

/// A listener on `addr`; failing to bind is a bad `--listen` (exit 2, one line).
async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, ExitCode> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        eprintln!("swaggy-stacks: invalid --listen/LISTEN_ADDR: cannot listen on {addr}: {e}");
        ExitCode::from(2)
    })
}

/// `mcp-server`: the bundled MCP server over stdio (`listen` is `None`) or streamable HTTP.
/// Over stdio, stdout carries MCP only (logs go to stderr).
async fn run_mcp_server(listen: Option<std::net::SocketAddr>) -> ExitCode {
    let mut builder = Telemetry::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        builder = builder.with_service_name(config::MCP_SERVICE_NAME);
    }
    let guard = match builder.install() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("swaggy-stacks: {e}");
            return ExitCode::from(2);
        }
    };
    let served = match listen {
        None => mcp_server::run_stdio().await,
        Some(addr) => {
            let listener = match bind(addr).await {
                Ok(l) => l,
                Err(code) => return code,
            };
            let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            println!("swaggy-stacks mcp-server {} listening on http://{addr}/mcp", env!("CARGO_PKG_VERSION"));
            use std::io::Write;
            let _ = std::io::stdout().flush();
            mcp_server::run_http(listener, shutdown_signal()).await
        }
    };
    let code = match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swaggy-stacks: {e}");
            ExitCode::FAILURE
        }
    };
    if let Err(e) = guard.shutdown() {
        eprintln!("swaggy-stacks: {e}");
    }
    code
}

async fn run(mut config: AppConfig) -> ExitCode {
    let guard = match Telemetry::builder().install() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("swaggy-stacks: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match bind(config.listen).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    if config.mcp.is_none() {
        config.mcp = Some(config::bundled_mcp_servers(&guard.config().service_name));
    }
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| config.listen.to_string());
    let base = format!("http://{addr}");
    let app = match app::App::start(&config, &base, guard.prometheus_registry().clone(), guard.overflow().clone()).await
    {
        Ok(a) => a,
        Err(e) => {
            eprintln!("swaggy-stacks: {e}");
            return ExitCode::from(2);
        }
    };
    let router = app.router(guard.prometheus_registry().clone(), guard.overflow().clone());

    println!("swaggy-stacks {} ({:?}) listening on {base}", env!("CARGO_PKG_VERSION"), config.mode);
    println!("  live page     {base}/");
    println!("  metrics       {base}/metrics");
    println!("  health        {base}/health");
    println!("  portfolio     {base}/api/portfolio");
    println!("  quote         {base}/api/quotes/AAPL");
    println!("  orders        POST {base}/api/orders");
    println!("  agents        POST {base}/api/agents/analyze  (MCP: {})", app.orchestrator.names().join(", "));
    println!("  database      {} ({})", config.database_meta.system, config.database_meta.namespace);
    println!("  redis         {}", if config.redis.is_some() { "configured" } else { "off (no REDIS_URL)" });
    let otlp = guard.config().traces_otlp.as_ref().or(guard.config().metrics_otlp.as_ref());
    let otlp = match otlp {
        _ if guard.config().sdk_disabled => "off (OTEL_SDK_DISABLED=true: no telemetry at all)".to_string(),
        // Credentials in the endpoint stay out of the terminal.
        Some(t) => redact_url(&t.endpoint),
        None => "off (no OTEL_EXPORTER_OTLP_ENDPOINT)".to_string(),
    };
    println!("  otlp          {otlp}");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    if config.mode == Command::Demo {
        // Traders and agents start once the database is ready, as real clients would wait for
        // readiness: an order sent earlier would only meet a 503.
        let (store, agents, base, rate) =
            (app.state.store.clone(), app.state.agents.clone(), base.clone(), config.rate);
        let mut stop = app.stop.subscribe();
        tokio::spawn(async move {
            while !store.is_ready() {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                    _ = stop.changed() => return,
                }
            }
            tokio::spawn(simulator::run(base, rate, stop.clone()));
            agents.run(std::time::Duration::from_secs(2), stop).await;
        });
    }
    // On a signal everything winds down at once, so the exit comes within one bound (the 5 s
    // request drain, the MCP servers' 2 s close running beside it) plus telemetry's 5 s flush:
    // stream clients get close frames, background traders and agents stop, and MCP servers
    // close — calls in flight to them fail now instead of holding their requests in the drain.
    let (hub, stop, orchestrator) = (app.stream.clone(), app.stop.clone(), app.orchestrator.clone());
    let (mcp_closed_tx, mcp_closed) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        hub.shutdown();
        let _ = stop.send(true);
        tokio::spawn(async move {
            orchestrator.shutdown().await;
            let _ = mcp_closed_tx.send(());
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let served = server::serve(listener, router, shutdown, server::SHUTDOWN_GRACE).await;
    let _ = app.stop.send(true);
    // Bounded by the orchestrator (2 s per server, all at once); also covers a serve error.
    if !matches!(tokio::time::timeout(std::time::Duration::from_secs(3), mcp_closed).await, Ok(Ok(()))) {
        app.orchestrator.shutdown().await;
    }
    if let Err(e) = served {
        tracing::error!(error = %e, "server error");
    }
    if let Err(e) = guard.shutdown() {
        eprintln!("swaggy-stacks: {e}");
    }
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
