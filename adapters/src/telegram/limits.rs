//! Telegram's limits: message size, callback data size, and the send rates
//! Telegram enforces with 429s (kept by teloxide's `Throttle` adaptor, fed
//! from these settings, so the hub does not provoke them).

use super::config::ConfigError;
use serde::{Deserialize, Serialize};
use teloxide_core::adaptors::throttle::Limits;

/// Longest message text, counted after entity parsing in UTF-16 code units.
pub const MAX_TEXT_UTF16: usize = 4096;
/// Longest `callback_data` of an inline button, in bytes.
pub const MAX_CALLBACK_DATA_BYTES: usize = 64;
/// Longest answerCallbackQuery text Telegram shows, in characters.
pub const MAX_CALLBACK_ANSWER_CHARS: usize = 200;

/// Send rates (Bot FAQ: "My bot is hitting limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Messages per second across all chats.
    pub per_second: u32,
    /// Messages per second to one chat.
    pub per_chat_per_second: u32,
    /// Messages per minute to one private chat or basic group (Throttle
    /// cannot tell the two apart by ID, so groups' 20/min applies to both).
    pub per_chat_per_minute: u32,
    /// Messages per minute to one supergroup or channel.
    pub per_group_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_second: 30,
            per_chat_per_second: 1,
            per_chat_per_minute: 20,
            per_group_per_minute: 20,
        }
    }
}

impl RateLimits {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fields = [
            ("limits.per_second", self.per_second),
            ("limits.per_chat_per_second", self.per_chat_per_second),
            ("limits.per_chat_per_minute", self.per_chat_per_minute),
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

    pub(crate) fn throttle(&self) -> Limits {
        Limits {
            messages_per_sec_chat: self.per_chat_per_second,
            messages_per_min_chat: self.per_chat_per_minute,
            messages_per_min_channel_or_supergroup: self.per_group_per_minute,
            messages_per_sec_overall: self.per_second,
        }
    }
}
