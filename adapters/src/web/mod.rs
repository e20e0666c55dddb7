//! The web feed adapter: every delivery to `web` is published on an
//! in-process broadcast channel that the hub's Server-Sent Events endpoint
//! streams to authenticated viewers.

use crate::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use commands::RichMessage;
use routing::ChannelKind;
use serde::Serialize;
use tokio::sync::broadcast;

/// One event on the live feed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedEvent {
    /// The delivery's platform message ID (the feed's own sequence).
    pub id: String,
    /// Who it is for: a person's handle or a channel ID.
    pub recipient: String,
    pub edited: bool,
    pub message: RichMessage,
}

pub struct WebAdapter {
    feed: broadcast::Sender<FeedEvent>,
    seq: std::sync::atomic::AtomicU64,
}

impl WebAdapter {
    /// `capacity` is how many events a slow viewer may fall behind before it
    /// is told it lagged (the events stay in the database either way).
    pub fn new(capacity: usize) -> Self {
        let (feed, _) = broadcast::channel(capacity.max(16));
        WebAdapter {
            feed,
            seq: std::sync::atomic::AtomicU64::new(1),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.feed.subscribe()
    }

    fn publish(&self, event: FeedEvent) {
        // No viewer connected is fine: the feed is live-only, and the
        // notification is in the database for anyone who asks later.
        let _ = self.feed.send(event);
    }
}

#[async_trait]
impl Adapter for WebAdapter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Web
    }

    async fn send(&self, to: &Destination, message: &RichMessage) -> Result<Sent, SendError> {
        let id = format!(
            "w{}",
            self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.publish(FeedEvent {
            id: id.clone(),
            recipient: to.address.clone(),
            edited: false,
            message: message.clone(),
        });
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
            message: message.clone(),
        });
        Ok(())
    }
}
