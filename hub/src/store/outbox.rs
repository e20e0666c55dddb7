//! The outbox: deliveries are claimed with a lease (so a crashed or second
//! instance never holds one forever), sent, and their outcome recorded on
//! the row. PostgreSQL claims with `FOR UPDATE SKIP LOCKED` so several hub
//! instances can share one database.

use super::notifications::NewDelivery;
use super::{Dialect, Store, StoreError, placeholders};
use sqlx::{AssertSqlSafe, Row};

/// A delivery claimed for sending, with the content to send.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub notification_id: String,
    pub person_id: Option<String>,
    pub channel: String,
    pub address: String,
    pub op: super::DeliveryOp,
    pub target_message_id: Option<String>,
    /// Attempts including this one.
    pub attempts: i64,
    /// Of those, retries the platform asked for (429): not held against
    /// `max_attempts`.
    pub throttled: i64,
    /// Until when this claim is ours: nothing may be sent for it later.
    pub lease_until: i64,
    pub created_at: i64,
    pub fallbacks: String,
    pub kind: String,
    pub title: Option<String>,
    pub body: String,
    pub fields_json: String,
    pub decision_id: Option<i64>,
}

/// One delivery's state, for GET /api/v1/notifications/{id}.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryStatus {
    pub id: String,
    pub channel: String,
    pub address: String,
    pub op: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub platform_message_id: Option<String>,
    #[serde(serialize_with = "crate::rfc3339::opt_ms")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<i64>,
}

/// A stored notification, for GET /api/v1/notifications/{id}.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NotificationRecord {
    pub id: String,
    pub source: String,
    pub kind: String,
    pub urgency: String,
    pub recipient_kind: String,
    pub recipient_id: String,
    pub title: Option<String>,
    pub body: String,
    pub duplicate: bool,
    #[serde(serialize_with = "crate::rfc3339::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

// Due, unleased (or lease expired) deliveries, oldest first — except one
// whose chat has an earlier delivery still waiting for a retry or being sent
// elsewhere: per-chat order is kept across rounds, not only within one.
// Oldest by ID, the order messages were accepted in: a message put back or
// retried is due later than the ones queued behind it, so ordering by due
// time let the LIMIT take a chat's later messages without its earlier one
// (a chat received #12, #18, #13, #19, … in hub/tests/it/multi_instance.rs).
// The partial index `deliveries_live_id` (migration 0020) walks live rows in
// ID order, so the claim stops after LIMIT rows instead of sorting them all.
// Of the candidates, a delivery is claimed only with every earlier one of
// its chat still in the outbox: one SKIP LOCKED passed over holds the later
// ones back to the next round.
const CLAIM_SQL: &str = "WITH cand AS MATERIALIZED (SELECT c.id, c.channel, c.address FROM deliveries c \
     WHERE c.status IN ('pending','sending') AND c.next_attempt_at <= $2 \
     AND (c.lease_until IS NULL OR c.lease_until < $2) \
     AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = c.channel AND e.address = c.address \
         AND e.status IN ('pending','sending') AND e.id < c.id AND (e.next_attempt_at > $2 OR e.lease_until >= $2)) \
     ORDER BY c.id LIMIT $3 {lock}) \
     UPDATE deliveries SET status = 'sending', lease_until = $1, attempts = attempts + 1, updated_at = $2 \
     WHERE id IN (SELECT x.id FROM cand x WHERE NOT EXISTS (SELECT 1 FROM deliveries e \
         WHERE e.channel = x.channel AND e.address = x.address AND e.status IN ('pending','sending') \
         AND e.id < x.id AND e.id NOT IN (SELECT id FROM cand))) RETURNING {returning}";

/// The claim on each engine: PostgreSQL locks the candidates so two
/// instances never take the same row, and returns the claimed rows whole
/// (joined to their notifications in [`CLAIM_POSTGRES`]); SQLite returns
/// their IDs (its RETURNING cannot feed a join).
fn claim_sql(dialect: Dialect) -> String {
    let (lock, returning) = match dialect {
        Dialect::Sqlite => ("", "id"),
        Dialect::Postgres => ("FOR UPDATE OF c SKIP LOCKED", "*"),
    };
    CLAIM_SQL
        .replace("{lock}", lock)
        .replace("{returning}", returning)
}

static CLAIM_SQLITE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| claim_sql(Dialect::Sqlite));

/// The transaction-level advisory lock every PostgreSQL claim takes (any
/// constant shared by all instances; this one spells "orkhub" in hex).
const CLAIM_LOCK: i64 = 0x6f726b687562;

/// A PostgreSQL claim's first statement: the lock, and the commit that
/// does not wait for the disk (see `claim_due`).
const CLAIM_LOCK_POSTGRES: &str =
    "SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock($1)";

/// What a claimed delivery is sent with, in [`claimed_from`]'s order: the
/// delivery's columns (`d`), then its notification's (`n`).
const CLAIMED_COLUMNS: &str = "d.id, d.notification_id, d.person_id, d.channel, d.address, d.op, d.target_message_id, d.attempts, d.fallbacks, \
     n.kind, d.throttled, d.created_at, n.title, n.body, n.fields, n.decision_id";

/// PostgreSQL's claim, returning what is sent (the read after the claim
/// was a round trip of its own).
static CLAIM_POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH d AS ({}) SELECT {CLAIMED_COLUMNS} FROM d JOIN notifications n ON n.id = d.notification_id ORDER BY d.id",
        claim_sql(Dialect::Postgres)
    )
});

/// A claimed row, as [`CLAIMED_COLUMNS`] lists it.
fn claimed_from(r: &sqlx::any::AnyRow, lease_until: i64) -> Result<ClaimedDelivery, StoreError> {
    Ok(ClaimedDelivery {
        id: r.try_get(0)?,
        notification_id: r.try_get(1)?,
        person_id: r.try_get(2)?,
        channel: r.try_get(3)?,
        address: r.try_get(4)?,
        op: super::DeliveryOp::parse(&r.try_get::<String, _>(5)?)?,
        target_message_id: r.try_get(6)?,
        attempts: r.try_get(7)?,
        fallbacks: r.try_get(8)?,
        kind: r.try_get(9)?,
        throttled: r.try_get(10)?,
        created_at: r.try_get(11)?,
        lease_until,
        title: r.try_get(12)?,
        body: r.try_get(13)?,
        fields_json: r.try_get(14)?,
        decision_id: r.try_get(15)?,
    })
}

impl Store {
    /// Claim up to `limit` due deliveries until `lease_until`, oldest first.
    /// `held`: deliveries this instance sent whose outcome is not in the
    /// database yet (it was away), as they were before this call; such a row
    /// is claimed again only to keep it leased, and is not returned to be
    /// sent twice. Taken before the claim: a send's record is committed
    /// before it leaves `held`, so a row missing from it then is either not
    /// ours or recorded already, which the claim does not take.
    pub async fn claim_due(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        held: &std::collections::HashSet<String>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let rows = match self.dialect {
            // One writer: the claim sees every earlier claim. SQLite's
            // RETURNING cannot name a joined table, so the rows are read
            // after the claim.
            Dialect::Sqlite => {
                let claimed = sqlx::query(AssertSqlSafe(CLAIM_SQLITE.as_str()))
                    .bind(lease_until)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                let ids: Vec<String> = claimed
                    .iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<_, _>>()?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT {CLAIMED_COLUMNS} FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
                     WHERE d.status = 'sending' AND d.id IN ({}) ORDER BY d.id",
                    placeholders::list(self.dialect, 1, ids.len())
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for id in &ids {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(&self.pool).await?
            }
            // Several instances: the NOT EXISTS that holds a chat's later
            // messages back behind an earlier one in flight cannot see
            // another instance's claim until it commits, and SKIP LOCKED
            // would skip that earlier row while it is locked — two
            // instances would then send one chat's messages side by side.
            // Claims therefore run one at a time across all instances,
            // under a lock released at commit: each claim's statement
            // starts after the previous claim committed and sees its
            // leases (READ COMMITTED takes a snapshot per statement). A
            // claim is one short statement, so waiting for the lock costs
            // milliseconds; a killed instance's lock goes with its session.
            //
            // The claim's commit does not wait for its WAL to reach the
            // disk (`synchronous_commit` off for this transaction only): it
            // is visible to every instance at once, and an urgent message
            // goes out without an fsync between its commit and its send.
            // A lease is all it records; the WAL writer flushes it within
            // 3 × `wal_writer_delay` (600 ms by default), and the send's
            // record, committed synchronously after it, flushes it too. If
            // the PostgreSQL server itself crashes within that window the
            // lease is lost and the row is pending again, as if never
            // claimed: at worst sent twice, which at-least-once delivery
            // after a crash allows (and `held` prevents on this instance).
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query(CLAIM_LOCK_POSTGRES)
                    .bind(CLAIM_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let rows = sqlx::query(AssertSqlSafe(CLAIM_POSTGRES.as_str()))
                    .bind(lease_until)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows
            }
        };
        rows.iter()
            .map(|r| claimed_from(r, lease_until))
            .filter(|d| !d.as_ref().is_ok_and(|d| held.contains(&d.id)))
            .collect()
    }

    /// A transient failure: try again at `next_attempt_at`. `throttled`:
    /// the platform asked for the wait (a 429), so the try is not held
    /// against the delivery's attempts.
    pub async fn mark_retry(
        &self,
        id: &str,
        next_attempt_at: i64,
        error: &str,
        throttled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = $1, last_error = $2, updated_at = $3, \
             throttled = throttled + $4 WHERE id = $5",
        )
        .bind(next_attempt_at)
        .bind(error)
        .bind(now)
        .bind(i64::from(throttled))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The delivery is dead (permanent failure or out of attempts); the
    /// fallback delivery on the next channel, if any, is created with it.
    pub async fn mark_dead(
        &self,
        id: &str,
        error: &str,
        fallback: Option<&NewDelivery>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'dead', lease_until = NULL, last_error = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(d) = fallback {
            sqlx::query(
                "INSERT INTO deliveries (id, notification_id, person_id, channel, address, op, target_message_id, status, next_attempt_at, fallbacks, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(&d.id)
            .bind(&d.notification_id)
            .bind(&d.person_id)
            .bind(&d.channel)
            .bind(&d.address)
            .bind(d.op.as_str())
            .bind(&d.target_message_id)
            .bind(d.status.as_str())
            .bind(d.next_attempt_at)
            .bind(&d.fallbacks)
            .bind(d.created_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Put claimed deliveries back untouched (not counted as an attempt):
    /// the ones queued behind a message that must wait (per-chat order), and
    /// the ones not reached before the lease ran out or the hub stopped.
    pub async fn release(&self, ids: &[String], not_before: i64) -> Result<(), StoreError> {
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE deliveries SET status = 'pending', lease_until = NULL, attempts = attempts - 1, next_attempt_at = $1 \
                 WHERE status = 'sending' AND id IN ({})",
                placeholders::list(self.dialect, 2, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(not_before);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            q.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// When the next delivery is due, to sleep exactly until then.
    pub async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(COALESCE(lease_until, next_attempt_at)) FROM deliveries WHERE status IN ('pending','sending')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// Deliveries waiting to be sent, for the metrics.
    pub async fn outbox_depth(&self) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) FROM deliveries WHERE status IN ('pending','sending')")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// How many deliveries stand in each status (for the benchmark's check
    /// that every accepted notification was planned and stored in full).
    pub async fn delivery_counts(
        &self,
    ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect()
    }

    pub async fn notification_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM notifications WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Whether an edit of `target` (a platform message ID on `channel`)
    /// showing decision `decision_id` is queued or done: the resolution's
    /// edits of the copies it knew, or one queued for a press.
    pub async fn decision_edit_queued(
        &self,
        decision_id: i64,
        channel: &str,
        target: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE n.decision_id = $1 AND d.op = 'edit' AND d.channel = $2 AND d.target_message_id = $3 LIMIT 1",
        )
        .bind(decision_id)
        .bind(channel)
        .bind(target)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// The platform's ID of notification `parent`'s message in this chat,
    /// for a reply to go under it (`None`: it never reached this chat).
    pub async fn thread_target(
        &self,
        parent: &str,
        channel: &str,
        address: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT platform_message_id FROM deliveries WHERE notification_id = $1 AND channel = $2 AND address = $3 \
             AND op = 'send' AND status = 'sent' AND platform_message_id IS NOT NULL ORDER BY id LIMIT 1",
        )
        .bind(parent)
        .bind(channel)
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub async fn notification(
        &self,
        id: &str,
    ) -> Result<Option<(NotificationRecord, Vec<DeliveryStatus>)>, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT id, source, kind, urgency, recipient_kind, recipient_id, title, body, duplicate, created_at FROM notifications WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let n = NotificationRecord {
            id: r.try_get(0)?,
            source: r.try_get(1)?,
            kind: r.try_get(2)?,
            urgency: r.try_get(3)?,
            recipient_kind: r.try_get(4)?,
            recipient_id: r.try_get(5)?,
            title: r.try_get(6)?,
            body: r.try_get(7)?,
            duplicate: r.try_get::<i64, _>(8)? != 0,
            created_at: r.try_get(9)?,
        };
        let rows = sqlx::query(
            "SELECT id, channel, address, op, status, attempts, last_error, platform_message_id, sent_at FROM deliveries WHERE notification_id = $1 ORDER BY created_at, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let deliveries = rows
            .iter()
            .map(|r| {
                Ok(DeliveryStatus {
                    id: r.try_get(0)?,
                    channel: r.try_get(1)?,
                    address: r.try_get(2)?,
                    op: r.try_get(3)?,
                    status: r.try_get(4)?,
                    attempts: r.try_get(5)?,
                    last_error: r.try_get(6)?,
                    platform_message_id: r.try_get(7)?,
                    sent_at: r.try_get(8)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some((n, deliveries)))
    }
}

impl Store {
    /// After a crash, deliveries a single-instance hub left "sending" belong
    /// to nobody: make them due again now instead of waiting out the lease.
    /// (With PostgreSQL and several instances, leases expire on their own.)
    pub async fn reclaim_own_leases(&self) -> Result<u64, StoreError> {
        if self.dialect != Dialect::Sqlite {
            return Ok(0);
        }
        let n = sqlx::query(
            "UPDATE deliveries SET status = 'pending', lease_until = NULL WHERE status = 'sending'",
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }
}

impl Store {
    /// Record many successful sends in one statement: one write per round
    /// instead of one per delivery keeps the outbox from competing with
    /// ingest for the database's write lock.
    pub async fn mark_sent_many(
        &self,
        sent: &[(String, Option<String>)],
        now: i64,
    ) -> Result<(), StoreError> {
        for chunk in sent.chunks(500) {
            let sql = format!(
                // IN (SELECT ...) lets both engines find the rows by primary key;
                // an UPDATE ... FROM join made SQLite scan the whole table.
                "WITH v(id, pmid) AS (VALUES {}) UPDATE deliveries SET status = 'sent', \
                 platform_message_id = COALESCE((SELECT v.pmid FROM v WHERE v.id = deliveries.id), platform_message_id), \
                 lease_until = NULL, sent_at = ${n}, updated_at = ${n}, last_error = NULL \
                 WHERE deliveries.id IN (SELECT v.id FROM v)",
                placeholders::rows(self.dialect, 2, chunk.len()),
                n = chunk.len() * 2 + 1
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (id, pmid) in chunk {
                q = q.bind(id.as_str()).bind(pmid.as_deref());
            }
            q.bind(now).execute(&self.pool).await?;
        }
        Ok(())
    }
}
