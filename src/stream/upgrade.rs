//! `GET /ws`: authentication, origin, capacity — all checked before the upgrade, each refusal a
//! clean HTTP status with a JSON body.

use super::connection;
use super::hub::StreamHub;
use super::protocol::MAX_MESSAGE_BYTES;
use crate::catalog::values::WsReason;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use std::collections::HashMap;

fn refuse(hub: &StreamHub, status: StatusCode, reason: WsReason, message: &str) -> Response {
    hub.inner.metrics.refusals.add(1, (reason,));
    let body = serde_json::json!({ "error": { "code": reason.as_str(), "message": message } });
    (status, axum::Json(body)).into_response()
}

/// Compares without an early exit (tokens are secrets).
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn origin_allowed(hub: &StreamHub, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true; // not a browser: nothing to defend against here
    };
    let allowed = &hub.config().allowed_origins;
    if allowed.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    // Same origin: the Origin's authority equals the Host the request was sent to.
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    !host.is_empty() && authority.eq_ignore_ascii_case(host)
}

async fn upgrade(
    State(hub): State<StreamHub>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            let body = serde_json::json!({ "error": { "code": "not_a_websocket", "message": rejection.body_text() } });
            return (rejection.status(), axum::Json(body)).into_response();
        }
    };
    if let Some(token) = &hub.config().token {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            // The scheme name is case-insensitive (RFC 9110 §11.1).
            .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")))
            .map(|(_, token)| token.trim());
        let given = bearer.or(query.get("token").map(String::as_str));
        if !given.is_some_and(|g| same(g, token)) {
            return refuse(&hub, StatusCode::UNAUTHORIZED, WsReason::Unauthorized, "a valid token is required");
        }
    }
    if !origin_allowed(&hub, &headers) {
        return refuse(&hub, StatusCode::FORBIDDEN, WsReason::ForbiddenOrigin, "origin not allowed");
    }
    let Some(slot) = hub.try_reserve() else {
        return refuse(&hub, StatusCode::SERVICE_UNAVAILABLE, WsReason::Capacity, "too many connections, retry later");
    };
    // Small socket buffers: client messages are small, and outgoing frames are queued (bounded)
    // before they reach the socket. The 128 KiB defaults cost ~256 KiB per idle connection.
    ws.read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| connection::run(hub, socket, slot))
}

/// The `GET /ws` route (mount it at `/ws`).
pub fn ws_route<S>(hub: StreamHub) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    get(upgrade).with_state(hub)
}
