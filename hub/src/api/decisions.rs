//! POST /api/v1/decisions, GET /api/v1/decisions/{id},
//! POST /api/v1/decisions/{id}/resolve. A new decision is sent to its
//! approvers with Approve/Deny buttons; once resolved, every delivered copy
//! is edited to show the outcome. Both are written by the store in the
//! decision's own transaction, the same path chat commands and buttons take
//! (see `ingest::decisions`).

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::Body;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use commands::{Actor, AuditEntry, Backend, DecisionOutcome, NewDecision, Scope, ServiceError};
use serde::Deserialize;
use serde_json::json;

const MAX_KIND: usize = 100;
const MAX_CONTEXT: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveIn {
    pub outcome: DecisionOutcome,
    #[serde(default)]
    pub reasoning: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(d): Body<DecisionIn>,
) -> Result<Response, ApiError> {
    caller.require("decisions:write")?;
    let kind = d.kind.trim().to_string();
    if kind.is_empty() || kind.len() > MAX_KIND {
        return Err(ApiError::invalid(format!(
            "kind: must be 1 to {MAX_KIND} characters"
        )));
    }
    let context = d.context.trim().to_string();
    if context.is_empty() {
        return Err(ApiError::invalid("context: must not be empty"));
    }
    if context.len() > MAX_CONTEXT {
        return Err(ApiError::invalid(format!(
            "context: over the {MAX_CONTEXT}-byte limit"
        )));
    }
    if d.options
        .iter()
        .any(|o| o.trim().is_empty() || o.len() > 200)
    {
        return Err(ApiError::invalid(
            "options: each option must be 1 to 200 characters",
        ));
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
        .store
        .create_decision_notified(&new, &audit)
        .await
        .map_err(backend_error)?;
    if !sent.is_empty() {
        state.wake.notify_one();
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": decision.id,
            "status": decision.status,
            "kind": decision.kind,
            "notifications": sent,
        })),
    )
        .into_response())
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    caller.require("decisions:read")?;
    match state.store.decision(id).await.map_err(backend_error)? {
        Some(d) => Ok(Json(d).into_response()),
        None => Err(ApiError::not_found(format!("decision #{id} not found"))),
    }
}

pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(r): Body<ResolveIn>,
) -> Result<Response, ApiError> {
    caller.require("decisions:resolve")?;
    let actor = Actor::agent(caller.agent_id.clone(), scopes(&caller));
    let decision = commands::resolve_decision(&state.store, &actor, id, r.outcome, r.reasoning)
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
    let mut body = serde_json::to_value(&decision).map_err(ApiError::internal)?;
    body["edits"] = json!(edits);
    Ok(Json(body).into_response())
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
