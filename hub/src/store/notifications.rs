//! Writing accepted notifications with their planned deliveries, in batches:
//! one transaction and a few multi-row INSERTs for many API requests is what
//! makes durable ingest fast on both engines.

use super::{Store, StoreError, placeholders};
use sqlx::{AssertSqlSafe, Row};

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub id: String,
    pub source: String,
    pub kind: String,
    pub urgency: &'static str,
    /// "person" or "channel".
    pub recipient_kind: &'static str,
    pub recipient_id: String,
    pub project_id: Option<String>,
    pub title: Option<String>,
    pub body: String,
    pub fields_json: String,
    pub decision_id: Option<i64>,
    pub dedupe_key: Option<String>,
    pub duplicate: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub notification_id: String,
    pub person_id: Option<String>,
    pub channel: String,
    pub address: String,
    /// "send" or "edit".
    pub op: &'static str,
    pub target_message_id: Option<String>,
    /// "pending" (due at next_attempt_at) or "held" (waiting for a digest).
    pub status: &'static str,
    pub next_attempt_at: i64,
    /// Remaining channels to fall back to, comma separated.
    pub fallbacks: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub agent_id: String,
    pub key: String,
    pub request_hash: String,
    pub status_code: i64,
    pub response_body: String,
}

/// A stored first answer to an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status_code: u16,
    pub body: String,
}

// SQLite allows 32,766 bound values per statement; stay well under it.
const ROWS_PER_INSERT: usize = 500;

impl Store {
    /// Commit notifications, their deliveries and idempotency records together.
    pub async fn insert_batch(
        &self,
        notifications: &[NewNotification],
        deliveries: &[NewDelivery],
        idempotency: &[IdempotencyRecord],
    ) -> Result<(), StoreError> {
        self.insert_batch_with_feed(notifications, deliveries, idempotency, &[])
            .await
    }

    /// [`Store::insert_batch`], plus live feed events (JSON) published by the
    /// commit itself on a shared database (rows in `feed_events` and one
    /// NOTIFY, which PostgreSQL delivers only if the transaction commits).
    /// A delivery whose status is already "sent" was published at commit:
    /// its feed ID is its own ID.
    pub async fn insert_batch_with_feed(
        &self,
        notifications: &[NewNotification],
        deliveries: &[NewDelivery],
        idempotency: &[IdempotencyRecord],
        feed_events: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in notifications.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO notifications (id, source, kind, urgency, recipient_kind, recipient_id, project_id, title, body, fields, decision_id, dedupe_key, duplicate, created_at) VALUES {}",
                placeholders::rows(self.dialect, 14, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for n in chunk {
                q = q
                    .bind(n.id.as_str())
                    .bind(n.source.as_str())
                    .bind(n.kind.as_str())
                    .bind(n.urgency)
                    .bind(n.recipient_kind)
                    .bind(n.recipient_id.as_str())
                    .bind(n.project_id.as_deref())
                    .bind(n.title.as_deref())
                    .bind(n.body.as_str())
                    .bind(n.fields_json.as_str())
                    .bind(n.decision_id)
                    .bind(n.dedupe_key.as_deref())
                    .bind(n.duplicate as i64)
                    .bind(n.created_at);
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in deliveries.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO deliveries (id, notification_id, person_id, channel, address, op, target_message_id, status, next_attempt_at, fallbacks, created_at, updated_at, platform_message_id, sent_at) VALUES {}",
                placeholders::rows(self.dialect, 14, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for d in chunk {
                q = q
                    .bind(d.id.as_str())
                    .bind(d.notification_id.as_str())
                    .bind(d.person_id.as_deref())
                    .bind(d.channel.as_str())
                    .bind(d.address.as_str())
                    .bind(d.op)
                    .bind(d.target_message_id.as_deref())
                    .bind(d.status)
                    .bind(d.next_attempt_at)
                    .bind(d.fallbacks.as_str())
                    .bind(d.created_at)
                    .bind(d.created_at);
                let published = d.status == "sent";
                q = q
                    .bind(published.then_some(d.id.as_str()))
                    .bind(published.then_some(d.created_at));
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in idempotency.chunks(ROWS_PER_INSERT) {
            let now = super::now_ms();
            // A second instance may have raced us to the same key: the first answer stands.
            let sql = format!(
                "INSERT INTO idempotency_keys (agent_id, key, request_hash, status_code, response_body, created_at) VALUES {} ON CONFLICT (agent_id, key) DO NOTHING",
                placeholders::rows(self.dialect, 6, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.agent_id.as_str())
                    .bind(r.key.as_str())
                    .bind(r.request_hash.as_str())
                    .bind(r.status_code)
                    .bind(r.response_body.as_str())
                    .bind(now);
            }
            q.execute(&mut *tx).await?;
        }
        if !feed_events.is_empty() && self.dialect == super::Dialect::Postgres {
            Self::insert_feed_events(&mut tx, feed_events).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The first answer given to (agent, Idempotency-Key), if any.
    pub async fn stored_response(
        &self,
        agent_id: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let row = sqlx::query(
            "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE agent_id = $1 AND key = $2",
        )
        .bind(agent_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(StoredResponse {
                request_hash: r.try_get(0)?,
                status_code: r.try_get::<i64, _>(1)? as u16,
                body: r.try_get(2)?,
            }),
            None => None,
        })
    }

    /// When a notification with this dedupe key was last accepted (not as a
    /// duplicate) for this recipient.
    pub async fn last_accepted(
        &self,
        recipient_id: &str,
        dedupe_key: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MAX(created_at) FROM notifications WHERE recipient_id = $1 AND dedupe_key = $2 AND duplicate = 0",
        )
        .bind(recipient_id)
        .bind(dedupe_key)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// How many notifications are stored (for tests and the crash check).
    pub async fn notification_count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM notifications")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }
}
