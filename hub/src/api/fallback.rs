//! What answers when no route does: an unknown path (404) and a known path
//! with a method it does not take (405), in the API's JSON error shape
//! rather than axum's empty defaults.

use super::error::ApiError;
use axum::http::{Method, StatusCode, Uri};

/// Any path no route serves.
pub async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no endpoint at {} (the API is under /api/v1; see /api/v1/openapi.json)",
        uri.path()
    ))
}

/// A known path with a method it does not take (axum adds `Allow`).
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}
