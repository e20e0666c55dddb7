//! Once-per-slot claims for scheduled jobs (digests, briefs). A job claims its
//! slot inside the same transaction that queues its work, so a restart or a
//! second instance can neither repeat a slot nor lose one.

use super::{Store, StoreError};
use sqlx::{Any, Transaction};

impl Store {
    /// Claim `(job, slot)` inside `tx`. False: someone already ran it (the
    /// caller should roll back and do nothing).
    pub(crate) async fn claim_slot(
        tx: &mut Transaction<'_, Any>,
        job: &str,
        slot: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO scheduled_runs (job, slot, claimed_by, claimed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (job, slot) DO NOTHING",
        )
        .bind(job)
        .bind(slot)
        .bind(by)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claim a slot on its own (for jobs whose work is not in this database).
    pub async fn claim_slot_now(
        &self,
        job: &str,
        slot: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let claimed = Self::claim_slot(&mut tx, job, slot, by, super::now_ms()).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Whether `(job, slot)` has run (a cheap check before building work).
    pub async fn slot_done(&self, job: &str, slot: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT claimed_at FROM scheduled_runs WHERE job = $1 AND slot = $2")
                .bind(job)
                .bind(slot)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }
}
