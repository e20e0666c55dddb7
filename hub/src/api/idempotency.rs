//! `Idempotency-Key` on the API's other POSTs (decisions, tasks, costs,
//! heartbeats): a retried request returns the first answer instead of doing
//! the work twice. Notifications and messages do this inside the ingest
//! commit instead (see api/notifications.rs), where it is atomic; here the
//! key is reserved before the handler runs and the answer stored after it.
//! A server error (5xx) gives the key back, so a retry can succeed.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::store::Reservation;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Responses are small JSON documents; anything larger is not stored.
const MAX_STORED_ANSWER: usize = 1024 * 1024;

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key("idempotency-key") {
        return next.run(req).await;
    }
    match run(state, req, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(state: AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    let key = key_of(req.headers())?;
    let (mut parts, body) = req.into_parts();
    // Keys belong to an agent; an unauthenticated request gets the handler's
    // own 401, with nothing reserved.
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(c) => c,
        Err(_) => return Ok(next.run(Request::from_parts(parts, body)).await),
    };
    let bytes = axum::body::to_bytes(body, state.body_limit)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "request body is larger than the configured limit (server.body_limit_bytes)",
            )
        })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let hash = hex::encode(hasher.finalize());

    match state
        .store
        .reserve_idempotent(&caller.agent_id, &key, &hash)
        .await?
    {
        Reservation::Answered(first) if first.request_hash != hash => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            format!("Idempotency-Key {key:?} was already used for a different request"),
        )),
        Reservation::Answered(first) => Ok(replay(first.status_code, first.body)),
        Reservation::InProgress => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            format!("a request with Idempotency-Key {key:?} is still running; retry shortly"),
        )),
        Reservation::Reserved => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            finish(&state, &caller.agent_id, &key, response).await
        }
    }
}

/// Store the handler's answer (or give the key back after a server error)
/// and pass the answer on.
async fn finish(
    state: &AppState,
    agent: &str,
    key: &str,
    response: Response,
) -> Result<Response, ApiError> {
    let status = response.status();
    if status.is_server_error() {
        state.store.release_idempotent(agent, key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_STORED_ANSWER)
        .await
        .map_err(ApiError::internal)?;
    let text = String::from_utf8_lossy(&bytes);
    state
        .store
        .finish_idempotent(agent, key, status.as_u16(), &text)
        .await?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn replay(status: u16, body: String) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

fn key_of(headers: &axum::http::HeaderMap) -> Result<String, ApiError> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_header",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })
}
