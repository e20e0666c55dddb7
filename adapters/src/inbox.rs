//! The hub as a platform's listener sees it. A listener (Telegram's long
//! polling or webhook, Slack's HTTP endpoints or Socket Mode, Discord's
//! interactions endpoint) verifies and parses what arrives, then hands it
//! here; it never reaches into the hub's store, command engine or outbox.
//! The hub implements this once, for every platform.

use crate::Inbound;
use async_trait::async_trait;
use neutral::{Reply, RichMessage};
use routing::ChannelKind;

/// Whether an inbound request (by the platform's own delivery key: an
/// update ID, an interaction ID, a Slack request's key) is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time: run it.
    New,
    /// Seen before: do not run it again. The reply saved for it, if any.
    Seen { reply: Option<String> },
}

/// The hub could not do what a listener asked (usually: its database is
/// unavailable). The message says what was being done and why it failed.
#[derive(Debug, thiserror::Error)]
#[error("could not {doing}: {cause}")]
pub struct InboxError {
    pub doing: &'static str,
    pub cause: String,
}

#[async_trait]
pub trait Inbox: Send + Sync {
    /// Claim the request `key` on `platform`, so that a platform's
    /// redelivery never runs a command twice.
    async fn claim(&self, platform: ChannelKind, key: &str) -> Result<Claim, InboxError>;

    /// Keep the reply of a claimed request (in the platform's own answer
    /// format), for its redeliveries.
    async fn save_reply(
        &self,
        platform: ChannelKind,
        key: &str,
        reply: &str,
    ) -> Result<(), InboxError>;

    /// Run a command or a button press through the one command layer.
    /// `None`: not addressed to this bot (say nothing).
    async fn handle(&self, inbound: &Inbound, bot_username: Option<&str>) -> Option<Reply>;

    /// Send `reply` to `chat` on `platform` through the outbox: paced with
    /// the chat's other messages, retried, recorded. `target` is the
    /// platform message it answers, or the adapter's own follow-up address
    /// (a Slack `response_url`, a Discord interaction token), as that
    /// adapter reads it back when it sends.
    async fn send_later(
        &self,
        platform: ChannelKind,
        chat: &str,
        target: Option<String>,
        reply: &Reply,
    ) -> Result<(), InboxError>;

    /// What a message whose decision button `token` was pressed shows now:
    /// the decision's outcome without buttons. `None`: not a decision's
    /// button (or the decision is gone).
    async fn pressed_outcome(&self, token: &str) -> Option<RichMessage>;

    /// Have the pressed message `target` (as the adapter names a message
    /// it sent) in `chat` show the outcome of the decision whose button
    /// `token` was pressed, through the outbox, unless the decision's
    /// resolution already queued that edit.
    async fn show_pressed_outcome(
        &self,
        platform: ChannelKind,
        chat: &str,
        target: String,
        token: &str,
    ) -> Result<(), InboxError>;

    /// For a pressed button that asks the person to write the answer (a
    /// supervised question's Edit draft): queue in `chat`, under the
    /// pressed message `target`, a message to reply to with the answer —
    /// the whole draft, asking for a reply — and return the short notice
    /// for the press. `None`: the button asks for nothing of the kind (or
    /// the question is answered meanwhile). For platforms whose press
    /// notice is too short to hold a draft (Telegram's 200 characters).
    async fn queue_answer_prompt(
        &self,
        _platform: ChannelKind,
        _chat: &str,
        _target: String,
        _token: &str,
    ) -> Result<Option<String>, InboxError> {
        Ok(None)
    }
}

/// Send a follow-up to a request through the outbox or, when the hub cannot
/// take it (its database is away), once directly through `adapter`: such a
/// reply is often the hub saying its database is unavailable, and the
/// person who asked should still see it (a direct send is neither paced nor
/// retried; the outage is logged).
pub async fn send_later_or_now(
    inbox: &dyn Inbox,
    adapter: &dyn crate::Adapter,
    chat: &str,
    target: String,
    reply: &Reply,
) -> Result<(), String> {
    if reply.secret {
        // A credential is never kept by the hub: straight to the asker.
        return send_now(adapter, chat, target, reply).await;
    }
    let platform = adapter.kind();
    let Err(e) = inbox
        .send_later(platform, chat, Some(target.clone()), reply)
        .await
    else {
        return Ok(());
    };
    tracing::error!(error = %e, chat, "could not queue a follow-up in the outbox; sending it directly once");
    send_now(adapter, chat, target, reply).await
}

/// Send a reply once, directly (neither paced, retried nor recorded).
pub async fn send_now(
    adapter: &dyn crate::Adapter,
    chat: &str,
    target: String,
    reply: &Reply,
) -> Result<(), String> {
    let to = crate::Destination {
        address: chat.to_string(),
        thread: Some(target),
        to_person: false,
        decision: None,
    };
    adapter
        .send(&to, &reply.message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
