//! SLA breaches and their escalation chain. A subject past its SLA (a
//! pending decision or question not answered in time, an urgent task not
//! started or not finished in time) is told to the responsible person (a
//! question: the person it was asked); still open one interval later it goes
//! to their manager (`manager` in `[[people]]`), one more to the admins, one
//! more to the owners. Every step, the first notice included, is `urgent`:
//! pushed at once (breaking quiet hours where the person allows it), never
//! held for the digest as `info` would be; urgent is routing's highest
//! level, so no later step is less urgent than the one before. Each step is recorded once (`sla_escalations`, with an audit row
//! `sla.escalate`); a subject that is answered or resolved is no longer
//! read, which is what ends its chain.
//!
//! A link with nobody in it (no manager configured, no admins) is skipped:
//! the next one is told at once. A hub that was down over several intervals
//! tells the step the time has reached, not every step in between.

use super::Watch;
use crate::config::{SlaKind, SlaRule};
use crate::store::SlaSubject;
use chrono::{DateTime, Duration, Utc};
use routing::Urgency;

/// The last step: the owners.
pub const LAST_STEP: i64 = 3;

/// The notification kinds a breach is sent as.
pub const BREACH: &str = "sla.breach";
pub const ESCALATION: &str = "sla.escalation";

/// Task statuses that have not started yet.
const NOT_STARTED: &[&str] = &["created", "ready"];
/// Task statuses that are not finished.
const NOT_FINISHED: &[&str] = &[
    "created",
    "planning",
    "ready",
    "assigned",
    "in_progress",
    "review",
    "blocked",
];

/// One subject past its SLA.
#[derive(Debug, Clone)]
struct Breach {
    /// `sla_escalations.kind`: `decision`, `question`, `task_start`, `task_finish`.
    track: &'static str,
    object_id: String,
    /// "decision #7 (deploy)", "task #3 “Fix login” (urgent)".
    what: String,
    /// What was missed: "answered within 60 minutes".
    promise: String,
    deadline: DateTime<Utc>,
    interval: Duration,
    responsible: Vec<String>,
}

pub async fn check(w: &Watch, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut failed = None;
    for breach in breaches(w, now).await? {
        if let Err(e) = escalate(w, &breach, now).await {
            tracing::error!(sla = breach.track, subject = %breach.object_id, error = %e, "SLA escalation failed; retried on the next tick");
            failed.get_or_insert(e);
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Every subject past its SLA at `now`, by the first rule that matches it.
async fn breaches(w: &Watch, now: DateTime<Utc>) -> anyhow::Result<Vec<Breach>> {
    let mut out = Vec::new();
    let rules = &w.config.sla;
    for (i, rule) in rules.iter().enumerate() {
        let within = Duration::minutes(rule.within_minutes);
        let interval = Duration::minutes(rule.interval_minutes());
        // A task is judged by the first rule of its priority (or any).
        let earlier = |p: &Option<String>| {
            rules[..i].iter().any(|r| {
                r.kind == rule.kind && (r.priority.is_none() || r.priority.as_ref() == p.as_ref())
            })
        };
        match rule.kind {
            SlaKind::Decision => {
                if rules[..i].iter().any(|r| r.kind == SlaKind::Decision) {
                    continue;
                }
                let cutoff = (now - within).timestamp_millis();
                for d in w.store.pending_decisions_before(cutoff).await? {
                    out.push(Breach {
                        track: "decision",
                        object_id: d.id.to_string(),
                        what: format!("decision #{} ({})", d.id, d.label),
                        promise: format!("answered within {}", minutes(rule.within_minutes)),
                        deadline: crate::store::from_ms(d.created_at) + within,
                        interval,
                        responsible: decision_responsible(w, &d.label),
                    });
                }
            }
            SlaKind::Question => {
                if rules[..i].iter().any(|r| r.kind == SlaKind::Question) {
                    continue;
                }
                out.extend(question_breaches(w, Some(rule), now).await?);
            }
            SlaKind::Task => {
                let start_cutoff = (now - within).timestamp_millis();
                let tasks = w
                    .store
                    .open_tasks_before(rule.priority.as_deref(), NOT_STARTED, start_cutoff)
                    .await?;
                for t in tasks.into_iter().filter(|t| !earlier(&t.priority)) {
                    out.push(task_breach(w, rule, &t, "task_start", within, interval));
                }
                if let Some(hours) = rule.finish_within_hours {
                    let finish = Duration::hours(hours);
                    let tasks = w
                        .store
                        .open_tasks_before(
                            rule.priority.as_deref(),
                            NOT_FINISHED,
                            (now - finish).timestamp_millis(),
                        )
                        .await?;
                    for t in tasks.into_iter().filter(|t| !earlier(&t.priority)) {
                        out.push(task_breach(w, rule, &t, "task_finish", finish, interval));
                    }
                }
            }
        }
    }
    // A question the agent gave its own deadline is watched even when no
    // rule covers questions.
    if !rules.iter().any(|r| r.kind == SlaKind::Question) {
        out.extend(question_breaches(w, None, now).await?);
    }
    Ok(out)
}

/// Pending questions past their deadline: their own (`deadline_minutes`
/// when asked) overrides the rule's `within_minutes`. Each step waits the
/// rule's interval, or without a rule as long as the question's own
/// deadline gave.
async fn question_breaches(
    w: &Watch,
    rule: Option<&SlaRule>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Breach>> {
    let rule_ms = rule.map(|r| r.within_minutes * 60_000);
    let questions = w
        .store
        .late_questions(now.timestamp_millis(), rule_ms)
        .await?;
    Ok(questions
        .into_iter()
        .filter_map(|q| {
            let created = crate::store::from_ms(q.created_at);
            let deadline = match (q.deadline_at, rule) {
                (Some(d), _) => crate::store::from_ms(d),
                (None, Some(r)) => created + Duration::minutes(r.within_minutes),
                (None, None) => return None,
            };
            let within = (deadline - created).num_minutes().max(1);
            let interval = match rule {
                Some(r) => Duration::minutes(r.interval_minutes()),
                None => Duration::minutes(within),
            };
            Some(Breach {
                track: "question",
                object_id: q.id.to_string(),
                what: format!(
                    "question #{} from {} (\u{201c}{}\u{201d})",
                    q.id,
                    q.asked_by.as_deref().unwrap_or("an agent"),
                    short(&q.label)
                ),
                promise: format!("answered within {}", minutes(within)),
                deadline,
                interval,
                responsible: match &q.assignee {
                    Some(p) if w.people.iter().any(|m| &m.id == p) => vec![p.clone()],
                    _ => w.owners(),
                },
            })
        })
        .collect())
}

/// A question's text cut for a notification's title.
fn short(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}\u{2026}", &text[..at]),
        None => text.to_string(),
    }
}

fn task_breach(
    w: &Watch,
    rule: &SlaRule,
    t: &SlaSubject,
    track: &'static str,
    within: Duration,
    interval: Duration,
) -> Breach {
    let promise = match track {
        "task_start" => format!("started within {}", minutes(rule.within_minutes)),
        _ => format!("completed within {}", minutes(within.num_minutes())),
    };
    Breach {
        track,
        object_id: t.id.to_string(),
        what: format!(
            "task #{} \u{201c}{}\u{201d} ({})",
            t.id,
            t.label,
            t.priority.as_deref().unwrap_or("no priority")
        ),
        promise,
        deadline: crate::store::from_ms(t.created_at) + within,
        interval,
        responsible: match &t.assignee {
            Some(p) if w.people.iter().any(|m| &m.id == p) => vec![p.clone()],
            _ => w.owners(),
        },
    }
}

/// Who answers a decision first: its kind's own approvers (`[approvers]`),
/// else the owners.
fn decision_responsible(w: &Watch, kind: &str) -> Vec<String> {
    match w.approvers.get(kind) {
        Some(list) if !list.is_empty() => list.clone(),
        _ => w.owners(),
    }
}

/// Who is told at `step` of a chain that starts with `responsible`.
fn group(w: &Watch, step: i64, responsible: &[String]) -> Vec<String> {
    let mut out: Vec<String> = match step {
        0 => responsible.to_vec(),
        1 => w
            .people
            .iter()
            .filter(|p| responsible.contains(&p.id))
            .filter_map(|p| p.manager.clone())
            .collect(),
        2 => w.with_role("admin").collect(),
        _ => w.owners(),
    };
    out.sort();
    out.dedup();
    out
}

/// Tell the step the time has reached, if it was not told yet.
async fn escalate(w: &Watch, b: &Breach, now: DateTime<Utc>) -> anyhow::Result<()> {
    let late = now - b.deadline;
    if late < Duration::zero() {
        return Ok(());
    }
    let interval_ms = b.interval.num_milliseconds().max(1);
    let reached = (late.num_milliseconds() / interval_ms).min(LAST_STEP);
    let done = w.store.escalation_step(b.track, &b.object_id).await?;
    if done.is_some_and(|d| d >= reached) {
        return Ok(());
    }
    let from = done.map_or(0, |d| d + 1).max(reached);
    // The first link from there with someone in it.
    let (step, people) = (from..=LAST_STEP)
        .map(|s| (s, group(w, s, &b.responsible)))
        .find(|(_, g)| !g.is_empty())
        .unwrap_or((LAST_STEP, Vec::new()));
    if !w
        .store
        .record_escalation(b.track, &b.object_id, step, &people, now.timestamp_millis())
        .await?
    {
        return Ok(());
    }
    if people.is_empty() {
        tracing::warn!(sla = b.track, subject = %b.object_id, "SLA breach with nobody to tell (no owners configured)");
        return Ok(());
    }
    let late_for = minutes(late.num_minutes());
    let (kind, urgency, title) = if step == 0 {
        // Pushed now, not left for the digest: a breach is already late.
        (
            BREACH,
            Urgency::Urgent,
            format!("SLA breach: {} is late by {late_for}", b.what),
        )
    } else {
        (
            ESCALATION,
            Urgency::Urgent,
            format!(
                "Escalated (level {step} of {LAST_STEP}): {} is late by {late_for}",
                b.what
            ),
        )
    };
    let body = format!(
        "It should have been {}. First told: {}.",
        b.promise,
        b.responsible.join(", ")
    );
    if let Err(e) = w.notify_all(&people, kind, urgency, &title, &body).await {
        // Not told: give the step back so the next tick tries again.
        w.store
            .forget_escalation(b.track, &b.object_id, step)
            .await?;
        return Err(e.into());
    }
    tracing::info!(sla = b.track, subject = %b.object_id, step, to = ?people, "SLA breach told");
    Ok(())
}

/// "45 minutes", "1 minute", "2 hours", "1 hour 5 minutes".
pub fn minutes(m: i64) -> String {
    let plural = |n: i64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    match (m / 60, m % 60) {
        (0, m) => plural(m, "minute"),
        (h, 0) => plural(h, "hour"),
        (h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_with_correct_plurals() {
        assert_eq!(super::minutes(1), "1 minute");
        assert_eq!(super::minutes(45), "45 minutes");
        assert_eq!(super::minutes(60), "1 hour");
        assert_eq!(super::minutes(65), "1 hour 5 minutes");
        assert_eq!(super::minutes(121), "2 hours 1 minute");
    }
}
