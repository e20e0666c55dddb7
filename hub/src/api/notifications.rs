//! POST /api/v1/notifications, GET /api/v1/notifications/{id},
//! POST /api/v1/messages. Validated here (nothing written on bad input), then
//! handed to the ingest writer, answered only after the commit.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::Body;
use crate::dispatch::message::Extras;
use crate::ingest::plan::Recipient;
use crate::ingest::{Answer, IngestError, Submission};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use commands::Field;
use routing::Urgency;
use serde::Deserialize;
use sha2::{Digest, Sha256};

const MAX_TEXT: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationIn {
    /// A person's handle.
    pub to: String,
    /// Event kind, e.g. "deploy.failed"; decides the urgency when none is given.
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub urgency: Option<Urgency>,
    #[serde(default)]
    pub title: Option<String>,
    pub text: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub project: Option<String>,
    /// Repeats with the same key within the dedupe window are suppressed.
    #[serde(default)]
    pub dedupe_key: Option<String>,
    /// The ID of a notification this one follows up: in each chat that got
    /// that one, this goes into its thread (or as a reply to it).
    #[serde(default)]
    pub reply_to: Option<String>,
}

fn default_kind() -> String {
    "notification".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    /// A channel ID (`channel`) or a person's handle (`person`): exactly one.
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub person: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    pub text: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    /// As for notifications: a follow-up goes under the message it answers.
    #[serde(default)]
    pub reply_to: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require("notifications:write")?;
    let Body(n): Body<NotificationIn> = parse(&headers, body.clone()).await?;
    if state.dir.person(&n.to).is_none() {
        return Err(ApiError::not_found(format!(
            "person {:?} not found (declare them under [[people]] in config.toml)",
            n.to
        )));
    }
    check_text(&n.title, &n.text)?;
    if n.kind.trim().is_empty() || n.kind.len() > 100 {
        return Err(ApiError::invalid("kind: must be 1 to 100 characters"));
    }
    if let Some(p) = &n.project
        && !state.store.project_exists(p).await?
    {
        return Err(ApiError::not_found(format!("project {p:?} not found")));
    }
    check_reply_to(&state, &n.reply_to).await?;
    let sub = Submission {
        source: caller.agent_id.clone(),
        kind: n.kind,
        urgency: n.urgency,
        recipient: Recipient::Person(n.to),
        project_id: n.project,
        title: n.title,
        body: n.text,
        fields_json: extras(n.fields, n.reply_to),
        decision_id: None,
        dedupe_key: n.dedupe_key,
        idempotency: idempotency(&headers, &body)?,
    };
    submit(&state, sub).await
}

pub async fn message(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require("messages:write")?;
    let Body(m): Body<MessageIn> = parse(&headers, body.clone()).await?;
    check_text(&m.title, &m.text)?;
    let recipient = match (m.channel, m.person) {
        (Some(c), None) => {
            if state.dir.channel(&c).is_none() {
                return Err(ApiError::not_found(format!(
                    "channel {c:?} not found (declare it under [[channels]] in config.toml)"
                )));
            }
            Recipient::Channel(c)
        }
        (None, Some(p)) => {
            if state.dir.person(&p).is_none() {
                return Err(ApiError::not_found(format!("person {p:?} not found")));
            }
            Recipient::Person(p)
        }
        _ => {
            return Err(ApiError::invalid(
                "give exactly one of `channel` or `person`",
            ));
        }
    };
    check_reply_to(&state, &m.reply_to).await?;
    let sub = Submission {
        source: caller.agent_id.clone(),
        kind: "message".into(),
        urgency: None,
        recipient,
        project_id: None,
        title: m.title,
        body: m.text,
        fields_json: extras(m.fields, m.reply_to),
        decision_id: None,
        dedupe_key: None,
        idempotency: idempotency(&headers, &body)?,
    };
    submit(&state, sub).await
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("notifications:read")?;
    let Some((n, deliveries)) = state.store.notification(&id).await? else {
        return Err(ApiError::not_found(format!(
            "notification {id:?} not found"
        )));
    };
    Ok(Json(serde_json::json!({"notification": n, "deliveries": deliveries})).into_response())
}

async fn parse<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Result<Body<T>, ApiError> {
    let mut req = axum::http::Request::new(axum::body::Body::from(body));
    if let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) {
        req.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, ct.clone());
    }
    <Body<T> as axum::extract::FromRequest<()>>::from_request(req, &()).await
}

fn check_text(title: &Option<String>, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("text: must not be empty"));
    }
    if text.len() > MAX_TEXT {
        return Err(ApiError::invalid(format!(
            "text: {} bytes is over the {MAX_TEXT}-byte limit",
            text.len()
        )));
    }
    if title.as_ref().is_some_and(|t| t.len() > 1024) {
        return Err(ApiError::invalid("title: over the 1024-byte limit"));
    }
    Ok(())
}

/// A `reply_to` must name a notification that exists.
async fn check_reply_to(state: &AppState, reply_to: &Option<String>) -> Result<(), ApiError> {
    match reply_to {
        Some(id) if !state.store.notification_exists(id).await? => Err(ApiError::not_found(
            format!("reply_to: notification {id:?} not found"),
        )),
        _ => Ok(()),
    }
}

fn extras(fields: Vec<Field>, reply_to: Option<String>) -> String {
    Extras {
        fields,
        reply_to,
        ..Default::default()
    }
    .to_json()
}

fn idempotency(headers: &HeaderMap, body: &[u8]) -> Result<Option<(String, String)>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_header",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some((key.to_string(), hex::encode(Sha256::digest(body)))))
}

async fn submit(state: &AppState, sub: Submission) -> Result<Response, ApiError> {
    match state.ingest.submit(sub).await {
        Ok(Answer { status, body }) => Ok((
            StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
            Json(body),
        )
            .into_response()),
        Err(e @ IngestError::KeyReuse(_)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            e.to_string(),
        )),
        Err(e @ IngestError::Full(_)) => Err(ApiError::busy(e.to_string(), 1)),
        Err(e @ IngestError::Closed) => Err(ApiError::unavailable(e)),
        Err(IngestError::Store(e)) => {
            Err(ApiError::from(e).context("could not store the notification"))
        }
    }
}
