//! Telegram wired into the hub: the outbound adapter for the dispatcher,
//! start-up registration with the Bot API (the bot's username, the webhook
//! set or cleared, the command list), and the inbound side — a getUpdates
//! loop (default) or a webhook route on the hub's HTTP server — feeding
//! commands and button presses to the hub's inbox, each update once.

use super::{Hub, Platforms};
use adapters::InboundKind;
use adapters::inbox::{Claim, Inbox, InboxError};
use adapters::telegram::{
    Incoming, IncomingKind, Mode, Poller, SECRET_HEADER, TelegramAdapter, TelegramConfig,
    TelegramError, parse_webhook, secret_matches,
};
use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest pause between registration attempts.
const MAX_REGISTRATION_BACKOFF: Duration = Duration::from_secs(60);

/// Start Telegram if it is enabled. A malformed setting fails the start at
/// once. Registration with the Bot API (getMe, the webhook set or cleared,
/// the command list) runs in the background, so the HTTP API is already
/// listening while Telegram is slow or failing: its first answer is the
/// start-up check in `platforms.checks`. The Bot API refusing the bot (401
/// for a wrong token, a bad webhook URL) fails that check and with it the
/// start; a passing outage (network, 5xx, 429) does not: the hub runs,
/// sends through the outbox as usual, and registers in the background until
/// Telegram answers.
pub async fn start(
    config: &TelegramConfig,
    hub: &Hub,
    stop: watch::Receiver<bool>,
    platforms: &mut Platforms,
) -> anyhow::Result<()> {
    if !config.enabled {
        return Ok(());
    }
    let adapter = Arc::new(TelegramAdapter::new(config).context("telegram")?);
    if let Some(slots) = hub.slots.clone() {
        adapter.share_pace(slots);
    }
    // Inbound waits for the bot's username (`/cmd@bot` in groups) and for
    // the webhook to be set or cleared; `None` until then.
    let (ready_tx, ready) = watch::channel(None::<String>);
    let (verdict_tx, verdict) = tokio::sync::oneshot::channel();
    let registration = Registration::new(config);
    platforms.tasks.push(tokio::spawn(registration.start(
        adapter.clone(),
        ready_tx,
        verdict_tx,
        stop.clone(),
    )));
    platforms.checks.push(Box::pin(async move {
        match verdict.await {
            Ok(Err(e)) => {
                Err(anyhow::Error::new(e).context("telegram: registering with the Bot API"))
            }
            // Registered, or retrying in the background; or the hub stopped.
            Ok(Ok(())) | Err(_) => Ok(()),
        }
    }));
    platforms.adapters.push(adapter.clone());
    let listener = Arc::new(Listener {
        inbox: hub.inbox.clone(),
        adapter,
        ready,
        secret: config.webhook_secret.clone(),
        bot_id: config.bot_id().to_string(),
    });
    match config.mode {
        Mode::Polling => {
            let poller = Poller::new(config).context("telegram")?;
            platforms
                .tasks
                .push(tokio::spawn(poll_loop(listener, poller, stop)));
        }
        Mode::Webhook => {
            let routes = Router::new()
                .route(&config.webhook_path, post(webhook))
                .with_state(listener);
            platforms.routes = std::mem::take(&mut platforms.routes).merge(routes);
        }
    }
    tracing::info!(mode = ?config.mode, "telegram adapter started");
    Ok(())
}

/// What start-up registration has done so far, so a retry goes on from
/// the step that failed.
struct Registration {
    mode: Mode,
    webhook_url: String,
    secret: String,
    username: Option<String>,
    webhook_done: bool,
    commands_done: bool,
}

impl Registration {
    fn new(config: &TelegramConfig) -> Registration {
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
            adapter
                .register_commands(&commands::telegram_commands())
                .await?;
            self.commands_done = true;
        }
        Ok(())
    }

    /// The first attempt, whose outcome is the start-up check's verdict
    /// (Ok also when Telegram is merely not answering), then retries with a
    /// growing pause (Telegram's retry_after when it gives one) until done,
    /// refused, or the hub stops.
    async fn start(
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

/// The inbound side: updates from the poll loop or the webhook route.
struct Listener {
    inbox: Arc<dyn Inbox>,
    adapter: Arc<TelegramAdapter>,
    /// The bot's username once registration got that far.
    ready: watch::Receiver<Option<String>>,
    secret: String,
    bot_id: String,
}

impl Listener {
    /// Act on one update, once: its update ID is claimed first, so the
    /// same update delivered again (a webhook retried while a slow command
    /// runs, a batch re-read after a restart) is not run twice. Err: the
    /// claim could not be recorded and nothing was done; Telegram must
    /// deliver the update again.
    async fn handle(&self, incoming: Incoming) -> Result<(), InboxError> {
        let (inbound, query) = match incoming.what {
            IncomingKind::ExpiredButton { callback_query_id } => {
                if let Err(e) = self.adapter.answer_expired(&callback_query_id).await {
                    tracing::warn!(error = %e, "could not answer a Telegram button press without its message");
                }
                return Ok(());
            }
            IncomingKind::Act {
                inbound,
                callback_query_id,
            } => (inbound, callback_query_id),
        };
        let key = format!("{}:{}", self.bot_id, incoming.update_id);
        if let Claim::Seen { .. } = self
            .inbox
            .claim(routing::ChannelKind::Telegram, &key)
            .await?
        {
            tracing::info!(
                update = incoming.update_id,
                "telegram: update already handled; not running it again"
            );
            return Ok(());
        }
        self.run(&inbound, query.as_deref()).await;
        Ok(())
    }

    /// Run one command or button press and answer it on Telegram: a
    /// command with a reply in the same chat (queued in the outbox), a press
    /// with answerCallbackQuery (the toast belongs to the press's own
    /// request) and then the pressed message edited through the outbox.
    async fn run(&self, inbound: &adapters::Inbound, query: Option<&str>) {
        let username = self.ready.borrow().clone();
        let reply = self.inbox.handle(inbound, username.as_deref()).await;
        if let Some(query) = query {
            if let Err(e) = self.adapter.answer_callback(query, reply.as_ref()).await {
                tracing::warn!(error = %e, chat = %inbound.chat_id, "could not answer a Telegram button press");
            }
            if let (InboundKind::Button { token }, Some(r)) = (&inbound.what, &reply)
                && !r.is_error
            {
                self.show_outcome(inbound, token).await;
            }
            return;
        }
        let Some(reply) = reply else { return };
        // Through the outbox (paced with the chat's other messages, retried
        // on 429/5xx), threaded under the command's message.
        let thread = inbound
            .message_id
            .as_deref()
            .map(|m| format!("{}:{m}", inbound.chat_id));
        if let Err(e) = self
            .inbox
            .send_later(
                routing::ChannelKind::Telegram,
                &inbound.chat_id,
                thread,
                &reply,
            )
            .await
        {
            tracing::error!(error = %e, chat = %inbound.chat_id, "could not queue a command's reply for Telegram");
        }
    }

    /// Have the pressed message show the decision's outcome, through the
    /// outbox (paced with the chat, retried on 429/5xx, recorded). The
    /// resolution has queued the edit of every copy recorded as sent; a
    /// press can come before its message's send was recorded (or on a
    /// message the outbox never recorded), so the edit is queued here
    /// unless one of this message is queued already. (Should both come,
    /// the second is "message is not modified", which counts as done.)
    async fn show_outcome(&self, inbound: &adapters::Inbound, token: &str) {
        let Some(message_id) = inbound.message_id.as_deref() else {
            return;
        };
        // As the adapter names a message it sent: `chat:message`.
        let target = format!("{}:{message_id}", inbound.chat_id);
        if let Err(e) = self
            .inbox
            .show_pressed_outcome(
                routing::ChannelKind::Telegram,
                &inbound.chat_id,
                target,
                token,
            )
            .await
        {
            tracing::warn!(error = %e, chat = %inbound.chat_id, "could not queue the edit of the pressed Telegram message");
        }
    }
}

/// A growing pause after consecutive failures: 2 s, 4 s, … 64 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.clamp(1, 6))
}

/// getUpdates until the hub stops, once registration made inbound ready.
/// Failures are logged and retried with a growing pause (Telegram's
/// retry_after when it gives one). An update the hub could not record is
/// asked for again after the pause, so none is lost.
async fn poll_loop(inbox: Arc<Listener>, mut poller: Poller, mut stop: watch::Receiver<bool>) {
    let mut ready = inbox.ready.clone();
    tokio::select! {
        r = ready.wait_for(|u| u.is_some()) => if r.is_err() {
            // Registration gave up (logged there).
            return;
        },
        _ = stop.wait_for(|s| *s) => return,
    }
    let mut failures: u32 = 0;
    loop {
        if *stop.borrow() {
            break;
        }
        let batch = tokio::select! {
            r = poller.next() => r,
            _ = stop.changed() => break,
        };
        let wait = match batch {
            Ok(items) => {
                failures = 0;
                let mut unrecorded = None;
                for incoming in items {
                    let id = incoming.update_id;
                    if let Err(e) = inbox.handle(incoming).await {
                        unrecorded = Some((id, e));
                        break;
                    }
                }
                let Some((id, e)) = unrecorded else { continue };
                poller.rewind(id);
                failures = failures.saturating_add(1);
                let wait = backoff(failures);
                tracing::error!(error = %e, update = id, retry_in_s = wait.as_secs(), "telegram: cannot record an update; asking for it again");
                wait
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let wait = e.0.retry_after().unwrap_or(backoff(failures));
                tracing::error!(error = %e, retry_in_s = wait.as_secs(), "telegram long poll failed");
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
    }
    tracing::info!("telegram long poll stopped");
}

/// Updates posted by Telegram. Without the right secret header nothing is
/// read or done. Before registration made inbound ready, and when the
/// update cannot be recorded, the answer is 503: Telegram delivers it
/// again later.
async fn webhook(
    State(inbox): State<Arc<Listener>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    if !secret_matches(&inbox.secret, given) {
        tracing::warn!("telegram webhook call without the right secret token refused");
        return StatusCode::UNAUTHORIZED;
    }
    if inbox.ready.borrow().is_none() {
        tracing::warn!(
            "telegram webhook call before registration finished; Telegram will resend it"
        );
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match parse_webhook(&body) {
        Ok(Some(incoming)) => match inbox.handle(incoming).await {
            Ok(()) => StatusCode::OK,
            Err(e) => {
                tracing::error!(error = %e, "telegram: cannot record an update; Telegram will resend it");
                StatusCode::SERVICE_UNAVAILABLE
            }
        },
        // Updates we do not act on are acknowledged, or Telegram resends them.
        Ok(None) => StatusCode::OK,
        Err(e) => {
            tracing::warn!(error = %e, "telegram webhook body is not an Update");
            StatusCode::BAD_REQUEST
        }
    }
}
