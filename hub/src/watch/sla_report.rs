//! The share of subjects handled within their SLA over a period, per kind
//! (`GET /api/v1/sla`). Pure over the store's rows: a subject created in the
//! period counts as within when it was answered (a decision, a question) or
//! completed (a task) by its deadline — a question's own `deadline_minutes`
//! overrides its rule — as breached when that came later or has not
//! come and the deadline has passed; one still open before its deadline is
//! counted apart (`open`) and not in the share.

use crate::config::{SlaKind, SlaRule};
use crate::store::SlaOutcome;
use serde::Serialize;

/// One kind's figures over the period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SlaShare {
    /// `decision` (answered within its rule's minutes), `task` (completed
    /// within its rule's `finish_within_hours`) or `question` (answered
    /// within its own `deadline_minutes`, else its rule's minutes).
    pub kind: String,
    pub within_sla: i64,
    pub breached: i64,
    /// Not done yet and not yet late: not counted in the share.
    pub open: i64,
    /// `within_sla / (within_sla + breached)`, 0–1; null when none was judged.
    pub share_within: Option<f64>,
}

/// Which deadline (ms after creation) applies to a subject of `kind` and
/// `priority`: the first rule of that kind whose priority is unset or its own.
fn limit_ms(rules: &[SlaRule], kind: SlaKind, priority: Option<&str>) -> Option<i64> {
    let rule = rules
        .iter()
        .find(|r| r.kind == kind && (r.priority.is_none() || r.priority.as_deref() == priority))?;
    match kind {
        SlaKind::Decision | SlaKind::Question => Some(rule.within_minutes * 60_000),
        SlaKind::Task => rule.finish_within_hours.map(|h| h * 3_600_000),
    }
}

/// The figures of `kind` for `rows`, judged at `now_ms`. None when no rule
/// covers the kind and no row has a deadline of its own.
pub fn share(
    rules: &[SlaRule],
    kind: SlaKind,
    rows: &[SlaOutcome],
    now_ms: i64,
) -> Option<SlaShare> {
    if !rules.iter().any(|r| r.kind == kind) && rows.iter().all(|r| r.deadline_at.is_none()) {
        return None;
    }
    let (mut within, mut breached, mut open) = (0, 0, 0);
    for r in rows {
        // A question's own deadline overrides its rule.
        let deadline = match r.deadline_at {
            Some(d) => d,
            None => match limit_ms(rules, kind, r.priority.as_deref()) {
                Some(limit) => r.created_at + limit,
                None => continue,
            },
        };
        match r.done_at {
            Some(done) if done <= deadline => within += 1,
            Some(_) => breached += 1,
            None if now_ms > deadline => breached += 1,
            None => open += 1,
        }
    }
    let judged = within + breached;
    Some(SlaShare {
        kind: match kind {
            SlaKind::Decision => "decision",
            SlaKind::Task => "task",
            SlaKind::Question => "question",
        }
        .into(),
        within_sla: within,
        breached,
        open,
        share_within: (judged > 0).then(|| within as f64 / judged as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: SlaKind, priority: Option<&str>, minutes: i64, hours: Option<i64>) -> SlaRule {
        SlaRule {
            kind,
            priority: priority.map(str::to_string),
            within_minutes: minutes,
            finish_within_hours: hours,
            escalate_every_minutes: None,
        }
    }

    fn row(created: i64, done: Option<i64>, priority: Option<&str>) -> SlaOutcome {
        SlaOutcome {
            created_at: created,
            done_at: done,
            priority: priority.map(str::to_string),
            deadline_at: None,
        }
    }

    #[test]
    fn shares_count_within_breached_and_open_apart() {
        let rules = [
            rule(SlaKind::Decision, None, 60, None),
            rule(SlaKind::Task, Some("urgent"), 30, Some(2)),
        ];
        let min = 60_000;
        let decisions = [
            row(0, Some(60 * min), None), // exactly on time
            row(0, Some(61 * min), None), // late
            row(0, None, None),           // never answered, deadline passed
            row(100 * min, None, None),   // still open, not late yet
        ];
        let d = share(&rules, SlaKind::Decision, &decisions, 120 * min).expect("rule");
        assert_eq!((d.within_sla, d.breached, d.open), (1, 2, 1));
        assert_eq!(d.share_within, Some(1.0 / 3.0));
        // Only urgent tasks have a rule; the others are not judged.
        let tasks = [
            row(0, Some(119 * min), Some("urgent")),
            row(0, None, Some("low")),
        ];
        let t = share(&rules, SlaKind::Task, &tasks, 500 * min).expect("rule");
        assert_eq!((t.within_sla, t.breached, t.open), (1, 0, 0));
        assert_eq!(t.share_within, Some(1.0));
        let none = share(&rules[..1], SlaKind::Task, &tasks, 0);
        assert_eq!(none, None);
        let empty = share(&rules, SlaKind::Decision, &[], 0).expect("rule");
        assert_eq!(empty.share_within, None);
    }

    #[test]
    fn a_questions_own_deadline_overrides_the_rule() {
        let min = 60_000;
        let rules = [rule(SlaKind::Question, None, 60, None)];
        let own = |created, done, deadline| SlaOutcome {
            deadline_at: Some(deadline),
            ..row(created, done, None)
        };
        let questions = [
            own(0, Some(20 * min), 10 * min), // within the rule, late by its own
            own(0, Some(90 * min), 120 * min), // late by the rule, within its own
            row(0, Some(30 * min), None),     // the rule
        ];
        let q = share(&rules, SlaKind::Question, &questions, 500 * min).expect("rule");
        assert_eq!(
            (q.kind.as_str(), q.within_sla, q.breached),
            ("question", 2, 1)
        );
        // No rule: only questions with their own deadline are judged.
        let q = share(&[], SlaKind::Question, &questions, 500 * min).expect("own deadlines");
        assert_eq!((q.within_sla, q.breached, q.open), (1, 1, 0));
        assert_eq!(share(&[], SlaKind::Question, &questions[2..], 0), None);
    }
}
