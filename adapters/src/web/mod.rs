//! The web feed adapter: every delivery to `web` is published on an
//! in-process broadcast channel that the hub's Server-Sent Events endpoint
//! streams to authenticated viewers. When several hub instances share one
//! database, a [`FeedRelay`] carries each event to every instance (the hub
//! uses PostgreSQL LISTEN/NOTIFY), and each publishes it to its own viewers.
//! The feed is plain text: a brief is rendered when it is sent, from the
//! email adapter's plain-text template (`email/brief.txt.hbs`), and no
//! document goes out to viewers.

/// The web console's pages, rendered from the models the hub hands over.
pub mod console;

use crate::template::{Mode, Templates};
use crate::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use neutral::{Document, RichMessage};
use routing::ChannelKind;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use tokio::sync::broadcast;

/// One event on the live feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// The delivery's platform message ID (the feed's own sequence).
    pub id: String,
    /// Who it is for: a person's handle or a channel ID.
    pub recipient: String,
    pub edited: bool,
    pub message: RichMessage,
}

/// Carries feed events to the other hub instances (this one publishes them
/// to its own viewers itself). An error is transient: the dispatcher retries
/// the delivery.
#[async_trait]
pub trait FeedRelay: Send + Sync {
    async fn relay(&self, event: &FeedEvent) -> Result<(), String>;
}

pub struct WebAdapter {
    feed: broadcast::Sender<FeedEvent>,
    seq: std::sync::atomic::AtomicU64,
    /// Makes feed IDs unique across instances sharing a database.
    tag: String,
    /// Set once at start when the hub runs on a shared database.
    relay: OnceLock<Arc<dyn FeedRelay>>,
    /// Where the brief's plain-text template is read at every send.
    templates: Templates,
}

impl WebAdapter {
    /// `capacity` is how many events a slow viewer may fall behind before it
    /// is told it lagged (the events stay in the database either way).
    pub fn new(capacity: usize) -> Self {
        let (feed, _) = broadcast::channel(capacity.max(16));
        WebAdapter {
            feed,
            seq: std::sync::atomic::AtomicU64::new(1),
            tag: instance_tag(),
            relay: OnceLock::new(),
            templates: Templates::default(),
        }
    }

    /// Render briefs from `templates` (read at every send) instead of the
    /// built-in copies only.
    pub fn with_templates(mut self, templates: Templates) -> Self {
        self.templates = templates;
        self
    }

    /// What the feed shows of `message`: a brief as its plain text,
    /// rendered now; a digest as its neutral message.
    fn shown(&self, message: &RichMessage) -> Result<RichMessage, SendError> {
        let text = match &message.document {
            None => return Ok(message.clone()),
            Some(Document::Brief(brief)) => {
                crate::email::brief::text(&self.templates, brief, Mode::Send).map_err(|e| {
                    SendError::permanent(format!("rendering the brief for the web feed: {e}"))
                })?
            }
            Some(Document::Digest(digest)) => {
                return Ok(RichMessage {
                    buttons: message.buttons.clone(),
                    ..digest.message()
                });
            }
        };
        Ok(RichMessage {
            text,
            document: None,
            ..message.clone()
        })
    }

    /// Also carry events to the other instances through `relay`. Returns
    /// false if a relay was already set.
    pub fn set_relay(&self, relay: Arc<dyn FeedRelay>) -> bool {
        self.relay.set(relay).is_ok()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.feed.subscribe()
    }

    /// Hand an event to this instance's viewers.
    pub fn publish_local(&self, event: FeedEvent) {
        // No viewer connected is fine: the feed is live-only, and the
        // notification is in the database for anyone who asks later.
        let _ = self.feed.send(event);
    }

    async fn publish(&self, event: FeedEvent) -> Result<(), SendError> {
        if let Some(relay) = self.relay.get() {
            relay
                .relay(&event)
                .await
                .map_err(|reason| SendError::Transient {
                    reason: format!("live feed relay: {reason}"),
                    retry_after: None,
                })?;
        }
        self.publish_local(event);
        Ok(())
    }
}

#[async_trait]
impl Adapter for WebAdapter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Web
    }

    async fn send(&self, to: &Destination, message: &RichMessage) -> Result<Sent, SendError> {
        // Unique across instances: the feed's own counter alone would repeat.
        let id = format!(
            "w{}-{}",
            self.tag,
            self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.publish(FeedEvent {
            id: id.clone(),
            recipient: to.address.clone(),
            edited: false,
            message: self.shown(message)?,
        })
        .await?;
        Ok(Sent {
            platform_message_id: Some(id),
        })
    }

    async fn edit(
        &self,
        to: &Destination,
        platform_message_id: &str,
        message: &RichMessage,
    ) -> Result<(), SendError> {
        self.publish(FeedEvent {
            id: platform_message_id.to_string(),
            recipient: to.address.clone(),
            edited: true,
            message: self.shown(message)?,
        })
        .await
    }
}

/// A short tag per adapter instance (process, start time and a counter), so
/// feed IDs from different hubs on one database differ.
fn instance_tag() -> String {
    static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:x}{:x}{n:x}", std::process::id(), nanos >> 12)
}
