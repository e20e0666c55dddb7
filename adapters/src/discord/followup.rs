//! What is sent through an interaction's token after its answer, carried
//! through the outbox.
//!
//! An interaction answered late (the deferred "thinking…") is finished by
//! editing that answer, and the later parts of a long reply follow it as
//! follow-up messages — Discord's interaction webhook
//! (`/webhooks/{application}/{token}`), not a channel message: it needs no
//! permission in the channel and keeps an ephemeral answer ephemeral. The
//! outbox names a send's place by chat and, in `Destination::thread`, the
//! message it answers; such a delivery carries a [`FollowUp`] there instead
//! (see [`FollowUp::encode`]), so it is queued, paced and retried with the
//! channel's other messages, and [`super::DiscordAdapter`] sends it through
//! the token.
//!
//! The token is a credential for 15 minutes (it may edit and follow up that
//! interaction's answer only), kept in the delivery row like a message ID;
//! once it has expired Discord answers 404 and the delivery ends dead.

use serde::{Deserialize, Serialize};

/// Marks a target as a follow-up (a message ID is `channel:message`).
const PREFIX: &str = "interaction ";

/// Which parts of the reply go, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parts {
    /// The deferred answer replaced by the first part (with the buttons);
    /// the other parts follow it.
    Finish,
    /// The deferred press answered: the pressed message replaced by the
    /// first part.
    Press,
    /// The parts after the first (the first was the interaction response).
    Rest,
    /// The first part alone, as a follow-up (a refused press: the pressed
    /// message stays).
    FirstAsFollowUp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub token: String,
    pub parts: Parts,
    /// Only the person who asked sees the follow-ups.
    pub ephemeral: bool,
}

impl FollowUp {
    pub fn new(token: &str, parts: Parts, ephemeral: bool) -> Self {
        FollowUp {
            token: token.to_string(),
            parts,
            ephemeral,
        }
    }

    /// As kept in a delivery's target.
    pub fn encode(&self) -> String {
        crate::target::encode(PREFIX, self)
    }

    /// A target made by [`FollowUp::encode`]; `None` for anything else.
    pub fn decode(target: &str) -> Option<Self> {
        crate::target::decode(PREFIX, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_round_trip_and_message_refs_are_not_targets() {
        let f = FollowUp::new("tok.en", Parts::Finish, true);
        assert_eq!(FollowUp::decode(&f.encode()), Some(f));
        assert_eq!(FollowUp::decode("1:2"), None);
    }
}
