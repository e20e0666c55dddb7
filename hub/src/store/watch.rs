//! What the watchers (hub/src/watch/) read and record: subjects past their
//! SLA, the escalation steps reached, spend against budgets with the alerts
//! already sent, and the anomalies currently open. Every "once" is a key:
//! an escalation step, a budget threshold in a period and an open anomaly
//! are each written by one instance only (`INSERT … ON CONFLICT DO NOTHING`),
//! together with their audit row.

use super::{AuditRow, Store, StoreError};
use sqlx::Row;

/// A subject that may be past its SLA: a pending decision or question, or
/// an open task.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaSubject {
    pub id: i64,
    /// The decision's kind, the task's title, or the question's text.
    pub label: String,
    /// Tasks: priority; decisions and questions: None.
    pub priority: Option<String>,
    /// Tasks: the person assigned, if a person; questions: the person asked.
    pub assignee: Option<String>,
    pub created_at: i64,
    /// Questions: the deadline the asking agent gave, which overrides the rule's.
    pub deadline_at: Option<i64>,
    /// Questions: the asking agent.
    pub asked_by: Option<String>,
}

/// A subject created in a period, for the share within SLA.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaOutcome {
    pub created_at: i64,
    /// When it was answered (decisions, questions) or completed (tasks); None: open.
    pub done_at: Option<i64>,
    pub priority: Option<String>,
    /// Questions: their own deadline, which overrides the rule's minutes.
    pub deadline_at: Option<i64>,
}

/// Spend of one agent or project against its budget, in micro-dollars.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetUse {
    pub id: String,
    pub spent_micros: i64,
    pub budget_micros: i64,
}

/// One open anomaly as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAnomaly {
    pub key: String,
    pub kind: String,
    pub message: String,
}

impl Store {
    /// Pending decisions created at or before `created_before_ms`, oldest first.
    pub async fn pending_decisions_before(
        &self,
        created_before_ms: i64,
    ) -> Result<Vec<SlaSubject>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, created_at FROM decisions WHERE status = 'pending' AND created_at <= $1 \
             ORDER BY created_at, id",
        )
        .bind(created_before_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| -> Result<SlaSubject, StoreError> {
                Ok(SlaSubject {
                    id: r.try_get(0)?,
                    label: r.try_get(1)?,
                    priority: None,
                    assignee: None,
                    created_at: r.try_get(2)?,
                    deadline_at: None,
                    asked_by: None,
                })
            })
            .collect()
    }

    /// Tasks of `priority` (any when None) in one of `statuses`, created at
    /// or before `created_before_ms`, oldest first.
    pub async fn open_tasks_before(
        &self,
        priority: Option<&str>,
        statuses: &[&str],
        created_before_ms: i64,
    ) -> Result<Vec<SlaSubject>, StoreError> {
        let list = statuses
            .iter()
            .map(|s| format!("'{}'", s.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(",");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, title, priority, assignee_kind, assignee_id, created_at FROM tasks \
             WHERE status IN ({list}) AND created_at <= $1 AND ($2 = '' OR priority = $2) \
             ORDER BY created_at, id"
        )))
        .bind(created_before_ms)
        .bind(priority.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| -> Result<SlaSubject, StoreError> {
                let kind: Option<String> = r.try_get(3)?;
                let who: Option<String> = r.try_get(4)?;
                Ok(SlaSubject {
                    id: r.try_get(0)?,
                    label: r.try_get(1)?,
                    priority: Some(r.try_get(2)?),
                    assignee: who.filter(|_| kind.as_deref() == Some("person")),
                    created_at: r.try_get(5)?,
                    deadline_at: None,
                    asked_by: None,
                })
            })
            .collect()
    }

    /// Pending questions past their deadline at `now_ms`: their own
    /// (`deadline_at`) when the agent gave one, else `rule_ms` after they
    /// were asked (`None`: no rule, only questions with their own deadline),
    /// oldest first.
    pub async fn late_questions(
        &self,
        now_ms: i64,
        rule_ms: Option<i64>,
    ) -> Result<Vec<SlaSubject>, StoreError> {
        let rows: Vec<(i64, String, String, i64, Option<i64>, String)> = sqlx::query_as(
            "SELECT id, text, addressed_to, created_at, deadline_at, asked_by FROM questions \
             WHERE status = 'pending' AND ((deadline_at IS NOT NULL AND deadline_at <= $1) \
             OR (deadline_at IS NULL AND $2 > 0 AND created_at + $2 <= $1)) \
             ORDER BY created_at, id",
        )
        .bind(now_ms)
        .bind(rule_ms.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, label, to, created_at, deadline_at, asked_by)| SlaSubject {
                    id,
                    label,
                    priority: None,
                    assignee: Some(to),
                    created_at,
                    deadline_at,
                    asked_by: Some(asked_by),
                },
            )
            .collect())
    }

    /// The highest escalation step recorded for a subject (None: not yet breached).
    pub async fn escalation_step(
        &self,
        kind: &str,
        object_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT MAX(step) FROM sla_escalations WHERE kind = $1 AND object_id = $2",
        )
        .bind(kind)
        .bind(object_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| r.0))
    }

    /// Record that `step` of a subject's escalation was reached and who is
    /// told, with its audit row. False: another instance recorded it first.
    pub async fn record_escalation(
        &self,
        kind: &str,
        object_id: &str,
        step: i64,
        notified: &[String],
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO sla_escalations (kind, object_id, step, notified, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, object_id, step) DO NOTHING",
        )
        .bind(kind)
        .bind(object_id)
        .bind(step)
        .bind(notified.join(","))
        .bind(at_ms)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        Self::audit_in(
            &mut tx,
            &AuditRow {
                actor: "system",
                action: "sla.escalate",
                resource: &format!("{}:{object_id}", audit_kind(kind)),
                details: serde_json::json!({"sla": kind, "step": step, "notified": notified}),
                source: "watcher",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Undo [`Store::record_escalation`] when its notification could not be
    /// queued, so the next tick tries the step again.
    pub async fn forget_escalation(
        &self,
        kind: &str,
        object_id: &str,
        step: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sla_escalations WHERE kind = $1 AND object_id = $2 AND step = $3")
            .bind(kind)
            .bind(object_id)
            .bind(step)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Decisions created in `[since, until)` with when they were decided.
    pub async fn decision_outcomes(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<SlaOutcome>, StoreError> {
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT created_at, decided_at FROM decisions WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(since_ms)
        .bind(until_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(created_at, done_at)| SlaOutcome {
                created_at,
                done_at,
                priority: None,
                deadline_at: None,
            })
            .collect())
    }

    /// Questions asked in `[since, until)` with when they were answered and
    /// their own deadline.
    pub async fn question_outcomes(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<SlaOutcome>, StoreError> {
        let rows: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT created_at, answered_at, deadline_at FROM questions \
             WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(since_ms)
        .bind(until_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(created_at, done_at, deadline_at)| SlaOutcome {
                created_at,
                done_at,
                priority: None,
                deadline_at,
            })
            .collect())
    }

    /// Tasks created in `[since, until)` with when they were completed.
    pub async fn task_outcomes(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<SlaOutcome>, StoreError> {
        let rows: Vec<(i64, Option<i64>, String)> = sqlx::query_as(
            "SELECT created_at, completed_at, priority FROM tasks WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(since_ms)
        .bind(until_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(created_at, done_at, p)| SlaOutcome {
                created_at,
                done_at,
                priority: Some(p),
                deadline_at: None,
            })
            .collect())
    }

    /// Each agent with a daily budget (not disabled) and its spend over
    /// the day `[from_ms, to_ms)` (a local day in the budgets' zone).
    pub async fn agent_budget_use(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<BudgetUse>, StoreError> {
        let budgets: Vec<(String, f64)> = sqlx::query_as(
            "SELECT id, daily_budget_usd FROM agents \
             WHERE daily_budget_usd IS NOT NULL AND status <> 'disabled' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let spend = self.spend_between(from_ms, to_ms).await?;
        Ok(budget_rows(budgets, |id| {
            spend.iter().filter(|(a, _, _)| a == id).map(|s| s.2).sum()
        }))
    }

    /// Each project with a monthly budget and its spend over the month
    /// `[from_ms, to_ms)` (a local month in the budgets' zone).
    pub async fn project_budget_use(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<BudgetUse>, StoreError> {
        let budgets: Vec<(String, f64)> = sqlx::query_as(
            "SELECT id, budget_usd FROM projects WHERE budget_usd IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let spend = self.spend_between(from_ms, to_ms).await?;
        Ok(budget_rows(budgets, |id| {
            spend
                .iter()
                .filter(|(_, p, _)| p.as_deref() == Some(id))
                .map(|s| s.2)
                .sum()
        }))
    }

    /// Record a budget alert once per subject, period and threshold, with
    /// its audit row. False: already sent.
    pub async fn record_budget_alert(
        &self,
        subject: &str,
        period: &str,
        threshold: i64,
        spent_micros: i64,
        budget_micros: i64,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO budget_alerts (subject, period, threshold, spent_micros, budget_micros, at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (subject, period, threshold) DO NOTHING",
        )
        .bind(subject)
        .bind(period)
        .bind(threshold)
        .bind(spent_micros)
        .bind(budget_micros)
        .bind(at_ms)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        Self::audit_in(
            &mut tx,
            &AuditRow {
                actor: "system",
                action: "budget.alert",
                resource: subject,
                details: serde_json::json!({"period": period, "threshold": threshold, "spent_micros": spent_micros, "budget_micros": budget_micros}),
                source: "watcher",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Undo [`Store::record_budget_alert`] when its notification could not be queued.
    pub async fn forget_budget_alert(
        &self,
        subject: &str,
        period: &str,
        threshold: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM budget_alerts WHERE subject = $1 AND period = $2 AND threshold = $3",
        )
        .bind(subject)
        .bind(period)
        .bind(threshold)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn open_anomalies(&self) -> Result<Vec<OpenAnomaly>, StoreError> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT key, kind, message FROM anomaly_state ORDER BY key")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(key, kind, message)| OpenAnomaly { key, kind, message })
            .collect())
    }

    /// Mark an anomaly open. False: it already was (or another instance
    /// opened it first).
    pub async fn open_anomaly(&self, a: &OpenAnomaly, at_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO anomaly_state (key, kind, message, detected_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&a.key)
        .bind(&a.kind)
        .bind(&a.message)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Mark an anomaly cleared. False: it was not open (or another
    /// instance cleared it first).
    pub async fn close_anomaly(&self, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM anomaly_state WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Reserve asking whether `agent_id` may continue over budget on UTC
    /// `day`, before the decision is made (so two instances never ask
    /// twice). False: already asked (or being asked).
    pub async fn reserve_budget_pause(
        &self,
        agent_id: &str,
        day: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO budget_pauses (agent_id, day, decision_id, created_at) VALUES ($1, $2, 0, $3) \
             ON CONFLICT (agent_id, day) DO NOTHING",
        )
        .bind(agent_id)
        .bind(day)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The decision that asks, once made; or None to give the reservation
    /// back (making the decision failed: the next check asks again).
    pub async fn settle_budget_pause(
        &self,
        agent_id: &str,
        day: &str,
        decision_id: Option<i64>,
    ) -> Result<(), StoreError> {
        let q = match decision_id {
            Some(id) => sqlx::query(
                "UPDATE budget_pauses SET decision_id = $3 WHERE agent_id = $1 AND day = $2",
            )
            .bind(agent_id)
            .bind(day)
            .bind(id),
            None => sqlx::query("DELETE FROM budget_pauses WHERE agent_id = $1 AND day = $2")
                .bind(agent_id)
                .bind(day),
        };
        q.execute(&self.pool).await?;
        Ok(())
    }

    /// The decision asked about `agent_id` on UTC `day` and its status
    /// (`pending`, `approved`, `denied`, `cancelled`), if one was asked.
    pub async fn budget_pause(
        &self,
        agent_id: &str,
        day: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT p.decision_id, d.status FROM budget_pauses p JOIN decisions d ON d.id = p.decision_id \
             WHERE p.agent_id = $1 AND p.day = $2",
        )
        .bind(agent_id)
        .bind(day)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// An agent's daily budget (None: it has none, or no such agent) and
    /// its spend over the day `[from_ms, to_ms)` (local, budgets' zone).
    pub async fn agent_day_use(
        &self,
        agent_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Option<i64>, i64), StoreError> {
        let budget: Option<(Option<f64>,)> =
            sqlx::query_as("SELECT daily_budget_usd FROM agents WHERE id = $1")
                .bind(agent_id)
                .fetch_optional(&self.pool)
                .await?;
        let spent = self
            .spend_between(from_ms, to_ms)
            .await?
            .iter()
            .filter(|(a, _, _)| a == agent_id)
            .map(|s| s.2)
            .sum();
        Ok((
            budget.and_then(|b| b.0).and_then(super::micros_from_usd),
            spent,
        ))
    }
}

/// The audit resource prefix of an SLA kind: `decision:7`, `task:3`, `question:4`.
fn audit_kind(kind: &str) -> &str {
    kind.split('_').next().unwrap_or(kind)
}

fn budget_rows(budgets: Vec<(String, f64)>, spent: impl Fn(&str) -> i64) -> Vec<BudgetUse> {
    budgets
        .into_iter()
        .filter_map(|(id, budget)| {
            Some(BudgetUse {
                spent_micros: spent(&id),
                budget_micros: super::micros_from_usd(budget)?,
                id,
            })
        })
        .collect()
}
