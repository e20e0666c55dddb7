//! Costs today and this month, per agent and per project, against the
//! budgets in the config (agents: daily; projects: monthly), with a
//! straight-line forecast to the end of the day or month. The month is read
//! from the daily roll-up plus today's rows.

use super::inbox::render;
use super::{ConsoleError, Signed, chrome};
use crate::api::AppState;
use crate::store::SpendBy;
use adapters::web::console::Page;
use adapters::web::console::model::{CostRow, CostsView};
use axum::extract::State;
use axum::response::Response;
use chrono::{Datelike, Duration, TimeZone, Utc};
use commands::{Backend, CostBy, CostLine};

pub async fn page(State(state): State<AppState>, who: Signed) -> Result<Response, ConsoleError> {
    let now = Utc::now();
    let day_start = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()
        .unwrap_or(now);
    let month_start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let days_in_month = days_in_month(now.year(), now.month());
    let day_part = fraction(now - day_start, Duration::days(1));
    let month_part = fraction(now - month_start, Duration::days(days_in_month));
    let today = state
        .backend
        .cost_summary(day_start, CostBy::Agent)
        .await
        .map_err(ConsoleError::backend)?;
    // The month from the daily roll-up and today's rows (its cost does
    // not grow with the month's cost rows).
    let spend = |by| {
        state.store.spend_since(
            month_start.timestamp_millis(),
            day_start.timestamp_millis(),
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
            |k| agents.get(k).map(|d| d * days_in_month as f64),
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

fn days_in_month(year: i32, month: u32) -> i64 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    chrono::NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|next| {
            chrono::NaiveDate::from_ymd_opt(year, month, 1).map(|this| (next - this).num_days())
        })
        .unwrap_or(30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_forecasts_and_month_lengths() {
        assert_eq!(days_in_month(2026, 2), 28);
        assert_eq!(days_in_month(2028, 2), 29);
        assert_eq!(days_in_month(2026, 12), 31);
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
