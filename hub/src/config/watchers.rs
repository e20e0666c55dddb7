//! `[watchers]`: when the hub checks SLAs, budgets and anomalies on its own
//! (cron expressions, seconds first), and the SLA rules it checks.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchersConfig {
    /// Run the watchers on their schedules. Off: nothing is checked on its
    /// own (the brief still lists breaches, spend and anomalies).
    pub enabled: bool,
    /// Cron expressions (`sec min hour day-of-month month day-of-week`), UTC.
    pub sla_check: String,
    pub budget_check: String,
    pub anomaly_scan: String,
    /// SLA rules: a subject matches the first rule of its kind whose
    /// priority is its own or unset. (Anomalies are found as the brief finds
    /// them, with the `[brief]` thresholds.)
    pub sla: Vec<SlaRule>,
}

impl Default for WatchersConfig {
    fn default() -> Self {
        WatchersConfig {
            enabled: true,
            sla_check: "0 */5 * * * *".into(),
            budget_check: "0 */5 * * * *".into(),
            anomaly_scan: "0 */15 * * * *".into(),
            sla: vec![
                SlaRule {
                    kind: SlaKind::Decision,
                    priority: None,
                    within_minutes: 60,
                    finish_within_hours: None,
                    escalate_every_minutes: None,
                },
                SlaRule {
                    kind: SlaKind::Question,
                    priority: None,
                    within_minutes: 60,
                    finish_within_hours: None,
                    escalate_every_minutes: None,
                },
                SlaRule {
                    kind: SlaKind::Task,
                    priority: Some("urgent".into()),
                    within_minutes: 30,
                    finish_within_hours: Some(24),
                    escalate_every_minutes: None,
                },
            ],
        }
    }
}

/// What an SLA rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaKind {
    /// A pending decision must be answered within `within_minutes`.
    Decision,
    /// A task of `priority` must leave `created`/`ready` within
    /// `within_minutes` and be completed within `finish_within_hours`.
    Task,
    /// A pending question must be answered within `within_minutes`, or
    /// within its own `deadline_minutes` when the agent gave one.
    Question,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaRule {
    pub kind: SlaKind,
    /// Tasks: `urgent`, `high`, `medium` or `low`; unset: any. Decisions
    /// and questions have no priority: leave it unset.
    #[serde(default)]
    pub priority: Option<String>,
    pub within_minutes: i64,
    #[serde(default)]
    pub finish_within_hours: Option<i64>,
    /// How long each escalation step waits for an answer before the next;
    /// unset: `within_minutes`.
    #[serde(default)]
    pub escalate_every_minutes: Option<i64>,
}

impl SlaRule {
    pub fn interval_minutes(&self) -> i64 {
        self.escalate_every_minutes.unwrap_or(self.within_minutes)
    }
}

/// Catch mistakes at start, with the key that is wrong.
pub fn validate(w: &WatchersConfig, people: &[super::PersonConfig]) -> Result<(), String> {
    for (key, expr) in [
        ("sla_check", &w.sla_check),
        ("budget_check", &w.budget_check),
        ("anomaly_scan", &w.anomaly_scan),
    ] {
        crate::watch::cron::parse(expr).map_err(|e| format!("watchers.{key} = {expr:?}: {e}"))?;
    }
    for (i, r) in w.sla.iter().enumerate() {
        if r.within_minutes <= 0 || r.escalate_every_minutes.is_some_and(|m| m <= 0) {
            return Err(format!(
                "watchers.sla[{i}]: within_minutes and escalate_every_minutes must be above 0"
            ));
        }
        if r.finish_within_hours.is_some_and(|h| h <= 0) {
            return Err(format!(
                "watchers.sla[{i}].finish_within_hours must be above 0"
            ));
        }
        match (&r.kind, &r.priority) {
            (SlaKind::Decision | SlaKind::Question, Some(p)) => {
                return Err(format!(
                    "watchers.sla[{i}].priority = {p:?}: decisions and questions have no priority; remove it"
                ));
            }
            (SlaKind::Task, Some(p))
                if !["urgent", "high", "medium", "low"].contains(&p.as_str()) =>
            {
                return Err(format!(
                    "watchers.sla[{i}].priority = {p:?}: expected urgent, high, medium or low"
                ));
            }
            _ => {}
        }
    }
    for p in people {
        if let Some(m) = &p.manager {
            if m == &p.id {
                return Err(format!(
                    "people.{}.manager = {m:?}: a person cannot manage themselves",
                    p.id
                ));
            }
            if !people.iter().any(|q| &q.id == m) {
                return Err(format!(
                    "people.{}.manager = {m:?}: no such person in [[people]]",
                    p.id
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn error(toml: &str) -> String {
        Config::from_toml(toml).expect_err("refused").to_string()
    }

    #[test]
    fn bad_watcher_settings_are_refused_naming_the_key() {
        let e = error("[watchers]\nsla_check = \"*/5 * * * *\"\n");
        assert!(
            e.contains("watchers.sla_check") && e.contains("seconds field"),
            "{e}"
        );
        let e = error(
            "[[watchers.sla]]\nkind = \"decision\"\npriority = \"urgent\"\nwithin_minutes = 5\n",
        );
        assert!(
            e.contains("watchers.sla[0].priority") && e.contains("no priority"),
            "{e}"
        );
        let e = error("[[watchers.sla]]\nkind = \"task\"\nwithin_minutes = 0\n");
        assert!(e.contains("watchers.sla[0]"), "{e}");
        let e = error("[[people]]\nid = \"ops\"\nmanager = \"nobody\"\n");
        assert!(
            e.contains("people.ops.manager") && e.contains("no such person"),
            "{e}"
        );
        assert!(
            Config::from_toml(
                "[[people]]\nid = \"lead\"\n[[people]]\nid = \"ops\"\nmanager = \"lead\"\n"
            )
            .is_ok()
        );
    }
}
