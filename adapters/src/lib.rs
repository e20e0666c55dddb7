//! Platform adapters. Each platform has one folder shaped the same way
//! (`mod.rs` wires it, `config.rs` holds its settings, `send.rs` delivers,
//! `render.rs` turns a neutral [`RichMessage`] into the platform's format
//! with the platform's one escaper, `brief.rs` renders the daily brief with
//! the platform's templates and that same escaper; [`template`] is the
//! handlebars setup they share).
//! Platform details — escaping, limits, payloads — stay inside their folder;
//! an adapter never decides routing.

pub mod brief;
pub mod console;
pub mod deadline;
pub mod discord;
pub mod email;
mod error;
pub mod inbox;
mod partial;
pub mod platform;
pub mod shared_pace;
pub mod sign_in;
pub mod slack;
mod target;
pub mod telegram;
pub mod template;
pub mod tls;
pub mod web;
pub mod webhook;
mod websocket;

pub use error::SendError;

use async_trait::async_trait;
use neutral::RichMessage;
use routing::ChannelKind;

/// Where on a platform a message goes: a chat/channel ID, an email address,
/// a person's handle for the web feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub address: String,
    /// Go under this earlier message (in its thread, or as a reply to it),
    /// where the platform has threads or replies: the ID this adapter gave
    /// for it in [`Sent::platform_message_id`]. A message in another chat
    /// is not replied to.
    pub thread: Option<String>,
    /// The address is a person's own ID on the platform (a direct message),
    /// not a chat's: platforms where the two differ (Discord) open the DM.
    pub to_person: bool,
    /// The decision this message asks for, when it is a decision's request
    /// to a person: a sign-in link in it (email) lands on that decision's
    /// page in the console.
    pub decision: Option<i64>,
}

impl Destination {
    /// A chat, channel or mailbox.
    pub fn to(address: impl Into<String>) -> Self {
        Destination {
            address: address.into(),
            thread: None,
            to_person: false,
            decision: None,
        }
    }

    /// A person, by their ID on the platform.
    pub fn person(address: impl Into<String>) -> Self {
        Destination {
            to_person: true,
            ..Destination::to(address)
        }
    }
}

/// What the platform gave back for a sent message: its ID, kept so the
/// message can be edited later (a decision's outcome, for example).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sent {
    pub platform_message_id: Option<String>,
}

/// One platform's outbound side. The dispatcher owns retries, backoff and
/// fallback; an adapter sends once and says whether a retry can help.
#[async_trait]
pub trait Adapter: Send + Sync {
    fn kind(&self) -> ChannelKind;

    /// Deliver `message` to `to`.
    async fn send(&self, to: &Destination, message: &RichMessage) -> Result<Sent, SendError>;

    /// Replace the content of a message this adapter sent earlier.
    async fn edit(
        &self,
        to: &Destination,
        platform_message_id: &str,
        message: &RichMessage,
    ) -> Result<(), SendError>;
}

/// Something a person did on a platform, already verified and parsed by the
/// adapter: a command typed, or a button pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub platform: ChannelKind,
    /// The platform's immutable user ID (never a display name).
    pub user_id: String,
    /// Where it happened (chat / channel ID), for the reply.
    pub chat_id: String,
    /// The platform's ID of the message to reply to, if any.
    pub message_id: Option<String>,
    pub what: InboundKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundKind {
    /// Command text in the shared grammar (`/task new ...`).
    Command { text: String },
    /// A button's opaque token.
    Button { token: String },
    /// A command given as structured options (a Discord slash command):
    /// its path (`task new`) and named values, read by the hub through the
    /// same grammar as typed text.
    Options {
        path: String,
        values: Vec<(String, String)>,
    },
    /// Plain text sent as a reply to one of the hub's messages (a Telegram
    /// reply): `to` is that message's ID as the adapter keeps it for edits.
    /// The hub runs it when the message asked a question, else ignores it.
    Reply { to: String, text: String },
}
