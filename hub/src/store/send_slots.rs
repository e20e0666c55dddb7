//! Send slots shared by the instances on one PostgreSQL (see
//! `adapters::shared_pace`): one row per key (a chat, or a whole bot) with
//! the time its next slot may be taken, moved forward atomically, so the
//! platforms' per-chat and bot-wide limits hold for all instances together.
//! SQLite is single-instance and paces in-process: the table exists there
//! only to keep the two schemas alike.

use super::{Dialect, Store, StoreError};

impl Store {
    /// Take `key`'s next slot: up to `size` slots per window of
    /// `window_us`, windows one after the other from the first slot after
    /// the key was idle (a bucket that refills all at once, like Discord's);
    /// `size` 1 spaces slots evenly, `window_us` apart. Returns how long to
    /// wait for the slot, in microseconds. Times come from the database's
    /// clock, the one clock every instance shares. One statement: the row
    /// lock orders instances that ask at once.
    pub async fn take_send_slot(
        &self,
        key: &str,
        window_us: i64,
        size: i64,
    ) -> Result<i64, StoreError> {
        self.shared_slots_engine()?;
        // `next_at` is the current window's start and `used` the slots
        // handed out since: slot n goes to window n / size. Once every
        // window handed out has passed, the key starts afresh now.
        let (wait,): (i64,) = sqlx::query_as(
            "WITH now AS (SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT AS us) \
             INSERT INTO send_slots (key, next_at, used) SELECT $1, us, 1 FROM now \
             ON CONFLICT (key) DO UPDATE SET \
             next_at = CASE WHEN (SELECT us FROM now) >= send_slots.next_at + ((send_slots.used + $3 - 1) / $3) * $2 \
                 THEN (SELECT us FROM now) ELSE send_slots.next_at END, \
             used = CASE WHEN (SELECT us FROM now) >= send_slots.next_at + ((send_slots.used + $3 - 1) / $3) * $2 \
                 THEN 1 ELSE send_slots.used + 1 END \
             RETURNING next_at + ((used - 1) / $3) * $2 - (SELECT us FROM now)",
        )
        .bind(key)
        .bind(window_us)
        .bind(size.max(1))
        .fetch_one(&self.pool)
        .await?;
        Ok(wait.max(0))
    }

    /// `key` (slots `interval_us` apart, one per window) was used just now:
    /// when its last slot handed out is already past (the send waited for
    /// another slot after it), its next slot counts from now.
    pub async fn send_slot_used_now(&self, key: &str, interval_us: i64) -> Result<(), StoreError> {
        self.shared_slots_engine()?;
        sqlx::query(
            "WITH now AS (SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT AS us) \
             UPDATE send_slots SET next_at = (SELECT us FROM now), used = 1 \
             WHERE key = $1 AND next_at + (used - 1) * $2 < (SELECT us FROM now)",
        )
        .bind(key)
        .bind(interval_us)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Shared slots live in PostgreSQL only: SQLite is one instance and
    /// paces in-process.
    fn shared_slots_engine(&self) -> Result<(), StoreError> {
        if self.dialect == Dialect::Postgres {
            Ok(())
        } else {
            Err(StoreError::Invalid(
                "shared send slots need PostgreSQL (SQLite paces in-process)".into(),
            ))
        }
    }
}
