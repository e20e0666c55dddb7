//! The Slack adapter, built on slack-morphism.
//!
//! Outbound: chat.postMessage with Block Kit blocks and an escaped plain-text
//! fallback, paced to about one message per second per channel; chat.update
//! for edits (a decision's outcome). Platform message IDs are
//! `"<conversation>:<ts>"`, the pair chat.update needs.
//!
//! Inbound: signed slash-command and interactivity requests are verified
//! and parsed here ([`inbound`]); `listen.rs` serves them from the hub's
//! HTTP server (or Socket Mode, [`socket`]) and answers with
//! [`render::reply_body`]; `platform.rs` starts it all in the hub.

pub mod blocks;
pub mod brief;
pub mod config;
pub mod inbound;
pub mod limits;
mod listen;
mod platform;
pub mod render;
pub mod response;
mod send;
pub mod socket;

pub use config::{SlackConfig, SlackConfigError, SlackMode};
pub use platform::SlackPlatform;

use crate::template::Templates;
use crate::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use limits::ChannelPace;
use neutral::RichMessage;
use response::ResponseTarget;
use routing::ChannelKind;
use send::WebApi;
use std::time::Duration;

pub struct SlackAdapter {
    api: WebApi,
    pace: ChannelPace,
    /// Where briefs' templates are read at every send.
    templates: Templates,
}

impl SlackAdapter {
    /// Build the client for `config` (checked first, naming any bad key).
    pub fn new(config: &SlackConfig) -> Result<Self, SlackConfigError> {
        config.check()?;
        let trust = crate::tls::Trust::load(config.ca_file.as_deref(), "adapters.slack.ca_file")
            .map_err(|e| SlackConfigError(e.to_string()))?;
        Ok(SlackAdapter {
            api: WebApi::new(
                send::connector(&config.api_url, &trust),
                &config.bot_token,
                Duration::from_millis(config.request_timeout_ms.max(1)),
            ),
            pace: ChannelPace::new(config.channel_messages_per_second),
            templates: Templates::default(),
        })
    }

    /// Render briefs from `templates` (read at every send) instead of the
    /// built-in copies only.
    pub fn with_templates(mut self, templates: Templates) -> Self {
        self.templates = templates;
        self
    }

    pub(crate) fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Pace sends with slots shared by every instance (see
    /// [`crate::shared_pace`]), not only this process's.
    pub fn share_pace(&self, slots: std::sync::Arc<dyn crate::shared_pace::SharedSlots>) {
        self.pace.share(slots);
    }

    /// Ask Slack whether it accepts the configured tokens: the bot token
    /// (auth.test) and, in Socket Mode, the app token
    /// (apps.connections.open). `Err(Refused)` names the config key; an
    /// outage is `Err(Unreachable)`, which a start can live with.
    pub async fn check_tokens(&self, config: &SlackConfig) -> Result<(), TokenCheck> {
        let refused = |key: &'static str, e: SendError| match e {
            SendError::Permanent { .. } => TokenCheck::Refused { key, error: e },
            e => TokenCheck::Unreachable(e),
        };
        self.api
            .auth_test()
            .await
            .map_err(|e| refused("adapters.slack.bot_token", e))?;
        if config.mode == SlackMode::Socket {
            self.api
                .connections_open(&config.app_token)
                .await
                .map(|_url| ())
                .map_err(|e| refused("adapters.slack.app_token", e))?;
        }
        Ok(())
    }
}

/// What [`SlackAdapter::check_tokens`] found.
#[derive(Debug, thiserror::Error)]
pub enum TokenCheck {
    /// Slack refused a token: a configuration error.
    #[error("Slack refused {key}: {error}")]
    Refused { key: &'static str, error: SendError },
    /// Slack did not answer usefully (network, 5xx, 429).
    #[error("Slack could not be asked about the tokens: {0}")]
    Unreachable(SendError),
}

/// Only a failing built-in template gets here: retrying cannot fix it.
fn render_error(e: crate::template::TemplateError) -> SendError {
    SendError::permanent(format!("rendering for Slack: {e}"))
}

/// `"C123:1700000000.000100"` → ("C123", "1700000000.000100").
fn split_message_id(id: &str) -> Result<(&str, &str), SendError> {
    match id.split_once(':') {
        Some((channel, ts)) if !channel.is_empty() && !ts.is_empty() => Ok((channel, ts)),
        _ => Err(SendError::permanent(format!(
            "{id:?} is not a Slack message ID (expected conversation:ts)"
        ))),
    }
}

/// The thread a message goes into: the `ts` of the message it answers, when
/// that one is in the same conversation.
fn thread_ts(to: &Destination) -> Option<&str> {
    let (channel, ts) = split_message_id(to.thread.as_deref()?).ok()?;
    (channel == to.address).then_some(ts)
}

#[async_trait]
impl Adapter for SlackAdapter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Slack
    }

    async fn send(&self, to: &Destination, message: &RichMessage) -> Result<Sent, SendError> {
        // A follow-up to a request: posted to its response_url (see
        // `response`), paced with the channel it answers in.
        if let Some(target) = to.thread.as_deref().and_then(ResponseTarget::decode) {
            self.pace.wait(&to.address).await;
            let body = target.body(message, &self.templates);
            self.api.respond(&target.url, &body).await?;
            return Ok(Sent {
                platform_message_id: None,
            });
        }
        let r = render::render(message, &self.templates).map_err(render_error)?;
        self.pace.wait(&to.address).await;
        let (channel, ts) = self
            .api
            .post(&to.address, thread_ts(to), &r.text, &r.blocks)
            .await?;
        Ok(Sent {
            platform_message_id: Some(format!("{channel}:{ts}")),
        })
    }

    async fn edit(
        &self,
        _to: &Destination,
        platform_message_id: &str,
        message: &RichMessage,
    ) -> Result<(), SendError> {
        // The conversation comes from the ID: `to` may be the person's user
        // ID, which chat.update does not accept.
        let (channel, ts) = split_message_id(platform_message_id)?;
        let r = render::render(message, &self.templates).map_err(render_error)?;
        self.api.update(channel, ts, &r.text, &r.blocks).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_ids_split_into_conversation_and_ts() {
        assert_eq!(super::split_message_id("D1:1.2").unwrap(), ("D1", "1.2"));
        assert!(!super::split_message_id("1.2").unwrap_err().is_retryable());
    }
}
