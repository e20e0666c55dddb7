//! The audit log: every change to tasks, decisions, people, agents, keys and
//! settings writes a row, in the same transaction as the change.

use super::{Store, StoreError, now_ms};
use sqlx::{Any, Transaction};

/// One audit row to write.
#[derive(Debug, Clone)]
pub struct AuditRow<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub details: serde_json::Value,
    pub source: &'a str,
}

impl Store {
    /// Write an audit row inside an open transaction.
    pub async fn audit_in(
        tx: &mut Transaction<'_, Any>,
        row: &AuditRow<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, resource, details, source) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now_ms())
        .bind(row.actor)
        .bind(row.action)
        .bind(row.resource)
        .bind(row.details.to_string())
        .bind(row.source)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Write a stand-alone audit row (for events that change nothing else,
    /// like a refused command from an unknown user).
    pub async fn audit(&self, row: &AuditRow<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::audit_in(&mut tx, row).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest audit rows for a resource, newest first (for tests and the API).
    pub async fn audit_for(
        &self,
        resource: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT actor, action, source FROM audit_log WHERE resource = $1 ORDER BY id DESC",
        )
        .bind(resource)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
