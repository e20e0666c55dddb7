//! Writing accepted notifications with their planned deliveries, in batches:
//! one transaction (one statement on PostgreSQL) for many API requests is
//! what makes durable ingest fast on both engines. Through the pool each
//! table's rows go in as one JSON parameter (see `json_rows.rs`), so the
//! statements never change and stay prepared; the ingest writer's own
//! connection binds them more directly (sqlite_ingest.rs,
//! postgres_ingest.rs).

use super::json_rows::{Col, Table};
use super::writer_connection::WriterConnection;
use super::{Dialect, Store, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Row};
use std::sync::LazyLock;

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
    pub op: super::DeliveryOp,
    pub target_message_id: Option<String>,
    /// Pending (due at next_attempt_at) or held (waiting for a digest);
    /// the live feed's are sent at commit.
    pub status: super::DeliveryState,
    pub next_attempt_at: i64,
    /// Remaining channels to fall back to, comma separated.
    pub fallbacks: String,
    pub created_at: i64,
}

impl NewDelivery {
    /// Its platform message ID as stored: a delivery already "sent" (the
    /// live feed's) was published at commit, and its feed ID is its own
    /// ID. Every writer stores it so (notifications.rs, sqlite_ingest.rs,
    /// postgres_ingest.rs).
    pub(super) fn published_id(&self) -> Option<&str> {
        (self.status == super::DeliveryState::Sent).then_some(self.id.as_str())
    }

    /// When it was sent, as stored: at its making, if published at commit.
    pub(super) fn sent_at(&self) -> Option<i64> {
        (self.status == super::DeliveryState::Sent).then_some(self.created_at)
    }
}

#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub agent_id: String,
    pub key: String,
    pub request_hash: String,
    pub status_code: i64,
    pub response_body: String,
}

/// What one ingest batch writes (taken by [`Store::insert_ingest_batch_on`]).
#[derive(Debug, Clone, Default)]
pub struct BatchRows {
    pub notifications: Vec<NewNotification>,
    pub deliveries: Vec<NewDelivery>,
    pub idempotency: Vec<IdempotencyRecord>,
}

/// A stored first answer to an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status_code: u16,
    pub body: String,
}

pub(super) const NOTIFICATIONS: Table = Table {
    name: "notifications",
    columns: &[
        ("id", Col::Text),
        ("source", Col::Text),
        ("kind", Col::Text),
        ("urgency", Col::Text),
        ("recipient_kind", Col::Text),
        ("recipient_id", Col::Text),
        ("project_id", Col::Text),
        ("title", Col::Text),
        ("body", Col::Text),
        ("fields", Col::Text),
        ("decision_id", Col::Int),
        ("dedupe_key", Col::Text),
        ("duplicate", Col::Int),
        ("created_at", Col::Int),
    ],
};
pub(super) const DELIVERIES: Table = Table {
    name: "deliveries",
    columns: &[
        ("id", Col::Text),
        ("notification_id", Col::Text),
        ("person_id", Col::Text),
        ("channel", Col::Text),
        ("address", Col::Text),
        ("op", Col::Text),
        ("target_message_id", Col::Text),
        ("status", Col::Text),
        ("next_attempt_at", Col::Int),
        ("fallbacks", Col::Text),
        ("created_at", Col::Int),
        ("updated_at", Col::Int),
        ("platform_message_id", Col::Text),
        ("sent_at", Col::Int),
    ],
};
pub(super) const IDEMPOTENCY: Table = Table {
    name: "idempotency_keys",
    columns: &[
        ("agent_id", Col::Text),
        ("key", Col::Text),
        ("request_hash", Col::Text),
        ("status_code", Col::Int),
        ("response_body", Col::Text),
        ("created_at", Col::Int),
    ],
};
// A second instance may have raced us to the same key: the first answer stands.
pub(super) const IDEMPOTENCY_CONFLICT: &str = " ON CONFLICT (agent_id, key) DO NOTHING";

/// SQLite: each table's insert on its own, inside a caller's transaction
/// (scheduled jobs).
static SQLITE: LazyLock<[String; 2]> = LazyLock::new(|| {
    [
        NOTIFICATIONS.insert(Dialect::Sqlite, 1, ""),
        DELIVERIES.insert(Dialect::Sqlite, 1, ""),
    ]
});

/// SQLite: the whole batch, BEGIN to COMMIT, as one SQL text run by one
/// call to the connection. sqlx runs each SQLite connection on a thread of
/// its own, and every call is a round trip to that thread (two cross-thread
/// wake-ups): a transaction of BEGIN, three inserts and COMMIT made five of
/// them and the kernel's wake-ups were a sixth of the ingest CPU. An empty
/// table's rows (`[]`) insert nothing. With `events`, each new notification
/// is also a `notification.created` webhook event, built from the rows of
/// `?1`. A batch that stops part-way leaves its transaction open: the caller
/// then closes the connection (which rolls it back) instead of reusing it.
fn sqlite_batch(events: bool) -> String {
    let events = if events {
        format!(
            "{}; ",
            super::webhooks::notification_fan_out_sql(Dialect::Sqlite, 1)
        )
    } else {
        String::new()
    };
    format!(
        "BEGIN IMMEDIATE; {}; {}; {}; {events}COMMIT",
        NOTIFICATIONS.insert(Dialect::Sqlite, 1, ""),
        DELIVERIES.insert(Dialect::Sqlite, 2, ""),
        IDEMPOTENCY.insert(Dialect::Sqlite, 3, IDEMPOTENCY_CONFLICT),
    )
}

static SQLITE_BATCH: LazyLock<String> = LazyLock::new(|| sqlite_batch(false));
static SQLITE_BATCH_WITH_EVENTS: LazyLock<String> = LazyLock::new(|| sqlite_batch(true));

/// PostgreSQL: the whole batch as one statement (data-modifying CTEs), so it
/// commits in one round trip instead of one per insert plus BEGIN and
/// COMMIT. Foreign keys are checked at the end of the statement, when the
/// notifications the deliveries refer to are in place. Feed events are
/// written with this instance's origin and announced (one NOTIFY, the origin
/// as payload) only when there are some; PostgreSQL delivers the NOTIFY only
/// if the statement commits. With `events`, each new notification is also a
/// `notification.created` webhook event, built and fanned out by the
/// database from the rows of `$1` (nothing, and no lock, when no webhook is
/// active).
fn postgres_batch(events: bool) -> String {
    let w = if events {
        format!(
            ", w AS ({})",
            super::webhooks::notification_fan_out_sql(Dialect::Postgres, 1)
        )
    } else {
        String::new()
    };
    format!(
        "WITH n AS ({}), d AS ({}), k AS ({}), \
         f AS (INSERT INTO feed_events (at, event, origin) SELECT $5, e #>> '{{}}', $6 FROM jsonb_array_elements($4::jsonb) AS e){w} \
         SELECT pg_notify('orkhub_feed', $6) WHERE jsonb_array_length($4::jsonb) > 0",
        NOTIFICATIONS.insert(Dialect::Postgres, 1, ""),
        DELIVERIES.insert(Dialect::Postgres, 2, ""),
        IDEMPOTENCY.insert(Dialect::Postgres, 3, IDEMPOTENCY_CONFLICT),
    )
}

static POSTGRES: LazyLock<String> = LazyLock::new(|| postgres_batch(false));
static POSTGRES_WITH_EVENTS: LazyLock<String> = LazyLock::new(|| postgres_batch(true));

/// The same two statements for notifications and deliveries inside a
/// caller's transaction (scheduled jobs), on PostgreSQL.
static POSTGRES_IN_TX: LazyLock<[String; 2]> = LazyLock::new(|| {
    [
        NOTIFICATIONS.insert(Dialect::Postgres, 1, ""),
        DELIVERIES.insert(Dialect::Postgres, 1, ""),
    ]
});

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
        self.write_batch(notifications, deliveries, idempotency, feed_events, false)
            .await
    }

    /// [`Store::insert_batch_with_feed`], and each new notification (not a
    /// repeat) queued as a `notification.created` event for every matching
    /// webhook in the same commit: the API's ingest. The events are built by
    /// the database from the notification rows; with no webhook active
    /// nothing more is done (on SQLite not even a statement: this process
    /// knows, see webhook_presence.rs).
    pub async fn insert_ingest_batch(
        &self,
        notifications: &[NewNotification],
        deliveries: &[NewDelivery],
        idempotency: &[IdempotencyRecord],
        feed_events: &[String],
    ) -> Result<(), StoreError> {
        self.write_batch(notifications, deliveries, idempotency, feed_events, true)
            .await
    }

    /// [`Store::insert_ingest_batch`] on the ingest writer's own connection
    /// (see writer_connection.rs): no pool check-out, and no check of the
    /// connection when it goes back, per batch. On a SQLite file that is a
    /// connection of its own with each row bound to a prepared insert (see
    /// sqlite_ingest.rs); on PostgreSQL one with each column bound as an
    /// array (postgres_ingest.rs); an in-memory SQLite database (tests)
    /// keeps a connection of the pool. A connection whose batch failed, or
    /// was dropped part-way, is closed (SQLite rolls back what it began)
    /// and the next batch takes a fresh one. Takes the rows: a SQLite batch
    /// is written on a blocking thread.
    pub async fn insert_ingest_batch_on(
        &self,
        own: &mut WriterConnection,
        rows: BatchRows,
        feed_events: &[String],
    ) -> Result<(), StoreError> {
        if rows.notifications.is_empty()
            && rows.deliveries.is_empty()
            && rows.idempotency.is_empty()
        {
            return Ok(());
        }
        if let Some(file) = &self.sqlite_file {
            return self
                .write_ingest_batch_to_file(own, file.clone(), rows)
                .await;
        }
        if self.dialect == Dialect::Postgres {
            return self
                .write_ingest_batch_to_postgres(own, &rows, feed_events)
                .await;
        }
        // Only an in-memory SQLite database (tests) gets here. Out of its
        // slot while the batch runs: if this future is dropped part-way, so
        // is the connection.
        let (mut conn, fresh) = own.take(&self.pool).await?;
        if fresh {
            // Temporary storage in memory, as sqlite_ingest.rs sets it.
            use sqlx::Executor;
            conn.execute("PRAGMA temp_store=MEMORY").await?;
        }
        self.write_batch_on(
            &mut conn,
            &rows.notifications,
            &rows.deliveries,
            &rows.idempotency,
            feed_events,
            true,
        )
        .await?;
        own.put_back(conn);
        Ok(())
    }

    async fn write_batch(
        &self,
        notifications: &[NewNotification],
        deliveries: &[NewDelivery],
        idempotency: &[IdempotencyRecord],
        feed_events: &[String],
        events: bool,
    ) -> Result<(), StoreError> {
        if notifications.is_empty() && deliveries.is_empty() && idempotency.is_empty() {
            return Ok(());
        }
        let mut conn = Unfinished {
            conn: self.pool.acquire().await?,
            finished: false,
        };
        self.write_batch_on(
            &mut conn.conn,
            notifications,
            deliveries,
            idempotency,
            feed_events,
            events,
        )
        .await?;
        conn.finished = true;
        Ok(())
    }

    /// The batch on `conn`: one call to it on either engine.
    async fn write_batch_on(
        &self,
        conn: &mut AnyConnection,
        notifications: &[NewNotification],
        deliveries: &[NewDelivery],
        idempotency: &[IdempotencyRecord],
        feed_events: &[String],
        events: bool,
    ) -> Result<(), StoreError> {
        let now = super::now_ms();
        let notifications = notifications_json(notifications)?;
        let deliveries = deliveries_json(deliveries)?;
        let idempotency = idempotency_json(idempotency, now)?;
        match self.dialect {
            Dialect::Postgres => {
                let feed = to_json(&feed_events)?;
                let sql = if events && notifications != "[]" {
                    &POSTGRES_WITH_EVENTS
                } else {
                    &POSTGRES
                };
                sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(notifications)
                    .bind(deliveries)
                    .bind(idempotency)
                    .bind(feed)
                    .bind(now)
                    .bind(&*self.origin)
                    .execute(&mut *conn)
                    .await?;
            }
            // One instance: the feed is published in process.
            Dialect::Sqlite => {
                let events = events && notifications != "[]" && self.any_active_webhook().await?;
                let sql = if events {
                    &SQLITE_BATCH_WITH_EVENTS
                } else {
                    &SQLITE_BATCH
                };
                sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(notifications)
                    .bind(deliveries)
                    .bind(idempotency)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Insert notifications and their deliveries inside `tx`; for the
    /// scheduled jobs that claim a slot in the same transaction as the work
    /// they queue.
    pub(super) async fn insert_notifications_in(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        notifications: &[NewNotification],
        deliveries: &[NewDelivery],
    ) -> Result<(), StoreError> {
        let statements: [&str; 2] = match self.dialect {
            Dialect::Sqlite => [&SQLITE[0], &SQLITE[1]],
            Dialect::Postgres => [&POSTGRES_IN_TX[0], &POSTGRES_IN_TX[1]],
        };
        let rows = [
            notifications_json(notifications)?,
            deliveries_json(deliveries)?,
        ];
        for (sql, rows) in statements.into_iter().zip(rows) {
            if rows != "[]" {
                sqlx::query(AssertSqlSafe(sql))
                    .bind(rows)
                    .execute(&mut **tx)
                    .await?;
            }
        }
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

fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("rows as JSON: {e}")))
}

/// Each row as an array, in the column order of [`NOTIFICATIONS`].
pub(super) fn notifications_json(rows: &[NewNotification]) -> Result<String, StoreError> {
    let rows: Vec<_> = rows
        .iter()
        .map(|n| {
            (
                n.id.as_str(),
                n.source.as_str(),
                n.kind.as_str(),
                n.urgency,
                n.recipient_kind,
                n.recipient_id.as_str(),
                n.project_id.as_deref(),
                n.title.as_deref(),
                n.body.as_str(),
                n.fields_json.as_str(),
                n.decision_id,
                n.dedupe_key.as_deref(),
                n.duplicate as i64,
                n.created_at,
            )
        })
        .collect();
    to_json(&rows)
}

/// Each row as an array, in the column order of [`DELIVERIES`].
fn deliveries_json(rows: &[NewDelivery]) -> Result<String, StoreError> {
    let rows: Vec<_> = rows
        .iter()
        .map(|d| {
            (
                d.id.as_str(),
                d.notification_id.as_str(),
                d.person_id.as_deref(),
                d.channel.as_str(),
                d.address.as_str(),
                d.op.as_str(),
                d.target_message_id.as_deref(),
                d.status.as_str(),
                d.next_attempt_at,
                d.fallbacks.as_str(),
                d.created_at,
                d.created_at,
                d.published_id(),
                d.sent_at(),
            )
        })
        .collect();
    to_json(&rows)
}

fn idempotency_json(rows: &[IdempotencyRecord], now: i64) -> Result<String, StoreError> {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.agent_id.as_str(),
                r.key.as_str(),
                r.request_hash.as_str(),
                r.status_code,
                r.response_body.as_str(),
                now,
            )
        })
        .collect();
    to_json(&rows)
}

/// A pooled connection that is closed, not returned to the pool, unless its
/// batch finished: a batch stopped part-way (an error, or its future
/// dropped) may leave SQLite inside the batch's open transaction, which
/// closing the connection rolls back.
struct Unfinished {
    conn: PoolConnection<Any>,
    finished: bool,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}
