//! An agent over its daily budget is paused for the rest of the day (the
//! budgets' time zone, see [`super::period`]).
//! The budget check asks the owners once per agent and day, with a decision
//! "let builder continue today over budget ($25.40 of $20.00)?" (kind
//! `budget`, so the owners and admins get it with Approve/Deny buttons):
//! approving raises today's limit by one more daily budget, denying keeps
//! the agent paused until the next local midnight. `GET /api/v1/agents/me`
//! tells the agent where it stands ([`standing`]).

use super::period::Period;
use super::{Watch, dollars};
use chrono::{DateTime, Utc};
use commands::{AuditEntry, NewDecision};
use serde::Serialize;

/// The decision kind that asks whether an agent may continue.
pub const KIND: &str = "budget";

/// Where an agent stands against today's budget.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Standing {
    pub agent: String,
    /// Over today's limit, or the owners said no for today.
    pub paused: bool,
    /// Why, in one line; null when not paused.
    pub reason: Option<String>,
    /// Spend today (the day in the budgets' time zone), exact to the
    /// micro-dollar.
    pub today_usd: f64,
    /// Null: no daily budget (never paused).
    pub daily_budget_usd: Option<f64>,
    /// Today's limit: the budget, or twice it once the owners approved.
    pub limit_today_usd: Option<f64>,
    /// The decision that asked the owners today, if any.
    pub decision_id: Option<i64>,
    /// `pending`, `approved`, `denied` or `cancelled`.
    pub decision_status: Option<String>,
    /// When a pause ends on its own: the next midnight in the budgets'
    /// time zone.
    pub paused_until: Option<DateTime<Utc>>,
}

/// Where `agent` stands with `spent` of `budget` (micro-dollars) on `day`
/// (a local day, [`super::period::day`]), given today's decision (id,
/// status) if one was asked.
pub fn standing(
    agent: &str,
    day: &Period,
    spent: i64,
    budget: Option<i64>,
    decision: Option<(i64, String)>,
) -> Standing {
    let usd = crate::store::usd_from_micros;
    let status = decision.as_ref().map(|(_, s)| s.as_str());
    let limit = budget.map(|b| {
        if status == Some("approved") {
            b.saturating_mul(2)
        } else {
            b
        }
    });
    let reason = match (budget, limit) {
        (Some(b), Some(_)) if status == Some("denied") => Some(format!(
            "the owners said no to continuing over the daily budget ({} of {}) today",
            dollars(spent),
            dollars(b)
        )),
        (Some(b), Some(l)) if spent > l => Some(match status {
            Some("approved") => format!(
                "over today's raised limit ({} of {})",
                dollars(spent),
                dollars(l)
            ),
            Some("pending") => format!(
                "over its daily budget ({} of {}); the owners are asked whether it may continue",
                dollars(spent),
                dollars(b)
            ),
            _ => format!(
                "over its daily budget ({} of {})",
                dollars(spent),
                dollars(b)
            ),
        }),
        _ => None,
    };
    let next_midnight = day.end;
    Standing {
        agent: agent.to_string(),
        paused: reason.is_some(),
        paused_until: reason.is_some().then_some(next_midnight),
        reason,
        today_usd: usd(spent),
        daily_budget_usd: budget.map(usd),
        limit_today_usd: limit.map(usd),
        decision_id: decision.as_ref().map(|(id, _)| *id),
        decision_status: decision.map(|(_, s)| s),
    }
}

/// Ask the owners once today whether `agent` may continue over budget.
pub async fn ask(
    w: &Watch,
    agent: &str,
    day: &str,
    spent: i64,
    budget: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if !w
        .store
        .reserve_budget_pause(agent, day, now.timestamp_millis())
        .await?
    {
        return Ok(());
    }
    let context = format!(
        "let {agent} continue today over budget ({} of {})?",
        dollars(spent),
        dollars(budget)
    );
    let made = w
        .backend
        .create_decision_notified(
            &NewDecision {
                kind: KIND.into(),
                context: context.clone(),
                options: Vec::new(),
                requested_by: "system".into(),
                task_id: None,
                resolved: None,
            },
            &AuditEntry {
                actor: "system".into(),
                action: "decision.create".into(),
                resource: format!("agent:{agent}"),
                details: serde_json::json!({"budget_pause": day, "spent_micros": spent, "budget_micros": budget}),
                source: "watcher".into(),
            },
        )
        .await;
    match made {
        Ok((decision, _)) => {
            w.store
                .settle_budget_pause(agent, day, Some(decision.id))
                .await?;
            w.wake.notify_one();
            tracing::info!(
                agent,
                decision = decision.id,
                "agent paused over budget; owners asked"
            );
            Ok(())
        }
        Err(e) => {
            w.store.settle_budget_pause(agent, day, None).await?;
            Err(anyhow::anyhow!(
                "asking the owners about {agent}'s budget: {e}"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::standing;
    use chrono::TimeZone;

    #[test]
    fn paused_over_budget_until_approved_or_for_the_day_when_denied() {
        let kyiv: chrono_tz::Tz = "Europe/Kyiv".parse().unwrap();
        let noon = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let day = &crate::watch::period::day(kyiv, noon);
        let b = Some(20_000_000);
        let at_budget = standing("builder", day, 20_000_000, b, None);
        assert!(!at_budget.paused, "exactly at the budget is not over it");
        let over = standing("builder", day, 25_400_000, b, Some((7, "pending".into())));
        assert!(over.paused);
        assert_eq!(
            over.reason.as_deref(),
            Some(
                "over its daily budget ($25.40 of $20.00); the owners are asked whether it may continue"
            )
        );
        assert_eq!(
            over.paused_until.map(|t| t.to_rfc3339()),
            Some("2026-12-04T22:00:00+00:00".into())
        );
        let approved = standing("builder", day, 25_400_000, b, Some((7, "approved".into())));
        assert!(!approved.paused);
        assert_eq!(approved.limit_today_usd, Some(40.0));
        let spent_again = standing("builder", day, 40_000_001, b, Some((7, "approved".into())));
        assert!(spent_again.paused);
        let denied = standing("builder", day, 25_400_000, b, Some((7, "denied".into())));
        assert!(denied.paused);
        assert!(!standing("free", day, 99_000_000, None, None).paused);
    }
}
