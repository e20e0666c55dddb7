//! Once-per-slot claims for scheduled jobs (digests, briefs). The digest
//! claims its slot inside the same transaction that queues its work, so a
//! restart or a second instance can neither repeat a slot nor lose one.
//!
//! The brief costs more to build (an LLM call of up to its timeout, and a
//! cost record), so it reserves its slot *first*, with a lease, in a short
//! transaction of its own; then builds; then completes the reservation in
//! the transaction that queues the brief. A concurrent tick or a second
//! instance sees the reservation and does nothing; a builder that fails
//! gives it back, and one that crashed loses it when the lease runs out.

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

    /// Whether `(job, slot)` has run or is being run under a live lease (a
    /// cheap check before building work).
    pub async fn slot_done(&self, job: &str, slot: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT claimed_at FROM scheduled_runs WHERE job = $1 AND slot = $2 \
             AND (lease_until IS NULL OR lease_until > $3)",
        )
        .bind(job)
        .bind(slot)
        .bind(super::now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Reserve `(job, slot)` for `by` until `lease_until_ms`, before its work
    /// is built. True: it is ours now (never claimed, or an earlier lease ran
    /// out). False: done, or someone holds a live lease. `by` must be unique
    /// per attempt: it is what [`Store::release_slot`] and the completion
    /// check against.
    pub async fn reserve_slot(
        &self,
        job: &str,
        slot: &str,
        by: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO scheduled_runs (job, slot, claimed_by, claimed_at, lease_until) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (job, slot) DO UPDATE SET claimed_by = excluded.claimed_by, \
               claimed_at = excluded.claimed_at, lease_until = excluded.lease_until \
             WHERE scheduled_runs.lease_until IS NOT NULL \
               AND scheduled_runs.lease_until <= excluded.claimed_at",
        )
        .bind(job)
        .bind(slot)
        .bind(by)
        .bind(now_ms)
        .bind(lease_until_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Inside `tx`: turn `by`'s reservation of `(job, slot)` into a done run
    /// that covered activity up to `covered_until_ms`. False: the lease was
    /// lost (ran out and was taken over) — the caller must roll back.
    pub(crate) async fn complete_slot(
        tx: &mut Transaction<'_, Any>,
        job: &str,
        slot: &str,
        by: &str,
        covered_until_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE scheduled_runs SET lease_until = NULL, covered_until = $1 \
             WHERE job = $2 AND slot = $3 AND claimed_by = $4 AND lease_until IS NOT NULL",
        )
        .bind(covered_until_ms)
        .bind(job)
        .bind(slot)
        .bind(by)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Give back `by`'s reservation of `(job, slot)` (its work failed), so
    /// the next tick tries again at once instead of after the lease.
    pub async fn release_slot(&self, job: &str, slot: &str, by: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM scheduled_runs WHERE job = $1 AND slot = $2 AND claimed_by = $3 \
             AND lease_until IS NOT NULL",
        )
        .bind(job)
        .bind(slot)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
