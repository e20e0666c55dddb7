//! Send slots shared by every hub instance on one database.
//!
//! Each adapter paces its sends in-process (see its `limits.rs`). With
//! several instances on one PostgreSQL that is not enough: the bot-wide
//! budget (Telegram 30/s, Discord 50/s) and each chat's limit hold for the
//! bot, not for one process, and a chat's queue claimed by another instance
//! must not start with a burst. The hub then hands each adapter
//! [`SharedSlots`] kept in the database: a slot is taken for a key (a chat,
//! or the whole bot) no sooner than an interval after the slot taken before
//! it by any instance, and the sender waits for it. The adapter asks for
//! the chat's slot first and the bot-wide one after waiting for it, as it
//! does in-process, so a send never holds a bot-wide slot while waiting for
//! its chat; when the bot-wide wait made the send later than its chat's
//! slot, the chat's next slot is counted from the send itself
//! ([`SharedSlots::used_now`]), or two messages to one chat could leave
//! closer together than the chat allows.
//!
//! Without shared slots (SQLite: one instance) the in-process pacing
//! stays. When the database cannot hand out a slot, the send falls back to
//! the in-process pacing rather than wait for the database.

use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Slots handed out across instances (implemented by the hub's store).
#[async_trait]
pub trait SharedSlots: Send + Sync {
    /// Take the next slot of `key`: at most `size` per `window` (a bucket
    /// refilled all at once; `size` 1: slots `window` apart); how long to
    /// wait for it.
    async fn take(&self, key: &str, window: Duration, size: u32) -> Result<Duration, String>;

    /// `key` (slots `interval` apart) was used just now, later than the slot
    /// it took (the send then waited for a bot-wide slot): its next slot is
    /// no sooner than `interval` from now.
    async fn used_now(&self, key: &str, interval: Duration) -> Result<(), String>;
}

/// An adapter's handle on shared slots: none until the hub sets them.
#[derive(Default)]
pub struct Shared(OnceLock<Arc<dyn SharedSlots>>);

impl Shared {
    /// Use `slots` from now on (once; later calls change nothing).
    pub fn set(&self, slots: Arc<dyn SharedSlots>) {
        let _ = self.0.set(slots);
    }

    pub fn is_set(&self) -> bool {
        self.0.get().is_some()
    }

    /// Wait for `key`'s next shared slot, `interval` after the one before.
    /// False when there are no shared slots or the database could not give
    /// one: the caller paces in-process instead.
    pub async fn wait(&self, key: &str, interval: Duration) -> bool {
        self.wait_bucket(key, interval, 1).await
    }

    /// Record that `key` (slots `interval` apart) was used just now: see
    /// [`SharedSlots::used_now`]. False when there are no shared slots or
    /// the database could not take it (the caller records it in-process).
    pub async fn used_now(&self, key: &str, interval: Duration) -> bool {
        let Some(slots) = self.0.get() else {
            return false;
        };
        match slots.used_now(key, interval).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, key, "shared send pacing unavailable; recording this send in-process");
                false
            }
        }
    }

    /// [`Shared::wait`] for a bucket of `size` slots per `window`.
    pub async fn wait_bucket(&self, key: &str, window: Duration, size: u32) -> bool {
        let Some(slots) = self.0.get() else {
            return false;
        };
        match slots.take(key, window, size).await {
            Ok(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, key, "shared send pacing unavailable; pacing this send in-process");
                false
            }
        }
    }
}
