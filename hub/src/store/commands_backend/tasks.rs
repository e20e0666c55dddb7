//! Tasks and their dependencies.
//!
//! Storage forms: the assignee is two columns (`assignee_kind` `person` or
//! `agent`, `assignee_id`); `capabilities` is a JSON array as text; the due
//! date is `due_at`, the start (00:00 UTC) of that day in epoch ms, so it
//! reads back as the same date and "overdue" means the day has passed.

use super::{
    commit, corrupt, db, is_foreign_key_violation, string_list, string_list_json, write_audit,
};
use crate::store::{Store, from_ms, now_ms};
use chrono::{NaiveDate, NaiveTime};
use commands::{
    Assignee, Assignment, AuditEntry, BackendError, NewTask, StatusChange, Task, TaskFilter,
    TaskStatus,
};
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

/// The columns [`task_from_row`] reads, in every task query.
macro_rules! task_columns {
    () => {
        "id, title, status, blocked_from, priority, project_id, assignee_kind, assignee_id, \
         due_at, capabilities, created_by, created_at, updated_at"
    };
}

/// The same columns for queries built elsewhere (the console's board).
pub(super) const TASK_COLUMNS: &str = task_columns!();

/// Stored form of a due date: the start of that day, UTC, in epoch ms.
pub(super) fn due_to_ms(d: NaiveDate) -> i64 {
    d.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

pub(super) fn assignee_columns(a: Option<&Assignee>) -> (Option<&'static str>, Option<&str>) {
    match a {
        Some(Assignee::Person(id)) => (Some("person"), Some(id.as_str())),
        Some(Assignee::Agent(id)) => (Some("agent"), Some(id.as_str())),
        None => (None, None),
    }
}

fn task_from_row(row: &AnyRow) -> Result<Task, BackendError> {
    let read = db("reading a task");
    let id: i64 = row.try_get("id").map_err(&read)?;
    let status: String = row.try_get("status").map_err(&read)?;
    let status: TaskStatus = status
        .parse()
        .map_err(|e| corrupt(format!("status of task {id}: {e}")))?;
    let blocked_from: Option<String> = row.try_get("blocked_from").map_err(&read)?;
    let blocked_from = blocked_from
        .map(|s| s.parse::<TaskStatus>())
        .transpose()
        .map_err(|e| corrupt(format!("blocked_from of task {id}: {e}")))?;
    let priority: String = row.try_get("priority").map_err(&read)?;
    let priority = priority
        .parse()
        .map_err(|e| corrupt(format!("priority of task {id}: {e}")))?;
    let kind: Option<String> = row.try_get("assignee_kind").map_err(&read)?;
    let who: Option<String> = row.try_get("assignee_id").map_err(&read)?;
    let assignee = match (kind.as_deref(), who) {
        (Some("person"), Some(w)) => Some(Assignee::Person(w)),
        (Some("agent"), Some(w)) => Some(Assignee::Agent(w)),
        (None, _) => None,
        (k, w) => return Err(corrupt(format!("assignee of task {id}: {k:?} {w:?}"))),
    };
    let due_at: Option<i64> = row.try_get("due_at").map_err(&read)?;
    let caps: String = row.try_get("capabilities").map_err(&read)?;
    Ok(Task {
        id,
        title: row.try_get("title").map_err(&read)?,
        status,
        blocked_from,
        priority,
        project: row.try_get("project_id").map_err(&read)?,
        assignee,
        due: due_at.map(|ms| from_ms(ms).date_naive()),
        capabilities: string_list(&caps, &format!("capabilities of task {id}"))?,
        created_by: row.try_get("created_by").map_err(&read)?,
        created_at: from_ms(row.try_get("created_at").map_err(&read)?),
        updated_at: from_ms(row.try_get("updated_at").map_err(&read)?),
    })
}

/// A task event for webhooks: the task as the API shows it, and for a
/// change the status it left.
fn task_event(
    event_type: &str,
    task: &Task,
    from: Option<TaskStatus>,
    at: i64,
) -> crate::store::WebhookEvent {
    let mut data = serde_json::json!({ "task": task });
    if let Some(from) = from {
        data["from"] = serde_json::Value::from(from.as_str());
    }
    crate::store::WebhookEvent::new(event_type, data, at)
}

fn webhook_error(e: crate::store::StoreError) -> BackendError {
    BackendError::Unavailable(format!("queuing the webhook events: {e}"))
}

pub(super) fn tasks_from_rows(rows: &[AnyRow]) -> Result<Vec<Task>, BackendError> {
    rows.iter().map(task_from_row).collect()
}

/// After a compare-and-set changed nothing: why? (Inside the same
/// transaction, which the caller then drops, so nothing is written.)
async fn why_not_applied(
    tx: &mut Transaction<'static, Any>,
    id: i64,
    expected: TaskStatus,
) -> BackendError {
    let found: Result<Option<(String,)>, _> =
        sqlx::query_as("SELECT status FROM tasks WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await;
    match found {
        Ok(None) => BackendError::NotFound(format!("task {id}")),
        Ok(Some((status,))) => {
            BackendError::Conflict(format!("task {id} is {status}, not {expected}"))
        }
        Err(e) => db("reading a task")(e),
    }
}

impl Store {
    pub async fn task(&self, id: i64) -> Result<Option<Task>, BackendError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a task"))?;
        row.as_ref().map(task_from_row).transpose()
    }

    pub async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>, BackendError> {
        // Built from constant fragments only; every value is bound.
        let mut sql = String::from(concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE 1 = 1"
        ));
        let mut args: Vec<String> = Vec::new();
        let mut condition = |sql: &mut String, column: &str, value: String| {
            args.push(value);
            sql.push_str(&format!(" AND {column} = ${}", args.len()));
        };
        let (kind, who) = assignee_columns(filter.assignee.as_ref());
        if let (Some(kind), Some(who)) = (kind, who) {
            condition(&mut sql, "assignee_kind", kind.to_string());
            condition(&mut sql, "assignee_id", who.to_string());
        }
        match filter.status {
            Some(s) => condition(&mut sql, "status", s.as_str().to_string()),
            None if !filter.include_completed => sql.push_str(" AND status <> 'completed'"),
            None => {}
        }
        if let Some(p) = &filter.project {
            condition(&mut sql, "project_id", p.clone());
        }
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", args.len() + 1));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for a in args {
            query = query.bind(a);
        }
        let rows = query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing tasks"))?;
        tasks_from_rows(&rows)
    }

    pub async fn create_task(
        &self,
        new: &NewTask,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError> {
        let mut tx = self.begin_tx().await?;
        let task = self.insert_task_in(&mut tx, new, audit).await?;
        commit(tx).await?;
        Ok(task)
    }

    /// Insert a task with its audit row and webhook events inside `tx`
    /// (also for GitHub's issues, whose delivery is recorded in the same
    /// transaction).
    pub(crate) async fn insert_task_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        new: &NewTask,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError> {
        let now = now_ms();
        let (kind, who) = assignee_columns(new.assignee.as_ref());
        let row = sqlx::query(concat!(
            "INSERT INTO tasks (title, status, priority, project_id, assignee_kind, assignee_id, \
             due_at, capabilities, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING ",
            task_columns!()
        ))
        .bind(&new.title)
        .bind(new.status.as_str())
        .bind(new.priority.as_str())
        .bind(new.project.as_deref())
        .bind(kind)
        .bind(who)
        .bind(new.due.map(due_to_ms))
        .bind(string_list_json(&new.capabilities))
        .bind(&new.created_by)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| match &new.project {
            // The only reference a new task has is its project.
            Some(p) if is_foreign_key_violation(&e) => {
                BackendError::Invalid(format!("there is no project `{p}`"))
            }
            _ => db("creating a task")(e),
        })?;
        let task = task_from_row(&row)?;
        write_audit(tx, audit, Some(&format!("task:{}", task.id))).await?;
        let mut events = vec![task_event("task.created", &task, None, now)];
        if task.assignee.is_some() {
            events.push(task_event("task.assigned", &task, None, now));
        }
        self.queue_webhook_events_in(tx, &events)
            .await
            .map_err(webhook_error)?;
        Ok(task)
    }

    pub async fn assign_task(
        &self,
        c: &Assignment,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError> {
        let mut tx = self.begin_tx().await?;
        let (kind, who) = assignee_columns(Some(&c.assignee));
        let row = sqlx::query(concat!(
            "UPDATE tasks SET assignee_kind = $1, assignee_id = $2, status = $3, updated_at = $4 \
             WHERE id = $5 AND status = $6 RETURNING ",
            task_columns!()
        ))
        .bind(kind)
        .bind(who)
        .bind(c.to.as_str())
        .bind(now_ms())
        .bind(c.task_id)
        .bind(c.from.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("assigning a task"))?;
        let Some(row) = row else {
            return Err(why_not_applied(&mut tx, c.task_id, c.from).await);
        };
        let task = task_from_row(&row)?;
        write_audit(&mut tx, audit, None).await?;
        let event = task_event("task.assigned", &task, Some(c.from), now_ms());
        self.queue_webhook_events_in(&mut tx, &[event])
            .await
            .map_err(webhook_error)?;
        commit(tx).await?;
        Ok(task)
    }

    pub async fn update_task_status(
        &self,
        c: &StatusChange,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError> {
        let mut tx = self.begin_tx().await?;
        let now = now_ms();
        let completed_at = (c.to == TaskStatus::Completed).then_some(now);
        let row = sqlx::query(concat!(
            "UPDATE tasks SET status = $1, blocked_from = $2, updated_at = $3, \
             completed_at = COALESCE($4, completed_at) \
             WHERE id = $5 AND status = $6 RETURNING ",
            task_columns!()
        ))
        .bind(c.to.as_str())
        .bind(c.blocked_from.map(TaskStatus::as_str))
        .bind(now)
        .bind(completed_at)
        .bind(c.task_id)
        .bind(c.from.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("moving a task"))?;
        let Some(row) = row else {
            return Err(why_not_applied(&mut tx, c.task_id, c.from).await);
        };
        let task = task_from_row(&row)?;
        // An agent's task that had to stop counts against its record
        // (automatic assignment's performance score); once per task.
        if let (TaskStatus::Blocked, Some(Assignee::Agent(agent))) = (c.to, &task.assignee) {
            sqlx::query(
                "INSERT INTO agent_task_failures (agent_id, task_id, reason, at) \
                 VALUES ($1, $2, 'blocked', $3) ON CONFLICT (agent_id, task_id) DO NOTHING",
            )
            .bind(agent)
            .bind(task.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("recording an agent's blocked task"))?;
        }
        write_audit(&mut tx, audit, None).await?;
        let mut events = vec![task_event("task.moved", &task, Some(c.from), now)];
        if c.to == TaskStatus::Completed {
            events.push(task_event("task.completed", &task, Some(c.from), now));
        }
        self.queue_webhook_events_in(&mut tx, &events)
            .await
            .map_err(webhook_error)?;
        commit(tx).await?;
        Ok(task)
    }

    /// Complete the task `id` from whatever status it is in, inside `tx`
    /// (a closed GitHub issue). `None`: it was completed already.
    pub(crate) async fn complete_task_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
        audit: &AuditEntry,
    ) -> Result<Option<Task>, BackendError> {
        let now = now_ms();
        let before: Option<(String,)> = sqlx::query_as(
            "UPDATE tasks SET updated_at = updated_at WHERE id = $1 RETURNING status",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db("reading a task"))?;
        let Some((from,)) = before else {
            return Err(BackendError::NotFound(format!("task {id}")));
        };
        let from: TaskStatus = from
            .parse()
            .map_err(|e| corrupt(format!("status of task {id}: {e}")))?;
        if from == TaskStatus::Completed {
            return Ok(None);
        }
        let row = sqlx::query(concat!(
            "UPDATE tasks SET status = 'completed', blocked_from = NULL, updated_at = $1, completed_at = $1 \
             WHERE id = $2 RETURNING ",
            task_columns!()
        ))
        .bind(now)
        .bind(id)
        .fetch_one(&mut **tx)
        .await
        .map_err(db("completing a task"))?;
        let task = task_from_row(&row)?;
        write_audit(tx, audit, None).await?;
        let events = [
            task_event("task.moved", &task, Some(from), now),
            task_event("task.completed", &task, Some(from), now),
        ];
        self.queue_webhook_events_in(tx, &events)
            .await
            .map_err(webhook_error)?;
        Ok(Some(task))
    }

    pub async fn dependencies(&self, task_id: i64) -> Result<Vec<Task>, BackendError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE id IN \
             (SELECT depends_on FROM task_dependencies WHERE task_id = $1) ORDER BY id"
        ))
        .bind(task_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a task's dependencies"))?;
        tasks_from_rows(&rows)
    }

    pub async fn dependents(&self, task_id: i64) -> Result<Vec<Task>, BackendError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE id IN \
             (SELECT task_id FROM task_dependencies WHERE depends_on = $1) ORDER BY id"
        ))
        .bind(task_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a task's dependents"))?;
        tasks_from_rows(&rows)
    }

    pub async fn dependency_edges(&self) -> Result<Vec<(i64, i64)>, BackendError> {
        sqlx::query_as(
            "SELECT task_id, depends_on FROM task_dependencies ORDER BY task_id, depends_on",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading task dependencies"))
    }

    pub async fn add_dependency(
        &self,
        task_id: i64,
        needs: i64,
        audit: &AuditEntry,
    ) -> Result<(), BackendError> {
        let mut tx = self.begin_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO task_dependencies (task_id, depends_on, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (task_id, depends_on) DO NOTHING",
        )
        .bind(task_id)
        .bind(needs)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                BackendError::NotFound(format!("task {task_id} or task {needs}"))
            } else {
                db("adding a dependency")(e)
            }
        })?
        .rows_affected();
        if inserted == 0 {
            return Err(BackendError::Conflict(format!(
                "task {task_id} already needs task {needs}"
            )));
        }
        write_audit(&mut tx, audit, None).await?;
        commit(tx).await
    }

    pub async fn remove_dependency(
        &self,
        task_id: i64,
        needs: i64,
        audit: &AuditEntry,
    ) -> Result<(), BackendError> {
        let mut tx = self.begin_tx().await?;
        let deleted =
            sqlx::query("DELETE FROM task_dependencies WHERE task_id = $1 AND depends_on = $2")
                .bind(task_id)
                .bind(needs)
                .execute(&mut *tx)
                .await
                .map_err(db("removing a dependency"))?
                .rows_affected();
        if deleted == 0 {
            return Err(BackendError::NotFound(format!(
                "task {task_id} does not need task {needs}"
            )));
        }
        write_audit(&mut tx, audit, None).await?;
        commit(tx).await
    }
}
