//! The platforms' send slots kept in the database when several instances
//! can share it (PostgreSQL): see `adapters::shared_pace`.

use crate::store::{Dialect, Store};
use adapters::shared_pace::SharedSlots;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

struct DbSlots(Store);

#[async_trait]
impl SharedSlots for DbSlots {
    async fn take(&self, key: &str, window: Duration, size: u32) -> Result<Duration, String> {
        let window_us = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
        self.0
            .take_send_slot(key, window_us, i64::from(size))
            .await
            .map(|us| Duration::from_micros(us.max(0) as u64))
            .map_err(|e| e.to_string())
    }

    async fn used_now(&self, key: &str, interval: Duration) -> Result<(), String> {
        let interval_us = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
        self.0
            .send_slot_used_now(key, interval_us)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Shared slots for the adapters when the store is PostgreSQL; `None` on
/// SQLite (one instance: in-process pacing is exact).
pub fn shared(store: &Store) -> Option<Arc<dyn SharedSlots>> {
    (store.dialect() == Dialect::Postgres).then(|| Arc::new(DbSlots(store.clone())) as _)
}
