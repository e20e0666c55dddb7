//! Reads of the console's Costs and Agents pages, shaped so each stays
//! within its 20 ms on 1,000,000 cost rows and 100,000 tasks
//! (hub/benches/console.rs): a month's spend from the daily roll-up
//! (`cost_daily`, migration 0008) plus today's raw rows, and agents' task
//! counts without summing every cost they ever made.

use super::{Store, StoreError, usd_from_micros};
use commands::CostLine;
use sqlx::Row;

/// What spend is grouped by on the Costs page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendBy {
    Agent,
    Project,
}

/// An agent's tasks for the Agents page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentTaskCounts {
    pub active: i64,
    pub completed: i64,
    pub failed: i64,
}

impl Store {
    /// Spend over `[from, to)` (epoch ms; any bounds, e.g. a month in the
    /// budgets' time zone) by agent or project, largest first: whole UTC
    /// days from the roll-up, the partial days at the edges from the cost
    /// rows ([`Store::spend_between`]). A project of "" is spend without
    /// one. `records` is not counted here (0): the page shows sums only.
    pub async fn spend_in(
        &self,
        from: i64,
        to: i64,
        by: SpendBy,
    ) -> Result<Vec<CostLine>, StoreError> {
        let mut total: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
        for (agent, project, micros) in self.spend_between(from, to).await? {
            let key = match by {
                SpendBy::Agent => agent,
                SpendBy::Project => project.unwrap_or_default(),
            };
            *total.entry(key).or_default() += micros;
        }
        let mut lines: Vec<(String, i64)> = total.into_iter().collect();
        lines.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(lines
            .into_iter()
            .map(|(key, micros)| CostLine {
                key,
                cost_usd: usd_from_micros(micros),
                records: 0,
            })
            .collect())
    }

    /// Every agent's (id, status), by id.
    pub async fn agent_statuses(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT id, status FROM agents ORDER BY id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Each agent's active (not completed) and completed tasks and its
    /// recorded failures. Counted from the index on (assignee_kind,
    /// assignee_id, status) of migration 0026, so no task row is read.
    pub async fn agent_task_counts(
        &self,
    ) -> Result<std::collections::HashMap<String, AgentTaskCounts>, StoreError> {
        let mut out: std::collections::HashMap<String, AgentTaskCounts> =
            std::collections::HashMap::new();
        let rows = sqlx::query(
            "SELECT assignee_id, status, COUNT(*) FROM tasks \
             WHERE assignee_kind = 'agent' GROUP BY assignee_id, status",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let agent: String = r.try_get(0)?;
            let status: String = r.try_get(1)?;
            let n: i64 = r.try_get(2)?;
            let c = out.entry(agent).or_default();
            if status == "completed" {
                c.completed += n;
            } else {
                c.active += n;
            }
        }
        let rows =
            sqlx::query("SELECT agent_id, COUNT(*) FROM agent_task_failures GROUP BY agent_id")
                .fetch_all(&self.pool)
                .await?;
        for r in &rows {
            let agent: String = r.try_get(0)?;
            out.entry(agent).or_default().failed = r.try_get(1)?;
        }
        Ok(out)
    }
}
