//! Wiring: state, router, background tasks.

use crate::api;
use crate::broker::{Broker, RiskLimits};
use crate::config::AppConfig;
use crate::market::Market;
use crate::metrics::{TradingMetrics, register_book_gauges};
use crate::portfolio::{Portfolio, STARTING_CASH};
use crate::quotes::QuoteCache;
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use swaggy_telemetry::health::checks::{HttpCheck, QueueThresholds, RedisCheck, SqlxCheck, TaskQueueCheck};
use swaggy_telemetry::health::http::health_routes;
use swaggy_telemetry::health::{CheckSpec, Criticality, FnCheck, HealthCheck, HealthCollector, Probe};
use swaggy_telemetry::http::{HttpTelemetryLayer, InstrumentedClient, metrics_handler};
use swaggy_telemetry::mcp::{ClientOptions, Orchestrator, OrchestratorCheck, ServerCheck};
use swaggy_telemetry::telemetry::OverflowWatch;
use tokio::sync::watch;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub market: Arc<Market>,
    pub portfolio: Arc<Portfolio>,
    pub store: Store,
    pub quotes: QuoteCache,
    pub broker: Arc<Broker>,
    pub agents: Arc<crate::agents::Agents>,
}

/// The running service's parts that outlive the router.
pub struct App {
    pub state: AppState,
    pub health: HealthCollector,
    pub stream: swaggy_telemetry::stream::StreamHub,
    pub stop: watch::Sender<bool>,
    pub orchestrator: Orchestrator,
}

/// Market data older than this makes the trading check fail.
pub const MAX_MARKET_DATA_AGE_MS: i64 = 5_000;

/// The database check: connectivity and pool saturation, and the schema being in place.
struct StoreCheck {
    sql: SqlxCheck<sqlx::Any>,
    store: Store,
}

impl HealthCheck for StoreCheck {
    fn check(&self) -> BoxFuture<'_, Probe> {
        Box::pin(async move {
            let p = self.sql.check().await;
            match self.store.not_ready_reason() {
                // Connected, but not the writer (standby, lock lost) or not migrated yet.
                Some(reason) if p.state == swaggy_telemetry::catalog::values::HealthState::Healthy => {
                    Probe::unhealthy(reason)
                }
                _ => p,
            }
        })
    }
}

impl App {
    /// Builds the state and starts the market feed, the database bootstrap, the settlement
    /// worker and the health collector. `base` is the service's own URL.
    pub async fn start(
        config: &AppConfig,
        base: &str,
        registry: prometheus::Registry,
        overflow: Arc<OverflowWatch>,
    ) -> Result<App, String> {
        let metrics = TradingMetrics::new();
        let market = Market::new();
        let store = Store::connect_lazy(&config.database_url, config.database_meta.clone())
            .map_err(|_| "invalid --database-url/DATABASE_URL: the driver refused it".to_string())?;
        let portfolio = Arc::new(Portfolio::new(STARTING_CASH, Default::default()));
        let quotes = QuoteCache::new(config.redis.as_ref(), config.quote_ttl, metrics.clone());
        let broker = Arc::new(Broker {
            market: market.clone(),
            portfolio: portfolio.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            limits: RiskLimits::default(),
        });
        register_book_gauges(portfolio.clone(), market.clone());
        let orchestrator = Orchestrator::start(config.mcp.clone().unwrap_or_default(), ClientOptions::default());
        let agents = Arc::new(crate::agents::Agents::new(orchestrator.clone(), broker.clone(), market.clone()));
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(market.clone().run(metrics.clone(), Duration::from_millis(250), stop_rx.clone()));
        let health = health_collector(config, base, &store, &quotes, &market, &orchestrator)?;
        tokio::spawn(bootstrap(store.clone(), portfolio.clone(), health.clone(), stop_rx.clone()));
        if let Some(client) = &config.redis {
            tokio::spawn(crate::settlement::worker(client.clone(), stop_rx.clone()));
        }
        health.spawn(stop_rx);
        let stream = crate::stream::hub(
            config.stream.clone(),
            health.clone(),
            registry,
            overflow,
            portfolio.clone(),
            market.clone(),
        );
        Ok(App {
            state: AppState { market, portfolio, store, quotes, broker, agents },
            health,
            stream,
            stop,
            orchestrator,
        })
    }

    /// The router with every endpoint, instrumented.
    pub fn router(&self, registry: prometheus::Registry, overflow: Arc<OverflowWatch>) -> Router {
        Router::new()
            .route("/api/orders", post(api::create_order))
            .route("/api/orders/{id}", get(api::get_order))
            .route("/api/portfolio", get(api::portfolio))
            .route("/api/quotes/{symbol}", get(api::quote))
            .route("/api/agents/analyze", post(api::analyze))
            .route("/metrics", metrics_handler(registry, overflow))
            .route("/sim/venue/status", get(venue_status))
            .route("/ws", swaggy_telemetry::stream::ws_route(self.stream.clone()))
            // The bundled MCP tools over streamable HTTP, on this service's own market.
            .nest_service("/mcp", crate::mcp_server::http_service(self.state.market.clone()))
            .route("/", swaggy_telemetry::dashboard::page())
            .merge(health_routes(self.health.clone()))
            .fallback(api::not_found)
            .method_not_allowed_fallback(api::method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(HttpTelemetryLayer::new())
            .with_state(self.state.clone())
    }
}

/// Runs migrations (retrying while the database is unreachable) and loads the book.
async fn bootstrap(store: Store, portfolio: Arc<Portfolio>, health: HealthCollector, mut stop: watch::Receiver<bool>) {
    let mut delay = Duration::from_millis(250);
    loop {
        match store.migrate().await {
            Ok(()) => match store.load_portfolio().await {
                Ok((cash, positions)) => {
                    portfolio.load(cash, positions);
                    tracing::info!("database ready");
                    // Readiness follows at once instead of at the next interval.
                    health.refresh_now().await;
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %swaggy_telemetry::db::sqlx_error_type(&e), "loading the portfolio failed; retrying")
                }
            },
            Err(e) => {
                tracing::warn!(error = %swaggy_telemetry::db::sqlx_error_type(&e), "database not ready; retrying")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// `GET /sim/venue/status`: the simulated venue's status API (the default external API check).
async fn venue_status() -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "venue": "swaggy-sim", "status": "open" }))
}

/// The checks of the reference service.
fn health_collector(
    config: &AppConfig,
    base: &str,
    store: &Store,
    quotes: &QuoteCache,
    market: &Arc<Market>,
    orchestrator: &Orchestrator,
) -> Result<HealthCollector, String> {
    let timeout = config.health.timeout;
    let db_name = match config.database_meta.system {
        swaggy_telemetry::catalog::values::DbSystem::Postgresql => "postgres",
        _ => "sqlite",
    };
    let mut b = HealthCollector::builder(config.health.clone()).check(
        CheckSpec::new(db_name, "database", Criticality::Critical),
        StoreCheck { sql: SqlxCheck::new(store.pool().clone()), store: store.clone() },
    );
    if let Some(conn) = quotes.connection() {
        b = b.check(CheckSpec::new("redis", "cache", Criticality::Optional), RedisCheck::new(conn.clone()));
        b = b.check(
            CheckSpec::new("task_queue", "queue", Criticality::Optional),
            TaskQueueCheck::new(
                conn,
                vec![crate::settlement::QUEUE.to_string()],
                crate::settlement::HEARTBEAT_PATTERN,
                QueueThresholds::default(),
            ),
        );
    }
    b = b.check(
        CheckSpec::new("mcp_orchestrator", "mcp", Criticality::Optional),
        OrchestratorCheck(orchestrator.clone()),
    );
    for server in orchestrator.names() {
        b = b.check(
            CheckSpec::new(format!("mcp_server:{server}"), "mcp", Criticality::Optional),
            ServerCheck { orchestrator: orchestrator.clone(), server },
        );
    }
    let m = market.clone();
    b = b.check(
        CheckSpec::new("trading", "internal", Criticality::Critical),
        FnCheck(move || {
            let age = m.age_ms();
            async move {
                if age > MAX_MARKET_DATA_AGE_MS {
                    Probe::unhealthy(format!("market data is {age} ms old (limit {MAX_MARKET_DATA_AGE_MS} ms)"))
                } else {
                    Probe::healthy(format!("venue open, market data {age} ms old"))
                }
            }
        }),
    );
    // Fails only when TLS has no trust store to load (a host without CA certificates).
    let client = InstrumentedClient::new(reqwest::Client::builder().timeout(timeout).build().map_err(|e| {
        format!("cannot build an HTTPS client ({e}): install ca-certificates or set SSL_CERT_FILE to a PEM bundle")
    })?);
    let apis = config
        .external_apis
        .clone()
        .unwrap_or_else(|| vec![("venue".to_string(), format!("{base}/sim/venue/status"), 200)]);
    for (name, url, status) in apis {
        b = b.check(
            CheckSpec::new(format!("external_api:{name}"), "http", Criticality::Optional),
            HttpCheck::new(client.clone(), url, status),
        );
    }
    Ok(b.build())
}
