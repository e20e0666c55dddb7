//! Outbound webhooks: subscriptions, the events they receive and the
//! delivery log.
//!
//! An event's delivery rows are written in the same transaction as the
//! thing the event is about (a task, a decision, a cost, a notification):
//! [`Store::queue_webhook_events_in`] fans the events out to every active
//! subscription whose patterns match, in one `INSERT … SELECT`, so a crash
//! can lose neither the event nor the thing. The sender
//! (hub/src/webhooks/sender.rs) claims each subscription's oldest live
//! delivery only — one in flight per endpoint, in the order recorded — and
//! records the outcome on the row.

use super::{Dialect, Store, StoreError, now_ms, placeholders};
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

/// One event, as every receiver gets it: `{id, type, created_at, data}`.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    pub id: String,
    pub event_type: String,
    /// The JSON body, exactly as sent and signed.
    pub body: String,
    pub created_at: i64,
}

impl WebhookEvent {
    /// An event of `event_type` about `data`, recorded at `at_ms`.
    pub fn new(event_type: &str, data: serde_json::Value, at_ms: i64) -> WebhookEvent {
        WebhookEvent::with_id(crate::ids::new_id("evt"), event_type, data, at_ms)
    }

    /// The same with a given ID (a notification's event: see
    /// `webhooks::events::notification_created`).
    pub fn with_id(
        id: String,
        event_type: &str,
        data: serde_json::Value,
        at_ms: i64,
    ) -> WebhookEvent {
        let body = serde_json::json!({
            "id": id,
            "type": event_type,
            "created_at": crate::rfc3339::format_ms(at_ms),
            "data": data,
        })
        .to_string();
        WebhookEvent {
            id,
            event_type: event_type.to_string(),
            body,
            created_at: at_ms,
        }
    }
}

/// A subscription to write: from config.toml (every start) or the API.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub id: String,
    pub url: String,
    pub secret: String,
    /// Patterns, already checked: `task.*`, `decision.resolved`, `*`.
    pub events: Vec<String>,
    pub max_attempts: i64,
    pub base_backoff_ms: i64,
    pub max_backoff_ms: i64,
    pub created_by: String,
}

/// A subscription as the API shows it (never its secret).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    /// `config` (declared in config.toml) or `api`.
    pub source: String,
    /// `active`; `gone` (the receiver answered 410: nothing more is sent);
    /// `removed` (no longer in config.toml).
    pub status: String,
    pub max_attempts: i64,
    pub base_backoff_ms: i64,
    pub max_backoff_ms: i64,
    pub created_by: String,
    #[serde(serialize_with = "crate::rfc3339::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// One delivery in a subscription's log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookDelivery {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `sending`, `sent` or `dead`.
    pub status: String,
    pub attempts: i64,
    #[serde(serialize_with = "crate::rfc3339::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: i64,
    /// The receiver's last HTTP status (none: no answer).
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    #[serde(serialize_with = "crate::rfc3339::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "crate::rfc3339::opt_ms")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<i64>,
}

/// A delivery claimed for sending, with what the sender needs.
#[derive(Debug, Clone)]
pub struct ClaimedWebhook {
    pub id: i64,
    pub subscription_id: String,
    pub url: String,
    pub secret: String,
    /// `config` or `api`: API-created webhooks may not call private addresses.
    pub source: String,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
    /// Attempts including this one.
    pub attempts: i64,
    pub max_attempts: i64,
    pub base_backoff_ms: i64,
    pub max_backoff_ms: i64,
}

/// A pattern as stored: (`task.` , prefix) for `task.*`, ("", prefix) for
/// `*`, (`decision.resolved`, exact).
fn stored_pattern(p: &str) -> (&str, i64) {
    match p.strip_suffix('*') {
        Some(prefix) => (prefix, 1),
        None => (p, 0),
    }
}

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.url, s.source, s.status, s.max_attempts, s.base_backoff_ms, s.max_backoff_ms, s.created_by, s.created_at, \
     (SELECT COUNT(*) FROM webhook_patterns p WHERE p.subscription_id = s.id)";

fn subscription_from_row(r: &AnyRow, events: Vec<String>) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: r.try_get(0)?,
        url: r.try_get(1)?,
        source: r.try_get(2)?,
        status: r.try_get(3)?,
        max_attempts: r.try_get(4)?,
        base_backoff_ms: r.try_get(5)?,
        max_backoff_ms: r.try_get(6)?,
        created_by: r.try_get(7)?,
        created_at: r.try_get(8)?,
        events,
    })
}

/// The fan-out: each event (rows of `$1` as JSON: id, type, body, at) to
/// every active subscription with a matching pattern. Matching is done by
/// the database so that a subscription created a moment ago on another
/// instance gets the events committed after it.
fn fan_out_sql(dialect: Dialect) -> String {
    let (source, id, ty, body, at) = match dialect {
        Dialect::Sqlite => (
            "jsonb_each(?1) AS ev",
            "ev.value->>0",
            "ev.value->>1",
            "ev.value->>2",
            "ev.value->>3",
        ),
        // The order lock (see ORDER_LOCK) is taken before the first row
        // gets its ID: joined in, it is evaluated before any row is made.
        Dialect::Postgres => (
            "{ORDER_LOCK_IF_ANY}, jsonb_array_elements($1::jsonb) AS ev",
            "ev->>0",
            "ev->>1",
            "ev->>2",
            "(ev->>3)::bigint",
        ),
    };
    let source = source.replace("{ORDER_LOCK_IF_ANY}", &order_lock_if_any());
    format!(
        "INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, body, status, attempts, next_attempt_at, created_at) \
         SELECT s.id, {id}, {ty}, {body}, 'pending', 0, {at}, {at} FROM {source} \
         JOIN webhook_subscriptions s ON s.status = 'active' \
         WHERE EXISTS (SELECT 1 FROM webhook_patterns p WHERE p.subscription_id = s.id AND \
             ((p.is_prefix = 0 AND p.pattern = {ty}) OR \
              (p.is_prefix = 1 AND substr({ty}, 1, length(p.pattern)) = p.pattern))) \
         ORDER BY {at}, {id}, s.id"
    )
}

/// The FROM item that takes the order lock (see [`ORDER_LOCK`]) on
/// PostgreSQL — only when some webhook is active: with none, it is no row,
/// so the fan-out joined to it makes no rows and waits for nobody. (A
/// subscription committed after the statement's snapshot gets none of its
/// events either way.)
fn order_lock_if_any() -> String {
    format!(
        "(SELECT pg_advisory_xact_lock({ORDER_LOCK}) \
         WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE status = 'active')) AS order_lock"
    )
}

/// The `notification.created` event of each new notification (not a
/// repeat) in the notification rows of parameter `param` (the JSON rows the
/// batch's insert reads, see `notifications.rs`), fanned out like
/// [`fan_out_sql`]'s. The event is built by the database from the row, so
/// ingest builds nothing per notification when no webhook listens. Its ID
/// is the notification's with `evt_` for `n_` (see
/// `webhooks::events::notification_created`, which makes the same body).
pub(super) fn notification_fan_out_sql(dialect: Dialect, param: usize) -> String {
    // Column positions in a notification row (NOTIFICATIONS in notifications.rs).
    match dialect {
        Dialect::Sqlite => notification_fan_out(
            Dialect::Sqlite,
            format!("jsonb_each(?{param}) AS r"),
            |i| format!("r.value->>{i}"),
            |i| format!("(r.value->>{i})"),
            "r.key",
        ),
        Dialect::Postgres => notification_fan_out(
            Dialect::Postgres,
            format!(
                "{}, jsonb_array_elements(${param}::jsonb) WITH ORDINALITY AS r(e, i)",
                order_lock_if_any()
            ),
            |i| format!("e->>{i}"),
            |i| format!("(e->>{i})::bigint"),
            "r.i",
        ),
    }
}

/// [`notification_fan_out_sql`] on PostgreSQL with the notification rows
/// as one array parameter per column from `$first` on, in the column order
/// and types of NOTIFICATIONS (postgres_ingest.rs binds them so).
pub(super) fn notification_fan_out_sql_from_arrays(first: usize) -> String {
    let rows = &super::notifications::NOTIFICATIONS;
    let names: Vec<String> = (0..rows.columns.len()).map(|i| format!("c{i}")).collect();
    notification_fan_out(
        Dialect::Postgres,
        format!(
            "{}, UNNEST({}) WITH ORDINALITY AS r({}, i)",
            order_lock_if_any(),
            rows.arrays(first).join(", "),
            names.join(", ")
        ),
        |i| format!("r.c{i}"),
        |i| format!("r.c{i}"),
        "r.i",
    )
}

/// The fan-out of notification rows read from `source`: `c(i)` and
/// `int(i)` are column `i` of a row as text and as an integer, `order` the
/// row's position in the batch.
fn notification_fan_out(
    dialect: Dialect,
    source: String,
    c: impl Fn(usize) -> String,
    int: impl Fn(usize) -> String,
    order: &str,
) -> String {
    let at = int(13);
    let (created_at, object) = match dialect {
        Dialect::Sqlite => (
            format!(
                "strftime('%Y-%m-%dT%H:%M:%S', {at} / 1000, 'unixepoch') || printf('.%03dZ', {at} % 1000)"
            ),
            "json_object",
        ),
        Dialect::Postgres => (
            format!(
                r#"to_char(to_timestamp(({at} / 1000)::double precision) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '.' || lpad(({at} % 1000)::text, 3, '0') || 'Z'"#
            ),
            "json_build_object",
        ),
    };
    let event_id = format!("'evt_' || substr({}, 3)", c(0));
    let data = format!(
        "{object}('id', {}, 'source', {}, 'kind', {}, 'urgency', {}, 'recipient', {object}('kind', {}, 'id', {}), 'project', {}, 'title', {}, 'text', {})",
        c(0),
        c(1),
        c(2),
        c(3),
        c(4),
        c(5),
        c(6),
        c(7),
        c(8)
    );
    let body = format!(
        "{object}('id', {event_id}, 'type', 'notification.created', 'created_at', {created_at}, 'data', {data})"
    );
    let body = match dialect {
        Dialect::Sqlite => body,
        Dialect::Postgres => format!("({body})::text"),
    };
    let duplicate = int(12);
    format!(
        "INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, body, status, attempts, next_attempt_at, created_at) \
         SELECT s.id, {event_id}, 'notification.created', {body}, 'pending', 0, {at}, {at} FROM {source} \
         JOIN webhook_subscriptions s ON s.status = 'active' \
         WHERE {duplicate} = 0 AND EXISTS (SELECT 1 FROM webhook_patterns p WHERE p.subscription_id = s.id AND \
             ((p.is_prefix = 0 AND p.pattern = 'notification.created') OR \
              (p.is_prefix = 1 AND substr('notification.created', 1, length(p.pattern)) = p.pattern))) \
         ORDER BY {order}, s.id"
    )
}

static FAN_OUT_SQLITE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| fan_out_sql(Dialect::Sqlite));
static FAN_OUT_POSTGRES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| fan_out_sql(Dialect::Postgres));

/// On PostgreSQL, delivery IDs come from a sequence when the row is made,
/// while transactions commit in their own order: a transaction that took
/// ID 5 could commit after the one that took 6 was already sent, and a
/// receiver would get them out of order. So every fan-out takes this
/// transaction-level advisory lock before its rows get their IDs, and holds
/// it to its commit: the IDs of committed deliveries follow commit order,
/// and the claim (oldest live ID first) sends in that order. It serialises
/// only the end of event-recording transactions (the fan-out is their last
/// write). "orkwhko" in hex.
const ORDER_LOCK: i64 = 0x6f726b77686b6f;

/// Events as the fan-out's JSON parameter.
fn events_json(events: &[WebhookEvent]) -> Result<String, StoreError> {
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.id.as_str(),
                e.event_type.as_str(),
                e.body.as_str(),
                e.created_at,
            )
        })
        .collect();
    serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(format!("events as JSON: {e}")))
}

// Each active subscription's oldest live delivery, if it is due and nobody
// holds it: one in flight per endpoint, in the order recorded. A later
// delivery is never claimed while an earlier one waits for its retry.
// Driven from the subscriptions: one index lookup (`webhook_deliveries_live`)
// per subscription finds its head, however long its backlog.
const CLAIM_SQL: &str = "UPDATE webhook_deliveries SET status = 'sending', lease_until = $1, attempts = attempts + 1 \
     WHERE id IN (SELECT d.id FROM (SELECT (SELECT MIN(e.id) FROM webhook_deliveries e \
             WHERE e.subscription_id = s.id AND e.status IN ('pending','sending')) AS head \
         FROM webhook_subscriptions s WHERE s.status = 'active') h \
         JOIN webhook_deliveries d ON d.id = h.head \
         WHERE d.next_attempt_at <= $2 AND (d.lease_until IS NULL OR d.lease_until < $2) \
         ORDER BY d.id LIMIT $3) \
     RETURNING id";

/// Every PostgreSQL claim takes this transaction-level advisory lock, so
/// claims of several instances run one after another and each sees the
/// leases of the one before (the same reasoning as the outbox's claim; a
/// different key: the two never wait for each other). "orkwhk" in hex.
const CLAIM_LOCK: i64 = 0x6f726b77686b;

impl Store {
    /// Queue `events` for every matching subscription, inside `tx` (the
    /// transaction of the thing the events are about).
    pub async fn queue_webhook_events_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        events: &[WebhookEvent],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let sql = match self.dialect {
            Dialect::Sqlite => FAN_OUT_SQLITE.as_str(),
            Dialect::Postgres => FAN_OUT_POSTGRES.as_str(),
        };
        sqlx::query(AssertSqlSafe(sql))
            .bind(events_json(events)?)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Write the webhooks declared in config.toml (on every start): new ones
    /// are added, changed ones updated, and those no longer declared are
    /// marked `removed` (their log stays). A webhook that answered 410 stays
    /// `gone` until its URL changes.
    pub async fn sync_config_webhooks(&self, subs: &[NewSubscription]) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for s in subs {
            sqlx::query(
                "INSERT INTO webhook_subscriptions (id, url, secret, source, status, max_attempts, base_backoff_ms, max_backoff_ms, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'config', 'active', $4, $5, $6, 'config', $7, $7) \
                 ON CONFLICT (id) DO UPDATE SET \
                   status = CASE WHEN webhook_subscriptions.url <> excluded.url OR webhook_subscriptions.status = 'removed' \
                                 THEN 'active' ELSE webhook_subscriptions.status END, \
                   url = excluded.url, secret = excluded.secret, source = 'config', max_attempts = excluded.max_attempts, \
                   base_backoff_ms = excluded.base_backoff_ms, max_backoff_ms = excluded.max_backoff_ms, updated_at = excluded.updated_at",
            )
            .bind(&s.id)
            .bind(&s.url)
            .bind(&s.secret)
            .bind(s.max_attempts)
            .bind(s.base_backoff_ms)
            .bind(s.max_backoff_ms)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            Self::write_patterns(&mut tx, &s.id, &s.events).await?;
        }
        let declared: Vec<&str> = subs.iter().map(|s| s.id.as_str()).collect();
        let sql = if declared.is_empty() {
            "UPDATE webhook_subscriptions SET status = 'removed', updated_at = $1 WHERE source = 'config' AND status <> 'removed'".to_string()
        } else {
            format!(
                "UPDATE webhook_subscriptions SET status = 'removed', updated_at = $1 WHERE source = 'config' AND status <> 'removed' AND id NOT IN ({})",
                placeholders::list(self.dialect, 2, declared.len())
            )
        };
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now);
        for id in declared {
            q = q.bind(id);
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        self.webhooks_changed();
        Ok(())
    }

    async fn write_patterns(
        tx: &mut Transaction<'_, Any>,
        id: &str,
        events: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_patterns WHERE subscription_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        for e in events {
            let (pattern, is_prefix) = stored_pattern(e);
            sqlx::query(
                "INSERT INTO webhook_patterns (subscription_id, pattern, is_prefix) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(pattern)
            .bind(is_prefix)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// A webhook created over the API. `Invalid` when the ID is taken.
    pub async fn create_webhook(&self, s: &NewSubscription) -> Result<Subscription, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_subscriptions (id, url, secret, source, status, max_attempts, base_backoff_ms, max_backoff_ms, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, 'api', 'active', $4, $5, $6, $7, $8, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&s.id)
        .bind(&s.url)
        .bind(&s.secret)
        .bind(s.max_attempts)
        .bind(s.base_backoff_ms)
        .bind(s.max_backoff_ms)
        .bind(&s.created_by)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Invalid(format!(
                "id: a webhook {:?} exists already",
                s.id
            )));
        }
        Self::write_patterns(&mut tx, &s.id, &s.events).await?;
        Store::audit_in(
            &mut tx,
            &super::AuditRow {
                actor: &format!("agent:{}", s.created_by),
                action: "webhook.create",
                resource: &format!("webhook:{}", s.id),
                details: serde_json::json!({"url": s.url, "events": s.events}),
                source: "api",
            },
        )
        .await?;
        tx.commit().await?;
        self.webhooks_changed();
        self.webhook(&s.id).await?.ok_or(StoreError::NotFound {
            what: "webhook",
            id: s.id.clone(),
        })
    }

    async fn patterns_of(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT pattern, is_prefix FROM webhook_patterns WHERE subscription_id = $1 ORDER BY pattern, is_prefix",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let p: String = r.try_get(0)?;
                Ok(if r.try_get::<i64, _>(1)? == 1 {
                    format!("{p}*")
                } else {
                    p
                })
            })
            .collect()
    }

    pub async fn webhook(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions s WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(subscription_from_row(
                &r,
                self.patterns_of(id).await?,
            )?)),
            None => Ok(None),
        }
    }

    pub async fn webhooks(&self) -> Result<Vec<Subscription>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions s WHERE s.question_id IS NULL ORDER BY s.id"
        )))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get(0)?;
            out.push(subscription_from_row(r, self.patterns_of(&id).await?)?);
        }
        Ok(out)
    }

    /// Delete an API-created webhook and its log. `Invalid` for one declared
    /// in config.toml (it would come back on the next start).
    pub async fn delete_webhook(&self, id: &str, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted =
            sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1 AND source = 'api'")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if deleted == 0 {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT source FROM webhook_subscriptions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match found {
                None => StoreError::NotFound {
                    what: "webhook",
                    id: id.into(),
                },
                Some(_) => StoreError::Invalid(format!(
                    "webhook {id:?} is declared in config.toml; remove it there (it would come back on the next start)"
                )),
            });
        }
        Store::audit_in(
            &mut tx,
            &super::AuditRow {
                actor: &format!("agent:{actor}"),
                action: "webhook.delete",
                resource: &format!("webhook:{id}"),
                details: serde_json::Value::Null,
                source: "api",
            },
        )
        .await?;
        tx.commit().await?;
        self.webhooks_changed();
        Ok(())
    }

    /// A subscription's deliveries, newest first, at most `limit`, those
    /// before `before` (an earlier page's last ID) if given.
    pub async fn webhook_deliveries(
        &self,
        subscription_id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, event_id, event_type, status, attempts, next_attempt_at, last_status_code, last_error, created_at, sent_at \
             FROM webhook_deliveries WHERE subscription_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(subscription_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// Send delivery `delivery_id`'s event again, as a new delivery at the
    /// end of the subscription's queue (same event ID and body, so the
    /// receiver can tell it is the same event). The subscription must be
    /// active.
    pub async fn redeliver_webhook(
        &self,
        subscription_id: &str,
        delivery_id: i64,
    ) -> Result<WebhookDelivery, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, body, status, attempts, next_attempt_at, created_at) \
             SELECT d.subscription_id, d.event_id, d.event_type, d.body, 'pending', 0, $3, $3 FROM webhook_deliveries d \
             JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.status = 'active' \
             WHERE d.subscription_id = $1 AND d.id = $2 \
             RETURNING id, event_id, event_type, status, attempts, next_attempt_at, last_status_code, last_error, created_at, sent_at",
        )
        .bind(subscription_id)
        .bind(delivery_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let status: Option<(String,)> =
                sqlx::query_as("SELECT status FROM webhook_subscriptions WHERE id = $1")
                    .bind(subscription_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match status {
                None => StoreError::NotFound {
                    what: "webhook",
                    id: subscription_id.into(),
                },
                Some((s,)) if s != "active" => StoreError::Invalid(format!(
                    "webhook {subscription_id:?} is {s}: nothing is sent to it"
                )),
                Some(_) => StoreError::NotFound {
                    what: "delivery",
                    id: delivery_id.to_string(),
                },
            });
        };
        let delivery = delivery_from_row(&row)?;
        tx.commit().await?;
        Ok(delivery)
    }

    /// Claim up to `limit` deliveries until `lease_until`: each active
    /// subscription's oldest live one, when it is due.
    pub async fn claim_webhooks(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedWebhook>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(CLAIM_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let ids: Vec<(i64,)> = sqlx::query_as(CLAIM_SQL)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT d.id, d.subscription_id, s.url, s.secret, s.source, d.event_id, d.event_type, d.body, d.attempts, \
             s.max_attempts, s.base_backoff_ms, s.max_backoff_ms FROM webhook_deliveries d \
             JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE d.id IN ({}) ORDER BY d.id",
            placeholders::list(self.dialect, 1, ids.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id,) in &ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedWebhook {
                    id: r.try_get(0)?,
                    subscription_id: r.try_get(1)?,
                    url: r.try_get(2)?,
                    secret: r.try_get(3)?,
                    source: r.try_get(4)?,
                    event_id: r.try_get(5)?,
                    event_type: r.try_get(6)?,
                    body: r.try_get(7)?,
                    attempts: r.try_get(8)?,
                    max_attempts: r.try_get(9)?,
                    base_backoff_ms: r.try_get(10)?,
                    max_backoff_ms: r.try_get(11)?,
                })
            })
            .collect()
    }

    /// The receiver took it.
    pub async fn webhook_sent(&self, id: i64, status: u16, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'sent', lease_until = NULL, sent_at = $1, last_status_code = $2, last_error = NULL WHERE id = $3",
        )
        .bind(now)
        .bind(i64::from(status))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// It failed: try again at `next_attempt_at`, or (`None`) it is dead.
    pub async fn webhook_failed(
        &self,
        id: i64,
        status: Option<u16>,
        error: &str,
        next_attempt_at: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, lease_until = NULL, next_attempt_at = COALESCE($2, next_attempt_at), \
             last_status_code = $3, last_error = $4 WHERE id = $5",
        )
        .bind(if next_attempt_at.is_some() {
            "pending"
        } else {
            "dead"
        })
        .bind(next_attempt_at)
        .bind(status.map(i64::from))
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The receiver answered 410 Gone: this delivery is dead and the
    /// subscription gets nothing more (its queued deliveries stay, visible
    /// in its log, unsent).
    pub async fn webhook_gone(
        &self,
        id: i64,
        subscription_id: &str,
        status: u16,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE webhook_subscriptions SET status = 'gone', updated_at = $1 WHERE id = $2 AND status = 'active'",
        )
        .bind(now_ms())
        .bind(subscription_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'dead', lease_until = NULL, last_status_code = $1, \
             last_error = 'the receiver answered 410 Gone: the webhook is disabled' WHERE id = $2",
        )
        .bind(i64::from(status))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.webhooks_changed();
        Ok(())
    }

    /// After a crash, a single SQLite instance owns every lease: what it
    /// left `sending` is due again now.
    pub async fn reclaim_own_webhooks(&self) -> Result<u64, StoreError> {
        if self.dialect != Dialect::Sqlite {
            return Ok(0);
        }
        Ok(sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', lease_until = NULL WHERE status = 'sending'",
        )
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}

fn delivery_from_row(r: &AnyRow) -> Result<WebhookDelivery, StoreError> {
    Ok(WebhookDelivery {
        id: r.try_get(0)?,
        event_id: r.try_get(1)?,
        event_type: r.try_get(2)?,
        status: r.try_get(3)?,
        attempts: r.try_get(4)?,
        next_attempt_at: r.try_get(5)?,
        last_status_code: r.try_get(6)?,
        last_error: r.try_get(7)?,
        created_at: r.try_get(8)?,
        sent_at: r.try_get(9)?,
    })
}
