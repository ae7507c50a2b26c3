//! API errors: every failure is a JSON body `{"error": {"code", "message"}}` with a 4xx/5xx
//! status; internal details go to the log, never to the client. Every 503 carries
//! `Retry-After: 1`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error a handler returns.
#[derive(Debug)]
pub enum AppError {
    /// An answer with its own status, code and message: the request is malformed or invalid
    /// (4xx), or one of the specific 503s ([`AppError::outcome_unknown`], [`AppError::standby`]).
    Client { status: StatusCode, code: &'static str, message: String },
    /// A dependency the request needs is not available (503, code `unavailable`).
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
    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Client { status: StatusCode::CONFLICT, code, message: message.into() }
    }
    /// 503 `outcome_unknown`: the `COMMIT` of order `order_id` was sent but its reply never came,
    /// so the order may or may not be stored. The client looks it up (or resends with the same
    /// `client_order_id`, which returns the stored order instead of trading twice).
    pub fn outcome_unknown(order_id: &str) -> Self {
        AppError::Client {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "outcome_unknown",
            message: format!(
                "the database did not confirm order {order_id}: it may or may not have been executed; \
                 look it up with GET /api/orders/{order_id}, or resend it with the same client_order_id, \
                 before placing it again"
            ),
        }
    }
    /// 503 `standby`: another instance holds the ledger (single writer), or this one lost its
    /// lock and is taking it again.
    pub fn standby(message: &'static str) -> Self {
        AppError::Client { status: StatusCode::SERVICE_UNAVAILABLE, code: "standby", message: message.into() }
    }
}

/// Whether `e` is a transient database condition (answer 503 and let the client retry), not
/// a bug: connection loss, pool exhaustion, timeouts, and these SQLSTATEs — class 08
/// (connection exception), 53 (insufficient resources), 57 (operator intervention: admin
/// shutdown 57P01, statement timeout 57014, starting up 57P03), 58 (system error), 40001 and
/// 40P01 (serialization failure, deadlock), 55P03 (lock not available) and 25006 (read-only
/// transaction: a failover in progress). For SQLite: BUSY, LOCKED, IOERR, FULL and CANTOPEN.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| transient_code(&c)),
        _ => false,
    }
}

/// A SQLSTATE (five characters) or an SQLite result code (a number) that means "retry later".
pub fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        return matches!(&code[..2], "08" | "53" | "57" | "58")
            || matches!(code, "40001" | "40P01" | "55P03" | "25006");
    }
    // SQLite: the primary result code is the low byte of the extended one.
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13 | 14))
}

/// Serialization failure or deadlock: the transaction was rolled back and may be run again.
pub fn is_retryable_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "40001" || c == "40P01"))
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) {
            tracing::debug!(error = %swaggy_telemetry::db::sqlx_error_type(&e), "database unavailable");
            AppError::Unavailable("database")
        } else {
            AppError::Internal(format!("database: {}", swaggy_telemetry::db::sqlx_error_type(&e)))
        }
    }
}

/// The JSON error body.
pub fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    let mut r = (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_sqlstates_and_sqlite_codes() {
        for code in ["08006", "08001", "57P01", "57014", "57P03", "53300", "53100", "40001", "40P01", "55P03", "25006"]
        {
            assert!(transient_code(code), "{code}");
        }
        for code in ["23505", "42P01", "22P02", "42703", "2067", "1555", "19", "1"] {
            assert!(!transient_code(code), "{code}");
        }
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED, SQLITE_IOERR_WRITE, SQLITE_FULL.
        for code in ["5", "517", "6", "778", "13"] {
            assert!(transient_code(code), "{code}");
        }
    }

    #[test]
    fn every_503_says_when_to_retry() {
        let r = AppError::Unavailable("database").into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = AppError::outcome_unknown("x").into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(AppError::invalid("a", "b").into_response().headers().get(header::RETRY_AFTER).is_none());
    }
}
