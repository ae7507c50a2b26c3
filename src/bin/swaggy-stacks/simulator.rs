//! The traffic simulator: simulated traders hitting the API over real HTTP, with a small share
//! of invalid requests so telemetry shows real client errors.

use crate::market::UNIVERSE;
use rand::Rng;
use rand::seq::IndexedRandom;
use std::time::Duration;
use swaggy_telemetry::http::InstrumentedClient;
use tokio::sync::watch;

/// Runs until `stop` flips. `rate` is orders per second; reads come on top.
pub async fn run(base: String, rate: f64, mut stop: watch::Receiver<bool>) {
    if rate <= 0.0 {
        return;
    }
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
        Ok(c) => InstrumentedClient::new(c),
        Err(e) => {
            tracing::error!(error = %e, "the traffic simulator cannot build its HTTP client; not simulating");
            return;
        }
    };
    let period = Duration::from_secs_f64(1.0 / (rate * 2.0));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut recent: Vec<String> = Vec::new();
    let mut book = Book::default();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        let action: u32 = rand::rng().random_range(0..100);
        let req = build(&client, &base, action, &recent, &book);
        let Ok(req) = req else { continue };
        let client = client.clone();
        match client.execute(req).await {
            Ok(resp) if action < 50 && resp.status().as_u16() == 201 => {
                if let Ok(v) = resp.json::<serde_json::Value>().await
                    && let Some(id) = v["id"].as_str()
                {
                    recent.push(id.to_string());
                    if recent.len() > 100 {
                        recent.remove(0);
                    }
                }
            }
            Ok(resp) if (75..85).contains(&action) && resp.status().is_success() => {
                if let Ok(v) = resp.json::<serde_json::Value>().await {
                    book = Book::from_view(&v);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "simulated request failed"),
        }
    }
}

/// What the traders last saw of the account (from their portfolio reads).
#[derive(Debug, Default)]
struct Book {
    cash: f64,
    holdings: Vec<(String, i64)>,
}

impl Book {
    fn from_view(v: &serde_json::Value) -> Self {
        let holdings = v["positions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| Some((p["symbol"].as_str()?.to_string(), p["quantity"].as_i64()?)))
                    .filter(|(_, q)| *q > 0)
                    .collect()
            })
            .unwrap_or_default();
        Book { cash: v["cash"].as_f64().unwrap_or(0.0), holdings }
    }
}

fn build(
    client: &InstrumentedClient,
    base: &str,
    action: u32,
    recent: &[String],
    book: &Book,
) -> reqwest::Result<reqwest::Request> {
    let mut rng = rand::rng();
    let http = client.inner();
    let (mut symbol, _) = UNIVERSE.choose(&mut rng).copied().unwrap_or(("AAPL", 100.0));
    match action {
        // Orders: mostly small market orders, some limits near the touch. Traders sell what they
        // hold more eagerly as cash runs low, so the demo keeps trading for hours.
        0..50 => {
            let sell_bias = if book.cash < 300_000.0 { 0.8 } else { 0.45 };
            let selling = rng.random_bool(sell_bias);
            let side = if selling { "sell" } else { "buy" };
            let mut qty: i64 = rng.random_range(1..40);
            if selling
                && let Some((held, q)) = book.holdings.choose(&mut rng)
                && let Some((s, _)) = UNIVERSE.iter().find(|(s, _)| s == held)
            {
                symbol = s;
                qty = qty.min(*q).max(1);
            }
            let body = if rng.random_bool(0.3) {
                let last = UNIVERSE.iter().find(|(s, _)| *s == symbol).map(|(_, p)| *p).unwrap_or(100.0);
                let limit = last * rng.random_range(0.97..1.03);
                serde_json::json!({ "symbol": symbol, "side": side, "quantity": qty, "type": "limit", "limit_price": (limit * 100.0).round() / 100.0 })
            } else {
                serde_json::json!({ "symbol": symbol, "side": side, "quantity": qty, "type": "market" })
            };
            http.post(format!("{base}/api/orders")).json(&body).build()
        }
        50..75 => http.get(format!("{base}/api/quotes/{symbol}")).build(),
        75..85 => http.get(format!("{base}/api/portfolio")).build(),
        85..93 => match recent.choose(&mut rng) {
            Some(id) => http.get(format!("{base}/api/orders/{id}")).build(),
            None => http.get(format!("{base}/api/portfolio")).build(),
        },
        // Invalid traffic, as real clients produce.
        93..95 => http
            .post(format!("{base}/api/orders"))
            .json(&serde_json::json!({ "symbol": "DOGE", "side": "buy", "quantity": 1, "type": "market" }))
            .build(),
        95..97 => http
            .post(format!("{base}/api/orders"))
            .json(&serde_json::json!({ "symbol": symbol, "side": "buy", "quantity": 0, "type": "market" }))
            .build(),
        97..99 => http
            .post(format!("{base}/api/orders"))
            .header("content-type", "application/json")
            .body("{\"symbol\": ")
            .build(),
        _ => http.get(format!("{base}/api/v0/legacy/{}", rng.random_range(0..1000))).build(),
    }
}
