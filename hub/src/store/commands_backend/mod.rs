//! The store behind the chat commands: `impl commands::Backend for Store`.
//!
//! Every method is one statement or one short transaction. Changes write
//! their audit row in the same transaction (see [`Store::audit_in`]), and the
//! compare-and-set methods start with the `UPDATE ... WHERE id = $n AND
//! status = $m` itself, so two racing callers are decided by the database:
//! the loser sees 0 rows changed and gets `Conflict` (or `NotFound` when the
//! row does not exist), and nothing it tried is written.
//!
//! Starting each writing transaction with its write also matters for SQLite
//! in WAL mode: a transaction that reads first and writes later can fail with
//! "database is locked" when another writer got in between, while one that
//! writes first simply waits its turn (busy_timeout).
//!
//! Split by subject: `people` (people, agents and their statistics,
//! approvers), `tasks`, `decisions` (decisions and button tokens), `reports`
//! (brief and cost), and `seed` (writing people, agents, projects and
//! approvers from config).

mod decisions;
mod people;
mod reports;
mod seed;
mod tasks;

pub use seed::{AgentSeed, PersonSeed};

use super::{AuditRow, Store};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use commands::{
    Agent, AgentStats, Assignment, AuditEntry, Backend, BackendError, ButtonAction, CostBy,
    CostLine, Decision, NewDecision, NewTask, Person, Resolution, RichMessage, StatusChange, Task,
    TaskFilter,
};
use routing::ChannelKind;
use sqlx::error::ErrorKind;
use sqlx::{Any, Transaction};

#[async_trait]
impl Backend for Store {
    async fn person_by_platform(
        &self,
        platform: ChannelKind,
        user_id: &str,
    ) -> Result<Option<Person>, BackendError> {
        self.person_by_platform_row(platform, user_id).await
    }

    async fn person(&self, id: &str) -> Result<Option<Person>, BackendError> {
        self.person_row(id).await
    }

    async fn agent(&self, id: &str) -> Result<Option<Agent>, BackendError> {
        self.agent_row(id).await
    }

    async fn agents_with_stats(&self) -> Result<Vec<(Agent, AgentStats)>, BackendError> {
        self.agent_rows_with_stats().await
    }

    async fn approvers(&self, kind: &str) -> Result<Vec<String>, BackendError> {
        self.approver_rows(kind).await
    }

    async fn task(&self, id: i64) -> Result<Option<Task>, BackendError> {
        self.task_row(id).await
    }

    async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>, BackendError> {
        self.task_rows(filter).await
    }

    async fn create_task(&self, task: &NewTask, audit: &AuditEntry) -> Result<Task, BackendError> {
        self.insert_task(task, audit).await
    }

    async fn assign_task(
        &self,
        change: &Assignment,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError> {
        self.cas_assign_task(change, audit).await
    }

    async fn update_task_status(
        &self,
        change: &StatusChange,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError> {
        self.cas_task_status(change, audit).await
    }

    async fn dependencies(&self, task_id: i64) -> Result<Vec<Task>, BackendError> {
        self.dependency_rows(task_id).await
    }

    async fn dependents(&self, task_id: i64) -> Result<Vec<Task>, BackendError> {
        self.dependent_rows(task_id).await
    }

    async fn dependency_edges(&self) -> Result<Vec<(i64, i64)>, BackendError> {
        self.edge_rows().await
    }

    async fn add_dependency(
        &self,
        task_id: i64,
        needs: i64,
        audit: &AuditEntry,
    ) -> Result<(), BackendError> {
        self.insert_dependency(task_id, needs, audit).await
    }

    async fn decision(&self, id: i64) -> Result<Option<Decision>, BackendError> {
        self.decision_row(id).await
    }

    async fn pending_decisions(&self) -> Result<Vec<Decision>, BackendError> {
        self.pending_decision_rows().await
    }

    async fn create_decision(
        &self,
        new: &NewDecision,
        audit: &AuditEntry,
    ) -> Result<Decision, BackendError> {
        self.insert_decision(new, audit).await
    }

    async fn resolve_decision(
        &self,
        id: i64,
        resolution: &Resolution,
        audit: &AuditEntry,
    ) -> Result<Decision, BackendError> {
        self.cas_resolve_decision(id, resolution, audit).await
    }

    async fn mint_button_token(&self, action: &ButtonAction) -> Result<String, BackendError> {
        self.insert_button_token(action).await
    }

    async fn button_action(&self, token: &str) -> Result<Option<ButtonAction>, BackendError> {
        self.button_token_row(token).await
    }

    async fn brief(&self, person: &Person) -> Result<RichMessage, BackendError> {
        // The real brief, as the schedule sends it (summary and buttons too).
        let service = self.brief_service();
        match service.compose(self, &person.id, None, Utc::now()).await {
            Ok((_, message)) => Ok(message),
            Err(crate::brief::BriefFailure::Buttons(e)) => Err(e),
            Err(e) => Err(BackendError::Unavailable(e.to_string())),
        }
    }

    async fn cost_summary(
        &self,
        since: DateTime<Utc>,
        by: CostBy,
    ) -> Result<Vec<CostLine>, BackendError> {
        self.cost_lines(since, by).await
    }
}

// ----- shared helpers ----------------------------------------------------------

/// Map a sqlx error to what the commands understand, saying what we were
/// doing. Constraint violations are the data's fault (`Invalid`); anything
/// else (connection, pool, timeout, I/O) is worth retrying (`Unavailable`).
fn db(doing: &'static str) -> impl Fn(sqlx::Error) -> BackendError {
    move |e| {
        if let sqlx::Error::Database(d) = &e
            && matches!(
                d.kind(),
                ErrorKind::UniqueViolation
                    | ErrorKind::ForeignKeyViolation
                    | ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation
            )
        {
            return BackendError::Invalid(format!("{doing}: {}", d.message()));
        }
        BackendError::Unavailable(format!("{doing}: {e}"))
    }
}

/// True when `e` is a foreign-key violation (a referenced row is missing).
fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == ErrorKind::ForeignKeyViolation)
}

/// A stored value this version can't read. Reported as `Unavailable` (an
/// operator has to look), never as a panic.
fn corrupt(what: String) -> BackendError {
    BackendError::Unavailable(format!("stored value is invalid: {what}"))
}

impl Store {
    async fn begin_tx(&self) -> Result<Transaction<'static, Any>, BackendError> {
        self.pool
            .begin()
            .await
            .map_err(db("starting a transaction"))
    }
}

async fn commit(tx: Transaction<'static, Any>) -> Result<(), BackendError> {
    tx.commit().await.map_err(db("committing"))
}

/// Write the command's audit entry inside `tx`; `resource` overrides the
/// entry's own (for inserts, whose id is only known now).
async fn write_audit(
    tx: &mut Transaction<'static, Any>,
    audit: &AuditEntry,
    resource: Option<&str>,
) -> Result<(), BackendError> {
    let row = AuditRow {
        actor: &audit.actor,
        action: &audit.action,
        resource: resource.unwrap_or(&audit.resource),
        details: audit.details.clone(),
        source: &audit.source,
    };
    Store::audit_in(tx, &row)
        .await
        .map_err(|e| BackendError::Unavailable(format!("writing the audit row: {e}")))
}

/// A JSON array of strings stored as text (`capabilities`, `options`).
fn string_list(raw: &str, what: &str) -> Result<Vec<String>, BackendError> {
    serde_json::from_str(raw).map_err(|e| corrupt(format!("{what} {raw:?}: {e}")))
}

fn string_list_json(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}
