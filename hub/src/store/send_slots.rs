//! Send slots shared by the instances on one PostgreSQL (see
//! `adapters::shared_pace`): one row per key (a chat, or a whole bot) with
//! the time its next slot may be taken, moved forward atomically, so the
//! platforms' per-chat and bot-wide limits hold for all instances together.
//! SQLite is single-instance and paces in-process: the table exists there
//! only to keep the two schemas alike.

use super::{Dialect, Store, StoreError};

impl Store {
    /// Take `key`'s next slot: `interval_us` after the slot taken before it,
    /// or now if that is later. Returns how long to wait for it, in
    /// microseconds. Times come from the database's clock, the one clock
    /// every instance shares. One statement: the row lock orders instances
    /// that ask at once.
    pub async fn take_send_slot(&self, key: &str, interval_us: i64) -> Result<i64, StoreError> {
        if self.dialect != Dialect::Postgres {
            return Err(StoreError::Invalid(
                "shared send slots need PostgreSQL (SQLite paces in-process)".into(),
            ));
        }
        let (wait,): (i64,) = sqlx::query_as(
            "WITH now AS (SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT AS us) \
             INSERT INTO send_slots (key, next_at) SELECT $1, us + $2 FROM now \
             ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(send_slots.next_at, (SELECT us FROM now)) + $2 \
             RETURNING next_at - $2 - (SELECT us FROM now)",
        )
        .bind(key)
        .bind(interval_us)
        .fetch_one(&self.pool)
        .await?;
        Ok(wait.max(0))
    }
}
