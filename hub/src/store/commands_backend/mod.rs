//! The store's half of the chat commands' backend: people, tasks,
//! decisions, reports (the hub's `backend::HubBackend` implements
//! `commands::Backend` over these).
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

mod board;
mod decisions;
mod people;
mod questions;
mod reports;
mod seed;
mod tasks;

pub use board::{BoardEdge, BoardFilter};
pub use questions::{NewQuestion, QuestionCallback, QuestionEdit, QuestionRows};
pub use seed::{AgentSeed, PersonSeed};

use super::{AuditRow, Store};
use commands::{AuditEntry, BackendError};
use sqlx::error::ErrorKind;
use sqlx::{Any, Transaction};

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
