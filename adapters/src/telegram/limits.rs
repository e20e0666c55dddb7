//! Telegram's limits: message size, callback data size, and the send rates
//! Telegram enforces with 429s, kept by [`Pace`] so the hub neither provokes
//! them nor sends slower than Telegram allows.
//!
//! teloxide's `Throttle` is not used: it applies its per-minute chat limit
//! (20/min) to private chats and basic groups alike, so 40 urgent messages
//! to one person took two minutes with 36 s pauses, although Telegram allows
//! about one a second in a private chat. The kind of chat is in its ID:
//! private chats are positive, basic groups negative, supergroups and
//! channels `-100…` (and an `@username` is a channel).

use super::config::ConfigError;
use crate::shared_pace::{Shared, SharedSlots};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use teloxide_core::types::Recipient;
use tokio::time::Instant;

/// Longest message text, counted after entity parsing in UTF-16 code units.
pub const MAX_TEXT_UTF16: usize = 4096;
/// Longest `callback_data` of an inline button, in bytes.
pub const MAX_CALLBACK_DATA_BYTES: usize = 64;
/// Longest answerCallbackQuery text Telegram shows, in characters.
pub const MAX_CALLBACK_ANSWER_CHARS: usize = 200;
/// Longest `input_field_placeholder` of a ForceReply, in characters (1-64).
pub const MAX_PLACEHOLDER_CHARS: usize = 64;

/// Send rates (Bot FAQ, "My bot is hitting limits"): about one message a
/// second in a private chat, 20 a minute in a group, 30 a second overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Messages per second across all chats.
    pub per_second: u32,
    /// Messages per second to one private chat.
    pub per_chat_per_second: u32,
    /// No longer used (private chats follow `per_chat_per_second`, basic
    /// groups `per_group_per_minute`); still read so that older config
    /// files load.
    #[serde(skip_serializing)]
    pub per_chat_per_minute: Option<u32>,
    /// Messages per minute to one group, supergroup or channel.
    pub per_group_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_second: 30,
            per_chat_per_second: 1,
            per_chat_per_minute: None,
            per_group_per_minute: 20,
        }
    }
}

impl RateLimits {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fields = [
            ("limits.per_second", self.per_second),
            ("limits.per_chat_per_second", self.per_chat_per_second),
            ("limits.per_group_per_minute", self.per_group_per_minute),
        ];
        for (key, v) in fields {
            if v == 0 {
                return Err(ConfigError {
                    key,
                    problem: "must be at least 1 (0 would stop all sends)".into(),
                });
            }
        }
        Ok(())
    }
}

/// Whether a chat is paced as a private chat or as a group.
pub fn is_private(chat: &Recipient) -> bool {
    matches!(chat, Recipient::Id(id) if id.0 > 0)
}

/// Chats remembered before those with no slot ahead are forgotten.
const MAX_TRACKED_CHATS: usize = 10_000;
/// A bot-wide wait shorter than this leaves the chat's slot as it was (no
/// extra statement for the common case of a free bot-wide slot); the 2 %
/// margin on every interval covers it.
const SLOT_SLACK: Duration = Duration::from_millis(5);

/// Send slots handed out evenly: a chat's next message no sooner than one
/// interval after its last (1.02 s private, 3.06 s group at the defaults), and
/// all chats together no sooner than 1/`per_second` apart. Evenly spaced,
/// not in bursts: Telegram counts over sliding windows, and a burst of 20
/// then one every 3 s puts 21 into some minute. Slots are taken in the
/// order callers ask, so a chat's messages (sent one at a time by its
/// outbox queue) keep their order. With several instances the same slots
/// come from the database instead (see [`crate::shared_pace`]).
pub struct Pace {
    private: Duration,
    group: Duration,
    global: Duration,
    next: Mutex<Slots>,
    shared: Shared,
}

struct Slots {
    chats: HashMap<String, Instant>,
    global: Instant,
}

impl Pace {
    pub fn new(limits: &RateLimits) -> Pace {
        // 2 % slower than the limit: our clock starts when we send,
        // Telegram's when the request arrives, and a request that travels
        // faster than the one before it would otherwise land a hair inside
        // the window (a 429).
        let every = |window: Duration, n: u32| window / n.max(1) * 51 / 50;
        Pace {
            private: every(Duration::from_secs(1), limits.per_chat_per_second),
            group: every(Duration::from_secs(60), limits.per_group_per_minute),
            global: every(Duration::from_secs(1), limits.per_second),
            next: Mutex::new(Slots {
                chats: HashMap::new(),
                global: Instant::now(),
            }),
            shared: Shared::default(),
        }
    }

    /// Take slots shared with the other instances from now on.
    pub fn share(&self, slots: Arc<dyn SharedSlots>) {
        self.shared.set(slots);
    }

    /// Take `chat`'s next slot, then a bot-wide one, waiting for each.
    pub async fn wait(&self, chat: &Recipient) {
        let interval = if is_private(chat) {
            self.private
        } else {
            self.group
        };
        let chat_key = format!("telegram:chat:{chat}");
        if !self.shared.wait(&chat_key, interval).await {
            let at = self.take(|s| {
                let now = Instant::now();
                if s.chats.len() > MAX_TRACKED_CHATS {
                    s.chats.retain(|_, next| *next > now);
                }
                let next = s.chats.entry(chat.to_string()).or_insert(now);
                let at = (*next).max(now);
                *next = at + interval;
                at
            });
            tokio::time::sleep_until(at).await;
        }
        // When the chat's slot came; the bot-wide one may come later.
        let chat_slot = Instant::now();
        if !self.shared.wait("telegram:bot", self.global).await {
            let global = self.global;
            let at = self.take(|s| {
                let at = s.global.max(Instant::now());
                s.global = at + global;
                at
            });
            tokio::time::sleep_until(at).await;
        }
        // The bot-wide wait made this send later than its chat's slot: the
        // chat's next message counts from now, or two could leave closer
        // together than the chat allows (seen with 60 chats on 2 instances).
        if Instant::now() > chat_slot + SLOT_SLACK
            && !self.shared.used_now(&chat_key, interval).await
        {
            let now = Instant::now();
            self.take(|s| {
                let next = s.chats.entry(chat.to_string()).or_insert(now);
                *next = (*next).max(now + interval);
                now
            });
        }
    }

    fn take(&self, f: impl FnOnce(&mut Slots) -> Instant) -> Instant {
        // A poisoned lock only means another send panicked mid-update; the
        // slots are still usable.
        let mut slots = self.next.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide_core::types::ChatId;

    #[test]
    fn chat_kinds_come_from_their_ids() {
        assert!(is_private(&Recipient::Id(ChatId(555))));
        assert!(!is_private(&Recipient::Id(ChatId(-4242))));
        assert!(!is_private(&Recipient::Id(ChatId(-1001234567890))));
        assert!(!is_private(&Recipient::ChannelUsername("@news".into())));
    }

    /// Ten times Telegram's rates, to keep the test short; the arithmetic
    /// is the same.
    fn fast() -> RateLimits {
        RateLimits {
            per_second: 300,
            per_chat_per_second: 10,
            per_chat_per_minute: None,
            per_group_per_minute: 200,
        }
    }

    #[tokio::test]
    async fn private_chats_are_paced_per_second_and_groups_per_minute() {
        let pace = Pace::new(&fast());
        let person = Recipient::Id(ChatId(555));
        let group = Recipient::Id(ChatId(-1001));
        let start = Instant::now();
        for _ in 0..5 {
            pace.wait(&person).await;
        }
        // 100 ms apart: the fifth at 400 ms, not held to the group's rate
        // (300 ms apart: 1.2 s).
        let ms = start.elapsed().as_millis();
        assert!((400..550).contains(&ms), "{ms}");
        let start = Instant::now();
        for _ in 0..3 {
            pace.wait(&group).await;
        }
        let ms = start.elapsed().as_millis();
        assert!((600..750).contains(&ms), "{ms}");
    }

    /// A send that waited for the bot-wide slot after its chat's slot came
    /// counts its chat's next slot from when it left: with ten other chats
    /// ahead in the bot-wide queue, a chat's second message used to follow
    /// its first one bot-wide interval later (50 ms here), well inside the
    /// chat's own interval (255 ms).
    #[tokio::test]
    async fn a_chat_is_spaced_from_its_last_send_not_its_last_slot() {
        let pace = Pace::new(&RateLimits {
            per_second: 20,
            per_chat_per_second: 4,
            per_chat_per_minute: None,
            per_group_per_minute: 200,
        });
        let others: Vec<Recipient> = (1..=10).map(|id| Recipient::Id(ChatId(id))).collect();
        let late_chat = Recipient::Id(ChatId(99));
        let late = async {
            // Asks after the ten others took their bot-wide slots.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            pace.wait(&late_chat).await;
            let first = Instant::now();
            pace.wait(&late_chat).await;
            first.elapsed()
        };
        let (gap, ..) = tokio::join!(
            late,
            pace.wait(&others[0]),
            pace.wait(&others[1]),
            pace.wait(&others[2]),
            pace.wait(&others[3]),
            pace.wait(&others[4]),
            pace.wait(&others[5]),
            pace.wait(&others[6]),
            pace.wait(&others[7]),
            pace.wait(&others[8]),
            pace.wait(&others[9]),
        );
        assert!(
            gap.as_millis() >= 250,
            "{gap:?} between two messages to one chat"
        );
    }

    #[tokio::test]
    async fn all_chats_together_keep_the_bot_wide_rate() {
        let pace = Pace::new(&RateLimits::default());
        let start = Instant::now();
        for chat in 1..=31 {
            pace.wait(&Recipient::Id(ChatId(chat))).await;
        }
        // 31 first messages to 31 chats: 30 intervals of 1/30 s.
        let ms = start.elapsed().as_millis();
        assert!((1000..1150).contains(&ms), "{ms}");
    }
}
