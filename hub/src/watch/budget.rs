//! Budget alerts: at 80 % and at 100 % of an agent's daily budget and of a
//! project's monthly budget — the day and month of the budgets' time zone
//! ([`super::period`]) — once per threshold and period, to the owners —
//! `info` at 80 %, `urgent` at 100 %.
//! Figures are the exact micro-dollar sums the costs are stored in; a
//! threshold is crossed when `spent × 100 ≥ budget × threshold`.
//!
//! When one check finds both thresholds crossed (a large cost at once), both
//! are recorded and only the 100 % alert is sent. An agent over its daily
//! budget is also paused and the owners asked whether it may continue
//! (see [`super::pause`]).

use super::{Watch, dollars};
use crate::store::BudgetUse;
use chrono::{DateTime, Utc};
use routing::Urgency;

/// Percent of a budget at which the owners are told.
pub const THRESHOLDS: [i64; 2] = [80, 100];

/// The notification kind of a budget alert.
pub const ALERT: &str = "budget.threshold";

/// What a budget is for.
#[derive(Debug, Clone, Copy)]
enum Scope {
    AgentDay,
    ProjectMonth,
}

pub async fn check(w: &Watch, now: DateTime<Utc>) -> anyhow::Result<()> {
    let day = super::period::day(w.budget_zone, now);
    let month = super::period::month(w.budget_zone, now);
    let ms = |p: &super::period::Period| (p.start.timestamp_millis(), p.end.timestamp_millis());
    let (day_from, day_to) = ms(&day);
    let (month_from, month_to) = ms(&month);
    let agents = w.store.agent_budget_use(day_from, day_to).await?;
    let projects = w.store.project_budget_use(month_from, month_to).await?;
    let mut failed = None;
    let periods = [
        (Scope::AgentDay, day.key, agents),
        (Scope::ProjectMonth, month.key, projects),
    ];
    for (scope, period, uses) in periods {
        for u in uses {
            if let Err(e) = alert(w, scope, &period, &u, now).await {
                tracing::error!(subject = %u.id, error = %e, "budget alert failed; retried on the next check");
                failed.get_or_insert(e);
            }
            // Over (not at) its daily budget: paused, and the owners asked.
            if matches!(scope, Scope::AgentDay)
                && u.spent_micros > u.budget_micros
                && let Err(e) =
                    super::pause::ask(w, &u.id, &period, u.spent_micros, u.budget_micros, now).await
            {
                tracing::error!(agent = %u.id, error = %e, "asking whether an agent over budget may continue failed; retried on the next check");
                failed.get_or_insert(e);
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// The thresholds `u` has crossed.
pub fn crossed(spent_micros: i64, budget_micros: i64) -> Vec<i64> {
    THRESHOLDS
        .into_iter()
        .filter(|t| {
            spent_micros > 0
                && i128::from(spent_micros) * 100 >= i128::from(budget_micros) * i128::from(*t)
        })
        .collect()
}

async fn alert(
    w: &Watch,
    scope: Scope,
    period: &str,
    u: &BudgetUse,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let subject = match scope {
        Scope::AgentDay => format!("agent:{}", u.id),
        Scope::ProjectMonth => format!("project:{}", u.id),
    };
    let mut new = Vec::new();
    for t in crossed(u.spent_micros, u.budget_micros) {
        if w.store
            .record_budget_alert(
                &subject,
                period,
                t,
                u.spent_micros,
                u.budget_micros,
                now.timestamp_millis(),
            )
            .await?
        {
            new.push(t);
        }
    }
    let Some(&top) = new.last() else {
        return Ok(());
    };
    let urgency = if top >= 100 {
        Urgency::Urgent
    } else {
        Urgency::Info
    };
    let pct = if u.budget_micros > 0 {
        i128::from(u.spent_micros) * 100 / i128::from(u.budget_micros)
    } else {
        100
    };
    let (title, body) = match scope {
        Scope::AgentDay => (
            format!("{} reached {top} % of its daily budget", u.id),
            format!(
                "{} has spent {} of its {} daily budget today ({pct} %).",
                u.id,
                dollars(u.spent_micros),
                dollars(u.budget_micros)
            ),
        ),
        Scope::ProjectMonth => (
            format!("Project {} reached {top} % of its monthly budget", u.id),
            format!(
                "Project {} has spent {} of its {} budget this month ({pct} %).",
                u.id,
                dollars(u.spent_micros),
                dollars(u.budget_micros)
            ),
        ),
    };
    if let Err(e) = w
        .notify_all(&w.owners(), ALERT, urgency, &title, &body)
        .await
    {
        for t in new {
            w.store.forget_budget_alert(&subject, period, t).await?;
        }
        return Err(e.into());
    }
    tracing::info!(%subject, period, threshold = top, "budget alert sent");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::crossed;

    #[test]
    fn thresholds_are_exact_in_micro_dollars() {
        let budget = 20_000_000; // $20.00
        assert!(crossed(15_999_999, budget).is_empty());
        assert_eq!(crossed(16_000_000, budget), [80]);
        assert_eq!(crossed(19_999_999, budget), [80]);
        assert_eq!(crossed(20_000_000, budget), [80, 100]);
        assert_eq!(crossed(25_400_000, budget), [80, 100]);
        // A zero budget: any spend is over it; no spend is not.
        assert!(crossed(0, 0).is_empty());
        assert_eq!(crossed(1, 0), [80, 100]);
    }
}
