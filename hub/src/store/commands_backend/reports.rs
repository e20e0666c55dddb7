//! `brief` and `cost`.

use super::db;
use super::tasks::due_to_ms;
use crate::store::Store;
use chrono::{DateTime, Utc};
use commands::{BackendError, CostBy, CostLine, CostPeriod, Person, RichMessage};
use sqlx::Row;

/// Live counts for the interim brief.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BriefCounts {
    mine_open: i64,
    mine_overdue: i64,
    team_open: i64,
    team_overdue: i64,
    pending_decisions: i64,
    spent_today_usd: f64,
}

impl Store {
    /// Issue 7 replaces this with the real brief built by the `briefs`
    /// crate (sections, templates per format, the optional LLM summary).
    /// Until then `brief` answers with a short summary from live data, so
    /// what it says is true: open and overdue tasks (the person's and the
    /// team's), pending decisions, and today's spend (since 00:00 UTC).
    pub(super) async fn interim_brief(&self, person: &Person) -> Result<RichMessage, BackendError> {
        let now = Utc::now();
        // Overdue: the due day has passed (due_at is the start of that day).
        let today = due_to_ms(now.date_naive());
        let since = CostPeriod::Today.since(now).timestamp_millis();
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM tasks WHERE status <> 'completed' \
                  AND assignee_kind = 'person' AND assignee_id = $1) AS mine_open, \
               (SELECT COUNT(*) FROM tasks WHERE status <> 'completed' \
                  AND assignee_kind = 'person' AND assignee_id = $1 AND due_at < $2) AS mine_overdue, \
               (SELECT COUNT(*) FROM tasks WHERE status <> 'completed') AS team_open, \
               (SELECT COUNT(*) FROM tasks WHERE status <> 'completed' AND due_at < $2) AS team_overdue, \
               (SELECT COUNT(*) FROM decisions WHERE status = 'pending') AS pending_decisions, \
               (SELECT COALESCE(SUM(usd), 0.0) FROM costs WHERE at >= $3) AS spent_today_usd",
        )
        .bind(&person.id)
        .bind(today)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading the brief's numbers"))?;
        let read = db("reading the brief's numbers");
        let c = BriefCounts {
            mine_open: row.try_get("mine_open").map_err(&read)?,
            mine_overdue: row.try_get("mine_overdue").map_err(&read)?,
            team_open: row.try_get("team_open").map_err(&read)?,
            team_overdue: row.try_get("team_overdue").map_err(&read)?,
            pending_decisions: row.try_get("pending_decisions").map_err(&read)?,
            spent_today_usd: row.try_get("spent_today_usd").map_err(&read)?,
        };
        Ok(RichMessage::titled(
            format!("Brief for {}", person.display_name),
            format!(
                "You have {} open tasks ({} overdue). {} pending decisions.",
                c.mine_open, c.mine_overdue, c.pending_decisions
            ),
        )
        .with_field(
            "Team",
            format!("{} open tasks, {} overdue", c.team_open, c.team_overdue),
        )
        .with_field("Spend today", format!("${:.2}", c.spent_today_usd))
        .with_footer(format!(
            "As of {} UTC. `task list --mine` for your tasks, `decisions` for what waits.",
            now.format("%Y-%m-%d %H:%M")
        )))
    }

    /// Cost records at or after `since`, summed per agent, project or model,
    /// most expensive first (ties by key). Records without a project are
    /// grouped under the empty key.
    pub(super) async fn cost_lines(
        &self,
        since: DateTime<Utc>,
        by: CostBy,
    ) -> Result<Vec<CostLine>, BackendError> {
        let sql = match by {
            CostBy::Agent => {
                "SELECT agent_id AS k, SUM(usd) AS total, COUNT(*) AS n FROM costs \
                 WHERE at >= $1 GROUP BY agent_id ORDER BY total DESC, k"
            }
            CostBy::Project => {
                "SELECT COALESCE(project_id, '') AS k, SUM(usd) AS total, COUNT(*) AS n FROM costs \
                 WHERE at >= $1 GROUP BY COALESCE(project_id, '') ORDER BY total DESC, k"
            }
            CostBy::Model => {
                "SELECT model AS k, SUM(usd) AS total, COUNT(*) AS n FROM costs \
                 WHERE at >= $1 GROUP BY model ORDER BY total DESC, k"
            }
        };
        let rows: Vec<(String, f64, i64)> = sqlx::query_as(sql)
            .bind(since.timestamp_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(db("summing costs"))?;
        Ok(rows
            .into_iter()
            .map(|(key, cost_usd, n)| CostLine {
                key,
                cost_usd,
                records: u64::try_from(n).unwrap_or(0),
            })
            .collect())
    }
}
