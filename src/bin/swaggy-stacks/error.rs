//! API errors: every failure is a JSON body `{"error": {"code", "message"}}` with a 4xx/5xx
//! status; internal details go to the log, never to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error a handler returns.
#[derive(Debug)]
pub enum AppError {
    /// The request is malformed or invalid (4xx).
    Client { status: StatusCode, code: &'static str, message: String },
    /// A dependency the request needs is not available (503).
    Unavailable(&'static str),
    /// Something failed inside (500); the detail is logged only.
    Internal(String),
}

impl AppError {
    /// 422 with a code and message.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Client { status: StatusCode::UNPROCESSABLE_ENTITY, code, message: message.into() }
    }
    /// 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Client { status: StatusCode::BAD_REQUEST, code, message: message.into() }
    }
    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Client { status: StatusCode::NOT_FOUND, code, message: message.into() }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                AppError::Unavailable("database")
            }
            other => AppError::Internal(format!("database: {}", swaggy_telemetry::db::sqlx_error_type(&other))),
        }
    }
}

/// The JSON error body.
pub fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Client { status, code, message } => error_body(status, code, &message),
            AppError::Unavailable(what) => error_body(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &format!("{what} is unavailable, retry later"),
            ),
            AppError::Internal(detail) => {
                tracing::error!(detail, "request failed");
                error_body(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}
