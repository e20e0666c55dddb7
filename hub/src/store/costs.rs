//! Cost records and agent heartbeats posted by agents.

use super::{Store, StoreError};
use sqlx::Row;
use std::sync::LazyLock;

/// Milliseconds in a UTC day: `cost_daily.day` is a multiple of it.
pub(super) const DAY_MS: i64 = 86_400_000;

/// Milliseconds in an hour: `cost_hourly.hour` is a multiple of it.
pub(super) const HOUR_MS: i64 = 3_600_000;

/// Milliseconds in a week: `cost_weekly.week` is a multiple of it (weeks
/// start on Thursdays 00:00 UTC, as the Unix epoch did).
pub(super) const WEEK_MS: i64 = 7 * DAY_MS;

/// One roll-up of `costs`: its table, its bucket column (the bucket's
/// start, a multiple of `width`) and the bucket's width in ms.
pub(super) struct Rollup {
    pub table: &'static str,
    pub bucket: &'static str,
    pub width: i64,
}

/// Costs by week (weeks start on the Unix epoch's weekday, Thursday).
pub(super) const WEEKLY: Rollup = Rollup {
    table: "cost_weekly",
    bucket: "week",
    width: WEEK_MS,
};
/// Costs by UTC day.
pub(super) const DAILY: Rollup = Rollup {
    table: "cost_daily",
    bucket: "day",
    width: DAY_MS,
};
/// Costs by hour.
pub(super) const HOURLY: Rollup = Rollup {
    table: "cost_hourly",
    bucket: "hour",
    width: HOUR_MS,
};

/// The roll-ups kept beside `costs` in the cost insert's transaction,
/// coarsest first.
pub(super) const ROLLUPS: [Rollup; 3] = [WEEKLY, DAILY, HOURLY];

/// Each roll-up's upsert ($1 the bucket's start) and its bucket's width.
static ROLLUP_UPSERTS: LazyLock<Vec<(String, i64)>> = LazyLock::new(|| {
    ROLLUPS
        .iter()
        .map(|r| {
            let (t, b) = (r.table, r.bucket);
            (
                format!(
                    "INSERT INTO {t} ({b}, agent_id, project_id, usd_micros, n) VALUES ($1, $2, $3, $4, 1) \
                     ON CONFLICT ({b}, agent_id, project_id) \
                     DO UPDATE SET usd_micros = {t}.usd_micros + excluded.usd_micros, n = {t}.n + 1"
                ),
                r.width,
            )
        })
        .collect()
});

/// Micro-dollars in a dollar. Money is stored and summed as integer
/// micro-dollars: a sum of any number of costs is exact on both engines
/// (floating-point sums drift, and differently with the order of rows).
pub const MICROS_PER_USD: i64 = 1_000_000;

/// The largest cost one record may carry, in dollars: far above any real
/// figure, and its micro-dollars stay clear of `i64` overflow in sums of
/// millions of records.
pub const MAX_COST_USD: f64 = 1_000_000_000.0;

/// `usd` as whole micro-dollars, rounded to the nearest; `None` for a
/// figure that is not a finite amount in [0, [`MAX_COST_USD`]].
pub fn micros_from_usd(usd: f64) -> Option<i64> {
    (usd.is_finite() && (0.0..=MAX_COST_USD).contains(&usd))
        .then(|| (usd * MICROS_PER_USD as f64).round() as i64)
}

/// Dollars for display and the brief's model. Exact sums converted once
/// at the edge: the result is the double nearest the exact decimal figure,
/// so two equal figures compare equal and a larger one compares larger
/// (a budget check on these values is exact).
pub fn usd_from_micros(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_USD as f64
}

#[derive(Debug, Clone)]
pub struct NewCost {
    pub agent_id: String,
    pub project_id: Option<String>,
    pub task_id: Option<i64>,
    pub model: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// As reported; stored rounded to the nearest micro-dollar.
    pub usd: f64,
    pub at: i64,
}

impl Store {
    /// Record a cost and add it to its day's and hour's roll-ups in one transaction, so
    /// the brief's sums (which read the roll-up) always agree with `costs`.
    pub async fn insert_cost(&self, c: &NewCost) -> Result<i64, StoreError> {
        let micros = micros_from_usd(c.usd).ok_or_else(|| {
            StoreError::Invalid(format!(
                "usd: {} is not an amount between 0 and {MAX_COST_USD}",
                c.usd
            ))
        })?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO costs (agent_id, project_id, task_id, model, tokens_in, tokens_out, usd_micros, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&c.agent_id)
        .bind(&c.project_id)
        .bind(c.task_id)
        .bind(&c.model)
        .bind(c.tokens_in)
        .bind(c.tokens_out)
        .bind(micros)
        .bind(c.at)
        .fetch_one(&mut *tx)
        .await?;
        let id = row.try_get::<i64, _>(0)?;
        for (upsert, width) in ROLLUP_UPSERTS.iter() {
            sqlx::query(sqlx::AssertSqlSafe(upsert.as_str()))
                .bind(c.at.div_euclid(*width) * width)
                .bind(&c.agent_id)
                .bind(c.project_id.as_deref().unwrap_or(""))
                .bind(micros)
                .execute(&mut *tx)
                .await?;
        }
        let event = super::WebhookEvent::new(
            "cost.recorded",
            serde_json::json!({
                "id": id,
                "agent": c.agent_id,
                "project": c.project_id,
                "task_id": c.task_id,
                "model": c.model,
                "tokens_in": c.tokens_in,
                "tokens_out": c.tokens_out,
                "usd": usd_from_micros(micros),
            }),
            c.at,
        );
        self.queue_webhook_events_in(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Recompute the whole weekly, daily and hourly roll-ups from `costs`
    /// (after rows were loaded around [`Store::insert_cost`], as the
    /// benchmark's bulk seed does). Migrations 0008, 0020, 0029 and 0032
    /// run the same statements once.
    pub async fn rebuild_cost_rollups(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for Rollup {
            table,
            bucket,
            width,
        } in &ROLLUPS
        {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&mut *tx)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} ({bucket}, agent_id, project_id, usd_micros, n) \
                 SELECT (at / {width}) * {width}, agent_id, COALESCE(project_id, ''), SUM(usd_micros), COUNT(*) \
                 FROM costs GROUP BY (at / {width}) * {width}, agent_id, COALESCE(project_id, '')"
            )))
            .execute(&mut *tx)
            .await?;
        }
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
        let mut tx = self.pool.begin().await?;
        // Written first (a write-first transaction waits its turn on SQLite
        // instead of failing): whether the status changed, for `agent.status`.
        let changed = sqlx::query(
            "UPDATE agents SET status = $1, updated_at = $2 WHERE id = $3 AND status <> $1",
        )
        .bind(status)
        .bind(at)
        .bind(agent_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        sqlx::query(
            "UPDATE agents SET last_heartbeat_at = $1, status = $2, heartbeat_note = $3, updated_at = $1 WHERE id = $4",
        )
        .bind(at)
        .bind(status)
        .bind(note)
        .bind(agent_id)
        .execute(&mut *tx)
        .await?;
        if changed {
            let event = super::WebhookEvent::new(
                "agent.status",
                serde_json::json!({"agent": agent_id, "status": status, "note": note}),
                at,
            );
            self.queue_webhook_events_in(&mut tx, &[event]).await?;
        }
        tx.commit().await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_round_to_micro_dollars_and_back() {
        assert_eq!(micros_from_usd(0.0001), Some(100));
        assert_eq!(micros_from_usd(0.25), Some(250_000));
        assert_eq!(micros_from_usd(0.000_000_4), Some(0));
        assert_eq!(micros_from_usd(-0.01), None);
        assert_eq!(micros_from_usd(f64::NAN), None);
        assert_eq!(micros_from_usd(MAX_COST_USD * 2.0), None);
        // 20,000 × $0.0001 as integers is exactly $2; as doubles it is not.
        let exact: i64 = (0..20_000)
            .map(|_| micros_from_usd(0.0001).unwrap_or(0))
            .sum();
        assert_eq!(usd_from_micros(exact), 2.0);
        let drifted: f64 = (0..20_000).map(|_| 0.0001).sum();
        assert_ne!(drifted, 2.0);
    }
}
