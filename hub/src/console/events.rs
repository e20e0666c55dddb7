//! GET /console/events: the signed-in person's live feed for the inbox,
//! authenticated by the session cookie (EventSource cannot send an
//! Authorization header). The same stream and resume rules as the agents'
//! /api/v1/events (Last-Event-ID, which EventSource sends by itself on a
//! reconnect), narrowed to the person.

use super::{ConsoleError, Signed};
use crate::api::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

pub async fn stream(
    State(state): State<AppState>,
    who: Signed,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    crate::api::person_feed(state, headers, who.person.id)
        .await
        .map(IntoResponse::into_response)
        .map_err(|e| match e.status.as_u16() {
            503 => ConsoleError::Unavailable,
            500 => ConsoleError::Internal,
            _ => ConsoleError::BadRequest(e.message),
        })
}
