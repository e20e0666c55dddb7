//! One error shape for the whole API: `{"error": {"code", "message"}}` with
//! the HTTP status that fits. A server-side failure rides on its answer as
//! a [`Failure`] to the route's `ObserveRequests` layer, which logs it
//! once, with the request's method and path (`hub/src/observe_requests.rs`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A server-side failure's message, on the answer's extensions for the
/// layer that logs it (`observe_requests::log_failure`). A 503 `busy` carries
/// none: under load that would be one line per refused request.
#[derive(Debug, Clone)]
pub struct Failure(pub String);

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (seconds) when set.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }
    /// 503 with Retry-After: the hub is overloaded, not broken. Not logged
    /// (under load it would be one line per refused request); counted in
    /// `orkhub_ingest_refused_total` instead.
    pub fn busy(m: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", m)
        }
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", m)
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m)
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
    pub fn unavailable(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
    }
}

/// Seconds a client is told to wait when the database does not answer:
/// a restart or failover usually takes a few.
const DATABASE_RETRY_AFTER_SECS: u64 = 2;

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound { .. } => ApiError::not_found(e.to_string()),
            crate::store::StoreError::Invalid(_) => ApiError::invalid(e.to_string()),
            // An outage, not a fault in the request or the data: say when
            // to come back.
            ref unavailable if unavailable.is_unavailable() => ApiError {
                retry_after_secs: Some(DATABASE_RETRY_AFTER_SECS),
                ..ApiError::unavailable(unavailable)
            },
            other => ApiError::unavailable(other),
        }
    }
}

impl ApiError {
    /// The same error, its message starting with what could not be done.
    pub fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": {"code": self.code, "message": &self.message}})),
        )
            .into_response();
        if self.status.is_server_error() && self.code != "busy" {
            response.extensions_mut().insert(Failure(self.message));
        }
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
