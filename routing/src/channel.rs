use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A kind of destination the hub can deliver to. Each has one adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Telegram,
    Slack,
    Discord,
    Email,
    /// The live web feed (Server-Sent Events). Every notification reaches it.
    Web,
    /// Prints deliveries to the hub's own output; the no-token default.
    Console,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 6] = [
        ChannelKind::Telegram,
        ChannelKind::Slack,
        ChannelKind::Discord,
        ChannelKind::Email,
        ChannelKind::Web,
        ChannelKind::Console,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Telegram => "telegram",
            ChannelKind::Slack => "slack",
            ChannelKind::Discord => "discord",
            ChannelKind::Email => "email",
            ChannelKind::Web => "web",
            ChannelKind::Console => "console",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel {0:?}: expected one of telegram, slack, discord, email, web, console")]
pub struct UnknownChannel(pub String);

impl FromStr for ChannelKind {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChannelKind::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownChannel(s.to_string()))
    }
}
