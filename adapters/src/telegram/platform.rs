//! Telegram as the hub starts it: the outbound adapter for the dispatcher,
//! registration with the Bot API in the background (see `register`), and
//! the inbound side — a getUpdates loop (default) or a webhook route on the
//! hub's HTTP server (see `listen`).

use super::listen::{Listener, poll_loop};
use super::register::Registration;
use super::{Mode, Poller, TelegramAdapter, TelegramConfig};
use crate::platform::{HubLink, Platform, PlatformError, Started, WebhookRoute};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::watch;

pub struct TelegramPlatform(pub TelegramConfig);

#[async_trait]
impl Platform for TelegramPlatform {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn enabled(&self) -> bool {
        self.0.enabled
    }

    fn webhook_paths(&self) -> Vec<(&'static str, String)> {
        match self.0.mode {
            Mode::Webhook => vec![(
                "adapters.telegram.webhook_path",
                self.0.webhook_path.clone(),
            )],
            Mode::Polling => Vec::new(),
        }
    }

    fn check(&self) -> Result<(), PlatformError> {
        TelegramAdapter::new(&self.0).map_err(|e| PlatformError::new("telegram", e))?;
        Ok(())
    }

    /// A malformed setting fails the start at once. Registration with the
    /// Bot API (getMe, the webhook set or cleared, the command list) runs
    /// in the background, so the HTTP API is already listening while
    /// Telegram is slow or failing: its first answer is the start-up check.
    /// The Bot API refusing the bot (401 for a wrong token, a bad webhook
    /// URL) fails that check and with it the start; a passing outage
    /// (network, 5xx, 429) does not: the hub runs, sends through the outbox
    /// as usual, and registers in the background until Telegram answers.
    async fn start(
        &self,
        hub: &HubLink,
        stop: watch::Receiver<bool>,
    ) -> Result<Started, PlatformError> {
        let config = &self.0;
        let adapter = Arc::new(
            TelegramAdapter::new(config)
                .map_err(|e| PlatformError::new("telegram", e))?
                .with_templates(hub.templates.clone()),
        );
        if let Some(slots) = hub.slots.clone() {
            adapter.share_pace(slots);
        }
        let mut started = Started::new(adapter.clone());
        // Inbound waits for the bot's username (`/cmd@bot` in groups) and
        // for the webhook to be set or cleared; `None` until then.
        let (ready_tx, ready) = watch::channel(None::<String>);
        let (verdict_tx, verdict) = tokio::sync::oneshot::channel();
        let registration = Registration::new(config, &hub.catalogue);
        started.tasks.push(tokio::spawn(registration.start(
            adapter.clone(),
            ready_tx,
            verdict_tx,
            stop.clone(),
        )));
        started.checks.push(Box::pin(async move {
            match verdict.await {
                Ok(Err(e)) => Err(PlatformError::new(
                    "telegram: registering with the Bot API",
                    e,
                )),
                // Registered, or retrying in the background; or the hub stopped.
                Ok(Ok(())) | Err(_) => Ok(()),
            }
        }));
        let listener = Arc::new(Listener {
            inbox: hub.inbox.clone(),
            adapter,
            ready,
            secret: config.webhook_secret.clone(),
            bot_id: config.bot_id().to_string(),
        });
        match config.mode {
            Mode::Polling => {
                let poller = Poller::new(config).map_err(|e| PlatformError::new("telegram", e))?;
                started
                    .tasks
                    .push(tokio::spawn(poll_loop(listener, poller, stop)));
            }
            Mode::Webhook => started.routes.push(WebhookRoute {
                key: "adapters.telegram.webhook_path",
                path: config.webhook_path.clone(),
                body_limit: None,
                handler: listener,
            }),
        }
        tracing::info!(mode = ?config.mode, "telegram adapter started");
        Ok(started)
    }
}
