//! PostgreSQL's ingest batch: each column of each table as one array
//! parameter, unpacked by `unnest`, on a connection of the writer's own
//! (sqlx's PostgreSQL driver rather than the pool's `Any` one).
//!
//! Why: the rows went as one JSON text per table (json_rows.rs), which the
//! server parsed into jsonb (`jsonb_in`) and took apart again row by row
//! and column by column (`jsonb_array_elements`, `->>`): 28% of the
//! server's CPU per notification under `bench/external.sh postgres` (perf,
//! `jsonb_in` 14.2%, the table function 13.9%). An array goes in
//! PostgreSQL's binary format, each element a length and its bytes, and
//! `unnest` hands the columns over as they are (see
//! `Table::insert_unnest`). sqlx's `Any` driver cannot
//! bind arrays; its PostgreSQL driver can.
//!
//! The statement is the same shape as the JSON one (notifications.rs): one
//! statement of data-modifying CTEs, one round trip, its own transaction —
//! the notifications, their deliveries, the idempotency records, the feed
//! events and their NOTIFY, and each new notification's
//! `notification.created` webhook events (none, and no lock, when no
//! webhook is active; see webhooks.rs). A batch that fails writes nothing,
//! and its connection is closed; the next batch opens a fresh one.

use super::notifications::{
    BatchRows, DELIVERIES, IDEMPOTENCY, IDEMPOTENCY_CONFLICT, NOTIFICATIONS,
};
use super::writer_connection::WriterConnection;
use super::{Store, StoreError};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions};
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

/// How long opening the writer's connection may take: as long as the pool
/// waits for one (open.rs), so an unreachable server fails the batch, and
/// its requests, in the same time as before.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The batch's statement. Parameters: the notification columns from $1,
/// the delivery columns after them, the idempotency columns after those,
/// then the feed events (text[]), the time (ms) and this instance's origin.
static BATCH: LazyLock<String> = LazyLock::new(|| {
    let n = 1;
    let d = n + NOTIFICATIONS.columns.len();
    let k = d + DELIVERIES.columns.len();
    let feed = k + IDEMPOTENCY.columns.len();
    let (now, origin) = (feed + 1, feed + 2);
    format!(
        "WITH n AS ({}), d AS ({}), k AS ({}), \
         f AS (INSERT INTO feed_events (at, event, origin) SELECT ${now}, unnest(${feed}::text[]), ${origin}), \
         w AS ({}) \
         SELECT pg_notify('orkhub_feed', ${origin}) WHERE cardinality(${feed}::text[]) > 0",
        NOTIFICATIONS.insert_unnest(n, ""),
        DELIVERIES.insert_unnest(d, ""),
        IDEMPOTENCY.insert_unnest(k, IDEMPOTENCY_CONFLICT),
        super::webhooks::notification_fan_out_sql_from_arrays(n),
    )
});

impl Store {
    /// The ingest batch on the writer's own PostgreSQL connection (opened
    /// on its first batch, or after a failed one).
    pub(super) async fn write_ingest_batch_to_postgres(
        &self,
        own: &mut WriterConnection,
        rows: &BatchRows,
        feed_events: &[String],
    ) -> Result<(), StoreError> {
        // Out of its slot while the batch runs: if this future is dropped
        // part-way, so is the connection (the server rolls the statement
        // back).
        let mut conn = match own.take_postgres() {
            Some(conn) => conn,
            None => self.connect_postgres().await?,
        };
        write(&mut conn, rows, feed_events, super::now_ms(), &self.origin).await?;
        own.put_back_postgres(conn);
        Ok(())
    }

    async fn connect_postgres(&self) -> Result<PgConnection, StoreError> {
        let options = PgConnectOptions::from_str(&self.url)?;
        tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "no connection to PostgreSQL within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
            .map_err(StoreError::from)
    }
}

/// One batch as one statement on `conn`.
async fn write(
    conn: &mut PgConnection,
    rows: &BatchRows,
    feed_events: &[String],
    now: i64,
    origin: &str,
) -> Result<(), StoreError> {
    let ns = &rows.notifications;
    let ds = &rows.deliveries;
    let ks = &rows.idempotency;
    sqlx::query(AssertSqlSafe(BATCH.as_str()))
        // NOTIFICATIONS' columns, in order.
        .bind(column(ns, |n| n.id.as_str()))
        .bind(column(ns, |n| n.source.as_str()))
        .bind(column(ns, |n| n.kind.as_str()))
        .bind(column(ns, |n| n.urgency))
        .bind(column(ns, |n| n.recipient_kind))
        .bind(column(ns, |n| n.recipient_id.as_str()))
        .bind(column(ns, |n| n.project_id.as_deref()))
        .bind(column(ns, |n| n.title.as_deref()))
        .bind(column(ns, |n| n.body.as_str()))
        .bind(column(ns, |n| n.fields_json.as_str()))
        .bind(column(ns, |n| n.decision_id))
        .bind(column(ns, |n| n.dedupe_key.as_deref()))
        .bind(column(ns, |n| n.duplicate as i64))
        .bind(column(ns, |n| n.created_at))
        // DELIVERIES' columns.
        .bind(column(ds, |d| d.id.as_str()))
        .bind(column(ds, |d| d.notification_id.as_str()))
        .bind(column(ds, |d| d.person_id.as_deref()))
        .bind(column(ds, |d| d.channel.as_str()))
        .bind(column(ds, |d| d.address.as_str()))
        .bind(column(ds, |d| d.op.as_str()))
        .bind(column(ds, |d| d.target_message_id.as_deref()))
        .bind(column(ds, |d| d.status.as_str()))
        .bind(column(ds, |d| d.next_attempt_at))
        .bind(column(ds, |d| d.fallbacks.as_str()))
        .bind(column(ds, |d| d.created_at))
        .bind(column(ds, |d| d.created_at))
        .bind(column(ds, |d| d.published_id()))
        .bind(column(ds, |d| d.sent_at()))
        // IDEMPOTENCY's columns.
        .bind(column(ks, |k| k.agent_id.as_str()))
        .bind(column(ks, |k| k.key.as_str()))
        .bind(column(ks, |k| k.request_hash.as_str()))
        .bind(column(ks, |k| k.status_code))
        .bind(column(ks, |k| k.response_body.as_str()))
        .bind(column(ks, |_| now))
        // The feed, the time, the origin.
        .bind(column(feed_events, String::as_str))
        .bind(now)
        .bind(origin)
        .execute(conn)
        .await?;
    Ok(())
}

/// One column of `rows` as an array parameter.
fn column<'a, T, V>(rows: &'a [T], value: impl Fn(&'a T) -> V) -> Vec<V> {
    rows.iter().map(value).collect()
}
