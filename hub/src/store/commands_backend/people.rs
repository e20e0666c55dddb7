//! People, agents with their track record, and approvers.

use super::{corrupt, db, string_list};
use crate::store::Store;
use commands::{Agent, AgentStats, AgentStatus, BackendError, Person, Role};
use routing::ChannelKind;
use sqlx::Row;
use sqlx::any::AnyRow;

fn person_from_row(row: &AnyRow) -> Result<Person, BackendError> {
    let id: String = row.try_get("id").map_err(db("reading a person"))?;
    let display_name: String = row
        .try_get("display_name")
        .map_err(db("reading a person"))?;
    let role: String = row.try_get("role").map_err(db("reading a person"))?;
    let role: Role = role
        .parse()
        .map_err(|e| corrupt(format!("role of person {id}: {e}")))?;
    Ok(Person {
        id,
        display_name,
        role,
    })
}

/// An agent's name is its id: the id is what people type and what the
/// config calls it; the description is a sentence, not a name.
fn agent_from_row(row: &AnyRow) -> Result<Agent, BackendError> {
    let id: String = row.try_get("id").map_err(db("reading an agent"))?;
    let status: String = row.try_get("status").map_err(db("reading an agent"))?;
    let status: AgentStatus = status
        .parse()
        .map_err(|e| corrupt(format!("status of agent {id}: {e}")))?;
    let caps: String = row
        .try_get("capabilities")
        .map_err(db("reading an agent"))?;
    let capabilities = string_list(&caps, &format!("capabilities of agent {id}"))?;
    Ok(Agent {
        name: id.clone(),
        id,
        status,
        capabilities,
    })
}

fn count(row: &AnyRow, column: &str) -> Result<u32, BackendError> {
    let n: i64 = row
        .try_get(column)
        .map_err(db("reading agent statistics"))?;
    Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

impl Store {
    pub async fn person_by_platform(
        &self,
        platform: ChannelKind,
        user_id: &str,
    ) -> Result<Option<Person>, BackendError> {
        let row = sqlx::query(
            "SELECT p.id, p.display_name, p.role FROM person_identities i \
             JOIN people p ON p.id = i.person_id \
             WHERE i.platform = $1 AND i.platform_user_id = $2",
        )
        .bind(platform.as_str())
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("looking up a platform user"))?;
        row.as_ref().map(person_from_row).transpose()
    }

    pub async fn person(&self, id: &str) -> Result<Option<Person>, BackendError> {
        let row = sqlx::query("SELECT id, display_name, role FROM people WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("looking up a person"))?;
        row.as_ref().map(person_from_row).transpose()
    }

    pub async fn agent(&self, id: &str) -> Result<Option<Agent>, BackendError> {
        let row = sqlx::query("SELECT id, status, capabilities FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("looking up an agent"))?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// Every agent with its record, in one statement:
    /// - `active_tasks`: tasks assigned to it that are not completed;
    /// - `completed`: completed tasks assigned to it;
    /// - `failed`: tasks that were blocked while it was their assignee
    ///   (`agent_task_failures`, written by the status change; once per
    ///   task). Being blocked is the one failure signal the lifecycle has: a
    ///   task that had to stop while the agent held it. A task blocked and
    ///   later completed counts on both sides, so its performance is
    ///   completed / (completed + failed) with both in view;
    /// - `avg_cost_usd`: all its cost records summed, divided by `completed`;
    ///   `None` without a completed task or without a cost record.
    pub async fn agents_with_stats(&self) -> Result<Vec<(Agent, AgentStats)>, BackendError> {
        let rows = sqlx::query(
            "SELECT a.id, a.status, a.capabilities, \
               (SELECT COUNT(*) FROM tasks t WHERE t.assignee_kind = 'agent' \
                  AND t.assignee_id = a.id AND t.status <> 'completed') AS active_tasks, \
               (SELECT COUNT(*) FROM tasks t WHERE t.assignee_kind = 'agent' \
                  AND t.assignee_id = a.id AND t.status = 'completed') AS completed, \
               (SELECT COUNT(*) FROM agent_task_failures f WHERE f.agent_id = a.id) AS failed, \
               (SELECT COUNT(*) FROM costs c WHERE c.agent_id = a.id) AS cost_records, \
               (SELECT CAST(COALESCE(SUM(c.usd_micros), 0) AS BIGINT) FROM costs c WHERE c.agent_id = a.id) AS spent \
             FROM agents a ORDER BY a.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading agent statistics"))?;
        rows.iter()
            .map(|row| {
                let agent = agent_from_row(row)?;
                let completed = count(row, "completed")?;
                let cost_records = count(row, "cost_records")?;
                let spent = crate::store::usd_from_micros(
                    row.try_get("spent")
                        .map_err(db("reading agent statistics"))?,
                );
                let stats = AgentStats {
                    active_tasks: count(row, "active_tasks")?,
                    completed,
                    failed: count(row, "failed")?,
                    avg_cost_usd: (completed > 0 && cost_records > 0)
                        .then(|| spent / f64::from(completed)),
                };
                Ok((agent, stats))
            })
            .collect()
    }

    pub async fn approvers(&self, kind: &str) -> Result<Vec<String>, BackendError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT person_id FROM decision_approvers WHERE kind = $1 ORDER BY person_id",
        )
        .bind(kind)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading approvers"))?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
