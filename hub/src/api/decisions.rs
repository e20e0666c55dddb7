//! POST /api/v1/decisions, GET /api/v1/decisions/{id},
//! POST /api/v1/decisions/{id}/resolve. A new decision is sent to its
//! approvers with Approve/Deny buttons; once resolved, every delivered copy
//! is edited to show the outcome ([`publish_resolution`]).

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::Body;
use crate::dispatch::message::Extras;
use crate::ingest::plan::Recipient;
use crate::ingest::{IngestError, Submission};
use crate::store::DecisionEdit;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use commands::{
    Actor, AuditEntry, Backend, Decision, DecisionOutcome, NewDecision, RichMessage, Scope,
    ServiceError,
};
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
    let recipients: Vec<String> = state
        .store
        .decision_recipients(&kind)
        .await?
        .into_iter()
        .filter(|p| state.dir.person(p).is_some())
        .collect();
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
        details: json!({ "kind": new.kind, "task": new.task_id, "approvers": recipients }),
        source: "api".into(),
    };
    let decision = state
        .store
        .create_decision(&new, &audit)
        .await
        .map_err(backend_error)?;
    let sent = send_to(&state, &caller.agent_id, &decision, recipients).await?;
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
    let edits = match publish_resolution(&state, &decision).await {
        Ok(n) => n,
        Err(e) => {
            // The resolution itself is committed; the copies stay as they were.
            tracing::error!(decision = id, error = %e.message, "could not queue edits of the decision's copies");
            0
        }
    };
    let mut body = serde_json::to_value(&decision).map_err(ApiError::internal)?;
    body["edits"] = json!(edits);
    Ok(Json(body).into_response())
}

/// Send a new decision to its approvers (owners, admins and the configured
/// approvers of its kind), with Approve/Deny buttons. Returns the answers
/// for the notifications made.
pub async fn send_to_approvers(
    state: &AppState,
    source: &str,
    decision: &Decision,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let recipients: Vec<String> = state
        .store
        .decision_recipients(&decision.kind)
        .await?
        .into_iter()
        .filter(|p| state.dir.person(p).is_some())
        .collect();
    send_to(state, source, decision, recipients).await
}

async fn send_to(
    state: &AppState,
    source: &str,
    decision: &Decision,
    recipients: Vec<String>,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let message = commands::decision_message_with_buttons(&state.store, decision)
        .await
        .map_err(backend_error)?;
    let mut sent = Vec::with_capacity(recipients.len());
    for person in recipients {
        let sub = Submission {
            source: source.to_string(),
            kind: "decision.requested".into(),
            urgency: None,
            recipient: Recipient::Person(person),
            project_id: None,
            title: message.title.clone(),
            body: message.text.clone(),
            fields_json: extras(&message),
            decision_id: Some(decision.id),
            dedupe_key: None,
            idempotency: None,
        };
        match state.ingest.submit(sub).await {
            Ok(answer) => sent.push(answer.body),
            Err(e @ (IngestError::Closed | IngestError::Store(_) | IngestError::KeyReuse(_))) => {
                return Err(ApiError::unavailable(format!(
                    "decision #{} was recorded but not sent to its approvers: {e}",
                    decision.id
                )));
            }
        }
    }
    Ok(sent)
}

/// After a decision is resolved (by API, button or command): queue an edit of
/// every copy already delivered so it shows the outcome, and wake the
/// dispatcher. Returns how many edits were queued.
pub async fn publish_resolution(state: &AppState, decision: &Decision) -> Result<usize, ApiError> {
    let n = state
        .store
        .queue_decision_edits(&resolution_edit(decision))
        .await?;
    if n > 0 {
        state.wake.notify_one();
    }
    Ok(n)
}

/// What every copy of a resolved decision is edited to: the outcome, no buttons.
pub fn resolution_edit(decision: &Decision) -> DecisionEdit {
    let message = commands::decision_message(decision, None);
    DecisionEdit {
        decision_id: decision.id,
        source: "system".into(),
        title: message.title.clone(),
        body: message.text.clone(),
        fields_json: extras(&message),
    }
}

fn extras(m: &RichMessage) -> String {
    serde_json::to_string(&Extras {
        fields: m.fields.clone(),
        buttons: m.buttons.clone(),
        footer: m.footer.clone(),
        preformatted: m.preformatted.clone(),
    })
    .unwrap_or_else(|_| "{}".into())
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
