//! The Telegram adapter (Bot API through teloxide): HTML messages escaped by
//! construction and split to 4096 characters, decisions with inline
//! keyboards, Telegram's send rates kept by [`limits::Pace`], and the inbound
//! side (long polling or webhook) parsed into the hub's neutral [`Inbound`].
//!
//! `config.rs` settings · `render.rs` HTML and keyboards · `send.rs` send,
//! edit and error classification · `client.rs` the HTTP call (no hidden
//! waits) · `inbound.rs` updates, webhook secret, long poll · `limits.rs`
//! Telegram's limits and pacing · `platform.rs` its start in the hub ·
//! `register.rs` registration with the Bot API · `listen.rs` the poll loop
//! and webhook handing updates to the hub's inbox · `command_list.rs` the
//! `setMyCommands` list.

pub mod brief;
mod client;
pub mod command_list;
pub mod config;
pub mod inbound;
pub mod limits;
mod listen;
mod platform;
mod register;
pub mod render;
pub mod send;

pub use config::{Mode, TelegramConfig};
pub use inbound::{Incoming, IncomingKind, Poller, SECRET_HEADER, parse_webhook, secret_matches};
pub use platform::TelegramPlatform;

use crate::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use neutral::{Reply, RichMessage};
use routing::ChannelKind;
use send::Sender;
use teloxide_core::prelude::*;
use teloxide_core::types::{BotCommand, CallbackQueryId};

/// Why the Telegram side could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("Telegram HTTP client: {0}")]
    Client(String),
    #[error("Telegram {method} failed: {error}")]
    Request {
        method: &'static str,
        error: SendError,
    },
}

impl TelegramError {
    /// Whether trying the same call later can help (a network failure, a
    /// 5xx, a 429), as opposed to a refusal such as 401 for a revoked token.
    pub fn is_retryable(&self) -> bool {
        match self {
            TelegramError::Request { error, .. } => error.is_retryable(),
            TelegramError::Config(_) | TelegramError::Client(_) => false,
        }
    }

    /// How long Telegram asked to wait before the next call (a 429's
    /// `retry_after`), if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            TelegramError::Request { error, .. } => error.retry_after(),
            TelegramError::Config(_) | TelegramError::Client(_) => None,
        }
    }
}

pub(crate) fn api_url(config: &TelegramConfig) -> Result<reqwest::Url, TelegramError> {
    reqwest::Url::parse(&config.api_url).map_err(|e| {
        TelegramError::Config(config::ConfigError {
            key: "api_url",
            problem: format!("{:?}: {e}", config.api_url),
        })
    })
}

/// teloxide's own client settings (timeouts, TELOXIDE_PROXY), trusting
/// the roots of [`crate::tls`] instead of the Mozilla roots compiled in.
fn http_client(config: &TelegramConfig) -> Result<reqwest::Client, TelegramError> {
    let trust = crate::tls::Trust::load(config.ca_file.as_deref(), "adapters.telegram.ca_file")
        .map_err(|e| TelegramError::Client(e.to_string()))?;
    let mut builder =
        teloxide_core::net::default_reqwest_settings().use_preconfigured_tls(trust.client_config());
    if let Ok(proxy) = std::env::var("TELOXIDE_PROXY") {
        let proxy = reqwest::Proxy::all(&proxy)
            .map_err(|e| TelegramError::Client(format!("TELOXIDE_PROXY = {proxy:?}: {e}")))?;
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|e| TelegramError::Client(e.to_string()))
}

pub struct TelegramAdapter {
    sender: Sender,
}

impl TelegramAdapter {
    /// Build the client. Makes no request yet. A 429 is not retried here:
    /// it goes back to the dispatcher, whose wait survives restarts and
    /// keeps the chat's later messages behind it.
    pub fn new(config: &TelegramConfig) -> Result<TelegramAdapter, TelegramError> {
        config.validate()?;
        // teloxide-core's own client settings (5 s connect, 17 s per request)
        // with this adapter's trust store; the calls go through `client::call`.
        let bot =
            Bot::with_client(&config.token, http_client(config)?).set_api_url(api_url(config)?);
        Ok(TelegramAdapter {
            sender: Sender::new(bot, limits::Pace::new(&config.limits)),
        })
    }

    /// Render briefs from `templates` (read at every send) instead of the
    /// built-in copies only.
    pub fn with_templates(mut self, templates: crate::template::Templates) -> Self {
        self.sender.templates = templates;
        self
    }

    /// The bot's @username (getMe), for `/cmd@bot` in groups.
    pub async fn bot_username(&self) -> Result<String, TelegramError> {
        let me = client::call(&self.sender.bot, self.sender.bot.get_me())
            .await
            .map_err(|e| request_error("getMe", e))?;
        Ok(me.user.username.clone().unwrap_or_default())
    }

    /// Register the command list shown in Telegram's "/" menu.
    pub async fn register_commands(&self, list: &[(String, String)]) -> Result<(), TelegramError> {
        let commands: Vec<BotCommand> = list
            .iter()
            .map(|(name, description)| BotCommand::new(name.clone(), description.clone()))
            .collect();
        client::call(&self.sender.bot, self.sender.bot.set_my_commands(commands))
            .await
            .map_err(|e| request_error("setMyCommands", e))?;
        Ok(())
    }

    /// Pace sends with slots shared by every instance (see
    /// [`crate::shared_pace`]), not only this process's.
    pub fn share_pace(&self, slots: std::sync::Arc<dyn crate::shared_pace::SharedSlots>) {
        self.sender.pace.share(slots);
    }

    /// Have Telegram post updates to `url` (webhook mode), with the secret
    /// it must send back in [`SECRET_HEADER`], and only the kinds of
    /// update the hub acts on.
    pub async fn set_webhook(&self, url: &str, secret: &str) -> Result<(), TelegramError> {
        let url = reqwest::Url::parse(url).map_err(|e| {
            TelegramError::Config(config::ConfigError {
                key: "webhook_url",
                problem: format!("{url:?}: {e}"),
            })
        })?;
        let bot = &self.sender.bot;
        let request = bot
            .set_webhook(url)
            .secret_token(secret)
            .allowed_updates(inbound::ALLOWED_UPDATES);
        client::call(bot, request)
            .await
            .map_err(|e| request_error("setWebhook", e))?;
        Ok(())
    }

    /// Remove a webhook left from an earlier webhook-mode run: while one is
    /// set, Telegram refuses getUpdates (409 Conflict). Pending updates are
    /// kept, so none is lost in the switch.
    pub async fn delete_webhook(&self) -> Result<(), TelegramError> {
        let bot = &self.sender.bot;
        client::call(bot, bot.delete_webhook().drop_pending_updates(false))
            .await
            .map_err(|e| request_error("deleteWebhook", e))?;
        Ok(())
    }

    /// Answer a press whose message Telegram did not include (an inline
    /// message, or one too old): nothing is done, but the spinner stops.
    pub async fn answer_expired(&self, query_id: &str) -> Result<(), TelegramError> {
        let bot = &self.sender.bot;
        let request = bot
            .answer_callback_query(CallbackQueryId(query_id.to_string()))
            .text(EXPIRED_BUTTON);
        client::call(bot, request)
            .await
            .map_err(|e| request_error("answerCallbackQuery", e))?;
        Ok(())
    }

    /// Stop the button's spinner with a short notice (an alert for errors).
    pub async fn answer_callback(
        &self,
        query_id: &str,
        reply: Option<&Reply>,
    ) -> Result<(), TelegramError> {
        let mut req = self
            .sender
            .bot
            .answer_callback_query(CallbackQueryId(query_id.to_string()));
        if let Some(r) = reply {
            let text: String = r
                .message
                .plain_text()
                .chars()
                .take(limits::MAX_CALLBACK_ANSWER_CHARS)
                .collect();
            req = req.text(text).show_alert(r.is_error);
        }
        client::call(&self.sender.bot, req)
            .await
            .map_err(|e| request_error("answerCallbackQuery", e))?;
        Ok(())
    }
}

/// The notice for a press that cannot be acted on.
pub const EXPIRED_BUTTON: &str = "This button has expired.";

fn request_error(method: &'static str, e: teloxide_core::RequestError) -> TelegramError {
    TelegramError::Request {
        method,
        error: send::classify(e),
    }
}

#[async_trait]
impl Adapter for TelegramAdapter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    async fn send(&self, to: &Destination, message: &RichMessage) -> Result<Sent, SendError> {
        let reply_to = to
            .thread
            .as_deref()
            .and_then(|t| send::parse_message_ref(t).ok())
            .filter(|(chat, _)| send::recipient(&to.address).is_ok_and(|c| c == *chat))
            .map(|(_, id)| id.0.to_string());
        let id = self
            .sender
            .send(&to.address, reply_to.as_deref(), message)
            .await?;
        Ok(Sent {
            platform_message_id: Some(id),
        })
    }

    async fn edit(
        &self,
        _to: &Destination,
        platform_message_id: &str,
        message: &RichMessage,
    ) -> Result<(), SendError> {
        self.sender.edit(platform_message_id, message).await
    }
}
