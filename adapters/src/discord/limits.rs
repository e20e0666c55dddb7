//! Discord's limits (discord.com/developers/docs: Message resource, Message
//! Components, Rate Limits) and the pacing that keeps the bot inside them.
//!
//! serenity's own rate limiter sends every request to discord.com whatever
//! base URL is configured, so it is off (see CRATE-NOTES) and the pacing is
//! kept here: each channel's message bucket (5 per 5 s, refilled all at once
//! when it resets, kept in step with Discord's `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset-After`) and the bot-wide 50 requests per second.
//! A burst of 5 then one a second — what governor's GCRA gives — puts up to
//! 9 messages into some 5 s and gets 429s.

use crate::shared_pace::{Shared, SharedSlots};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

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
/// When a 429 states no wait at all (neither body nor headers), a full
/// channel bucket: waiting that is always enough there.
pub const RETRY_AFTER_429: Duration = Duration::from_secs(5);
/// Channels remembered before those whose bucket has reset are forgotten.
const MAX_TRACKED_CHANNELS: usize = 10_000;
/// Our own estimate of a bucket's reset (before Discord's headers say) is
/// this much later than our clock suggests: Discord's window starts when
/// the request arrives, a moment after we send it.
const RESET_MARGIN: Duration = Duration::from_millis(50);

/// What Discord said about a bucket in an answer's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    pub remaining: u32,
    pub reset_after: Duration,
}

#[derive(Clone, Copy)]
struct Bucket {
    remaining: u32,
    /// When the bucket refills; `None` until its first message.
    reset_at: Option<Instant>,
}

/// Pacing of message sends: per channel and bot-wide.
pub struct Pace {
    size: u32,
    window: Duration,
    /// Bot-wide: requests no closer than this.
    spacing: Duration,
    state: Mutex<State>,
    /// With several instances: slots from the database (see
    /// [`crate::shared_pace`]).
    shared: Shared,
}

struct State {
    channels: HashMap<String, Bucket>,
    next_global: Instant,
}

impl Pace {
    /// `size` messages per channel per `window`; `global_per_second`
    /// requests across all channels, evenly spaced.
    pub fn new(size: u32, window: Duration, global_per_second: u32) -> Self {
        Pace {
            size: size.max(1),
            window: window.max(Duration::from_millis(1)),
            // 2 % wider than the limit: Discord counts arrivals, and a
            // request that travels faster than the one before it would
            // otherwise put one too many into some second.
            spacing: Duration::from_secs(1) / global_per_second.max(1) * 51 / 50,
            state: Mutex::new(State {
                channels: HashMap::new(),
                next_global: Instant::now(),
            }),
            shared: Shared::default(),
        }
    }

    /// Take slots shared with the other instances from now on: a channel's
    /// bucket (its size per window, the window as long as our own estimate
    /// of it) and the bot-wide spacing, for all instances together. The
    /// bucket kept from Discord's headers still applies on top.
    pub fn share(&self, slots: Arc<dyn SharedSlots>) {
        self.shared.set(slots);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Poisoned only if a send panicked mid-update; the state is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until `channel` may get another message, and take its slot;
    /// then a bot-wide one.
    pub async fn wait(&self, channel: &str) {
        if self.shared.is_set() {
            self.shared
                .wait_bucket(
                    &format!("discord:channel:{channel}"),
                    self.window + RESET_MARGIN,
                    self.size,
                )
                .await;
        }
        // Whether this send opened the channel's bucket (our estimate of
        // its window starts with it).
        let mut opened = false;
        loop {
            let wait_until = {
                let mut s = self.state();
                let now = Instant::now();
                if s.channels.len() > MAX_TRACKED_CHANNELS {
                    s.channels
                        .retain(|_, b| b.reset_at.is_some_and(|r| r > now));
                }
                let size = self.size;
                let b = s.channels.entry(channel.to_string()).or_insert(Bucket {
                    remaining: size,
                    reset_at: None,
                });
                if b.reset_at.is_some_and(|r| r <= now) {
                    *b = Bucket {
                        remaining: size,
                        reset_at: None,
                    };
                }
                if b.remaining > 0 {
                    b.remaining -= 1;
                    if b.reset_at.is_none() {
                        b.reset_at = Some(now + self.window + RESET_MARGIN);
                        opened = true;
                    }
                    None
                } else {
                    b.reset_at
                }
            };
            match wait_until {
                None => break,
                Some(at) => tokio::time::sleep_until(at).await,
            }
        }
        let slot = Instant::now();
        self.wait_global().await;
        // Discord's window starts when the bucket's first message arrives.
        // If the bot-wide wait held that message back, the estimate moves
        // with it, or the bucket would refill early in our count and the
        // next burst meet a 429 (until Discord's headers correct it).
        let now = Instant::now();
        if opened
            && now > slot
            && let Some(reset_at) = self
                .state()
                .channels
                .get_mut(channel)
                .and_then(|b| b.reset_at.as_mut())
        {
            *reset_at = (*reset_at).max(now + self.window + RESET_MARGIN);
        }
    }

    /// What Discord's answer said about `channel`'s bucket (its headers, or
    /// a 429's wait): it replaces our own estimate.
    pub fn update(&self, channel: &str, state: BucketState) {
        let reset_at = Instant::now() + state.reset_after;
        self.state().channels.insert(
            channel.to_string(),
            Bucket {
                remaining: state.remaining,
                reset_at: Some(reset_at),
            },
        );
    }

    /// Wait for a bot-wide slot only (edits, DM channel look-ups).
    pub async fn wait_global(&self) {
        if self.shared.wait("discord:bot", self.spacing).await {
            return;
        }
        let at = {
            let mut s = self.state();
            let at = s.next_global.max(Instant::now());
            s.next_global = at + self.spacing;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_channel_gets_its_bucket_then_waits_for_the_reset() {
        // Discord's shape (5 per window), a shorter window.
        let pace = Pace::new(5, Duration::from_millis(500), 50);
        let start = Instant::now();
        for _ in 0..5 {
            pace.wait("1").await;
        }
        pace.wait("2").await; // another channel is not held back
        assert!(start.elapsed() < Duration::from_millis(250));
        // The sixth waits for the whole bucket to refill, then 5 go again
        // (not one per interval).
        pace.wait("1").await;
        let ms = start.elapsed().as_millis();
        assert!((550..700).contains(&ms), "{ms}");
        for _ in 0..4 {
            pace.wait("1").await;
        }
        assert!(start.elapsed().as_millis() < 800);
        pace.wait("1").await;
        assert!(start.elapsed().as_millis() >= 1100);
    }

    #[tokio::test]
    async fn discord_s_headers_replace_the_estimate() {
        let pace = Pace::new(5, Duration::from_secs(5), 50);
        pace.wait("1").await;
        // Discord says: nothing left for 300 ms (a 429's retry_after).
        pace.update(
            "1",
            BucketState {
                remaining: 0,
                reset_after: Duration::from_millis(300),
            },
        );
        let start = Instant::now();
        pace.wait("1").await;
        let ms = start.elapsed().as_millis();
        assert!((300..400).contains(&ms), "{ms}");
    }

    #[tokio::test]
    async fn a_bucket_counts_from_when_its_first_message_left() {
        let pace = Pace::new(2, Duration::from_millis(300), 50);
        // The bot-wide queue is 400 ms long when the channel's first
        // message takes its bucket slot.
        pace.state().next_global = Instant::now() + Duration::from_millis(400);
        pace.wait("a").await;
        let first_left = Instant::now();
        pace.wait("a").await;
        // A third in the window Discord started at the first's arrival
        // would be a 429.
        pace.wait("a").await;
        let gap = first_left.elapsed();
        assert!(gap >= Duration::from_millis(300), "{gap:?}");
    }

    #[tokio::test]
    async fn bot_wide_requests_are_spaced() {
        let pace = Pace::new(5, Duration::from_secs(5), 50);
        let start = Instant::now();
        for c in 0..51 {
            pace.wait(&c.to_string()).await;
        }
        let ms = start.elapsed().as_millis();
        assert!((1020..1150).contains(&ms), "{ms}");
    }
}
