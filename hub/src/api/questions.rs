//! POST /api/v1/questions and GET /api/v1/questions/{id}[?wait=30]: an
//! agent asks a person and gets the answer back — by long poll, by the
//! `question.answered` event on its SSE stream, or by a signed call to the
//! callback URL it gave (a webhook delivery: durable and retried).
//!
//! The permission level says how much the agent may decide without a
//! person: `human-required` (the person answers: option buttons, a reply
//! to the message, `answer <id> <text>`), `supervised` (the LLM drafts, the
//! person approves the draft or answers otherwise), `autonomous` (the LLM
//! answers at once and the person is told, `fyi`). An LLM failure lowers
//! the level by one step (see [`crate::questions::llm`]).

use super::AppState;
use super::auth::Caller;
use super::decisions::backend_error;
use super::error::ApiError;
use super::json::{ApiPath, ApiQuery, Body};
use super::limits;
use crate::questions::llm::Outcome;
use crate::questions::route::{self, RouteError};
use crate::store::{NewQuestion, QuestionCallback};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use commands::{AuditEntry, PermissionLevel, Question};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Longest a `GET /questions/{id}?wait=` holds the request, in seconds.
pub const MAX_WAIT_SECS: u64 = 60;
/// Longest deadline a question may be given, in minutes (30 days).
const MAX_DEADLINE_MINUTES: i64 = 43_200;
/// How often a long poll reads the database again, for an answer given
/// through another instance (this instance's answers wake it at once).
const RECHECK: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionIn {
    pub text: String,
    /// Offered as buttons (at most 20, each at most 200 characters).
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub task_id: Option<i64>,
    /// A person's handle; without it the task's assignee (a person), else an owner.
    #[serde(default)]
    pub to: Option<String>,
    pub permission_level: PermissionLevel,
    /// 1 to 43200.
    #[serde(default)]
    pub deadline_minutes: Option<i64>,
    #[serde(default)]
    pub context: Option<String>,
    /// Called (signed, retried) with the `question.answered` event.
    #[serde(default)]
    pub callback_url: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct QuestionAsked {
    #[serde(flatten)]
    pub question: Question,
    /// The message to the person, with its planned deliveries.
    #[schema(value_type = Vec<crate::ingest::Accepted>)]
    pub notifications: Vec<serde_json::Value>,
    /// With `callback_url`: the secret its calls are signed with, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_secret: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Wait {
    /// Seconds to wait for the answer (0 to 60); the answer returns at once when given.
    pub wait: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/questions",
    tag = "questions",
    request_body = QuestionIn,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 201, description = "Asked: sent to the person (pending), or answered at once (autonomous)", body = QuestionAsked),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named): the task or the person", body = super::openapi::ErrorBody),
    ),
    security(("api_key" = ["questions:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(q): Body<QuestionIn>,
) -> Result<Response, ApiError> {
    caller.require("questions:write")?;
    limits::text("text", &q.text, limits::TEXT)?;
    limits::list("options", &q.options, limits::OPTIONS)?;
    limits::each("options", &q.options, limits::OPTION)?;
    limits::opt("to", q.to.as_deref(), limits::ID)?;
    limits::opt("context", q.context.as_deref(), limits::TEXT)?;
    limits::opt("callback_url", q.callback_url.as_deref(), limits::URL)?;
    let text = q.text.trim().to_string();
    if text.is_empty() {
        return Err(ApiError::invalid("text: must not be empty"));
    }
    let options: Vec<String> = q.options.iter().map(|o| o.trim().to_string()).collect();
    if options.iter().any(String::is_empty) {
        return Err(ApiError::invalid("options: an option must not be empty"));
    }
    if let Some(m) = q.deadline_minutes
        && !(1..=MAX_DEADLINE_MINUTES).contains(&m)
    {
        return Err(ApiError::invalid(format!(
            "deadline_minutes: {m} is outside 1 to {MAX_DEADLINE_MINUTES}"
        )));
    }
    let context = q
        .context
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let to = q.to.as_deref().map(str::trim);
    if to.is_some_and(str::is_empty) {
        return Err(ApiError::invalid("to: must not be empty when given"));
    }
    if let Some(url) = &q.callback_url {
        adapters::webhook::check_target(url, state.webhook_allow_private)
            .await
            .map_err(|e| ApiError::invalid(format!("callback_url: {e}")))?;
    }
    let task = match q.task_id {
        None => None,
        Some(t) => Some(
            state
                .store
                .task(t)
                .await
                .map_err(backend_error)?
                .ok_or_else(|| ApiError::not_found(format!("task_id: task #{t} not found")))?,
        ),
    };
    let person = route::recipient(&state.store, to, task.as_ref())
        .await
        .map_err(|e| match e {
            RouteError::UnknownPerson(_) => ApiError::not_found(e.to_string()),
            RouteError::Nobody => ApiError::invalid(e.to_string()),
            RouteError::Backend(b) => backend_error(b),
        })?;
    let asked = crate::questions::llm::Asked {
        agent: &caller.agent_id,
        text: &text,
        options: &options,
        context: context.as_deref(),
        task: task.as_ref(),
    };
    // The LLM runs before anything is written: a failure lowers the level,
    // and the question is then stored as the person will see it.
    let outcome = state
        .question_llm
        .handle(&state.store, q.permission_level, &asked)
        .await;
    let (mode, draft, answer) = match outcome {
        Outcome::Person => (PermissionLevel::HumanRequired, None, None),
        Outcome::Draft(d) => (PermissionLevel::Supervised, d, None),
        Outcome::Answered(a) => (PermissionLevel::Autonomous, None, Some(a)),
    };
    let callback = q.callback_url.map(|url| QuestionCallback {
        url,
        secret: format!("whsec_{}", hex::encode(rand::random::<[u8; 24]>())),
    });
    let callback_secret = callback.as_ref().map(|c| c.secret.clone());
    let new = NewQuestion {
        text,
        options,
        context,
        task_id: q.task_id,
        asked_by: caller.agent_id.clone(),
        to: person,
        permission_level: q.permission_level,
        mode,
        draft,
        answer,
        deadline_at: q
            .deadline_minutes
            .map(|m| crate::store::now_ms() + m * 60_000),
        callback,
    };
    let audit = AuditEntry {
        actor: format!("agent:{}", caller.agent_id),
        action: "question.create".into(),
        resource: "question".into(),
        details: json!({
            "to": new.to,
            "permission_level": new.permission_level,
            "mode": new.mode,
            "task": new.task_id,
        }),
        source: "api".into(),
    };
    let (question, notifications) = state
        .backend
        .create_question_notified(&new, &audit)
        .await
        .map_err(backend_error)?;
    state.wake.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(QuestionAsked {
            question,
            notifications,
            callback_secret,
        }),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/questions/{id}",
    tag = "questions",
    params(
        ("id" = i64, Path, description = "The ID"),
        Wait
    ),
    responses(
        (status = 200, description = "The question and, once given, its answer (who, how, when); with `wait`, held until it is answered or the wait is over", body = Question),
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
        (status = 422, description = "`wait` over 60 seconds, or not a whole number", body = super::openapi::ErrorBody)
    ),
    security(("api_key" = ["questions:read"]))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(w): ApiQuery<Wait>,
) -> Result<Response, ApiError> {
    caller.require("questions:read")?;
    let wait = w.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::invalid(format!(
            "wait: {wait} seconds is over the limit of {MAX_WAIT_SECS}"
        )));
    }
    // Subscribe before reading, so an answer committed in between still wakes us.
    let mut answered = state.backend.question_bus().subscribe();
    let mut q = load(&state, id).await?;
    let until = tokio::time::Instant::now() + Duration::from_secs(wait);
    // A stopping hub ends the wait (graceful shutdown would wait on it).
    let mut stopping = state.stopping.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    while q.answer.is_none() && tokio::time::Instant::now() < until {
        let recheck = (tokio::time::Instant::now() + RECHECK).min(until);
        tokio::select! {
            got = answered.recv() => match got {
                Ok(a) if a.id == id => q = a,
                Ok(_) => {}
                // Missed some: read it from the database.
                Err(_) => q = load(&state, id).await?,
            },
            _ = tokio::time::sleep_until(recheck) => q = load(&state, id).await?,
            _ = &mut stopped => break,
        }
    }
    Ok(Json(q).into_response())
}

async fn load(state: &AppState, id: i64) -> Result<Question, ApiError> {
    state
        .store
        .question(id)
        .await
        .map_err(backend_error)?
        .ok_or_else(|| ApiError::not_found(format!("question #{id} not found")))
}
