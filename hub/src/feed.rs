//! The live feed across instances. On PostgreSQL several hubs may share one
//! database, and any of them may dispatch a web delivery; a viewer connected
//! to another instance must still see it. Each instance streams its own
//! events to its viewers in process; the web adapter also hands them to
//! [`PgFeedRelay`] (a row plus NOTIFY), and every instance's listener
//! streams what the *other* instances wrote. SQLite hubs publish in process.
//! Questions answered on another instance come the same way (written in
//! the answer's own commit) and go to this instance's question bus: the
//! agents' SSE feeds and long polls here hear of them.

use crate::questions::QuestionBus;
use crate::store::{Relayed, Store};
use adapters::web::{FeedEvent, FeedRelay, WebAdapter};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a listener waits for an announcement before looking anyway.
const PATIENCE: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub struct PgFeedRelay {
    store: Store,
}

#[async_trait]
impl FeedRelay for PgFeedRelay {
    async fn relay(&self, event: &FeedEvent) -> Result<(), String> {
        let json = serde_json::to_string(event).map_err(|e| e.to_string())?;
        self.store
            .relay_feed_event(&json)
            .await
            .map_err(|e| e.to_string())
    }
}

/// On a shared database, route the web adapter through the relay and start
/// this instance's listener. Returns the listener task (None on SQLite).
/// The listener is connected before this returns, so no event relayed after
/// start is missed.
pub async fn share(
    store: &Store,
    web: &Arc<WebAdapter>,
    questions: &QuestionBus,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    if !store.feed_is_shared() {
        return Ok(None);
    }
    let listener = store.listen_feed().await?;
    web.set_relay(Arc::new(PgFeedRelay {
        store: store.clone(),
    }));
    Ok(Some(tokio::spawn(listen(
        store.clone(),
        web.clone(),
        questions.clone(),
        listener,
        stop,
    ))))
}

async fn listen(
    store: Store,
    web: Arc<WebAdapter>,
    questions: QuestionBus,
    mut listener: crate::store::FeedListener,
    mut stop: watch::Receiver<bool>,
) {
    let mut pruned = Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        let read = tokio::select! {
            r = listener.next_events(PATIENCE) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match read {
            Ok(events) => {
                for json in events {
                    if let Ok(Relayed::QuestionAnswered(q)) = serde_json::from_str(&json) {
                        questions.answered(&q);
                        continue;
                    }
                    match serde_json::from_str::<FeedEvent>(&json) {
                        Ok(e) => web.publish_local(e),
                        Err(e) => tracing::warn!(error = %e, "unreadable live feed event skipped"),
                    }
                }
            }
            Err(e) => {
                // PgListener reconnects (and listens again) on its next call;
                // reading by sequence then catches up on what was missed.
                tracing::warn!(error = %e, "live feed listener lost the database; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(PATIENCE) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = Instant::now();
            if let Err(e) = store.prune_feed_events().await {
                tracing::warn!(error = %e, "pruning old live feed events failed");
            }
        }
    }
}
