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
mod settlement;
mod simulator;
mod store;
mod stream;

use clap::Parser;
use clap::error::ErrorKind;
use config::{AppConfig, Cli, Command};
use std::process::ExitCode;
use swaggy_telemetry::Telemetry;

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
    let config = match AppConfig::from_cli(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("swaggy-stacks: {e}");
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
    if let Command::McpServer { transport } = config.mode {
        return runtime.block_on(run_mcp_server(config, transport));
    }
    runtime.block_on(run(config))
}

/// `mcp-server`: the bundled MCP server. Over stdio, stdout carries MCP only (logs go to stderr).
async fn run_mcp_server(config: AppConfig, transport: mcp_server::McpTransportArg) -> ExitCode {
    let mut builder = Telemetry::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        builder = builder.with_service_name("swaggy-stacks-mcp");
    }
    let guard = match builder.install() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("swaggy-stacks: {e}");
            return ExitCode::from(2);
        }
    };
    let served = match transport {
        mcp_server::McpTransportArg::Stdio => mcp_server::run_stdio().await,
        mcp_server::McpTransportArg::Http => match tokio::net::TcpListener::bind(config.listen).await {
            Ok(listener) => {
                let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
                println!("swaggy-stacks mcp-server {} listening on http://{addr}/mcp", env!("CARGO_PKG_VERSION"));
                use std::io::Write;
                let _ = std::io::stdout().flush();
                mcp_server::run_http(listener, shutdown_signal()).await
            }
            Err(e) => Err(format!("cannot listen on {}: {e}", config.listen)),
        },
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

async fn run(config: AppConfig) -> ExitCode {
    let guard = match Telemetry::builder().install() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("swaggy-stacks: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("swaggy-stacks: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
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
    println!(
        "  otlp          {}",
        otlp.map_or("off (no OTEL_EXPORTER_OTLP_ENDPOINT)".to_string(), |t| t.endpoint.clone())
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();

    if config.mode == Command::Demo {
        tokio::spawn(simulator::run(base.clone(), config.rate, app.stop.subscribe()));
        tokio::spawn(app.state.agents.clone().run(std::time::Duration::from_secs(2), app.stop.subscribe()));
    }
    let stop = app.stop.clone();
    let hub = app.stream.clone();
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Every stream client gets a close frame before the server stops.
            hub.shutdown();
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        })
        .await;
    let _ = stop.send(true);
    app.orchestrator.shutdown().await;
    if let Err(e) = served {
        tracing::error!(error = %e, "server error");
    }
    tracing::info!("shutting down");
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
