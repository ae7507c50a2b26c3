//! The built-in live page (`GET /`): one self-contained HTML document (no CDN, works offline)
//! that connects to `/ws` and shows health, requests, trading, database/cache, MCP and quotes,
//! reconnecting with backoff.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};

/// The page.
pub const INDEX_HTML: &str = include_str!("index.html");

/// Only this origin may be talked to; inline script and style are the page itself.
const CSP: &str = "default-src 'self'; connect-src 'self' ws: wss:; script-src 'unsafe-inline'; \
                   style-src 'unsafe-inline'; img-src 'self' data:";

/// The `GET /` route.
pub fn page<S>() -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    get(|| async {
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, CSP),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            INDEX_HTML,
        )
            .into_response()
    })
}
