//! The web console's rows: one-time login links, sessions, each person's
//! inbox read mark, and the inbox itself (what was routed to a person).
//! Secrets (link tokens, session IDs) are stored as their SHA-256 only; the
//! caller hashes (hub/src/console/secret.rs), this module only stores.

use super::{AuditRow, Store, StoreError, now_ms};
use sqlx::Row;

/// Why a login link was not accepted. The page says the same for each
/// (a guesser learns nothing), the log and the tests tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    Unknown,
    Used,
    Expired,
    /// The person is no longer in the config.
    PersonRemoved,
}

/// A signed-in person's session as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub person_id: String,
    pub csrf: String,
    pub expires_at: i64,
}

/// One item of a person's inbox: a notification routed to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: String,
    pub source: String,
    pub kind: String,
    pub urgency: String,
    pub title: Option<String>,
    pub body: String,
    pub created_at: i64,
    pub decision_id: Option<i64>,
}

impl Store {
    /// Store a new login link for `person_id` (its token's hash), valid
    /// until `expires_at`. Links of the person that are used or expired are
    /// deleted on the way, so the table stays small.
    pub async fn insert_login_link(
        &self,
        token_hash: &str,
        person_id: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // Write first: on SQLite (WAL) a transaction that read before its
        // first write fails at once when another write committed meanwhile.
        sqlx::query("DELETE FROM console_login_links WHERE expires_at < $1 OR used_at IS NOT NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let known = sqlx::query("SELECT 1 FROM people WHERE id = $1 AND removed_at IS NULL")
            .bind(person_id)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound {
                what: "person",
                id: person_id.to_string(),
            });
        }
        sqlx::query(
            "INSERT INTO console_login_links (token_hash, person_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(person_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        Store::audit_in(
            &mut tx,
            &AuditRow {
                actor: person_id,
                action: "console.login_link",
                resource: &format!("person:{person_id}"),
                details: serde_json::json!({ "expires_at": expires_at }),
                source: "web",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Use a login link once and open a session for its person, in one
    /// transaction: the `UPDATE … WHERE used_at IS NULL` is what makes a
    /// link single-use when two browsers race with it.
    pub async fn redeem_login_link(
        &self,
        token_hash: &str,
        session_hash: &str,
        csrf: &str,
        session_expires_at: i64,
    ) -> Result<Result<String, LinkRefusal>, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // The write first (see insert_login_link); it is also what makes a
        // link single-use when two browsers race with it.
        let taken = sqlx::query(
            "UPDATE console_login_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
             AND expires_at > $2 AND person_id IN (SELECT id FROM people WHERE removed_at IS NULL) \
             RETURNING person_id",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let person: String = match taken {
            Some(row) => row.try_get(0)?,
            None => {
                // Why not, for the log (the page says the same for each).
                let row = sqlx::query(
                    "SELECT l.expires_at, l.used_at, p.removed_at FROM console_login_links l \
                     JOIN people p ON p.id = l.person_id WHERE l.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    return Ok(Err(LinkRefusal::Unknown));
                };
                let expires_at: i64 = row.try_get(0)?;
                let used_at: Option<i64> = row.try_get(1)?;
                return Ok(Err(if used_at.is_some() {
                    LinkRefusal::Used
                } else if expires_at <= now {
                    LinkRefusal::Expired
                } else {
                    LinkRefusal::PersonRemoved
                }));
            }
        };
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, person_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session_hash)
        .bind(&person)
        .bind(csrf)
        .bind(now)
        .bind(session_expires_at)
        .execute(&mut *tx)
        .await?;
        Store::audit_in(
            &mut tx,
            &AuditRow {
                actor: &person,
                action: "console.login",
                resource: &format!("person:{person}"),
                details: serde_json::json!({}),
                source: "web",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(person))
    }

    /// The live session behind a session ID's hash: not expired, and its
    /// person still in the config.
    pub async fn console_session(
        &self,
        id_hash: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let row = sqlx::query(
            "SELECT s.person_id, s.csrf, s.expires_at FROM console_sessions s \
             JOIN people p ON p.id = s.person_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND p.removed_at IS NULL",
        )
        .bind(id_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ConsoleSession {
                person_id: r.try_get(0)?,
                csrf: r.try_get(1)?,
                expires_at: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Logout: the session is gone. True if there was one.
    pub async fn revoke_console_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(&self.pool)
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// At start, after the config is written: sessions and unused links of
    /// people no longer in the config, and expired ones, are deleted.
    /// Returns how many sessions went.
    pub async fn prune_console_access(&self) -> Result<u64, StoreError> {
        let now = now_ms();
        let sessions = sqlx::query(
            "DELETE FROM console_sessions WHERE expires_at <= $1 \
             OR person_id IN (SELECT id FROM people WHERE removed_at IS NOT NULL)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        sqlx::query(
            "DELETE FROM console_login_links WHERE expires_at <= $1 OR used_at IS NOT NULL \
             OR person_id IN (SELECT id FROM people WHERE removed_at IS NOT NULL)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(sessions)
    }

    /// The newest notifications routed to `person_id` (any channel, `fyi`
    /// included), newest first, at most `limit`.
    pub async fn inbox(&self, person_id: &str, limit: i64) -> Result<Vec<InboxItem>, StoreError> {
        let rows = sqlx::query(
            // The newest IDs first, from deliveries(person_id,
            // notification_id) alone (migration 0026), then their rows: a
            // person with 100,000 notifications reads `limit` of them.
            "SELECT n.id, n.source, n.kind, n.urgency, n.title, n.body, n.created_at, n.decision_id \
             FROM (SELECT DISTINCT d.notification_id AS id FROM deliveries d WHERE d.person_id = $1 \
                   ORDER BY d.notification_id DESC LIMIT $2) mine \
             JOIN notifications n ON n.id = mine.id ORDER BY n.id DESC",
        )
        .bind(person_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InboxItem {
                    id: r.try_get(0)?,
                    source: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    urgency: r.try_get(3)?,
                    title: r.try_get(4)?,
                    body: r.try_get(5)?,
                    created_at: r.try_get(6)?,
                    decision_id: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Whether `person_id` had this notification routed to them.
    pub async fn routed_to(
        &self,
        notification_id: &str,
        person_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 FROM deliveries WHERE notification_id = $1 AND person_id = $2 LIMIT 1",
        )
        .bind(notification_id)
        .bind(person_id)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// When `person_id` last marked their inbox read (0: never).
    pub async fn inbox_read_at(&self, person_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT read_at FROM console_reads WHERE person_id = $1")
            .bind(person_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    /// Mark everything routed to `person_id` up to `at` as read.
    pub async fn mark_inbox_read(&self, person_id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO console_reads (person_id, read_at) VALUES ($1, $2) \
             ON CONFLICT (person_id) DO UPDATE SET read_at = excluded.read_at",
        )
        .bind(person_id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An admin's retry of a dead delivery: due again now with a fresh
    /// count of attempts, audited. False if it is not dead (nothing changed).
    pub async fn retry_dead_delivery(
        &self,
        delivery_id: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2, \
             lease_until = NULL, updated_at = $2 WHERE id = $1 AND status = 'dead'",
        )
        .bind(delivery_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        Store::audit_in(
            &mut tx,
            &AuditRow {
                actor,
                action: "delivery.retry",
                resource: &format!("delivery:{delivery_id}"),
                details: serde_json::json!({}),
                source: "web",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// How many items of the person's inbox are unread (counted up to 100:
    /// the badge shows "100" for more).
    pub async fn inbox_unread_count(&self, person_id: &str) -> Result<i64, StoreError> {
        let read_at = self.inbox_read_at(person_id).await?;
        // Notification IDs start with their creation's millisecond
        // (hub/src/ids.rs): only IDs from a minute before the read mark on
        // can be unread (the minute covers clocks of other instances), so
        // the index range starts there instead of at the person's first.
        let row = sqlx::query(
            "SELECT COUNT(*) FROM (SELECT DISTINCT d.notification_id FROM deliveries d \
             JOIN notifications n ON n.id = d.notification_id \
             WHERE d.person_id = $1 AND d.notification_id >= $3 AND n.created_at > $2 \
             LIMIT 100) unread",
        )
        .bind(person_id)
        .bind(read_at)
        .bind(crate::ids::first_id_at("n", read_at - 60_000))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Each agent's last heartbeat (epoch ms), for the Agents page.
    pub async fn agent_heartbeats(
        &self,
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, last_heartbeat_at FROM agents WHERE last_heartbeat_at IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}
