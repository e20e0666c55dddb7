//! Sending and editing through the Bot API (requests built by teloxide,
//! sent by [`super::client`]), and what Telegram's errors mean for a retry.
//! Rates are kept by [`Pace`] (fed from
//! [`RateLimits`](super::limits::RateLimits)); a 429 that still comes back
//! is handed to the dispatcher with Telegram's `retry_after`, so the wait is
//! durable and later messages to the same chat queue behind it.

use super::client::call;
use super::limits::Pace;
use super::render::{self, RenderError};
use crate::SendError;
use crate::partial::{self, PartialSends};
use crate::template::Templates;
use neutral::RichMessage;
use std::time::Duration;
use teloxide_core::prelude::*;
use teloxide_core::types::{MessageId, ParseMode, Recipient, ReplyParameters};
use teloxide_core::{ApiError, RequestError};

pub(super) struct Sender {
    /// Builds requests (and holds the client, token and base URL).
    pub(super) bot: Bot,
    pub(super) pace: Pace,
    /// Where briefs' templates are read at every send.
    pub(super) templates: Templates,
    /// Parts already delivered of a message whose later part failed.
    partial: PartialSends<MessageId>,
}

/// A chat as the Bot API names it: a numeric ID, or @channelusername.
pub fn recipient(address: &str) -> Result<Recipient, SendError> {
    if let Ok(id) = address.trim().parse::<i64>() {
        return Ok(Recipient::Id(ChatId(id)));
    }
    if address.starts_with('@') && address.len() > 1 {
        return Ok(Recipient::ChannelUsername(address.to_string()));
    }
    Err(SendError::permanent(format!(
        "{address:?} is not a Telegram chat ID (a number, or @channel)"
    )))
}

/// "chat_id:message_id" of a sent message, as kept for later edits.
pub fn message_ref(chat: &Recipient, id: MessageId) -> String {
    format!("{chat}:{}", id.0)
}

/// The inverse of [`message_ref`].
pub fn parse_message_ref(s: &str) -> Result<(Recipient, MessageId), SendError> {
    let bad = || SendError::permanent(format!("{s:?} is not a Telegram message reference"));
    let (chat, id) = s.rsplit_once(':').ok_or_else(bad)?;
    let id: i32 = id.parse().map_err(|_| bad())?;
    Ok((recipient(chat)?, MessageId(id)))
}

impl Sender {
    pub(super) fn new(bot: Bot, pace: Pace) -> Sender {
        Sender {
            bot,
            pace,
            templates: Templates::default(),
            partial: PartialSends::new(),
        }
    }

    /// Send every part; the keyboard (or a reply prompt) goes on the last
    /// one, which is the message a later edit replaces and a reply answers. `reply_to` threads the first part.
    pub(super) async fn send(
        &self,
        address: &str,
        reply_to: Option<&str>,
        message: &RichMessage,
    ) -> Result<String, SendError> {
        let chat = recipient(address)?;
        let parts = render::parts(message, &self.templates).map_err(render_error)?;
        let markup = render::send_markup(message).map_err(render_error)?;
        let reply_to = reply_to.and_then(|r| r.parse::<i32>().ok()).map(MessageId);
        let key = partial::key(address, &(&parts, format!("{markup:?}")));
        let mut done = self.partial.take(key);
        let mut last = done.last().copied();
        for (i, text) in parts.iter().enumerate().skip(done.len()) {
            let is_last = i + 1 == parts.len();
            let mut req = self
                .bot
                .send_message(chat.clone(), text.clone())
                .parse_mode(ParseMode::Html);
            if i == 0
                && let Some(id) = reply_to
            {
                req = req.reply_parameters(ReplyParameters::new(id).allow_sending_without_reply());
            }
            if is_last && let Some(k) = &markup {
                req = req.reply_markup(k.clone());
            }
            self.pace.wait(&chat).await;
            match call(&self.bot, req).await {
                Ok(m) => {
                    done.push(m.id);
                    last = Some(m.id);
                }
                Err(e) => {
                    self.partial.keep(key, done);
                    return Err(classify(e));
                }
            }
        }
        let last = last.ok_or_else(|| SendError::permanent("nothing was sent"))?;
        Ok(message_ref(&chat, last))
    }

    /// Replace the text (and keyboard) of the message `reference` names. A
    /// message that was split is edited in its last part: the earlier parts
    /// hold the same leading text, and the last one carries the outcome.
    pub(super) async fn edit(
        &self,
        reference: &str,
        message: &RichMessage,
    ) -> Result<(), SendError> {
        let (chat, id) = parse_message_ref(reference)?;
        let parts = render::parts(message, &self.templates).map_err(render_error)?;
        let keyboard = render::keyboard(&message.buttons).map_err(render_error)?;
        let text = parts.last().cloned().unwrap_or_default();
        let mut req = self
            .bot
            .edit_message_text(chat, id, text)
            .parse_mode(ParseMode::Html);
        // Without reply_markup Telegram removes the old keyboard: a resolved
        // decision loses its buttons.
        if let Some(k) = keyboard {
            req = req.reply_markup(k);
        }
        match call(&self.bot, req).await {
            Ok(_) => Ok(()),
            // The message already shows this: the edit's goal is met.
            Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }
}

fn render_error(e: RenderError) -> SendError {
    SendError::permanent(e.to_string())
}

/// Whether Telegram's answer means "try again" (and when) or "never".
pub fn classify(e: RequestError) -> SendError {
    match e {
        RequestError::RetryAfter(s) => SendError::Transient {
            reason: format!("Telegram rate limit (429), retry after {}s", s.seconds()),
            retry_after: Some(Duration::from_secs(u64::from(s.seconds()))),
        },
        RequestError::Network(e) => crate::tls::refused(&*e, "adapters.telegram.ca_file")
            .unwrap_or_else(|| SendError::transient(format!("network: {e}"))),
        RequestError::Io(e) => SendError::transient(format!("I/O: {e}")),
        // Not the Bot API answering (a proxy error page, a cut response).
        RequestError::InvalidJson { raw, .. } => SendError::transient(format!(
            "unreadable answer from the Bot API: {}",
            raw.chars().take(200).collect::<String>()
        )),
        RequestError::MigrateToChatId(to) => SendError::permanent(format!(
            "the group became a supergroup; bind chat ID {to} instead"
        )),
        // teloxide names Telegram's 401 "Unauthorized" (and 404 "Not
        // Found", an unknown token path) this way, not in Telegram's words.
        RequestError::Api(ApiError::InvalidToken) => SendError::permanent(
            "Unauthorized: Telegram does not accept the bot token (check adapters.telegram.token)",
        ),
        RequestError::Api(api) => {
            let description = match &api {
                ApiError::Unknown(d) => d.clone(),
                known => known.to_string(),
            };
            // 4xx answers start with their class; anything else (5xx pages,
            // "Internal Server Error", "Bad Gateway") can pass.
            let permanent = [
                "Bad Request",
                "Forbidden",
                "Unauthorized",
                "Not Found",
                "Conflict",
            ]
            .iter()
            .any(|p| description.starts_with(p));
            if permanent {
                SendError::permanent(description)
            } else {
                SendError::transient(description)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_errors_are_classified() {
        let blocked = classify(RequestError::Api(ApiError::BotBlocked));
        assert_eq!(
            blocked,
            SendError::permanent("Forbidden: bot was blocked by the user")
        );
        let parse = classify(RequestError::Api(ApiError::Unknown(
            "Bad Request: can't parse entities: x".into(),
        )));
        assert_eq!(
            parse,
            SendError::permanent("Bad Request: can't parse entities: x")
        );
        let token = classify(RequestError::Api(ApiError::InvalidToken));
        assert!(!token.is_retryable(), "{token}");
        assert!(token.to_string().contains("Unauthorized"), "{token}");
        let server = classify(RequestError::Api(ApiError::Unknown(
            "Internal Server Error".into(),
        )));
        assert!(server.is_retryable());
        let limited = classify(RequestError::RetryAfter(
            teloxide_core::types::Seconds::from_seconds(7),
        ));
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn message_refs_round_trip() {
        let r = message_ref(&Recipient::Id(ChatId(-1001)), MessageId(42));
        assert_eq!(r, "-1001:42");
        let (chat, id) = parse_message_ref(&r).unwrap();
        assert_eq!(chat, Recipient::Id(ChatId(-1001)));
        assert_eq!(id, MessageId(42));
        assert!(parse_message_ref("nope").is_err());
        assert!(recipient("alice").is_err());
    }
}
