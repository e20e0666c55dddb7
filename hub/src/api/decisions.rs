//! POST /api/v1/decisions, GET /api/v1/decisions/{id},
//! POST /api/v1/decisions/{id}/resolve. A new decision is sent to its
//! approvers with Approve/Deny buttons; once resolved, every delivered copy
//! is edited to show the outcome. Both are written by the store in the
//! decision's own transaction, the same path chat commands and buttons take
//! (see `ingest::decisions`).

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::{ApiPath, Body};
use super::limits;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use commands::{Actor, AuditEntry, DecisionOutcome, NewDecision, Scope, ServiceError};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    /// e.g. "deploy", "spend"; approvers are configured per kind.
    pub kind: String,
    pub context: String,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub task_id: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveIn {
    pub outcome: DecisionOutcome,
    #[serde(default)]
    pub reasoning: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/decisions",
    tag = "decisions",
    request_body = DecisionIn,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 201, description = "Pending, and sent to every approver", body = DecisionRequested),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
    ),
    security(("api_key" = ["decisions:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(d): Body<DecisionIn>,
) -> Result<Response, ApiError> {
    caller.require("decisions:write")?;
    limits::text("kind", &d.kind, limits::KIND)?;
    limits::text("context", &d.context, limits::TEXT)?;
    limits::list("options", &d.options, limits::OPTIONS)?;
    limits::each("options", &d.options, limits::OPTION)?;
    let kind = d.kind.trim().to_string();
    if kind.is_empty() {
        return Err(ApiError::invalid("kind: must not be empty"));
    }
    let context = d.context.trim().to_string();
    if context.is_empty() {
        return Err(ApiError::invalid("context: must not be empty"));
    }
    if d.options.iter().any(|o| o.trim().is_empty()) {
        return Err(ApiError::invalid("options: an option must not be empty"));
    }
    if let Some(t) = d.task_id
        && state.store.task(t).await.map_err(backend_error)?.is_none()
    {
        return Err(ApiError::not_found(format!("task_id: task #{t} not found")));
    }
    let actor = format!("agent:{}", caller.agent_id);
    let new = NewDecision {
        kind,
        context,
        options: d.options,
        requested_by: actor.clone(),
        task_id: d.task_id,
        resolved: None,
    };
    let audit = AuditEntry {
        actor,
        action: "decision.create".into(),
        resource: "decision".into(),
        details: json!({ "kind": new.kind, "task": new.task_id }),
        source: "api".into(),
    };
    // The decision and its requests to the approvers commit together: a
    // failure here wrote nothing (so the Idempotency-Key is rightly given
    // back), and a success has told every approver.
    let (decision, sent) = state
        .backend
        .create_decision_notified(&new, &audit)
        .await
        .map_err(backend_error)?;
    if !sent.is_empty() {
        state.wake.notify_one();
    }
    Ok((
        StatusCode::CREATED,
        Json(DecisionRequested {
            id: decision.id,
            status: decision.status,
            kind: decision.kind,
            notifications: sent,
        }),
    )
        .into_response())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DecisionRequested {
    pub id: i64,
    pub status: commands::DecisionStatus,
    pub kind: String,
    /// One notification per approver, each with its planned deliveries.
    #[schema(value_type = Vec<crate::ingest::Accepted>)]
    pub notifications: Vec<serde_json::Value>,
}

/// The resolved decision, and how many delivered copies are being edited.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Resolved {
    #[serde(flatten)]
    pub decision: commands::Decision,
    pub edits: i64,
}

#[utoipa::path(
    get,
    path = "/api/v1/decisions/{id}",
    tag = "decisions",
    params(
        ("id" = i64, Path, description = "The ID")
    ),
    responses(
        (status = 200, description = "The decision and its outcome", body = commands::Decision),
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["decisions:read"]))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    caller.require("decisions:read")?;
    match state.store.decision(id).await.map_err(backend_error)? {
        Some(d) => Ok(Json(d).into_response()),
        None => Err(ApiError::not_found(format!("decision #{id} not found"))),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/decisions/{id}/resolve",
    tag = "decisions",
    request_body = ResolveIn,
    params(
        ("id" = i64, Path, description = "The ID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 200, description = "Resolved; every delivered copy is being edited", body = Resolved),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by the current state (named), or the same Idempotency-Key still running", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["decisions:resolve"]))
)]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    Body(r): Body<ResolveIn>,
) -> Result<Response, ApiError> {
    caller.require("decisions:resolve")?;
    limits::opt("reasoning", r.reasoning.as_deref(), limits::NOTE)?;
    let actor = Actor::agent(caller.agent_id.clone(), scopes(&caller));
    let decision = commands::resolve_decision(&state.backend, &actor, id, r.outcome, r.reasoning)
        .await
        .map_err(service_error)?;
    // The resolution queued the edits of every delivered copy in its own
    // commit; say how many there are, and have them sent now.
    let edits = state
        .store
        .decision_edit_count(id)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(decision = id, error = %e, "could not count the decision's edits");
            0
        });
    state.wake.notify_one();
    Ok(Json(Resolved { decision, edits }).into_response())
}

/// The commands crate's scopes among the key's.
pub(super) fn scopes(caller: &Caller) -> Vec<Scope> {
    caller
        .scopes
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// A refusal of a domain rule, with its status and its message.
pub(super) fn service_error(e: ServiceError) -> ApiError {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status.as_u16() {
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        422 => "invalid",
        503 => "unavailable",
        _ => "internal",
    };
    ApiError::new(status, code, e.to_string())
}

pub(super) fn backend_error(e: commands::BackendError) -> ApiError {
    service_error(ServiceError::Backend(e))
}
