//! The digest's one transaction: claim the person's `("digest", person:date)`
//! slot, read what is held for them, then either commit the claim alone
//! (nothing held: no empty digest) or mark every held item `digested` under
//! the digest's ID and queue the one digest notification and delivery — all
//! in one commit. So every held item lands in exactly one digest: a restart
//! finds the slot claimed, a send retry re-sends the one digest delivery.

use super::notifications::{NewDelivery, NewNotification};
use super::{Store, StoreError, placeholders};
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

/// One item waiting in a person's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldItem {
    pub delivery_id: String,
    pub notification_id: String,
    pub channel: String,
    pub address: String,
    pub kind: String,
    pub project_id: Option<String>,
    pub source: String,
    pub title: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// An open digest transaction holding its slot claim. Dropped without a
/// commit, it rolls back (claim included), and the next tick tries again.
pub struct DigestRun {
    tx: Transaction<'static, Any>,
    dialect: super::Dialect,
}

impl Store {
    /// Begin the digest for `slot`; None when it has been done already.
    pub async fn begin_digest(
        &self,
        slot: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<DigestRun>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !Self::claim_slot(&mut tx, "digest", slot, by, now_ms).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(DigestRun {
            tx,
            dialect: self.dialect,
        }))
    }

    /// Everyone with items held for a digest.
    pub async fn held_people(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT person_id FROM deliveries WHERE status = 'held' AND person_id IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Give up `person`'s held items: `skipped`, with `reason` kept as the
    /// delivery's last error. How many there were.
    pub async fn release_held(
        &self,
        person: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'skipped', last_error = $1, updated_at = $2 \
             WHERE person_id = $3 AND status = 'held'",
        )
        .bind(reason)
        .bind(now_ms)
        .bind(person)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The notifications a digest holds (its record; used by the tests).
    pub async fn digest_items(&self, digest_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT notification_id FROM deliveries WHERE digest_id = $1 AND status = 'digested' ORDER BY id",
        )
        .bind(digest_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }
}

impl DigestRun {
    /// The person's held items accepted up to `cutoff_ms` (the slot's due
    /// time: later ones wait for the next digest), newest first.
    pub async fn held(
        &mut self,
        person_id: &str,
        cutoff_ms: i64,
    ) -> Result<Vec<HeldItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.notification_id, d.channel, d.address, n.kind, n.project_id, n.source, n.title, n.body, n.created_at \
             FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE d.person_id = $1 AND d.status = 'held' AND d.created_at <= $2 \
             ORDER BY n.created_at DESC, n.id DESC",
        )
        .bind(person_id)
        .bind(cutoff_ms)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HeldItem {
                    delivery_id: r.try_get(0)?,
                    notification_id: r.try_get(1)?,
                    channel: r.try_get(2)?,
                    address: r.try_get(3)?,
                    kind: r.try_get(4)?,
                    project_id: r.try_get(5)?,
                    source: r.try_get(6)?,
                    title: r.try_get(7)?,
                    body: r.try_get(8)?,
                    created_at: r.try_get(9)?,
                })
            })
            .collect()
    }

    /// Nothing to send: keep only the claim.
    pub async fn commit_empty(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Mark `items` digested under the digest notification's ID and queue
    /// the digest, in one commit. If any item is no longer held (someone
    /// else digested it), nothing is written.
    pub async fn commit_digest(
        mut self,
        items: &[HeldItem],
        digest: &NewNotification,
        delivery: &NewDelivery,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO notifications (id, source, kind, urgency, recipient_kind, recipient_id, project_id, title, body, fields, decision_id, dedupe_key, duplicate, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, 0, $11)",
        )
        .bind(&digest.id)
        .bind(&digest.source)
        .bind(&digest.kind)
        .bind(digest.urgency)
        .bind(digest.recipient_kind)
        .bind(&digest.recipient_id)
        .bind(&digest.project_id)
        .bind(&digest.title)
        .bind(&digest.body)
        .bind(&digest.fields_json)
        .bind(digest.created_at)
        .execute(&mut *self.tx)
        .await?;
        let mut marked = 0u64;
        for chunk in items.chunks(500) {
            let sql = format!(
                "UPDATE deliveries SET status = 'digested', digest_id = $1, updated_at = $2 \
                 WHERE status = 'held' AND id IN ({})",
                placeholders::list(self.dialect, 3, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql))
                .bind(&digest.id)
                .bind(now_ms);
            for item in chunk {
                q = q.bind(item.delivery_id.as_str());
            }
            marked += q.execute(&mut *self.tx).await?.rows_affected();
        }
        if marked != items.len() as u64 {
            self.tx.rollback().await?;
            return Err(StoreError::Corrupt(format!(
                "digest {}: {} of {} held items changed while it was built; it will be rebuilt",
                digest.id,
                items.len() as u64 - marked,
                items.len()
            )));
        }
        sqlx::query(
            "INSERT INTO deliveries (id, notification_id, person_id, channel, address, op, target_message_id, status, next_attempt_at, fallbacks, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $10)",
        )
        .bind(&delivery.id)
        .bind(&delivery.notification_id)
        .bind(&delivery.person_id)
        .bind(&delivery.channel)
        .bind(&delivery.address)
        .bind(delivery.op.as_str())
        .bind(delivery.status.as_str())
        .bind(delivery.next_attempt_at)
        .bind(&delivery.fallbacks)
        .bind(delivery.created_at)
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
