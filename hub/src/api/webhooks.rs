//! Outbound webhooks over the API (scope `webhooks:admin`): list, create,
//! show and delete subscriptions, read a subscription's delivery log and
//! send a delivery's event again.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::{ApiQuery, Body};
use super::limits;
use crate::store::{NewSubscription, Subscription, WebhookDelivery};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

pub const SCOPE: &str = "webhooks:admin";
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 500;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    /// http(s) URL the events are POSTed to. Not a loopback, link-local or
    /// private address unless the hub's `webhook_sender.allow_private_targets`.
    pub url: String,
    /// Event patterns: `task.*`, `decision.resolved`, `*` (1 to 20).
    pub events: Vec<String>,
    /// Attempts per event before it is dead (1 to 20; default 3).
    #[serde(default)]
    pub max_attempts: Option<i64>,
    /// First retry after about this long, doubling each time (default 10,000).
    #[serde(default)]
    pub base_backoff_ms: Option<i64>,
    /// Retries wait at most this long (default 600,000).
    #[serde(default)]
    pub max_backoff_ms: Option<i64>,
}

/// A created webhook, with its signing secret: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    #[serde(flatten)]
    pub webhook: Subscription,
    /// Verify `X-Orkhub-Signature` with it; it is not shown again.
    pub secret: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Subscription>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<WebhookDelivery>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// At most this many (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Only deliveries older than this delivery ID (the next page).
    #[serde(default)]
    pub before: Option<i64>,
}

fn in_range(
    field: &str,
    v: Option<i64>,
    min: i64,
    max: i64,
    default: i64,
) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(v) => Err(ApiError::invalid(format!(
            "{field}: {v} is not between {min} and {max}"
        ))),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    request_body = WebhookIn,
    responses(
        (status = 201, description = "Created; the answer holds the signing secret, shown once", body = Created),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
    ),
    security(("api_key" = ["webhooks:admin"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(w): Body<WebhookIn>,
) -> Result<Response, ApiError> {
    caller.require(SCOPE)?;
    limits::text("url", &w.url, limits::URL)?;
    if w.events.is_empty() {
        return Err(ApiError::invalid("events: name at least one event pattern"));
    }
    limits::list("events", &w.events, limits::EVENTS)?;
    limits::each("events", &w.events, limits::KIND)?;
    for e in &w.events {
        crate::webhooks::events::check_pattern(e).map_err(ApiError::invalid)?;
    }
    let max_attempts = in_range("max_attempts", w.max_attempts, 1, 20, 3)?;
    let base = in_range("base_backoff_ms", w.base_backoff_ms, 1, 86_400_000, 10_000)?;
    let max = in_range(
        "max_backoff_ms",
        w.max_backoff_ms,
        base,
        86_400_000,
        600_000.max(base),
    )?;
    adapters::webhook::check_target(&w.url, state.webhook_allow_private)
        .await
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 24]>()));
    let webhook = state
        .store
        .create_webhook(&NewSubscription {
            id: crate::ids::new_id("wh"),
            url: w.url,
            secret: secret.clone(),
            events: w.events,
            max_attempts,
            base_backoff_ms: base,
            max_backoff_ms: max,
            created_by: caller.agent_id.clone(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(Created { webhook, secret })).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    responses(
        (status = 200, description = "Every webhook, from config.toml and the API (never their secrets)", body = WebhookList),
        super::openapi::KeyRefusals,
    ),
    security(("api_key" = ["webhooks:admin"]))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(SCOPE)?;
    let webhooks = state.store.webhooks().await?;
    Ok(Json(WebhookList { webhooks }).into_response())
}

fn check_id(id: &str) -> Result<(), ApiError> {
    limits::text("id", id, limits::ID)
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's ID")),
    responses(
        (status = 200, description = "The webhook", body = Subscription),
        super::openapi::KeyRefusals,
        (status = 404, description = "No such webhook", body = super::openapi::ErrorBody),
    ),
    security(("api_key" = ["webhooks:admin"]))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(SCOPE)?;
    check_id(&id)?;
    match state.store.webhook(&id).await? {
        Some(w) => Ok(Json(w).into_response()),
        None => Err(ApiError::not_found(format!("webhook {id:?} not found"))),
    }
}

#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's ID")),
    responses(
        (status = 204, description = "Deleted, with its delivery log"),
        super::openapi::KeyRefusals,
        (status = 404, description = "No such webhook", body = super::openapi::ErrorBody),
        (status = 422, description = "Declared in config.toml: remove it there", body = super::openapi::ErrorBody),
    ),
    security(("api_key" = ["webhooks:admin"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(SCOPE)?;
    check_id(&id)?;
    state.store.delete_webhook(&id, &caller.agent_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's ID"), DeliveriesQuery),
    responses(
        (status = 200, description = "The delivery log, newest first", body = DeliveryList),
        super::openapi::KeyRefusals,
        (status = 404, description = "No such webhook", body = super::openapi::ErrorBody),
        (status = 422, description = "A query parameter out of range", body = super::openapi::ErrorBody),
    ),
    security(("api_key" = ["webhooks:admin"]))
)]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Response, ApiError> {
    caller.require(SCOPE)?;
    check_id(&id)?;
    let limit = in_range("limit", q.limit, 1, MAX_LIMIT, DEFAULT_LIMIT)?;
    if state.store.webhook(&id).await?.is_none() {
        return Err(ApiError::not_found(format!("webhook {id:?} not found")));
    }
    let deliveries = state.store.webhook_deliveries(&id, q.before, limit).await?;
    Ok(Json(DeliveryList { deliveries }).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "The webhook's ID"),
        ("delivery_id" = i64, Path, description = "The delivery whose event is sent again"),
    ),
    responses(
        (status = 201, description = "Queued again: a new delivery of the same event (same event ID and body), after the webhook's other queued events", body = WebhookDelivery),
        super::openapi::KeyRefusals,
        (status = 404, description = "No such webhook or delivery", body = super::openapi::ErrorBody),
        (status = 422, description = "The webhook is not active (gone or removed)", body = super::openapi::ErrorBody),
    ),
    security(("api_key" = ["webhooks:admin"]))
)]
pub async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(SCOPE)?;
    check_id(&id)?;
    let delivery: i64 = delivery.parse().map_err(|_| {
        ApiError::not_found(format!(
            "{delivery:?} is not a delivery ID (IDs here are whole numbers that fit 64 bits)"
        ))
    })?;
    let d = state.store.redeliver_webhook(&id, delivery).await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}
