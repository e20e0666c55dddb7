//! The console's tasks board: how many tasks each status holds and the
//! newest of each column, so a board over 100,000 tasks reads a few hundred
//! rows (hub/benches/console.rs). Each column pages on by task ID.

use super::db;
use super::tasks::{TASK_COLUMNS, assignee_columns, tasks_from_rows};
use crate::store::Store;
use commands::{Assignee, BackendError, Task, TaskStatus};
use sqlx::{AssertSqlSafe, Row};

/// Which tasks the board shows.
#[derive(Debug, Clone, Default)]
pub struct BoardFilter {
    pub project: Option<String>,
    pub assignee: Option<Assignee>,
}

impl BoardFilter {
    /// " AND …" conditions with their values, numbered after `first - 1`
    /// earlier parameters. Built from constant fragments; values are bound.
    fn conditions(&self, first: usize) -> (String, Vec<String>) {
        let mut sql = String::new();
        let mut args = Vec::new();
        let (kind, who) = assignee_columns(self.assignee.as_ref());
        if let (Some(kind), Some(who)) = (kind, who) {
            args.push(kind.to_string());
            sql.push_str(&format!(" AND assignee_kind = ${}", first + args.len() - 1));
            args.push(who.to_string());
            sql.push_str(&format!(" AND assignee_id = ${}", first + args.len() - 1));
        }
        if let Some(p) = &self.project {
            args.push(p.clone());
            sql.push_str(&format!(" AND project_id = ${}", first + args.len() - 1));
        }
        (sql, args)
    }
}

impl Store {
    /// How many tasks each status holds under `filter` (statuses without
    /// any are absent).
    pub async fn board_counts(
        &self,
        filter: &BoardFilter,
    ) -> Result<Vec<(TaskStatus, i64)>, BackendError> {
        let (cond, args) = filter.conditions(1);
        // The whole board on SQLite: the counts its triggers keep
        // (migration 0031), not a read of every task.
        let sql = if args.is_empty() && self.dialect == crate::store::Dialect::Sqlite {
            "SELECT status, n FROM task_status_counts WHERE n > 0".to_string()
        } else {
            format!("SELECT status, COUNT(*) FROM tasks WHERE 1 = 1{cond} GROUP BY status")
        };
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for a in args {
            q = q.bind(a);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(db("counting tasks by status"))?;
        let read = db("counting tasks by status");
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let status: String = r.try_get(0).map_err(&read)?;
            let n: i64 = r.try_get(1).map_err(&read)?;
            // A status this build does not know is not shown.
            if let Ok(s) = status.parse::<TaskStatus>() {
                out.push((s, n));
            }
        }
        Ok(out)
    }

    /// The newest `limit` tasks in `status` under `filter`, IDs below
    /// `before` when given, newest first.
    pub async fn board_column(
        &self,
        status: TaskStatus,
        filter: &BoardFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Task>, BackendError> {
        let (cond, args) = filter.conditions(4);
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE status = $1 AND id < $2{cond} \
             ORDER BY id DESC LIMIT $3"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(status.as_str())
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit);
        for a in args {
            q = q.bind(a);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading a column of the board"))?;
        tasks_from_rows(&rows)
    }
}

/// A dependency edge touching a card on the board: `task` needs `needs`,
/// which is in `needs_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardEdge {
    pub task: i64,
    pub needs: i64,
    pub needs_status: TaskStatus,
}

impl Store {
    /// The dependency edges from or to any of `ids` (the cards shown), so
    /// each card can say what it waits for and what it blocks.
    pub async fn board_edges(&self, ids: &[i64]) -> Result<Vec<BoardEdge>, BackendError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = |from: usize| {
            (from..from + ids.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Two index lookups (the key and task_dependencies_on) joined by
        // UNION, rather than an OR that could read every edge.
        let sql = format!(
            "SELECT d.task_id, d.depends_on, t.status FROM task_dependencies d \
             JOIN tasks t ON t.id = d.depends_on WHERE d.task_id IN ({}) \
             UNION SELECT d.task_id, d.depends_on, t.status FROM task_dependencies d \
             JOIN tasks t ON t.id = d.depends_on WHERE d.depends_on IN ({})",
            list(1),
            list(1 + ids.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in ids.iter().chain(ids.iter()) {
            q = q.bind(*id);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading the board's dependencies"))?;
        let read = db("reading the board's dependencies");
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let status: String = r.try_get(2).map_err(&read)?;
            let Ok(needs_status) = status.parse::<TaskStatus>() else {
                continue;
            };
            out.push(BoardEdge {
                task: r.try_get(0).map_err(&read)?,
                needs: r.try_get(1).map_err(&read)?,
                needs_status,
            });
        }
        out.sort_by_key(|e| (e.task, e.needs));
        Ok(out)
    }
}
