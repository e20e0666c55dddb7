//! `GET /api/v1/agents/me`: the calling agent's standing against today's
//! budget (the UTC day) — whether it is paused, why, and the figures. An
//! agent checks it before spending more. Scope `costs:write` (what an agent
//! that spends has).

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::watch::pause::{Standing, standing};
use axum::Json;
use axum::extract::State;
use chrono::Utc;

#[utoipa::path(
    get,
    path = "/api/v1/agents/me",
    tag = "agents",
    responses(
        (status = 200, description = "The calling agent's budget standing today (UTC): paused or not, why, and the figures", body = Standing),
        super::openapi::KeyRefusals,
    ),
    security(("api_key" = ["costs:write"]))
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Standing>, ApiError> {
    caller.require("costs:write")?;
    let day = Utc::now().date_naive();
    let day_ms = day
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis();
    let (budget, spent) = state.store.agent_day_use(&caller.agent_id, day_ms).await?;
    let decision = state
        .store
        .budget_pause(&caller.agent_id, &day.format("%Y-%m-%d").to_string())
        .await?;
    Ok(Json(standing(
        &caller.agent_id,
        day,
        spent,
        budget,
        decision,
    )))
}
