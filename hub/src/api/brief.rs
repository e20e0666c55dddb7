//! `GET /api/v1/brief?date=YYYY-MM-DD&person=ID`: the brief's data as JSON,
//! the same structure every template renders. Scope `brief:read`. Without
//! `person`, the brief of the first owner (by id); without `date`, that
//! person's today. No LLM summary here (`summary` is null): the summary
//! costs tokens and is made only for briefs that are sent.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiQuery;
use crate::brief::BriefFailure;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BriefQuery {
    pub date: Option<String>,
    pub person: Option<String>,
}

fn bad_request(m: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m)
}

#[utoipa::path(
    get,
    path = "/api/v1/brief",
    tag = "brief",
    params(
        BriefQuery
    ),
    responses(
        (status = 200, description = "The brief's data, the structure every template renders (no LLM summary)", body = briefs::Brief),
        (status = 400, description = "Malformed JSON, or a bad Idempotency-Key header", body = super::openapi::ErrorBody),
        super::openapi::KeyRefusals,
        (status = 404, description = "Not found (named); or a path ID that is not a whole number", body = super::openapi::ErrorBody),
    ),
    security(("api_key" = ["brief:read"]))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BriefQuery>,
) -> Result<Response, ApiError> {
    caller.require("brief:read")?;
    let date = match q.date.as_deref() {
        Some(d) => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| bad_request(format!("date: expected YYYY-MM-DD, got {d:?}")))?,
        ),
        None => None,
    };
    let person =
        match q.person {
            Some(p) => p,
            None => state.store.first_owner().await?.ok_or_else(|| {
                bad_request("person: no owner is configured; name a person".into())
            })?,
        };
    match state
        .brief
        .data(&state.store, &person, date, Utc::now())
        .await
    {
        Ok(brief) => Ok(Json(brief).into_response()),
        Err(BriefFailure::UnknownPerson(p)) => {
            Err(ApiError::not_found(format!("person: no person {p:?}")))
        }
        Err(BriefFailure::BadDate(m)) => Err(bad_request(format!("date: {m}"))),
        Err(BriefFailure::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::internal(e)),
    }
}
