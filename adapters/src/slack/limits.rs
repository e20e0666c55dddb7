//! Slack's limits: Block Kit sizes (api.slack.com/reference/block-kit) and
//! the posting rate of about one message per second per channel
//! (api.slack.com/methods/chat.postMessage#rate_limiting). Keeping the rate
//! ourselves avoids provoking 429s; a 429 that still comes is retried by the
//! dispatcher after Slack's `Retry-After`.

use crate::shared_pace::{Shared, SharedSlots};
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Characters of a section's text.
pub const MAX_SECTION_TEXT: usize = 3000;
/// Fields in one section, and characters per field.
pub const MAX_SECTION_FIELDS: usize = 10;
pub const MAX_FIELD_TEXT: usize = 2000;
/// Elements in one actions block, and characters of a button's label.
pub const MAX_ACTIONS_ELEMENTS: usize = 25;
pub const MAX_BUTTON_TEXT: usize = 75;
/// The top-level `text` is only the notification fallback when blocks are
/// present; Slack truncates past 40 000, a shorter one reads better.
pub const MAX_FALLBACK_TEXT: usize = 3000;
/// Channels remembered by the limiter before idle ones are forgotten.
const MAX_TRACKED_CHANNELS: usize = 10_000;

/// Per-channel pacing of chat.postMessage.
pub struct ChannelPace {
    limiter: RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>,
    spacing: Duration,
    /// With several instances: slots from the database (see
    /// [`crate::shared_pace`]).
    shared: Shared,
}

impl ChannelPace {
    /// `per_second` messages per channel, spaced evenly, with a 2% margin:
    /// our clock starts when we send, Slack's when the request arrives, and
    /// a request that travels faster than the one before it would otherwise
    /// land a hair under Slack's second (measured: 999.6 ms → a 429).
    pub fn new(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let spacing = Duration::from_secs(1) / rate.get() * 51 / 50;
        let quota = Quota::with_period(spacing).unwrap_or_else(|| Quota::per_second(rate));
        ChannelPace {
            limiter: RateLimiter::keyed(quota),
            spacing,
            shared: Shared::default(),
        }
    }

    /// Take slots shared with the other instances from now on.
    pub fn share(&self, slots: Arc<dyn SharedSlots>) {
        self.shared.set(slots);
    }

    /// Wait until `channel` may get another message.
    pub async fn wait(&self, channel: &str) {
        let key = format!("slack:channel:{channel}");
        if self.shared.wait(&key, self.spacing).await {
            return;
        }
        if self.limiter.len() > MAX_TRACKED_CHANNELS {
            self.limiter.retain_recent();
        }
        self.limiter.until_key_ready(&channel.to_string()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn one_message_per_second_per_channel() {
        let pace = ChannelPace::new(1);
        let start = Instant::now();
        pace.wait("C1").await;
        pace.wait("C2").await; // another channel is not held back
        assert!(start.elapsed() < Duration::from_millis(200));
        pace.wait("C1").await;
        assert!(
            start.elapsed() >= Duration::from_millis(900),
            "{:?}",
            start.elapsed()
        );
    }
}
