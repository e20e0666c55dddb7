//! Cost records and agent heartbeats posted by agents.

use super::{Store, StoreError};
use sqlx::Row;

/// Milliseconds in a UTC day: `cost_daily.day` is a multiple of it.
pub(super) const DAY_MS: i64 = 86_400_000;

/// The UTC midnight at or before `at_ms`.
pub(super) fn utc_day(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS) * DAY_MS
}

#[derive(Debug, Clone)]
pub struct NewCost {
    pub agent_id: String,
    pub project_id: Option<String>,
    pub task_id: Option<i64>,
    pub model: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub usd: f64,
    pub at: i64,
}

impl Store {
    /// Record a cost and add it to its day's roll-up in one transaction, so
    /// the brief's sums (which read the roll-up) always agree with `costs`.
    pub async fn insert_cost(&self, c: &NewCost) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO costs (agent_id, project_id, task_id, model, tokens_in, tokens_out, usd, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&c.agent_id)
        .bind(&c.project_id)
        .bind(c.task_id)
        .bind(&c.model)
        .bind(c.tokens_in)
        .bind(c.tokens_out)
        .bind(c.usd)
        .bind(c.at)
        .fetch_one(&mut *tx)
        .await?;
        let id = row.try_get::<i64, _>(0)?;
        sqlx::query(
            "INSERT INTO cost_daily (day, agent_id, project_id, usd, n) VALUES ($1, $2, $3, $4, 1) \
             ON CONFLICT (day, agent_id, project_id) \
             DO UPDATE SET usd = cost_daily.usd + excluded.usd, n = cost_daily.n + 1",
        )
        .bind(utc_day(c.at))
        .bind(&c.agent_id)
        .bind(c.project_id.as_deref().unwrap_or(""))
        .bind(c.usd)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Recompute the whole daily roll-up from `costs` (after rows were
    /// loaded around [`Store::insert_cost`], as the benchmark's bulk seed
    /// does). Migration 0008 runs the same statement once.
    pub async fn rebuild_cost_daily(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM cost_daily")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO cost_daily (day, agent_id, project_id, usd, n) \
             SELECT (at / 86400000) * 86400000, agent_id, COALESCE(project_id, ''), SUM(usd), COUNT(*) \
             FROM costs GROUP BY (at / 86400000) * 86400000, agent_id, COALESCE(project_id, '')",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn project_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// An agent's heartbeat: when it was last alive, its status and a note.
    /// Not audited (it is frequent and changes no setting).
    pub async fn heartbeat(
        &self,
        agent_id: &str,
        status: &str,
        note: Option<&str>,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE agents SET last_heartbeat_at = $1, status = $2, heartbeat_note = $3, updated_at = $1 WHERE id = $4",
        )
        .bind(at)
        .bind(status)
        .bind(note)
        .bind(agent_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn last_heartbeat(
        &self,
        agent_id: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT last_heartbeat_at, status FROM agents WHERE id = $1")
            .bind(agent_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r
                .try_get::<Option<i64>, _>(0)?
                .map(|t| (t, r.try_get(1).unwrap_or_default())),
            None => None,
        })
    }
}
