//! API keys: only a SHA-256 hash of each key is stored. Keys are long random
//! strings, so a fast hash is enough (no password-stretching needed) and
//! lets every request be checked without slowing ingest.

use super::{AuditRow, Store, StoreError, now_ms};
use sqlx::Row;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub agent_id: String,
    /// Shared: every request that finds the key cached takes these.
    pub scopes: Arc<[String]>,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    /// The key's agent is disabled (no longer in the config): refused.
    pub agent_disabled: bool,
}

/// A key as `orkhub key list` shows it: everything but the secret (which is
/// never stored) and its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyListing {
    pub id: String,
    pub agent_id: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

fn scopes_of(stored: String) -> Vec<String> {
    stored.split_whitespace().map(str::to_string).collect()
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
            "SELECT k.id, k.agent_id, k.scopes, k.expires_at, k.revoked_at, a.status \
             FROM api_keys k JOIN agents a ON a.id = k.agent_id WHERE k.key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(KeyRecord {
                id: r.try_get(0)?,
                agent_id: r.try_get(1)?,
                scopes: scopes_of(r.try_get(2)?).into(),
                expires_at: r.try_get(3)?,
                revoked: r.try_get::<Option<i64>, _>(4)?.is_some(),
                agent_disabled: r.try_get::<String, _>(5)? == "disabled",
            }),
            None => None,
        })
    }

    /// Every key, newest first (for `orkhub key list`).
    pub async fn list_keys(&self) -> Result<Vec<KeyListing>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, agent_id, scopes, created_at, expires_at, last_used_at, revoked_at \
             FROM api_keys ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(KeyListing {
                    id: r.try_get(0)?,
                    agent_id: r.try_get(1)?,
                    scopes: scopes_of(r.try_get(2)?),
                    created_at: r.try_get(3)?,
                    expires_at: r.try_get(4)?,
                    last_used_at: r.try_get(5)?,
                    revoked_at: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// How many keys were revoked through this store (any clone of it) since
    /// it was opened: the API's key cache drops what it holds when this
    /// changes, so a revocation in this process is effective at once.
    pub fn keys_revoked(&self) -> u64 {
        self.keys_revoked.load(std::sync::atomic::Ordering::Acquire)
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
        if n > 0 {
            self.keys_revoked
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(n > 0)
    }
}
