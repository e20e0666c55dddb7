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
    /// Spend since `since_day` (a UTC midnight, epoch ms) by agent or
    /// project, largest first: whole days before `today` (today's UTC
    /// midnight) from the roll-up, today from the cost rows. A project of
    /// "" is spend without one.
    pub async fn spend_since(
        &self,
        since_day: i64,
        today: i64,
        by: SpendBy,
    ) -> Result<Vec<CostLine>, StoreError> {
        let sql = match by {
            SpendBy::Agent => {
                "SELECT k, CAST(SUM(total) AS BIGINT), CAST(SUM(n) AS BIGINT) FROM ( \
                   SELECT agent_id AS k, usd_micros AS total, n FROM cost_daily WHERE day >= $1 AND day < $2 \
                   UNION ALL \
                   SELECT agent_id AS k, usd_micros AS total, 1 AS n FROM costs WHERE at >= $2 \
                 ) spend GROUP BY k ORDER BY 2 DESC, k"
            }
            SpendBy::Project => {
                "SELECT k, CAST(SUM(total) AS BIGINT), CAST(SUM(n) AS BIGINT) FROM ( \
                   SELECT project_id AS k, usd_micros AS total, n FROM cost_daily WHERE day >= $1 AND day < $2 \
                   UNION ALL \
                   SELECT COALESCE(project_id, '') AS k, usd_micros AS total, 1 AS n FROM costs WHERE at >= $2 \
                 ) spend GROUP BY k ORDER BY 2 DESC, k"
            }
        };
        let rows = sqlx::query(sql)
            .bind(since_day)
            .bind(today)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let micros: i64 = r.try_get(1)?;
                let n: i64 = r.try_get(2)?;
                Ok(CostLine {
                    key: r.try_get(0)?,
                    cost_usd: usd_from_micros(micros),
                    records: u64::try_from(n).unwrap_or(0),
                })
            })
            .collect()
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
