//! Idempotency-Key for the API calls that do not go through ingest (which
//! stores its answers in the same commit as the notification). The key is
//! reserved before the call runs and its answer stored after, so a retry gets
//! the first answer and a concurrent retry is told to wait.

use super::{Store, StoreError, StoredResponse, now_ms};
use sqlx::Row;

/// A reservation left unfinished this long (the hub stopped mid-call) may
/// be taken over by a retry.
const ABANDONED_AFTER_MS: i64 = 60_000;

/// What reserving a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// Ours now: run the call, then `finish_idempotent` or `release_idempotent`.
    Reserved,
    /// Answered before.
    Answered(StoredResponse),
    /// Another request with this key is running now.
    InProgress,
}

impl Store {
    pub async fn reserve_idempotent(
        &self,
        agent_id: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Reservation, StoreError> {
        let now = now_ms();
        // status_code 0 marks "in progress".
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (agent_id, key, request_hash, status_code, response_body, created_at) \
             VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT (agent_id, key) DO NOTHING",
        )
        .bind(agent_id)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Reservation::Reserved);
        }
        let taken_over = sqlx::query(
            "UPDATE idempotency_keys SET request_hash = $3, created_at = $4 \
             WHERE agent_id = $1 AND key = $2 AND status_code = 0 AND created_at < $5",
        )
        .bind(agent_id)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .bind(now - ABANDONED_AFTER_MS)
        .execute(&self.pool)
        .await?;
        if taken_over.rows_affected() == 1 {
            return Ok(Reservation::Reserved);
        }
        let row = sqlx::query(
            "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE agent_id = $1 AND key = $2",
        )
        .bind(agent_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            // Released between our insert and read: nothing to replay, and
            // the caller may simply retry.
            return Ok(Reservation::InProgress);
        };
        let status: i64 = row.try_get(1)?;
        if status == 0 {
            return Ok(Reservation::InProgress);
        }
        Ok(Reservation::Answered(StoredResponse {
            request_hash: row.try_get(0)?,
            status_code: status as u16,
            body: row.try_get(2)?,
        }))
    }

    /// Store the answer of a reserved call.
    pub async fn finish_idempotent(
        &self,
        agent_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE agent_id = $1 AND key = $2",
        )
        .bind(agent_id)
        .bind(key)
        .bind(status as i64)
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Give a reservation back (the call failed in a way a retry may fix).
    pub async fn release_idempotent(&self, agent_id: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE agent_id = $1 AND key = $2 AND status_code = 0",
        )
        .bind(agent_id)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forget answers stored before `before_ms` (the TTL's cutoff), at
    /// most `batch` rows per statement so a large backlog never holds the
    /// write lock long (SQLite has one writer: ingest waits behind it).
    /// Covers both kinds of keys: those ingest stores with its commits and
    /// those reserved here. Returns how many were deleted.
    pub async fn prune_idempotency_keys(
        &self,
        before_ms: i64,
        batch: i64,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let n = sqlx::query(
                "DELETE FROM idempotency_keys WHERE (agent_id, key) IN \
                 (SELECT agent_id, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)",
            )
            .bind(before_ms)
            .bind(batch.max(1))
            .execute(&self.pool)
            .await?
            .rows_affected();
            total += n;
            if n < batch.max(1) as u64 {
                return Ok(total);
            }
        }
    }

    /// How many idempotency answers are kept (tests, metrics).
    pub async fn idempotency_key_count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM idempotency_keys")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}
