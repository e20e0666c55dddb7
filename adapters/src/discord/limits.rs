//! Discord's limits (discord.com/developers/docs: Message resource, Message
//! Components, Rate Limits) and the pacing that keeps the bot inside them.
//!
//! serenity's own rate limiter sends every request to discord.com whatever
//! base URL is configured, so it is off (see CRATE-NOTES) and the pacing is
//! kept here: a per-channel bucket (Discord allows about 5 messages per 5 s
//! in one channel) and the bot-wide 50 requests per second.

use governor::clock::DefaultClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

/// Characters of a message's `content`.
pub const MAX_CONTENT_CHARS: usize = 2000;
/// Buttons in one action row, and action rows on one message.
pub const MAX_BUTTONS_PER_ROW: usize = 5;
pub const MAX_ROWS: usize = 5;
/// Characters of a button's label and of its `custom_id`.
pub const MAX_BUTTON_LABEL: usize = 80;
pub const MAX_CUSTOM_ID: usize = 100;
/// Interaction response flag: only the person who ran the command sees it.
pub const EPHEMERAL: u64 = 1 << 6;
/// How old (or how far ahead) an interaction's signed timestamp may be.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// When Discord answers 429 the wait it names is in its body and headers,
/// which serenity drops when its own limiter is off; this is the longest a
/// per-channel bucket takes to refill, so waiting it is always enough there.
pub const RETRY_AFTER_429: Duration = Duration::from_secs(5);
/// Channels remembered by the limiter before idle ones are forgotten.
const MAX_TRACKED_CHANNELS: usize = 10_000;

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;
type Direct = RateLimiter<NotKeyed, InMemoryState, DefaultClock, NoOpMiddleware>;

/// Pacing of message sends: per channel and bot-wide.
pub struct Pace {
    channels: Keyed,
    global: Direct,
}

impl Pace {
    /// `burst` messages per channel at once, then one per `interval`;
    /// `global_per_second` requests across all channels.
    pub fn new(burst: u32, interval: Duration, global_per_second: u32) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let per_channel = Quota::with_period(interval.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        let global =
            Quota::per_second(NonZeroU32::new(global_per_second).unwrap_or(NonZeroU32::MIN));
        Pace {
            channels: RateLimiter::keyed(per_channel),
            global: RateLimiter::direct(global),
        }
    }

    /// Wait until `channel` may get another message.
    pub async fn wait(&self, channel: &str) {
        if self.channels.len() > MAX_TRACKED_CHANNELS {
            self.channels.retain_recent();
        }
        self.channels.until_key_ready(&channel.to_string()).await;
        self.global.until_ready().await;
    }

    /// Wait for a bot-wide slot only (edits, DM channel look-ups).
    pub async fn wait_global(&self) {
        self.global.until_ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn a_channel_gets_its_burst_then_one_per_interval() {
        let pace = Pace::new(3, Duration::from_millis(300), 50);
        let start = Instant::now();
        for _ in 0..3 {
            pace.wait("1").await;
        }
        pace.wait("2").await; // another channel is not held back
        assert!(start.elapsed() < Duration::from_millis(150));
        pace.wait("1").await;
        assert!(
            start.elapsed() >= Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
    }
}
