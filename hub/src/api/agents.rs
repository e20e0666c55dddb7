//! `GET /api/v1/agents/me`: the calling agent's standing against today's
//! budget (the day in the budgets' time zone, `[budgets] time_zone`) —
//! whether it is paused, why, and the figures. An
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
        (status = 200, description = "The calling agent's budget standing today (the day in the budgets' time zone): paused or not, why, and the figures", body = Standing),
        super::openapi::KeyRefusals,
    ),
    security(("api_key" = ["costs:write"]))
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Standing>, ApiError> {
    caller.require("costs:write")?;
    let day = crate::watch::period::day(state.budget_zone, Utc::now());
    let (budget, spent) = state
        .store
        .agent_day_use(
            &caller.agent_id,
            day.start.timestamp_millis(),
            day.end.timestamp_millis(),
        )
        .await?;
    let decision = state.store.budget_pause(&caller.agent_id, &day.key).await?;
    Ok(Json(standing(
        &caller.agent_id,
        &day,
        spent,
        budget,
        decision,
    )))
}
