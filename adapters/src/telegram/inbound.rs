//! Updates from Telegram → the hub's neutral [`Inbound`]: a message whose
//! text starts with `/` is a command, a callback query is a button press. Also the webhook's
//! secret check and the long-poll loop's state (the offset).

use super::config::TelegramConfig;
use super::send::classify;
use crate::{Inbound, InboundKind, SendError};
use routing::ChannelKind;
use std::time::Duration;
use subtle::ConstantTimeEq;
use teloxide_core::prelude::*;
use teloxide_core::types::{AllowedUpdate, Update, UpdateKind};

/// Header Telegram sends with every webhook call when setWebhook was given
/// a `secret_token`.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// The kinds of update the hub asks for (getUpdates and setWebhook).
pub const ALLOWED_UPDATES: [AllowedUpdate; 2] =
    [AllowedUpdate::Message, AllowedUpdate::CallbackQuery];

/// One update the hub should act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Telegram's `update_id`: the same update delivered twice (a webhook
    /// retried while a slow command runs, a batch re-read after a restart)
    /// carries the same one, so the hub runs it once.
    pub update_id: i64,
    pub what: IncomingKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingKind {
    /// A command or a button press to run.
    Act {
        inbound: Inbound,
        /// Set for a button press: it must be answered (answerCallbackQuery),
        /// or the person's client shows a spinner until it times out.
        callback_query_id: Option<String>,
    },
    /// A button press without its message (on an inline message, or on one
    /// too old for Telegram to include): nothing can be run or edited, but
    /// it must still be answered, or the spinner hangs.
    ExpiredButton { callback_query_id: String },
}

/// Whether the webhook header carries the configured secret; compared in
/// constant time so the secret cannot be guessed byte by byte from timing.
pub fn secret_matches(expected: &str, given: Option<&[u8]>) -> bool {
    match given {
        Some(g) if !expected.is_empty() => bool::from(expected.as_bytes().ct_eq(g)),
        _ => false,
    }
}

/// Parse a webhook body (one Update as JSON).
pub fn parse_webhook(body: &[u8]) -> Result<Option<Incoming>, serde_json::Error> {
    let update: Update = serde_json::from_slice(body)?;
    Ok(parse_update(&update))
}

/// What an update means for the hub, if anything. Only text that starts
/// with `/` is a command: in a group the bot may see ordinary talk
/// ("thanks"), which must not be answered. `/start` (what Telegram sends
/// when someone opens the bot) shows help.
pub fn parse_update(update: &Update) -> Option<Incoming> {
    let update_id = i64::from(update.id.0);
    let what = match &update.kind {
        UpdateKind::Message(m) => {
            let from = m.from.as_ref()?;
            if let Some(reply) = reply_to_hub(m) {
                return Some(Incoming {
                    update_id,
                    what: IncomingKind::Act {
                        inbound: Inbound {
                            platform: ChannelKind::Telegram,
                            user_id: from.id.0.to_string(),
                            chat_id: m.chat.id.0.to_string(),
                            message_id: Some(m.id.0.to_string()),
                            what: reply,
                        },
                        callback_query_id: None,
                    },
                });
            }
            let text = m.text().filter(|t| t.trim_start().starts_with('/'))?;
            IncomingKind::Act {
                inbound: Inbound {
                    platform: ChannelKind::Telegram,
                    user_id: from.id.0.to_string(),
                    chat_id: m.chat.id.0.to_string(),
                    message_id: Some(m.id.0.to_string()),
                    what: InboundKind::Command {
                        text: start_as_help(text),
                    },
                },
                callback_query_id: None,
            }
        }
        UpdateKind::CallbackQuery(q) => match q.message.as_ref() {
            Some(message) => IncomingKind::Act {
                inbound: Inbound {
                    platform: ChannelKind::Telegram,
                    user_id: q.from.id.0.to_string(),
                    chat_id: message.chat().id.0.to_string(),
                    message_id: Some(message.id().0.to_string()),
                    what: InboundKind::Button {
                        token: q.data.clone().unwrap_or_default(),
                    },
                },
                callback_query_id: Some(q.id.0.clone()),
            },
            None => IncomingKind::ExpiredButton {
                callback_query_id: q.id.0.clone(),
            },
        },
        _ => return None,
    };
    Some(Incoming { update_id, what })
}

/// Text (not a command) replying to a message the bot sent: a possible
/// answer to a question. `to` is "chat_id:message_id", the ID the adapter
/// keeps for edits.
fn reply_to_hub(m: &teloxide_core::types::Message) -> Option<InboundKind> {
    let text = m.text().filter(|t| !t.trim_start().starts_with('/'))?;
    let original = m.reply_to_message()?;
    if !original.from.as_ref().is_some_and(|u| u.is_bot) {
        return None;
    }
    Some(InboundKind::Reply {
        to: format!("{}:{}", m.chat.id.0, original.id.0),
        text: text.to_string(),
    })
}

/// `/start`, `/start@bot`, `/start payload` → the same with `/help`.
fn start_as_help(text: &str) -> String {
    let trimmed = text.trim_start();
    let first = trimmed.split_whitespace().next().unwrap_or("");
    let (cmd, suffix) = first.split_once('@').unwrap_or((first, ""));
    if cmd != "/start" {
        return text.to_string();
    }
    if suffix.is_empty() {
        "/help".to_string()
    } else {
        format!("/help@{suffix}")
    }
}

/// The long-poll side: getUpdates with an offset kept in memory (Telegram
/// keeps unconfirmed updates for 24 hours, so a restart re-reads what was
/// not confirmed).
pub struct Poller {
    bot: Bot,
    offset: i32,
    timeout_secs: u32,
}

/// Why a getUpdates call failed.
#[derive(Debug, thiserror::Error)]
#[error("Telegram getUpdates failed: {0}")]
pub struct PollError(pub SendError);

impl Poller {
    pub fn new(config: &TelegramConfig) -> Result<Poller, super::TelegramError> {
        let timeout_secs = config.poll_timeout_secs;
        // The HTTP timeout must outlast the long poll.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(u64::from(timeout_secs) + 10))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| super::TelegramError::Client(e.to_string()))?;
        let bot = Bot::with_client(&config.token, client).set_api_url(super::api_url(config)?);
        Ok(Poller {
            bot,
            offset: 0,
            timeout_secs,
        })
    }

    /// Wait for the next updates and confirm them (the next call's offset).
    /// Updates the hub does not act on are confirmed too.
    pub async fn next(&mut self) -> Result<Vec<Incoming>, PollError> {
        let request = self
            .bot
            .get_updates()
            .offset(self.offset)
            .timeout(self.timeout_secs)
            .allowed_updates(ALLOWED_UPDATES);
        // Sent by the adapter's client: no fixed 10 s sleep on a 5xx.
        let updates = super::client::call(&self.bot, request)
            .await
            .map_err(|e| PollError(classify(e)))?;
        if let Some(max) = updates.iter().map(|u| u.id.0).max() {
            self.offset = i32::try_from(max).unwrap_or(i32::MAX).saturating_add(1);
        }
        Ok(updates.iter().filter_map(parse_update).collect())
    }

    /// Ask for update `update_id` (and everything after it) again on the
    /// next call: the hub could not take it (its database was unreachable),
    /// and Telegram keeps unconfirmed updates.
    pub fn rewind(&mut self, update_id: i64) {
        let id = i32::try_from(update_id).unwrap_or(i32::MAX);
        self.offset = self.offset.min(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_must_match_exactly() {
        assert!(secret_matches(
            "s3cret-s3cret-s3",
            Some(b"s3cret-s3cret-s3")
        ));
        assert!(!secret_matches(
            "s3cret-s3cret-s3",
            Some(b"s3cret-s3cret-s4")
        ));
        assert!(!secret_matches("s3cret-s3cret-s3", Some(b"s3cret")));
        assert!(!secret_matches("s3cret-s3cret-s3", None));
        assert!(!secret_matches("", Some(b"")));
    }

    #[test]
    fn start_shows_help() {
        assert_eq!(start_as_help("/start"), "/help");
        assert_eq!(start_as_help("/start@orkbot abc"), "/help@orkbot");
        assert_eq!(start_as_help("/task new x"), "/task new x");
        assert_eq!(start_as_help("/startle"), "/startle");
    }

    #[test]
    fn messages_and_callbacks_become_inbound() {
        let msg = json!({"update_id": 10, "message": {
            "message_id": 5, "date": 1700000000,
            "chat": {"id": -100123, "type": "supergroup", "title": "eng"},
            "from": {"id": 555, "is_bot": false, "first_name": "Dana"},
            "text": "/task new fix it"}});
        let i = parse_webhook(msg.to_string().as_bytes()).unwrap().unwrap();
        assert_eq!(i.update_id, 10);
        let (inbound, query) = act(i);
        assert_eq!(query, None);
        assert_eq!(inbound.user_id, "555");
        assert_eq!(inbound.chat_id, "-100123");
        assert_eq!(inbound.message_id.as_deref(), Some("5"));
        assert_eq!(
            inbound.what,
            InboundKind::Command {
                text: "/task new fix it".into()
            }
        );
        let cb = json!({"update_id": 11, "callback_query": {
            "id": "cbq1", "chat_instance": "x", "data": "tok123",
            "from": {"id": 777, "is_bot": false, "first_name": "B"},
            "message": {"message_id": 9, "date": 1700000000,
                "chat": {"id": 777, "type": "private", "first_name": "B"},
                "text": "Decision"}}});
        let (inbound, query) = act(parse_webhook(cb.to_string().as_bytes()).unwrap().unwrap());
        assert_eq!(query.as_deref(), Some("cbq1"));
        assert_eq!(inbound.message_id.as_deref(), Some("9"));
        assert_eq!(
            inbound.what,
            InboundKind::Button {
                token: "tok123".into()
            }
        );
        // A message without text (a photo) is not for us.
        let photo = json!({"update_id": 12, "message": {"message_id": 6, "date": 1700000000,
            "chat": {"id": 1, "type": "private", "first_name": "A"},
            "from": {"id": 1, "is_bot": false, "first_name": "A"},
            "photo": []}});
        assert_eq!(parse_webhook(photo.to_string().as_bytes()).unwrap(), None);
        assert!(parse_webhook(b"{not json").is_err());
    }

    fn act(i: Incoming) -> (Inbound, Option<String>) {
        match i.what {
            IncomingKind::Act {
                inbound,
                callback_query_id,
            } => (inbound, callback_query_id),
            other => panic!("not a command or press: {other:?}"),
        }
    }

    fn text_update(text: &str) -> Vec<u8> {
        json!({"update_id": 20, "message": {"message_id": 7, "date": 1700000000,
            "chat": {"id": -100123, "type": "supergroup", "title": "eng"},
            "from": {"id": 555, "is_bot": false, "first_name": "Dana"},
            "text": text}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn only_slash_text_is_a_command() {
        for talk in ["thanks", "task new x", "help", "  ", "a /task new x"] {
            assert_eq!(parse_webhook(&text_update(talk)).unwrap(), None, "{talk:?}");
        }
        for command in ["/help", "  /task new x", "/task@orkbot new x"] {
            let (inbound, _) = act(parse_webhook(&text_update(command)).unwrap().unwrap());
            assert!(
                matches!(inbound.what, InboundKind::Command { .. }),
                "{command:?}"
            );
        }
    }

    fn reply_update(text: &str, to_bot: bool) -> Vec<u8> {
        json!({"update_id": 21, "message": {"message_id": 8, "date": 1700000000,
            "chat": {"id": -100123, "type": "supergroup", "title": "eng"},
            "from": {"id": 555, "is_bot": false, "first_name": "Dana"},
            "text": text,
            "reply_to_message": {"message_id": 5, "date": 1700000000,
                "chat": {"id": -100123, "type": "supergroup", "title": "eng"},
                "from": {"id": 42, "is_bot": to_bot, "first_name": "X"},
                "text": "Question #4 from builder"}}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn text_replying_to_the_bot_is_a_reply_to_its_message() {
        let (inbound, _) = act(parse_webhook(&reply_update("use eu", true))
            .unwrap()
            .unwrap());
        assert_eq!(
            inbound.what,
            InboundKind::Reply {
                to: "-100123:5".into(),
                text: "use eu".into()
            }
        );
        // A reply to a person is talk, not for us; a command stays a command.
        assert_eq!(parse_webhook(&reply_update("use eu", false)).unwrap(), None);
        let (inbound, _) = act(parse_webhook(&reply_update("/help", true))
            .unwrap()
            .unwrap());
        assert!(matches!(inbound.what, InboundKind::Command { .. }));
    }

    #[test]
    fn a_press_without_its_message_is_still_answered() {
        // An inline message's button: Telegram sends no `message`.
        let cb = json!({"update_id": 30, "callback_query": {
            "id": "cbq9", "chat_instance": "x", "data": "tok123",
            "inline_message_id": "AAAA",
            "from": {"id": 777, "is_bot": false, "first_name": "B"}}});
        let i = parse_webhook(cb.to_string().as_bytes()).unwrap().unwrap();
        assert_eq!(i.update_id, 30);
        assert_eq!(
            i.what,
            IncomingKind::ExpiredButton {
                callback_query_id: "cbq9".into()
            }
        );
    }
}
