//! Telegram's start-up registration with the Bot API — the bot's username
//! (`/cmd@bot` in groups), the webhook set or cleared, the command list —
//! retried in the background while the Bot API is unreachable.

use super::command_list::telegram_commands;
use super::{Mode, TelegramAdapter, TelegramConfig, TelegramError};
use neutral::CommandInfo;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest pause between registration attempts.
const MAX_REGISTRATION_BACKOFF: Duration = Duration::from_secs(60);

/// What start-up registration has done so far, so a retry goes on from
/// the step that failed.
pub(super) struct Registration {
    mode: Mode,
    webhook_url: String,
    secret: String,
    username: Option<String>,
    webhook_done: bool,
    commands_done: bool,
    commands: Vec<(String, String)>,
}

impl Registration {
    pub(super) fn new(config: &TelegramConfig, catalogue: &[CommandInfo]) -> Registration {
        Registration {
            mode: config.mode,
            webhook_url: config.webhook_url.clone(),
            secret: config.webhook_secret.clone(),
            username: config
                .bot_username
                .as_deref()
                .filter(|u| !u.is_empty())
                .map(|u| u.trim_start_matches('@').to_string()),
            webhook_done: false,
            commands_done: false,
            commands: telegram_commands(catalogue),
        }
    }

    /// The remaining steps, in order: the username (getMe), the webhook
    /// (setWebhook in webhook mode; deleteWebhook before polling, since
    /// Telegram refuses getUpdates while a webhook is set), then the
    /// command list. Inbound is ready once the first two are done.
    async fn run(
        &mut self,
        adapter: &TelegramAdapter,
        ready: &watch::Sender<Option<String>>,
    ) -> Result<(), TelegramError> {
        let username = match &self.username {
            Some(u) => u.clone(),
            None => {
                let u = adapter.bot_username().await?;
                self.username = Some(u.clone());
                u
            }
        };
        if !self.webhook_done {
            match self.mode {
                Mode::Polling => adapter.delete_webhook().await?,
                Mode::Webhook => adapter.set_webhook(&self.webhook_url, &self.secret).await?,
            }
            self.webhook_done = true;
        }
        ready.send_replace(Some(username));
        if !self.commands_done {
            adapter.register_commands(&self.commands).await?;
            self.commands_done = true;
        }
        Ok(())
    }

    /// The first attempt, whose outcome is the start-up check's verdict
    /// (Ok also when Telegram is merely not answering), then retries with a
    /// growing pause (Telegram's retry_after when it gives one) until done,
    /// refused, or the hub stops.
    pub(super) async fn start(
        mut self,
        adapter: Arc<TelegramAdapter>,
        ready: watch::Sender<Option<String>>,
        verdict: tokio::sync::oneshot::Sender<Result<(), TelegramError>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let first = tokio::select! {
            r = self.run(&adapter, &ready) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match first {
            Ok(()) => {
                let _ = verdict.send(Ok(()));
                return;
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(error = %e, "telegram: the Bot API is not answering; registering in the background");
                let _ = verdict.send(Ok(()));
            }
            Err(e) => {
                // Dropping `ready` ends a poll loop still waiting.
                let _ = verdict.send(Err(e));
                return;
            }
        }
        let mut wait = Duration::from_secs(1);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            match self.run(&adapter, &ready).await {
                Ok(()) => {
                    tracing::info!("telegram: registered with the Bot API");
                    return;
                }
                Err(e) if e.is_retryable() => {
                    wait = (wait * 2).min(MAX_REGISTRATION_BACKOFF);
                    wait = wait.max(e.retry_after().unwrap_or_default());
                    tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "telegram: registration failed again");
                }
                Err(e) => {
                    // Dropping `ready` here ends a poll loop still waiting.
                    tracing::error!(error = %e, "telegram: the Bot API refused registration; commands and buttons from Telegram stay off until the hub restarts");
                    return;
                }
            }
        }
    }
}
