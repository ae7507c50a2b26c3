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
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use redis::AsyncCommands;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swaggy_telemetry::http::{HttpTelemetryLayer, metrics_handler};
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
}

/// The running service's parts that outlive the router.
pub struct App {
    pub state: AppState,
    pub stop: watch::Sender<bool>,
}

impl App {
    /// Builds the state and starts the market feed and the database bootstrap.
    pub async fn start(config: &AppConfig) -> Result<App, String> {
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
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(market.clone().run(metrics.clone(), Duration::from_millis(250), stop_rx.clone()));
        tokio::spawn(bootstrap(store.clone(), portfolio.clone(), stop_rx));
        Ok(App { state: AppState { market, portfolio, store, quotes, broker }, stop })
    }

    /// The router with every endpoint, instrumented.
    pub fn router(&self, registry: prometheus::Registry, overflow: Arc<OverflowWatch>) -> Router {
        Router::new()
            .route("/api/orders", post(api::create_order))
            .route("/api/orders/{id}", get(api::get_order))
            .route("/api/portfolio", get(api::portfolio))
            .route("/api/quotes/{symbol}", get(api::quote))
            .route("/health", get(health))
            .route("/metrics", metrics_handler(registry, overflow))
            .route("/", get(index))
            .fallback(api::not_found)
            .method_not_allowed_fallback(api::method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(HttpTelemetryLayer::new())
            .with_state(self.state.clone())
    }
}

/// Runs migrations (retrying while the database is unreachable) and loads the book.
async fn bootstrap(store: Store, portfolio: Arc<Portfolio>, mut stop: watch::Receiver<bool>) {
    let mut delay = Duration::from_millis(250);
    loop {
        match store.migrate().await {
            Ok(()) => match store.load_portfolio().await {
                Ok((cash, positions)) => {
                    portfolio.load(cash, positions);
                    tracing::info!("database ready");
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

/// `GET /health`: database and Redis, each probed under a timeout.
async fn health(State(state): State<AppState>) -> Response {
    let probe_timeout = Duration::from_secs(2);
    let db = async {
        let start = Instant::now();
        let r = tokio::time::timeout(probe_timeout, state.store.ping()).await;
        let status = match r {
            Ok(Ok(())) if state.store.is_ready() => "healthy",
            Ok(Ok(())) => "degraded",
            Ok(Err(_)) => "unreachable",
            Err(_) => "timeout",
        };
        json!({ "name": "database", "status": status, "critical": true, "latency_ms": start.elapsed().as_millis() as u64 })
    };
    let cache = async {
        let start = Instant::now();
        let status = match state.quotes.connection() {
            None => "disabled",
            Some(mut c) => match tokio::time::timeout(probe_timeout, async { c.ping::<String>().await }).await {
                Ok(Ok(_)) => "healthy",
                Ok(Err(_)) => "unreachable",
                Err(_) => "timeout",
            },
        };
        json!({ "name": "redis", "status": status, "critical": false, "latency_ms": start.elapsed().as_millis() as u64 })
    };
    let (db, cache) = tokio::join!(db, cache);
    let overall = if db["status"] != "healthy" {
        "unhealthy"
    } else if cache["status"] != "healthy" && cache["status"] != "disabled" {
        "degraded"
    } else {
        "healthy"
    };
    let code = if overall == "unhealthy" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (code, axum::Json(json!({ "status": overall, "checks": [db, cache] }))).into_response()
}

/// `GET /`: where to look (the live dashboard page replaces it).
async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><title>Swaggy Stacks</title><h1>Swaggy Stacks</h1><ul>\
         <li><a href=/metrics>/metrics</a></li><li><a href=/health>/health</a></li>\
         <li><a href=/api/portfolio>/api/portfolio</a></li><li><a href=/api/quotes/AAPL>/api/quotes/AAPL</a></li></ul>",
    )
}
