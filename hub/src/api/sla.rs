//! `GET /api/v1/sla?since=&until=`: the share of decisions, questions and tasks handled
//! within their SLA (`[[watchers.sla]]`) among those created in the period.
//! Scope `brief:read` (it is reporting, like the brief). Without `until`,
//! now; without `since`, seven days before `until`.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiQuery;
use crate::config::SlaKind;
use crate::watch::sla_report::{SlaShare, share};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlaQuery {
    /// RFC 3339; default: seven days before `until`.
    pub since: Option<String>,
    /// RFC 3339; default: now.
    pub until: Option<String>,
}

/// The answer: the period and one entry per kind a rule covers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlaReport {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub kinds: Vec<SlaShare>,
}

fn bad_request(m: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m)
}

fn instant(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    bad_request(format!(
                        "{name}: expected an RFC 3339 time like 2026-12-01T00:00:00Z, got {v:?}"
                    ))
                })
        })
        .transpose()
}

#[utoipa::path(
    get,
    path = "/api/v1/sla",
    tag = "sla",
    params(SlaQuery),
    responses(
        (status = 200, description = "The share within SLA per kind over the period", body = SlaReport),
        (status = 400, description = "A time that is not RFC 3339, or `since` not before `until` (named)", body = super::openapi::ErrorBody),
        super::openapi::KeyRefusals,
    ),
    security(("api_key" = ["brief:read"]))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SlaQuery>,
) -> Result<Json<SlaReport>, ApiError> {
    caller.require("brief:read")?;
    let now = Utc::now();
    let until = instant("until", q.until.as_deref())?.unwrap_or(now);
    let since = instant("since", q.since.as_deref())?.unwrap_or(until - Duration::days(7));
    if since >= until {
        return Err(bad_request(format!(
            "since ({since}) must be before until ({until})"
        )));
    }
    let (s, u) = (since.timestamp_millis(), until.timestamp_millis());
    let rules = &state.sla_rules;
    let mut kinds = Vec::new();
    kinds.extend(share(
        rules,
        SlaKind::Decision,
        &state.store.decision_outcomes(s, u).await?,
        now.timestamp_millis(),
    ));
    kinds.extend(share(
        rules,
        SlaKind::Question,
        &state.store.question_outcomes(s, u).await?,
        now.timestamp_millis(),
    ));
    kinds.extend(share(
        rules,
        SlaKind::Task,
        &state.store.task_outcomes(s, u).await?,
        now.timestamp_millis(),
    ));
    Ok(Json(SlaReport {
        since,
        until,
        kinds,
    }))
}
