//! Writing accepted notifications with their planned deliveries, in batches:
//! one transaction and a few multi-row INSERTs for many API requests is what
//! makes durable ingest fast on both engines.

use super::{Store, StoreError, placeholders};
use sqlx::any::AnyArguments;
use sqlx::{Any, AssertSqlSafe, Row};

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
// PostgreSQL allows 65,535 bound values per statement.
const PG_MAX_VALUES: usize = 60_000;

type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

const NOTIFICATION_COLUMNS: (&str, usize) = (
    "notifications (id, source, kind, urgency, recipient_kind, recipient_id, project_id, title, body, fields, decision_id, dedupe_key, duplicate, created_at)",
    14,
);
const DELIVERY_COLUMNS: (&str, usize) = (
    "deliveries (id, notification_id, person_id, channel, address, op, target_message_id, status, next_attempt_at, fallbacks, created_at, updated_at, platform_message_id, sent_at)",
    14,
);
const IDEMPOTENCY_COLUMNS: (&str, usize) = (
    "idempotency_keys (agent_id, key, request_hash, status_code, response_body, created_at)",
    6,
);
const FEED_COLUMNS: (&str, usize) = ("feed_events (at, event)", 2);
// A second instance may have raced us to the same key: the first answer stands.
const IDEMPOTENCY_CONFLICT: &str = " ON CONFLICT (agent_id, key) DO NOTHING";

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
        let now = super::now_ms();
        let feed_events = match self.dialect {
            super::Dialect::Postgres => feed_events,
            super::Dialect::Sqlite => &[],
        };
        let values = notifications.len() * NOTIFICATION_COLUMNS.1
            + deliveries.len() * DELIVERY_COLUMNS.1
            + idempotency.len() * IDEMPOTENCY_COLUMNS.1
            + feed_events.len() * FEED_COLUMNS.1;
        if self.dialect == super::Dialect::Postgres && values <= PG_MAX_VALUES {
            return self
                .insert_in_one_statement(notifications, deliveries, idempotency, feed_events, now)
                .await;
        }
        let mut tx = self.pool.begin().await?;
        self.insert_notifications_in(&mut tx, notifications, deliveries)
            .await?;
        for chunk in idempotency.chunks(ROWS_PER_INSERT) {
            let q = self.insert_query(IDEMPOTENCY_COLUMNS, chunk.len(), IDEMPOTENCY_CONFLICT);
            bind_idempotency(q, chunk, now).execute(&mut *tx).await?;
        }
        if !feed_events.is_empty() {
            Self::insert_feed_events(&mut tx, feed_events).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Insert notifications and their deliveries inside `tx` (multi-row
    /// INSERTs); shared by ingest and the scheduled jobs that claim a slot
    /// in the same transaction as the work they queue.
    pub(super) async fn insert_notifications_in(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        notifications: &[NewNotification],
        deliveries: &[NewDelivery],
    ) -> Result<(), StoreError> {
        for chunk in notifications.chunks(ROWS_PER_INSERT) {
            let q = self.insert_query(NOTIFICATION_COLUMNS, chunk.len(), "");
            bind_notifications(q, chunk).execute(&mut **tx).await?;
        }
        for chunk in deliveries.chunks(ROWS_PER_INSERT) {
            let q = self.insert_query(DELIVERY_COLUMNS, chunk.len(), "");
            bind_deliveries(q, chunk).execute(&mut **tx).await?;
        }
        Ok(())
    }

    fn insert_query<'q>(&self, (table, cols): (&str, usize), rows: usize, tail: &str) -> Query<'q> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} VALUES {}{tail}",
            placeholders::rows(self.dialect, cols, rows)
        )))
    }

    /// PostgreSQL: the whole batch as one statement (data-modifying CTEs), so
    /// it commits in one round trip instead of one per insert plus BEGIN and
    /// COMMIT. Foreign keys are checked at the end of the statement, when the
    /// notifications the deliveries refer to are in place.
    async fn insert_in_one_statement(
        &self,
        notifications: &[NewNotification],
        deliveries: &[NewDelivery],
        idempotency: &[IdempotencyRecord],
        feed_events: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        let parts = [
            (NOTIFICATION_COLUMNS, notifications.len(), ""),
            (DELIVERY_COLUMNS, deliveries.len(), ""),
            (IDEMPOTENCY_COLUMNS, idempotency.len(), IDEMPOTENCY_CONFLICT),
            (FEED_COLUMNS, feed_events.len(), ""),
        ];
        let mut ctes = Vec::new();
        let mut next = 1;
        for (i, ((table, cols), rows, tail)) in parts.into_iter().enumerate() {
            if rows == 0 {
                continue;
            }
            ctes.push(format!(
                "i{i} AS (INSERT INTO {table} VALUES {}{tail})",
                placeholders::rows_from(super::Dialect::Postgres, next, cols, rows)
            ));
            next += cols * rows;
        }
        if ctes.is_empty() {
            return Ok(());
        }
        let tail = if feed_events.is_empty() {
            "SELECT 1"
        } else {
            "SELECT pg_notify('orkhub_feed', '')"
        };
        let sql = format!("WITH {} {tail}", ctes.join(", "));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        q = bind_notifications(q, notifications);
        q = bind_deliveries(q, deliveries);
        q = bind_idempotency(q, idempotency, now);
        q = bind_feed(q, feed_events, now);
        q.execute(&self.pool).await?;
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

fn bind_notifications<'q>(mut q: Query<'q>, rows: &'q [NewNotification]) -> Query<'q> {
    for n in rows {
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
    q
}

fn bind_deliveries<'q>(mut q: Query<'q>, rows: &'q [NewDelivery]) -> Query<'q> {
    for d in rows {
        let published = d.status == "sent";
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
            .bind(d.created_at)
            .bind(published.then_some(d.id.as_str()))
            .bind(published.then_some(d.created_at));
    }
    q
}

fn bind_idempotency<'q>(mut q: Query<'q>, rows: &'q [IdempotencyRecord], now: i64) -> Query<'q> {
    for r in rows {
        q = q
            .bind(r.agent_id.as_str())
            .bind(r.key.as_str())
            .bind(r.request_hash.as_str())
            .bind(r.status_code)
            .bind(r.response_body.as_str())
            .bind(now);
    }
    q
}

fn bind_feed<'q>(mut q: Query<'q>, events: &'q [String], at: i64) -> Query<'q> {
    for e in events {
        q = q.bind(at).bind(e.as_str());
    }
    q
}
