//! Calls to Discord's HTTP API through serenity's `Http` client, and what
//! Discord's errors mean for a retry (discord.com/developers/docs/topics/
//! opcodes-and-status-codes: HTTP codes and JSON error codes).

use super::limits::RETRY_AFTER_429;
use super::rest::{Answer, Rest};
use crate::SendError;
use serenity::all::{
    ChannelId, CreateActionRow, CreateInteractionResponseFollowup, CreateMessage,
    EditInteractionResponse, EditMessage, GuildId, Http, MessageId, MessageReference, UserId,
};
use serenity::http::HttpError;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// DM channels remembered (user → channel) before the map is cleared.
const MAX_DM_CHANNELS: usize = 10_000;

pub(super) struct Api {
    pub(super) http: Http,
    /// Message creation and edits, whose limits need Discord's headers.
    rest: Rest,
    timeout: Duration,
    /// A person's DM channel, opened once (POST /users/@me/channels).
    dms: Mutex<HashMap<u64, u64>>,
}

/// "channel_id:message_id" of a sent message, as kept for later edits.
pub fn message_ref(channel: u64, message: u64) -> String {
    format!("{channel}:{message}")
}

/// The inverse of [`message_ref`].
pub fn parse_message_ref(s: &str) -> Result<(u64, u64), SendError> {
    let bad = || {
        SendError::permanent(format!(
            "{s:?} is not a Discord message reference (channel:message)"
        ))
    };
    let (channel, message) = s.split_once(':').ok_or_else(bad)?;
    match (
        super::config::snowflake(channel),
        super::config::snowflake(message),
    ) {
        (Some(c), Some(m)) => Ok((c, m)),
        _ => Err(bad()),
    }
}

impl Api {
    pub(super) fn new(http: Http, rest: Rest, timeout: Duration) -> Api {
        Api {
            http,
            rest,
            timeout,
            dms: Mutex::new(HashMap::new()),
        }
    }

    /// Every call is bounded: serenity's client has no timeout of its own,
    /// and a hung request would hold its chat's queue.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = serenity::Result<T>>,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r.map_err(classify),
            Err(_) => Err(SendError::transient(format!(
                "Discord did not answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// Post one message; returns its ID, and what Discord said about the
    /// channel's bucket.
    pub(super) async fn post(
        &self,
        channel: u64,
        content: &str,
        components: Vec<CreateActionRow>,
        reply_to: Option<u64>,
    ) -> Answer<u64> {
        let mut builder = CreateMessage::new()
            .content(content)
            .allowed_mentions(super::render::no_mentions())
            .components(components);
        if let Some(m) = reply_to {
            builder = builder.reference_message(MessageReference::from((
                ChannelId::new(channel),
                MessageId::new(m),
            )));
        }
        self.rest.create_message(channel, &builder).await
    }

    /// Replace a message's content and buttons.
    pub(super) async fn edit(
        &self,
        channel: u64,
        message: u64,
        content: &str,
        components: Vec<CreateActionRow>,
    ) -> Answer<u64> {
        let builder = EditMessage::new()
            .content(content)
            .allowed_mentions(super::render::no_mentions())
            .components(components);
        self.rest.edit_message(channel, message, &builder).await
    }

    /// The DM channel with a user, opened on first use.
    pub(super) async fn dm_channel(&self, user: u64) -> Result<u64, SendError> {
        if let Some(c) = self.dms.lock().ok().and_then(|m| m.get(&user).copied()) {
            return Ok(c);
        }
        let channel = self
            .bounded(UserId::new(user).create_dm_channel(&self.http))
            .await?
            .id
            .get();
        if let Ok(mut m) = self.dms.lock() {
            if m.len() >= MAX_DM_CHANNELS {
                m.clear();
            }
            m.insert(user, channel);
        }
        Ok(channel)
    }

    /// Bulk-overwrite the application's slash commands (globally, or in one
    /// guild); returns how many Discord now has.
    pub(super) async fn set_commands(
        &self,
        guild: Option<u64>,
        commands: &[serde_json::Value],
    ) -> Result<usize, SendError> {
        let list = match guild {
            Some(g) => {
                self.bounded(
                    self.http
                        .create_guild_commands(GuildId::new(g), &commands.to_vec()),
                )
                .await?
            }
            None => {
                self.bounded(self.http.create_global_commands(&commands.to_vec()))
                    .await?
            }
        };
        Ok(list.len())
    }

    /// Edit the answer to an interaction (after a deferred response: the
    /// command's reply, or the message whose button was pressed). Through
    /// `rest`, so a 429's `retry_after` is kept.
    pub(super) async fn edit_original(
        &self,
        token: &str,
        content: &str,
        components: Vec<CreateActionRow>,
    ) -> Result<(), SendError> {
        let builder = EditInteractionResponse::new()
            .content(content)
            .allowed_mentions(super::render::no_mentions())
            .components(components);
        self.rest.edit_original(token, &builder).await.result?;
        Ok(())
    }

    /// A further message answering an interaction (the later parts of a
    /// long reply, or a refusal for the presser alone).
    pub(super) async fn follow_up(
        &self,
        token: &str,
        content: &str,
        ephemeral: bool,
    ) -> Result<(), SendError> {
        let builder = CreateInteractionResponseFollowup::new()
            .content(content)
            .allowed_mentions(super::render::no_mentions())
            .ephemeral(ephemeral);
        self.rest.follow_up(token, &builder).await.result?;
        Ok(())
    }
}

/// Whether Discord's answer means "try again" (and when) or "never".
pub fn classify(e: serenity::Error) -> SendError {
    use serenity::Error;
    match e {
        Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let status = r.status_code.as_u16();
            let what = if r.error.code > 0 {
                format!("{} {} ({status})", r.error.code, r.error.message)
            } else {
                format!("HTTP {status}: {}", r.error.message)
            };
            match status {
                // serenity keeps Discord's retry_after only when its own
                // limiter is on (it is off: see limits.rs); the calls that
                // meet 429s go through `rest`, which reads it. Here (a
                // registration, an interaction answer) wait a full
                // per-channel bucket instead.
                429 => SendError::Transient {
                    reason: format!("Discord rate limit: {what}"),
                    retry_after: Some(RETRY_AFTER_429),
                },
                500..=599 => SendError::transient(format!("Discord server error: {what}")),
                401 => SendError::permanent(format!(
                    "Discord refused the bot token: {what}; check adapters.discord.token"
                )),
                // 403: Missing Access (50001), Missing Permissions (50013),
                // Cannot send messages to this user (50007); 404: Unknown
                // Channel (10003) / Message (10008); 400: Invalid Form Body
                // (50035). Sending again cannot change any of them.
                _ => SendError::permanent(format!("Discord refused: {what}")),
            }
        }
        Error::Http(HttpError::Request(e)) => crate::tls::refused(&e, "adapters.discord.ca_file")
            .unwrap_or_else(|| SendError::transient(format!("network: {e}"))),
        // An answer we could not read (a proxy's error page, a cut body).
        Error::Json(e) => SendError::transient(format!("unreadable answer from Discord: {e}")),
        Error::Io(e) => SendError::transient(format!("I/O: {e}")),
        // Refused before sending: too long, too many embeds, a bad URL.
        other => SendError::permanent(format!("not sent: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_refs_round_trip() {
        assert_eq!(parse_message_ref(&message_ref(12, 34)).unwrap(), (12, 34));
        for bad in ["12", "x:1", "1:0", ":"] {
            assert!(!parse_message_ref(bad).unwrap_err().is_retryable(), "{bad}");
        }
    }
}
