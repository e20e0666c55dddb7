//! POST /api/v1/costs and POST /api/v1/heartbeat: what agents report about
//! themselves, feeding budgets, agent health and the daily brief.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::Body;
use super::limits;
use crate::store::{NewCost, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CostIn {
    pub model: String,
    #[serde(default)]
    pub tokens_in: i64,
    #[serde(default)]
    pub tokens_out: i64,
    pub usd: f64,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub task_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/costs",
    tag = "agents",
    request_body = CostIn,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 201, description = "Recorded", body = CostRecorded),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
    ),
    security(("api_key" = ["costs:write"]))
)]
pub async fn cost(
    State(state): State<AppState>,
    caller: Caller,
    Body(c): Body<CostIn>,
) -> Result<(StatusCode, Json<CostRecorded>), ApiError> {
    caller.require("costs:write")?;
    limits::text("model", &c.model, limits::MODEL)?;
    limits::opt("project", c.project.as_deref(), limits::ID)?;
    if c.model.trim().is_empty() {
        return Err(ApiError::invalid("model: must not be empty"));
    }
    if crate::store::micros_from_usd(c.usd).is_none() {
        return Err(ApiError::invalid(format!(
            "usd: must be a number from 0 to {} (stored to the micro-dollar)",
            crate::store::MAX_COST_USD
        )));
    }
    if c.tokens_in < 0 || c.tokens_out < 0 {
        return Err(ApiError::invalid("tokens_in/tokens_out: must be ≥ 0"));
    }
    if let Some(p) = &c.project
        && !state.store.project_exists(p).await?
    {
        return Err(ApiError::not_found(format!("project {p:?} not found")));
    }
    // A cost booked on a task that does not exist would count nowhere.
    if let Some(t) = c.task_id
        && commands::Backend::task(&state.backend, t)
            .await
            .map_err(super::decisions::backend_error)?
            .is_none()
    {
        return Err(ApiError::not_found(format!("task_id: task #{t} not found")));
    }
    let id = state
        .store
        .insert_cost(&NewCost {
            agent_id: caller.agent_id,
            project_id: c.project,
            task_id: c.task_id,
            model: c.model,
            tokens_in: c.tokens_in,
            tokens_out: c.tokens_out,
            usd: c.usd,
            at: now_ms(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CostRecorded { id })))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CostRecorded {
    /// The cost record's ID.
    pub id: i64,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct HeartbeatRecorded {
    pub agent: String,
    pub status: String,
    /// When it was recorded (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub at: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatIn {
    /// active, idle or offline.
    #[serde(default = "active")]
    pub status: String,
    #[serde(default)]
    pub note: Option<String>,
}

fn active() -> String {
    "active".into()
}

#[utoipa::path(
    post,
    path = "/api/v1/heartbeat",
    tag = "agents",
    request_body = HeartbeatIn,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1 to 255 visible ASCII characters)")
    ),
    responses(
        (status = 200, description = "Recorded", body = HeartbeatRecorded),
        super::openapi::BodyRefusals,
        super::openapi::KeyRefusals,
    ),
    security(("api_key" = ["heartbeat:write"]))
)]
pub async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    Body(h): Body<HeartbeatIn>,
) -> Result<Json<HeartbeatRecorded>, ApiError> {
    caller.require("heartbeat:write")?;
    limits::text("status", &h.status, limits::WORD)?;
    limits::opt("note", h.note.as_deref(), limits::NOTE)?;
    if !["active", "idle", "offline"].contains(&h.status.as_str()) {
        return Err(ApiError::invalid(format!(
            "status: {:?} is not one of active, idle, offline",
            h.status
        )));
    }
    let at = now_ms();
    state
        .store
        .heartbeat(&caller.agent_id, &h.status, h.note.as_deref(), at)
        .await?;
    Ok(Json(HeartbeatRecorded {
        agent: caller.agent_id,
        status: h.status,
        at: crate::rfc3339::format_ms(at),
    }))
}
