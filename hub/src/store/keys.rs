//! API keys: only a SHA-256 hash of each key is stored. Keys are long random
//! strings, so a fast hash is enough (no password-stretching needed) and
//! lets every request be checked without slowing ingest.

use super::{AuditRow, Store, StoreError, now_ms};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub agent_id: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    pub revoked: bool,
}

impl Store {
    pub async fn agent_exists(&self, agent_id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM agents WHERE id = $1")
            .bind(agent_id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Store a new key's hash, audited.
    pub async fn insert_key(
        &self,
        id: &str,
        agent_id: &str,
        key_hash: &str,
        scopes: &[String],
        expires_at: Option<i64>,
        actor: &str,
    ) -> Result<(), StoreError> {
        if !self.agent_exists(agent_id).await? {
            return Err(StoreError::NotFound {
                what: "agent",
                id: agent_id.to_string(),
            });
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, agent_id, key_hash, scopes, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(agent_id)
        .bind(key_hash)
        .bind(scopes.join(" "))
        .bind(expires_at)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        Self::audit_in(
            &mut tx,
            &AuditRow {
                actor,
                action: "key.create",
                resource: &format!("key:{id}"),
                details: serde_json::json!({"agent": agent_id, "scopes": scopes, "expires_at": expires_at}),
                source: "cli",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn key_by_hash(&self, key_hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, agent_id, scopes, expires_at, revoked_at FROM api_keys WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(KeyRecord {
                id: r.try_get(0)?,
                agent_id: r.try_get(1)?,
                scopes: r
                    .try_get::<String, _>(2)?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
                expires_at: r.try_get(3)?,
                revoked: r.try_get::<Option<i64>, _>(4)?.is_some(),
            }),
            None => None,
        })
    }

    /// Record that a key was used (called at most once a minute per key).
    pub async fn touch_key(&self, id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revoke a key by its ID, audited. Returns whether it existed.
    pub async fn revoke_key(&self, id: &str, actor: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n > 0 {
            Self::audit_in(
                &mut tx,
                &AuditRow {
                    actor,
                    action: "key.revoke",
                    resource: &format!("key:{id}"),
                    details: serde_json::json!({}),
                    source: "cli",
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }
}
