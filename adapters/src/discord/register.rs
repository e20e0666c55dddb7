//! Discord's slash commands, registered at start (a bulk overwrite from the
//! hub's command catalogue) and retried in the background while Discord is
//! unreachable.

use super::{DiscordAdapter, DiscordError};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Longest pause between registration attempts.
const MAX_REGISTRATION_BACKOFF: Duration = Duration::from_secs(60);

/// Register the slash commands. The first outcome is the start-up check's
/// verdict (Ok also for an outage); after an outage, try again with a
/// growing pause until done, refused, or the hub stops.
pub(super) async fn register(
    adapter: Arc<DiscordAdapter>,
    list: Vec<Value>,
    verdict: oneshot::Sender<Result<(), DiscordError>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut verdict = Some(verdict);
    let mut wait = Duration::from_secs(1);
    loop {
        let attempt = tokio::select! {
            r = adapter.register_commands(&list) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match attempt {
            Ok(n) => {
                tracing::info!(commands = n, "discord: slash commands registered");
                if let Some(v) = verdict.take() {
                    let _ = v.send(Ok(()));
                }
                return;
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "discord: registering the slash commands failed; retrying in the background");
                if let Some(v) = verdict.take() {
                    let _ = v.send(Ok(()));
                }
            }
            Err(e) => {
                match verdict.take() {
                    Some(v) => {
                        let _ = v.send(Err(e));
                    }
                    None => {
                        tracing::error!(error = %e, "discord: Discord refused the slash commands; they stay unregistered until the hub restarts")
                    }
                }
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        wait = (wait * 2).min(MAX_REGISTRATION_BACKOFF);
    }
}
