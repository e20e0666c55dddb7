//! Anomalies, found exactly as the brief finds them (the `briefs` crate's
//! detection over the same rows, with the `[brief]` thresholds): a silent
//! agent with active tasks, a spend spike over the 7-day average, the same
//! failure repeated, a dependency cycle. The owners are told when one is
//! first detected (`urgent`) and when it clears (`info`) — not at every
//! scan: `anomaly_state` holds the ones open, keyed by kind and subject.

use super::Watch;
use crate::store::OpenAnomaly;
use chrono::{DateTime, NaiveTime, Utc};
use routing::Urgency;
use std::collections::BTreeMap;

pub const DETECTED: &str = "anomaly.detected";
pub const CLEARED: &str = "anomaly.cleared";

pub async fn scan(w: &Watch, now: DateTime<Utc>) -> anyhow::Result<()> {
    let found = current(w, now).await?;
    let open: BTreeMap<String, OpenAnomaly> = w
        .store
        .open_anomalies()
        .await?
        .into_iter()
        .map(|a| (a.key.clone(), a))
        .collect();
    let owners = w.owners();
    let at = now.timestamp_millis();
    let mut failed = None;
    for a in found.values().filter(|a| !open.contains_key(&a.key)) {
        if !w.store.open_anomaly(a, at).await? {
            continue;
        }
        let title = format!("Anomaly: {}", a.message);
        if let Err(e) = w
            .notify_all(&owners, DETECTED, Urgency::Urgent, &title, &a.message)
            .await
        {
            // Not told: forget it, so the next scan detects it again.
            w.store.close_anomaly(&a.key).await?;
            failed.get_or_insert(e);
        }
    }
    for a in open.values().filter(|a| !found.contains_key(&a.key)) {
        if !w.store.close_anomaly(&a.key).await? {
            continue;
        }
        let title = format!("Cleared: {}", a.message);
        let body = format!("No longer seen: {}", a.message);
        if let Err(e) = w
            .notify_all(&owners, CLEARED, Urgency::Info, &title, &body)
            .await
        {
            w.store.open_anomaly(a, at).await?;
            failed.get_or_insert(e);
        }
    }
    failed.map_or(Ok(()), |e| Err(e.into()))
}

/// The anomalies present at `now`, by key. "Today's spend" for a spike is
/// the day in the budgets' zone, as in the brief, the budget alerts and the
/// Costs page (not the UTC day, which would flag a late-evening spend in
/// Kyiv as the next morning's).
async fn current(w: &Watch, now: DateTime<Utc>) -> anyhow::Result<BTreeMap<String, OpenAnomaly>> {
    let window = briefs::Window::new(
        "watch",
        w.budget_zone,
        now.with_timezone(&w.budget_zone).date_naive(),
        NaiveTime::MIN,
        now,
        None,
        &w.brief,
    )?
    .with_budget_zone(w.budget_zone)?;
    let input = w.store.brief_input(&window, w.brief.list_limit).await?;
    let brief = briefs::build(&window, "watch", &input, &w.brief);
    let mut out = BTreeMap::new();
    for a in brief.agents.iter().filter(|a| a.silent) {
        let minutes = a
            .minutes_since_heartbeat
            .map_or("never sent a heartbeat".to_string(), |m| {
                format!("no heartbeat for {}", super::sla::minutes(m))
            });
        let plural = if a.active_tasks == 1 { "" } else { "s" };
        insert(
            &mut out,
            "silent_agent",
            &a.agent_id,
            format!(
                "{} is silent ({minutes}) with {} active task{plural}",
                a.agent_id, a.active_tasks
            ),
        );
    }
    for a in brief.anomalies {
        let subject = match a.kind.as_str() {
            "dependency_cycle" => {
                let mut ids = a.task_ids.clone();
                ids.sort_unstable();
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            }
            "repeated_failure" => {
                // The agent and what failed (not the count, which grows):
                // another reason is another anomaly.
                let reason = a
                    .message
                    .split_once(" in 7 days: ")
                    .map_or(a.message.as_str(), |(_, r)| r);
                format!("{}:{reason}", a.agent_id.as_deref().unwrap_or(""))
            }
            _ => a.agent_id.clone().unwrap_or_default(),
        };
        insert(&mut out, &a.kind, &subject, a.message);
    }
    Ok(out)
}

fn insert(out: &mut BTreeMap<String, OpenAnomaly>, kind: &str, subject: &str, message: String) {
    let key = format!("{kind}:{subject}");
    out.insert(
        key.clone(),
        OpenAnomaly {
            key,
            kind: kind.to_string(),
            message,
        },
    );
}
