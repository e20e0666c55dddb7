//! Costs today and this month, per agent and per project, against the
//! budgets in the config (agents: daily; projects: monthly), with a
//! straight-line forecast to the end of the day or month. Day and month are
//! those of the budgets' time zone (`[budgets] time_zone`); the month is
//! read from the daily roll-up plus the partial days' rows.

use super::inbox::render;
use super::{ConsoleError, Signed, chrome};
use crate::api::AppState;
use crate::store::SpendBy;
use adapters::web::console::Page;
use adapters::web::console::model::{CostRow, CostsView};
use axum::extract::State;
use axum::response::Response;
use chrono::{Duration, Utc};
use commands::{Backend, CostBy, CostLine};

pub async fn page(State(state): State<AppState>, who: Signed) -> Result<Response, ConsoleError> {
    let now = Utc::now();
    // Today and this month in the budgets' time zone (`[budgets]`), as the
    // budget watcher and `GET /api/v1/agents/me` count them.
    let day = crate::watch::period::day(state.budget_zone, now);
    let month = crate::watch::period::month(state.budget_zone, now);
    let (day_start, month_start) = (day.start, month.start);
    // An agent's monthly budget: its daily one for each day of the month.
    let days_in_month = ((month.end - month.start).num_hours() as f64 / 24.0).round();
    let day_part = fraction(now - day.start, day.end - day.start);
    let month_part = fraction(now - month.start, month.end - month.start);
    let today = state
        .backend
        .cost_summary(day_start, CostBy::Agent)
        .await
        .map_err(ConsoleError::backend)?;
    // The month from the daily roll-up and the partial days' rows (its
    // cost does not grow with the month's cost rows).
    let spend = |by| {
        state.store.spend_in(
            month_start.timestamp_millis(),
            now.timestamp_millis() + 1,
            by,
        )
    };
    let month = spend(SpendBy::Agent).await.map_err(ConsoleError::store)?;
    let projects = spend(SpendBy::Project).await.map_err(ConsoleError::store)?;
    let agents = &state.console.agent_budgets;
    let view = CostsView {
        today: rows(&today, |k| agents.get(k).copied(), day_part),
        month: rows(
            &month,
            |k| agents.get(k).map(|d| d * days_in_month),
            month_part,
        ),
        by_project: rows(
            &projects,
            |k| {
                state
                    .console
                    .projects
                    .iter()
                    .find(|(p, _)| p == k)
                    .and_then(|(_, b)| *b)
            },
            month_part,
        ),
    };
    let chrome = chrome(&state, &who, "Costs", "costs").await?;
    render(&state, Page::Costs, &chrome, &view)
}

fn rows(lines: &[CostLine], budget: impl Fn(&str) -> Option<f64>, part: f64) -> Vec<CostRow> {
    lines
        .iter()
        .map(|l| {
            let b = budget(&l.key);
            let forecast = if part > 0.0 {
                l.cost_usd / part
            } else {
                l.cost_usd
            };
            CostRow {
                name: if l.key.is_empty() {
                    "(none)".into()
                } else {
                    l.key.clone()
                },
                spent: usd(l.cost_usd),
                budget: b.map(usd).unwrap_or_else(|| "—".into()),
                forecast: usd(forecast),
                over: b.is_some_and(|b| l.cost_usd > b),
            }
        })
        .collect()
}

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

/// How much of `whole` has passed (0..=1).
fn fraction(part: Duration, whole: Duration) -> f64 {
    (part.num_seconds() as f64 / whole.num_seconds().max(1) as f64).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_and_forecasts() {
        let lines = vec![CostLine {
            key: "coder".into(),
            cost_usd: 3.0,
            records: 2,
        }];
        let r = rows(&lines, |_| Some(2.0), 0.5);
        assert_eq!(r[0].spent, "$3.00");
        assert_eq!(r[0].forecast, "$6.00");
        assert!(r[0].over);
        let r = rows(&lines, |_| None, 0.5);
        assert!(!r[0].over);
        assert_eq!(r[0].budget, "—");
    }
}
