//! The task actions on the agent API, through the same service functions as
//! the chat commands (acting as the calling agent, with its key's scopes):
//! POST/GET /api/v1/tasks, GET /api/v1/tasks/{id}, and
//! POST /api/v1/tasks/{id}/move, /assign, /deps.

use super::AppState;
use super::auth::Caller;
use super::decisions::{scopes, service_error};
use super::error::ApiError;
use super::json::Body;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use commands::{
    Actor, AssignResult, AssignTo, Assignee, Backend, MoveTarget, Priority, ServiceError,
    TaskDraft, TaskFilter, TaskStatus,
};
use serde::Deserialize;
use serde_json::json;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskIn {
    pub title: String,
    #[serde(default)]
    pub priority: Option<String>,
    /// `@alice`, `alice`, `agent:coder`.
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub due: Option<NaiveDate>,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub include_completed: Option<bool>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveIn {
    /// `start`, `review`, `done`, `block`, `unblock`, or a status name.
    pub to: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignIn {
    /// `@who`, `agent:id`, or `auto`.
    pub to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepIn {
    pub needs: i64,
}

fn actor(caller: &Caller) -> Actor {
    Actor::agent(caller.agent_id.clone(), scopes(caller))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(t): Body<TaskIn>,
) -> Result<Response, ApiError> {
    caller.require("tasks:write")?;
    let priority = match &t.priority {
        Some(p) => p
            .parse::<Priority>()
            .map_err(|e| ApiError::invalid(format!("priority: {e}")))?,
        None => Priority::default(),
    };
    if let Some(p) = &t.project
        && !state.store.project_exists(p).await?
    {
        return Err(ApiError::not_found(format!("project {p:?} not found")));
    }
    let assignee = match &t.assignee {
        Some(who) => Some(resolve_who(&state, who).await.map_err(service_error)?),
        None => None,
    };
    let draft = TaskDraft {
        title: t.title,
        priority,
        project: t.project,
        assignee,
        due: t.due,
        capabilities: t.capabilities,
    };
    let task = commands::create_task(&state.store, &actor(&caller), draft)
        .await
        .map_err(service_error)?;
    Ok((StatusCode::CREATED, Json(task)).into_response())
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    caller.require("tasks:read")?;
    let status = match &q.status {
        Some(s) => Some(
            s.parse::<TaskStatus>()
                .map_err(|e| ApiError::invalid(format!("status: {e}")))?,
        ),
        None => None,
    };
    let assignee = match &q.assignee {
        Some(who) => Some(resolve_who(&state, who).await.map_err(service_error)?),
        None => None,
    };
    let filter = TaskFilter {
        assignee,
        status,
        project: q.project,
        include_completed: q.include_completed.unwrap_or(false),
        limit: q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    };
    let tasks = commands::list_tasks(&state.store, &actor(&caller), &filter)
        .await
        .map_err(service_error)?;
    Ok(Json(json!({ "tasks": tasks })).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    caller.require("tasks:read")?;
    let (task, needs) = commands::show_task(&state.store, &actor(&caller), id)
        .await
        .map_err(service_error)?;
    Ok(Json(json!({ "task": task, "needs": needs })).into_response())
}

pub async fn move_to(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(m): Body<MoveIn>,
) -> Result<Response, ApiError> {
    caller.require("tasks:write")?;
    let target = match m.to.trim().to_lowercase().as_str() {
        "start" => MoveTarget::To(TaskStatus::InProgress),
        "review" => MoveTarget::To(TaskStatus::Review),
        "done" => MoveTarget::To(TaskStatus::Completed),
        "block" => MoveTarget::To(TaskStatus::Blocked),
        "unblock" => MoveTarget::Unblock,
        other => MoveTarget::To(other.parse::<TaskStatus>().map_err(|e| {
            ApiError::invalid(format!(
                "to: expected start, review, done, block or unblock ({e})"
            ))
        })?),
    };
    let r = commands::move_task(&state.store, &actor(&caller), id, target, m.note)
        .await
        .map_err(service_error)?;
    Ok(Json(json!({ "task": r.task, "from": r.from, "promoted": r.promoted })).into_response())
}

pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(a): Body<AssignIn>,
) -> Result<Response, ApiError> {
    caller.require("tasks:write")?;
    let to = if a.to.trim().eq_ignore_ascii_case("auto") {
        AssignTo::Auto
    } else {
        AssignTo::Assignee(resolve_who(&state, &a.to).await.map_err(service_error)?)
    };
    let r = commands::assign_task(&state.store, &actor(&caller), id, to)
        .await
        .map_err(service_error)?;
    let body = match r {
        AssignResult::Assigned {
            task,
            record,
            scores,
        } => json!({ "result": "assigned", "task": task, "record": record, "scores": scores }),
        AssignResult::Escalated {
            task,
            decision,
            scores,
        } => {
            json!({ "result": "escalated", "task": task, "decision": decision, "scores": scores })
        }
    };
    Ok(Json(body).into_response())
}

pub async fn add_dependency(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(d): Body<DepIn>,
) -> Result<Response, ApiError> {
    caller.require("tasks:write")?;
    let r = commands::add_dependency(&state.store, &actor(&caller), id, d.needs)
        .await
        .map_err(service_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "task": r.task, "needs": r.needs, "promoted": r.promoted })),
    )
        .into_response())
}

/// `@alice`, `alice` or `agent:coder` → a person or an agent, as chat does
/// for a typed name: refused when it names both or neither.
async fn resolve_who(state: &AppState, raw: &str) -> Result<Assignee, ServiceError> {
    let name = raw.trim().trim_start_matches('@');
    if name.is_empty() {
        return Err(ServiceError::Invalid(
            "Name someone: `@alice` or `agent:coder`.".into(),
        ));
    }
    if let Some(id) = name.strip_prefix("agent:") {
        return match state.store.agent(id).await? {
            Some(a) => Ok(Assignee::Agent(a.id)),
            None => Err(ServiceError::UnknownAssignee(name.to_string())),
        };
    }
    let person = state.store.person(name).await?;
    let agent = state.store.agent(name).await?;
    match (person, agent) {
        (Some(_), Some(_)) => Err(ServiceError::AmbiguousAssignee(name.to_string())),
        (Some(p), None) => Ok(Assignee::Person(p.id)),
        (None, Some(a)) => Ok(Assignee::Agent(a.id)),
        (None, None) => Err(ServiceError::UnknownAssignee(name.to_string())),
    }
}
