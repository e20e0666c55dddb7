//! POST /api/v1/notifications, GET /api/v1/notifications/{id},
//! POST /api/v1/messages. Validated here (nothing written on bad input), then
//! handed to the ingest writer, answered only after the commit.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::{ApiPath, JsonBytes};
use super::limits;
use crate::dispatch::message::Extras;
use crate::ingest::plan::Recipient;
use crate::ingest::{Answer, IngestError, Submission};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use commands::Field;
use routing::Urgency;
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
    #[serde(default, deserialize_with = "field_objects")]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
    #[serde(default, deserialize_with = "field_objects")]
    pub fields: Vec<Field>,
    /// As for notifications: a follow-up goes under the message it answers.
    #[serde(default)]
    pub reply_to: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/notifications",
    tag = "notifications",
    request_body = NotificationIn,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 201, description = "Stored with its planned deliveries (a replay carries idempotent-replayed: true)", body = crate::ingest::Accepted),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
        (status = 503, description = "Busy (Retry-After) or the database is unavailable", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["notifications:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    caller.require("notifications:write")?;
    let n: NotificationIn = super::json::parse(&body)?;
    limits::text("to", &n.to, limits::ID)?;
    limits::text("kind", &n.kind, limits::KIND)?;
    limits::opt("project", n.project.as_deref(), limits::ID)?;
    limits::opt("dedupe_key", n.dedupe_key.as_deref(), limits::DEDUPE_KEY)?;
    check_common(&n.title, &n.text, &n.fields, &n.reply_to)?;
    if state.dir.person(&n.to).is_none() {
        return Err(ApiError::not_found(format!(
            "person {:?} not found (declare them under [[people]] in config.toml)",
            n.to
        )));
    }
    if n.kind.trim().is_empty() {
        return Err(ApiError::invalid("kind: must not be empty"));
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

#[utoipa::path(
    post,
    path = "/api/v1/messages",
    tag = "notifications",
    request_body = MessageIn,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 201, description = "Stored with its planned deliveries (a replay carries idempotent-replayed: true)", body = crate::ingest::Accepted),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
        (status = 503, description = "Busy (Retry-After) or the database is unavailable", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["messages:write"]))
)]
pub async fn message(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    caller.require("messages:write")?;
    let m: MessageIn = super::json::parse(&body)?;
    limits::opt("channel", m.channel.as_deref(), limits::ID)?;
    limits::opt("person", m.person.as_deref(), limits::ID)?;
    check_common(&m.title, &m.text, &m.fields, &m.reply_to)?;
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

#[utoipa::path(
    get,
    path = "/api/v1/notifications/{id}",
    tag = "notifications",
    params(
        ("id" = String, Path, description = "The notification's ID (`n_…`)")
    ),
    responses(
        (status = 200, description = "The notification and every delivery", body = NotificationStatus),
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["notifications:read"]))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require("notifications:read")?;
    let Some((n, deliveries)) = state.store.notification(&id).await? else {
        return Err(ApiError::not_found(format!(
            "notification {id:?} not found"
        )));
    };
    Ok(Json(NotificationStatus {
        notification: n,
        deliveries,
    })
    .into_response())
}

/// `GET /api/v1/notifications/{id}`: the notification and its deliveries.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct NotificationStatus {
    pub notification: crate::store::NotificationRecord,
    pub deliveries: Vec<crate::store::DeliveryStatus>,
}

/// What notifications and messages share: text, title, fields, reply_to.
fn check_common(
    title: &Option<String>,
    text: &str,
    fields: &[Field],
    reply_to: &Option<String>,
) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("text: must not be empty"));
    }
    limits::text("text", text, limits::TEXT)?;
    limits::opt("title", title.as_deref(), limits::TITLE)?;
    limits::fields(fields)?;
    limits::opt("reply_to", reply_to.as_deref(), limits::ID)
}

/// `fields` as a list of `{"name", "value"}` objects. `Field`'s derived
/// deserializer alone would also take `["name", "value"]` (serde reads a
/// sequence as a struct's fields in order).
fn field_objects<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Field>, D::Error> {
    let items = Vec::<serde_json::Map<String, serde_json::Value>>::deserialize(d)?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            if let Some(k) = m.keys().find(|k| *k != "name" && *k != "value") {
                return Err(serde::de::Error::custom(format!(
                    "entry {i}: unknown field `{k}`, expected `name` and `value`"
                )));
            }
            serde_json::from_value(serde_json::Value::Object(m))
                .map_err(|e| serde::de::Error::custom(format!("entry {i}: {e}")))
        })
        .collect()
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
        Ok(Answer {
            status,
            body,
            replayed,
        }) => {
            let mut r = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
                [(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response();
            if replayed {
                // As the idempotency layer marks the other POSTs' replays.
                r.headers_mut().insert(
                    "idempotent-replayed",
                    axum::http::HeaderValue::from_static("true"),
                );
            }
            Ok(r)
        }
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
