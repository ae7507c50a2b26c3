//! The trading API: `POST /api/orders`, `GET /api/orders/{id}`, `GET /api/portfolio`,
//! `GET /api/quotes/{symbol}`.

use crate::app::AppState;
use crate::broker::{MAX_ORDER_QUANTITY, NewOrder};
use crate::error::AppError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use swaggy_telemetry::catalog::values::{OrderSide, OrderType};

/// JSON body extractor whose rejections are JSON errors with the right 4xx.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let status = rejection.status();
                let code = match &rejection {
                    JsonRejection::JsonDataError(_) => "invalid_body",
                    JsonRejection::JsonSyntaxError(_) => "malformed_json",
                    JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
                    JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
                    _ => "bad_request",
                };
                let message = match code {
                    "body_too_large" => "request body exceeds 64 KiB".to_string(),
                    "unsupported_media_type" => "expected Content-Type: application/json".to_string(),
                    // Serde's message names the field and the problem, never echoes big input.
                    _ => rejection.body_text().chars().take(200).collect(),
                };
                Err(AppError::Client { status, code, message })
            }
        }
    }
}

/// The order request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    symbol: String,
    side: String,
    quantity: serde_json::Number,
    #[serde(rename = "type")]
    order_type: String,
    limit_price: Option<f64>,
    /// The client's name for the order (idempotency key): a retry with the same name returns
    /// the stored order instead of trading twice.
    client_order_id: Option<String>,
}

/// Longest `client_order_id`.
pub const MAX_CLIENT_ORDER_ID_LEN: usize = 64;

/// A `client_order_id`: 1 to 64 characters of `A-Z a-z 0-9 - _ . :` (a UUID fits).
fn valid_client_order_id(id: &str) -> bool {
    (1..=MAX_CLIENT_ORDER_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn validate(state: &AppState, r: OrderRequest) -> Result<(NewOrder, Option<String>), AppError> {
    if let Some(id) = &r.client_order_id
        && !valid_client_order_id(id)
    {
        return Err(AppError::invalid(
            "invalid_client_order_id",
            format!("client_order_id must be 1 to {MAX_CLIENT_ORDER_ID_LEN} characters of A-Z a-z 0-9 - _ . :"),
        ));
    }
    let symbol = state
        .market
        .canonical(r.symbol.trim())
        .ok_or_else(|| AppError::invalid("unknown_symbol", "symbol is not in the trading universe"))?;
    let side = OrderSide::parse(&r.side.to_ascii_lowercase())
        .ok_or_else(|| AppError::invalid("invalid_side", "side must be buy or sell"))?;
    let order_type = OrderType::parse(&r.order_type.to_ascii_lowercase())
        .ok_or_else(|| AppError::invalid("invalid_type", "type must be market or limit"))?;
    let quantity = match r.quantity.as_i64() {
        Some(q) => q,
        // Past i64 (or written as a float): say which rule it breaks.
        None => match r.quantity.as_f64() {
            Some(f) if f > MAX_ORDER_QUANTITY as f64 => i64::MAX,
            Some(f) if f <= 0.0 => 0,
            _ => return Err(AppError::invalid("invalid_quantity", "quantity must be a whole number")),
        },
    };
    if quantity <= 0 {
        return Err(AppError::invalid("invalid_quantity", "quantity must be greater than 0"));
    }
    if quantity > MAX_ORDER_QUANTITY {
        return Err(AppError::invalid("invalid_quantity", format!("quantity must not exceed {MAX_ORDER_QUANTITY}")));
    }
    let limit_price = match (order_type, r.limit_price) {
        (OrderType::Limit, Some(p)) if p.is_finite() && p > 0.0 && p < 1e9 => Some(p),
        (OrderType::Limit, Some(_)) => {
            return Err(AppError::invalid(
                "invalid_limit_price",
                "limit_price must be a positive price below 1000000000",
            ));
        }
        (OrderType::Limit, None) => {
            return Err(AppError::invalid("missing_limit_price", "a limit order needs limit_price"));
        }
        (OrderType::Market, Some(_)) => {
            return Err(AppError::invalid("unexpected_limit_price", "a market order takes no limit_price"));
        }
        (OrderType::Market, None) => None,
    };
    Ok((NewOrder { symbol, side, order_type, quantity, limit_price }, r.client_order_id))
}

/// `POST /api/orders`: 201 with the new order; 200 with the stored order when a retry names
/// a stored `client_order_id` with the same order (409 `client_order_id_conflict` when the
/// order differs). 503 `outcome_unknown` when the database did not confirm the `COMMIT`: look
/// the order up, or resend it with the same `client_order_id`.
pub async fn create_order(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OrderRequest>,
) -> Result<Response, AppError> {
    let (order, client_order_id) = validate(&state, body)?;
    let symbol = order.symbol;
    let submitted = state.broker.submit_idempotent(order, client_order_id).await?;
    let record = submitted.order;
    if submitted.replayed {
        return Ok((StatusCode::OK, Json(record)).into_response());
    }
    if record.status == "filled" {
        // Warm the cache for the traded symbol off the request path, in the request's trace.
        // Also hand the fill to the settlement queue.
        let (quotes, market, order_id) = (state.quotes.clone(), state.market.clone(), record.id.clone());
        swaggy_telemetry::context::spawn(async move {
            quotes.refresh(&market, symbol).await;
            if let Some(mut conn) = quotes.connection() {
                crate::settlement::enqueue(&mut conn, &order_id).await;
            }
        });
    }
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

/// `GET /api/orders/{id}`.
pub async fn get_order(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, AppError> {
    let id =
        uuid::Uuid::parse_str(&id).map_err(|_| AppError::bad_request("invalid_order_id", "order id must be a UUID"))?;
    // A standby says so (503 `standby`), like for orders and the portfolio.
    state.broker.gate()?;
    match state.store.order(&id.to_string()).await? {
        Some(o) => Ok(Json(o).into_response()),
        None => Err(AppError::not_found("order_not_found", "no such order")),
    }
}

/// `GET /api/portfolio`: the book, reloaded from the database first when it may differ from
/// it (after a failed or uncertain transaction); 503 on a standby instance.
pub async fn portfolio(State(state): State<AppState>) -> Result<Response, AppError> {
    state.broker.sync_book().await?;
    Ok(Json(state.portfolio.view(&state.market)).into_response())
}

/// `GET /api/quotes/{symbol}`.
pub async fn quote(State(state): State<AppState>, Path(symbol): Path<String>) -> Result<Response, AppError> {
    let symbol = state
        .market
        .canonical(&symbol)
        .ok_or_else(|| AppError::not_found("unknown_symbol", "symbol is not in the trading universe"))?;
    let (quote, result) = state.quotes.get(&state.market, symbol).await.ok_or(AppError::Unavailable("market data"))?;
    let mut body = serde_json::to_value(&quote).map_err(|e| AppError::Internal(e.to_string()))?;
    body["cache"] = json!(result.map_or("off", |r| r.as_str()));
    Ok(Json(body).into_response())
}

/// Fallback for unknown paths.
pub async fn not_found() -> AppError {
    AppError::not_found("not_found", "no such endpoint")
}

/// Fallback for a known path with the wrong method.
pub async fn method_not_allowed() -> AppError {
    AppError::Client {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: "method not allowed".into(),
    }
}

/// `POST /api/agents/analyze` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    symbol: String,
    #[serde(default)]
    execute: bool,
    #[serde(default)]
    quantity: Option<i64>,
}

/// `POST /api/agents/analyze`: one agent coordination (MCP calls, an insight, a risk opinion;
/// with `"execute": true` an order) in this request's trace.
pub async fn analyze(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AnalyzeRequest>,
) -> Result<Response, AppError> {
    let symbol = state
        .market
        .canonical(&body.symbol)
        .ok_or_else(|| AppError::invalid("unknown_symbol", "symbol is not in the universe"))?;
    let quantity = body.quantity.unwrap_or(10);
    if !(1..=10_000).contains(&quantity) {
        return Err(AppError::invalid("invalid_quantity", "quantity must be an integer in [1, 10000]"));
    }
    let result = state.agents.trade_idea(symbol, quantity, body.execute).await?;
    Ok(Json(result).into_response())
}
