//! `cost` (the `brief` command is built by crate::brief).

use super::db;
use crate::store::Store;
use chrono::{DateTime, Utc};
use commands::{BackendError, CostBy, CostLine};

impl Store {
    /// Cost records at or after `since`, summed per agent, project or model,
    /// most expensive first (ties by key). Records without a project are
    /// grouped under the empty key.
    pub async fn cost_summary(
        &self,
        since: DateTime<Utc>,
        by: CostBy,
    ) -> Result<Vec<CostLine>, BackendError> {
        let sql = match by {
            CostBy::Agent => {
                "SELECT agent_id AS k, CAST(SUM(usd_micros) AS BIGINT) AS total, COUNT(*) AS n FROM costs \
                 WHERE at >= $1 GROUP BY agent_id ORDER BY total DESC, k"
            }
            CostBy::Project => {
                "SELECT COALESCE(project_id, '') AS k, CAST(SUM(usd_micros) AS BIGINT) AS total, COUNT(*) AS n FROM costs \
                 WHERE at >= $1 GROUP BY COALESCE(project_id, '') ORDER BY total DESC, k"
            }
            CostBy::Model => {
                "SELECT model AS k, CAST(SUM(usd_micros) AS BIGINT) AS total, COUNT(*) AS n FROM costs \
                 WHERE at >= $1 GROUP BY model ORDER BY total DESC, k"
            }
        };
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(sql)
            .bind(since.timestamp_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(db("summing costs"))?;
        Ok(rows
            .into_iter()
            .map(|(key, micros, n)| CostLine {
                key,
                cost_usd: crate::store::usd_from_micros(micros),
                records: u64::try_from(n).unwrap_or(0),
            })
            .collect())
    }
}
