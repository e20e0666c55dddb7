//! The task actions on the agent API, through the same service functions as
//! the chat commands (acting as the calling agent, with its key's scopes):
//! POST/GET /api/v1/tasks, GET /api/v1/tasks/{id}, and
//! POST /api/v1/tasks/{id}/move, /assign, /deps.

use super::AppState;
use super::auth::Caller;
use super::decisions::{scopes, service_error};
use super::error::ApiError;
use super::json::{ApiPath, ApiQuery, Body};
use super::limits;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use commands::assign::AgentScore;
use commands::{
    Actor, AssignResult, AssignTo, Assignee, Decision, MoveTarget, Priority, ServiceError, Task,
    TaskDraft, TaskFilter, TaskStatus,
};
use serde::Deserialize;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveIn {
    /// `start`, `review`, `done`, `block`, `unblock`, or a status name.
    pub to: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignIn {
    /// `@who`, `agent:id`, or `auto`.
    pub to: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepIn {
    pub needs: i64,
}

fn actor(caller: &Caller) -> Actor {
    Actor::agent(caller.agent_id.clone(), scopes(caller))
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks",
    tag = "tasks",
    request_body = TaskIn,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 201, description = "Created", body = commands::Task),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
    ),
    security(("api_key" = ["tasks:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(t): Body<TaskIn>,
) -> Result<Response, ApiError> {
    caller.require("tasks:write")?;
    limits::text("title", &t.title, limits::TASK_TITLE)?;
    limits::opt("priority", t.priority.as_deref(), limits::WORD)?;
    limits::opt("assignee", t.assignee.as_deref(), limits::ID)?;
    limits::opt("project", t.project.as_deref(), limits::ID)?;
    limits::list("capabilities", &t.capabilities, limits::CAPABILITIES)?;
    limits::each("capabilities", &t.capabilities, limits::CAPABILITY)?;
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
    let task = commands::create_task(&state.backend, &actor(&caller), draft)
        .await
        .map_err(service_error)?;
    Ok((StatusCode::CREATED, Json(task)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    tag = "tasks",
    params(
        ListQuery
    ),
    responses(
        (status = 200, description = "Open tasks (and completed ones if asked), newest first", body = TaskList),
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
        (status = 422, description = "Not a JSON object; a field missing, unknown, of the wrong type or over its limit (named); or an Idempotency-Key reused for another body", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["tasks:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    caller.require("tasks:read")?;
    limits::opt("status", q.status.as_deref(), limits::WORD)?;
    limits::opt("project", q.project.as_deref(), limits::ID)?;
    limits::opt("assignee", q.assignee.as_deref(), limits::ID)?;
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
    let tasks = commands::list_tasks(&state.backend, &actor(&caller), &filter)
        .await
        .map_err(service_error)?;
    Ok(Json(TaskList { tasks }).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    params(
        ("id" = i64, Path, description = "The ID")
    ),
    responses(
        (status = 200, description = "The task and the tasks it needs", body = TaskWithNeeds),
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["tasks:read"]))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    caller.require("tasks:read")?;
    let (task, needs) = commands::show_task(&state.backend, &actor(&caller), id)
        .await
        .map_err(service_error)?;
    Ok(Json(TaskWithNeeds { task, needs }).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/move",
    tag = "tasks",
    request_body = MoveIn,
    params(
        ("id" = i64, Path, description = "The ID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 200, description = "Moved", body = Moved),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by the current state (named), or the same Idempotency-Key still running", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["tasks:write"]))
)]
pub async fn move_to(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    Body(m): Body<MoveIn>,
) -> Result<Response, ApiError> {
    caller.require("tasks:write")?;
    limits::text("to", &m.to, limits::WORD)?;
    limits::opt("note", m.note.as_deref(), limits::NOTE)?;
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
    let r = commands::move_task(&state.backend, &actor(&caller), id, target, m.note)
        .await
        .map_err(service_error)?;
    Ok(Json(Moved {
        task: r.task,
        from: r.from,
        promoted: r.promoted,
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/assign",
    tag = "tasks",
    request_body = AssignIn,
    params(
        ("id" = i64, Path, description = "The ID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 200, description = "Assigned, or (auto with no capable agent) escalated to a person as a decision", body = Assigned),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by the current state (named), or the same Idempotency-Key still running", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["tasks:write"]))
)]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    Body(a): Body<AssignIn>,
) -> Result<Response, ApiError> {
    caller.require("tasks:write")?;
    limits::text("to", &a.to, limits::ID)?;
    let to = if a.to.trim().eq_ignore_ascii_case("auto") {
        AssignTo::Auto
    } else {
        AssignTo::Assignee(resolve_who(&state, &a.to).await.map_err(service_error)?)
    };
    let r = commands::assign_task(&state.backend, &actor(&caller), id, to)
        .await
        .map_err(service_error)?;
    let body = match r {
        AssignResult::Assigned {
            task,
            record,
            scores,
        } => Assigned::Assigned {
            task,
            record,
            scores,
        },
        AssignResult::Escalated {
            task,
            decision,
            scores,
        } => Assigned::Escalated {
            task,
            decision,
            scores,
        },
    };
    Ok(Json(body).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/deps",
    tag = "tasks",
    request_body = DepIn,
    params(
        ("id" = i64, Path, description = "The ID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 201, description = "The dependency is recorded", body = DependencyAdded),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by the current state (named), or the same Idempotency-Key still running", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["tasks:write"]))
)]
pub async fn add_dependency(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    Body(d): Body<DepIn>,
) -> Result<Response, ApiError> {
    caller.require("tasks:write")?;
    let r = commands::add_dependency(&state.backend, &actor(&caller), id, d.needs)
        .await
        .map_err(service_error)?;
    Ok((
        StatusCode::CREATED,
        Json(DependencyAdded {
            task: r.task,
            needs: r.needs,
            promoted: r.promoted,
        }),
    )
        .into_response())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TaskList {
    pub tasks: Vec<Task>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TaskWithNeeds {
    pub task: Task,
    /// The tasks this one needs (its dependencies).
    pub needs: Vec<Task>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Moved {
    pub task: Task,
    /// The status it left.
    pub from: TaskStatus,
    /// Tasks that became ready because this one completed.
    pub promoted: Vec<Task>,
}

/// `result: "assigned"` or, for `auto` with no capable agent,
/// `result: "escalated"` with the pending decision that asks a person.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Assigned {
    Assigned {
        task: Task,
        /// For `auto`: the recorded decision with every candidate's scores.
        record: Option<Decision>,
        scores: Vec<AgentScore>,
    },
    Escalated {
        task: Task,
        decision: Decision,
        scores: Vec<AgentScore>,
    },
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DependencyAdded {
    pub task: Task,
    pub needs: Task,
    /// Set when the task became ready because everything it needs is done.
    pub promoted: Option<Task>,
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
