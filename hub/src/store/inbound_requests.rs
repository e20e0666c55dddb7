//! Once-only handling of chat requests a platform may send more than once
//! (Slack's retries). The first copy claims the key; later copies learn the
//! reply once there is one. PRIMARY KEY (platform, request_key) makes the
//! claim atomic across instances sharing one PostgreSQL.

use super::{Store, StoreError, now_ms};

/// How long a key is remembered; platforms retry within minutes.
const KEEP_MS: i64 = 24 * 60 * 60 * 1000;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestClaim {
    /// First time: run it.
    New,
    /// Seen before: do not run it again. The reply, if it has finished.
    Seen { reply: Option<String> },
}

impl Store {
    /// Claim `(platform, key)`.
    pub async fn claim_inbound_request(
        &self,
        platform: &str,
        key: &str,
    ) -> Result<RequestClaim, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO inbound_requests (platform, request_key, received_at, reply) \
             VALUES ($1, $2, $3, NULL) ON CONFLICT (platform, request_key) DO NOTHING",
        )
        .bind(platform)
        .bind(key)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            // Forget old keys as new ones arrive (indexed by received_at).
            sqlx::query("DELETE FROM inbound_requests WHERE received_at < $1")
                .bind(now - KEEP_MS)
                .execute(&self.pool)
                .await?;
            return Ok(RequestClaim::New);
        }
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT reply FROM inbound_requests WHERE platform = $1 AND request_key = $2",
        )
        .bind(platform)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(RequestClaim::Seen {
            reply: row.and_then(|(r,)| r),
        })
    }

    /// Keep the reply of a claimed request, for its retries.
    pub async fn save_inbound_reply(
        &self,
        platform: &str,
        key: &str,
        reply: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inbound_requests SET reply = $1 WHERE platform = $2 AND request_key = $3",
        )
        .bind(reply)
        .bind(platform)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many requests are remembered for `platform` (tests, metrics).
    pub async fn inbound_request_count(&self, platform: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM inbound_requests WHERE platform = $1")
                .bind(platform)
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }
}
