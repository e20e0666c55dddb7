//! The Discord adapter, built on serenity's HTTP client: slash commands and
//! button presses arrive at the hub's Interactions Endpoint; with
//! `gateway = true` a Gateway connection of our own reads replies to the
//! hub's messages ([`gateway`]).
//!
//! Outbound: messages in escaped Discord markdown with mentions disabled,
//! split to 2000 characters, buttons as components on the last part;
//! edits replace that last part (a decision's outcome). A person's messages
//! go to their DM channel, opened once. Platform message IDs are
//! `"<channel>:<message>"`. Pacing is kept here (see [`limits`]).
//!
//! Inbound: [`inbound`] verifies and parses interactions; the hub runs them
//! and answers with [`render`]'s interaction responses; what follows an
//! answer (a deferred answer finished, a long reply's later parts) is a
//! delivery in the outbox addressed with [`followup::FollowUp`].
//!
//! `config.rs` settings · `render.rs` markdown, components, interaction
//! responses · `send.rs` API calls and error classification · `inbound.rs`
//! signatures and interactions · `limits.rs` Discord's limits and pacing.

pub mod brief;
pub mod command_list;
pub mod config;
pub mod followup;
pub mod gateway;
mod gateway_close;
pub mod inbound;
pub mod limits;
mod listen;
mod platform;
mod register;
pub mod render;
mod rest;
pub mod send;

pub use config::{DiscordConfig, DiscordConfigError};
pub use platform::DiscordPlatform;

use crate::partial::{self, PartialSends};
use crate::template::Templates;
use crate::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use followup::{FollowUp, Parts};
use limits::Pace;
use neutral::{Reply, RichMessage, Visibility};
use routing::ChannelKind;
use send::Api;
use serenity::all::{ApplicationId, HttpBuilder};
use std::time::Duration;

/// Why the Discord side could not start.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error(transparent)]
    Config(#[from] DiscordConfigError),
    #[error("Discord {what} failed: {error}")]
    Request {
        what: &'static str,
        error: SendError,
    },
}

impl DiscordError {
    /// Whether trying again later can help (an outage, a 429), as opposed
    /// to a refusal such as 401 for a wrong token.
    pub fn is_retryable(&self) -> bool {
        match self {
            DiscordError::Request { error, .. } => error.is_retryable(),
            DiscordError::Config(_) => false,
        }
    }
}

pub struct DiscordAdapter {
    api: Api,
    pace: Pace,
    guild: Option<u64>,
    /// Parts already delivered of a split message whose later part failed.
    partial: PartialSends<u64>,
    /// Where briefs' templates are read at every send.
    templates: Templates,
}

impl DiscordAdapter {
    /// Build the client for `config` (checked first, naming any bad key).
    /// Makes no request yet.
    pub fn new(config: &DiscordConfig) -> Result<Self, DiscordError> {
        config.check()?;
        let application = config::snowflake(&config.application_id).ok_or_else(|| {
            DiscordConfigError("adapters.discord.application_id is not a snowflake".into())
        })?;
        // serenity's limiter ignores the base URL: off, and paced here.
        // serenity's own client would trust only the Mozilla roots compiled
        // into reqwest: the same client with the roots of crate::tls.
        let trust = crate::tls::Trust::load(config.ca_file.as_deref(), "adapters.discord.ca_file")
            .map_err(|e| DiscordConfigError(e.to_string()))?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(trust.client_config())
            .build()
            .map_err(|e| DiscordConfigError(format!("adapters.discord: HTTP client: {e}")))?;
        let http = HttpBuilder::new(&config.token)
            .client(client)
            .proxy(config.api_url.clone())
            .ratelimiter_disabled(true)
            .application_id(ApplicationId::new(application))
            .build();
        let timeout = Duration::from_millis(config.request_timeout_ms.max(1));
        let rest = rest::Rest::new(
            &config.api_url,
            &config.token,
            application,
            timeout,
            trust.client_config(),
        )
        .map_err(DiscordConfigError)?;
        Ok(DiscordAdapter {
            api: Api::new(http, rest, timeout),
            pace: Pace::new(
                config.channel_burst,
                Duration::from_millis(config.channel_window_ms),
                config.global_per_second,
            ),
            guild: config.guild_id.as_deref().and_then(config::snowflake),
            partial: PartialSends::new(),
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

    /// Register the slash commands (a bulk overwrite, so removed commands
    /// disappear too): in the configured guild, else globally.
    pub async fn register_commands(
        &self,
        commands: &[serde_json::Value],
    ) -> Result<usize, DiscordError> {
        self.pace.wait_global().await;
        self.api
            .set_commands(self.guild, commands)
            .await
            .map_err(|error| DiscordError::Request {
                what: "registering the slash commands",
                error,
            })
    }

    /// Send what `target` says of `message` through the interaction's
    /// token (see [`followup`]). A reply in several parts that stopped
    /// part-way goes on from where it stopped when the outbox retries it
    /// (editing the answer again is harmless; a follow-up is not).
    async fn follow_up(&self, target: &FollowUp, message: &RichMessage) -> Result<(), SendError> {
        let reply = Reply {
            message: message.clone(),
            visibility: if target.ephemeral {
                Visibility::Ephemeral
            } else {
                Visibility::Public
            },
            is_error: false,
            secret: false,
        };
        let (first, rest) = render::reply_parts(&reply, &self.templates);
        let mut steps: Vec<(bool, String)> = Vec::new();
        match target.parts {
            Parts::Finish => {
                steps.push((true, first.content.clone()));
                steps.extend(rest.iter().map(|p| (false, p.clone())));
            }
            Parts::Press => steps.push((true, first.content.clone())),
            Parts::Rest => steps.extend(rest.iter().map(|p| (false, p.clone()))),
            Parts::FirstAsFollowUp => steps.push((false, first.content.clone())),
        }
        let key = partial::key(&target.token, &steps);
        let mut done = self.partial.take(key);
        let mut components = Some(first.components);
        for (original, content) in steps.iter().skip(done.len()) {
            self.pace.wait_global().await;
            let sent = if *original {
                let row = components.take().unwrap_or_default();
                self.api.edit_original(&target.token, content, row).await
            } else {
                self.api
                    .follow_up(&target.token, content, target.ephemeral)
                    .await
            };
            match sent {
                Ok(()) => done.push(0),
                Err(e) => {
                    self.partial.keep(key, done);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The channel a destination names: a channel ID, or a person's user
    /// ID whose DM channel is opened.
    async fn channel(&self, to: &Destination) -> Result<u64, SendError> {
        let id = config::snowflake(&to.address).ok_or_else(|| {
            SendError::permanent(format!(
                "{:?} is not a Discord {} ID",
                to.address,
                if to.to_person { "user" } else { "channel" }
            ))
        })?;
        if to.to_person {
            self.pace.wait_global().await;
            self.api.dm_channel(id).await
        } else {
            Ok(id)
        }
    }
}

#[async_trait]
impl Adapter for DiscordAdapter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Discord
    }

    async fn send(&self, to: &Destination, message: &RichMessage) -> Result<Sent, SendError> {
        // What follows an interaction's answer goes through its token.
        if let Some(target) = to.thread.as_deref().and_then(FollowUp::decode) {
            self.follow_up(&target, message).await?;
            return Ok(Sent {
                platform_message_id: None,
            });
        }
        let rendered = render::render(message, &self.templates)
            .map_err(|e| SendError::permanent(e.to_string()))?;
        let channel = self.channel(to).await?;
        // A reply only within the same channel (Discord refuses others).
        let reply_to = to
            .thread
            .as_deref()
            .and_then(|t| send::parse_message_ref(t).ok())
            .filter(|(c, _)| *c == channel)
            .map(|(_, m)| m);
        let key = partial::key(
            &channel.to_string(),
            &(&rendered.parts, format!("{:?}", rendered.components)),
        );
        let mut done = self.partial.take(key);
        let count = rendered.parts.len();
        let mut components = Some(rendered.components);
        for (i, content) in rendered.parts.iter().enumerate().skip(done.len()) {
            let last = i + 1 == count;
            let row = if last {
                components.take().unwrap_or_default()
            } else {
                Vec::new()
            };
            let bucket = channel.to_string();
            self.pace.wait(&bucket).await;
            let thread = if i == 0 { reply_to } else { None };
            let answer = self.api.post(channel, content, row, thread).await;
            if let Some(state) = answer.bucket {
                self.pace.update(&bucket, state);
            }
            match answer.result {
                Ok(id) => done.push(id),
                Err(e) => {
                    self.partial.keep(key, done);
                    return Err(e);
                }
            }
        }
        let last = done
            .last()
            .copied()
            .ok_or_else(|| SendError::permanent("nothing was sent"))?;
        Ok(Sent {
            platform_message_id: Some(send::message_ref(channel, last)),
        })
    }

    /// A split message is edited in its last part: the earlier parts hold
    /// the same leading text, the last one carries the buttons and outcome.
    async fn edit(
        &self,
        _to: &Destination,
        platform_message_id: &str,
        message: &RichMessage,
    ) -> Result<(), SendError> {
        let (channel, id) = send::parse_message_ref(platform_message_id)?;
        let r = render::render(message, &self.templates)
            .map_err(|e| SendError::permanent(e.to_string()))?;
        let content = r.parts.last().cloned().unwrap_or_default();
        // Edits are a route (and bucket) of their own per channel.
        let bucket = format!("{channel}/edit");
        self.pace.wait(&bucket).await;
        let answer = self.api.edit(channel, id, &content, r.components).await;
        if let Some(state) = answer.bucket {
            self.pace.update(&bucket, state);
        }
        answer.result.map(|_| ())
    }
}
