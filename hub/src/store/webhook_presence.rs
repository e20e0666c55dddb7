//! Whether any webhook is active, remembered between ingest batches on
//! SQLite, so that a hub nobody subscribed to pays nothing for outbound
//! webhooks on its hottest path (the ingest commit used to build and fan
//! out a `notification.created` event per notification, matching none).
//!
//! SQLite is a single instance: every subscription change goes through this
//! process's store, which forgets the answer after the change commits
//! ([`Store::webhooks_changed`]). On PostgreSQL another instance may add a
//! subscription at any moment, so the ingest statement asks the database
//! itself, in the same statement (see `notifications.rs`): nothing cached.

use super::{Store, StoreError};
use std::sync::Mutex;

/// The remembered answer and a generation counted up by every change, so
/// that an answer read before a change is never kept after it.
#[derive(Debug, Default)]
pub(crate) struct WebhookPresence {
    state: Mutex<(u64, Option<bool>)>,
}

impl WebhookPresence {
    fn get(&self) -> (u64, Option<bool>) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep `active` unless a change came in since generation `seen`.
    fn set(&self, seen: u64, active: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 == seen {
            s.1 = Some(active);
        }
    }

    fn forget(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = (s.0 + 1, None);
    }
}

impl Store {
    /// Whether any webhook subscription is active: from memory on SQLite
    /// after the first question, else asked from the database.
    pub async fn any_active_webhook(&self) -> Result<bool, StoreError> {
        let (seen, known) = self.webhook_presence.get();
        if let Some(active) = known {
            return Ok(active);
        }
        // A count, not EXISTS: SQLite answers EXISTS as an integer.
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM (SELECT 1 FROM webhook_subscriptions WHERE status = 'active' LIMIT 1) AS a",
        )
        .fetch_one(&self.pool)
        .await?;
        let active = n > 0;
        if self.dialect == super::Dialect::Sqlite {
            self.webhook_presence.set(seen, active);
        }
        Ok(active)
    }

    /// A subscription was added, changed or removed (called after its
    /// commit): the next question goes to the database.
    pub(super) fn webhooks_changed(&self) {
        self.webhook_presence.forget();
    }
}
