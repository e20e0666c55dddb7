//! Telegram wired into the hub: the outbound adapter for the dispatcher, the
//! bot's command list registered at start, and the inbound side — a
//! getUpdates loop (default) or a webhook route on the hub's HTTP server —
//! feeding commands and button presses to [`crate::inbound::handle`].

use super::Platforms;
use crate::api::AppState;
use adapters::InboundKind;
use adapters::telegram::{
    Incoming, Mode, Poller, SECRET_HEADER, TelegramAdapter, TelegramConfig, parse_webhook,
    secret_matches,
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

/// Start Telegram if it is enabled: fails the hub's start when the token is
/// malformed or the Bot API cannot be reached (getMe / setMyCommands).
pub async fn start(
    config: &TelegramConfig,
    state: &AppState,
    stop: watch::Receiver<bool>,
    platforms: &mut Platforms,
) -> anyhow::Result<()> {
    if !config.enabled {
        return Ok(());
    }
    let adapter = Arc::new(TelegramAdapter::new(config).context("telegram")?);
    let username = match config.bot_username.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => u.trim_start_matches('@').to_string(),
        None => adapter
            .bot_username()
            .await
            .context("telegram: asking getMe for the bot's username")?,
    };
    adapter
        .register_commands(&commands::telegram_commands())
        .await
        .context("telegram: registering the bot's command list")?;
    platforms.adapters.push(adapter.clone());
    let inbox = Arc::new(Inbox {
        state: state.clone(),
        adapter,
        username,
        secret: config.webhook_secret.clone(),
    });
    match config.mode {
        Mode::Polling => {
            let poller = Poller::new(config).context("telegram")?;
            platforms
                .tasks
                .push(tokio::spawn(poll_loop(inbox, poller, stop)));
        }
        Mode::Webhook => {
            let routes = Router::new()
                .route(&config.webhook_path, post(webhook))
                .with_state(inbox);
            platforms.routes = std::mem::take(&mut platforms.routes).merge(routes);
        }
    }
    tracing::info!(mode = ?config.mode, "telegram adapter started");
    Ok(())
}

struct Inbox {
    state: AppState,
    adapter: Arc<TelegramAdapter>,
    username: String,
    secret: String,
}

impl Inbox {
    /// Run one command or button press and answer it on Telegram: a
    /// command with a reply in the same chat, a press with
    /// answerCallbackQuery and then the pressed message edited.
    async fn handle(&self, incoming: Incoming) {
        let inbound = &incoming.inbound;
        let reply = crate::inbound::handle(&self.state, inbound, Some(&self.username)).await;
        if let Some(query) = &incoming.callback_query_id {
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
        if let Err(e) = self
            .adapter
            .reply(&inbound.chat_id, inbound.message_id.as_deref(), &reply)
            .await
        {
            tracing::warn!(error = %e, chat = %inbound.chat_id, "could not send a reply on Telegram");
        }
    }
}

impl Inbox {
    /// Edit the pressed message to show the decision's outcome, now (see
    /// [`crate::inbound::pressed_decision_outcome`]). In the usual case the
    /// outbox's later, identical edit is answered "message is not
    /// modified", which counts as done.
    async fn show_outcome(&self, inbound: &adapters::Inbound, token: &str) {
        let Some(message_id) = inbound.message_id.as_deref() else {
            return;
        };
        let Some(message) = crate::inbound::pressed_decision_outcome(&self.state, token).await
        else {
            return;
        };
        if let Err(e) = self
            .adapter
            .edit_in_chat(&inbound.chat_id, message_id, &message)
            .await
        {
            tracing::warn!(error = %e, chat = %inbound.chat_id, "could not edit the pressed Telegram message");
        }
    }
}

/// getUpdates until the hub stops. Failures are logged and retried with a
/// growing pause (Telegram's retry_after when it gives one).
async fn poll_loop(inbox: Arc<Inbox>, mut poller: Poller, mut stop: watch::Receiver<bool>) {
    let mut failures: u32 = 0;
    loop {
        if *stop.borrow() {
            break;
        }
        let batch = tokio::select! {
            r = poller.next() => r,
            _ = stop.changed() => break,
        };
        match batch {
            Ok(items) => {
                failures = 0;
                for incoming in items {
                    inbox.handle(incoming).await;
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let backoff = Duration::from_secs(1u64 << failures.min(6));
                let wait = e.0.retry_after().unwrap_or(backoff);
                tracing::error!(error = %e, retry_in_s = wait.as_secs(), "telegram long poll failed");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => break,
                }
            }
        }
    }
    tracing::info!("telegram long poll stopped");
}

/// Updates posted by Telegram. Without the right secret header nothing is
/// read or done.
async fn webhook(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    if !secret_matches(&inbox.secret, given) {
        tracing::warn!("telegram webhook call without the right secret token refused");
        return StatusCode::UNAUTHORIZED;
    }
    match parse_webhook(&body) {
        Ok(Some(incoming)) => {
            inbox.handle(incoming).await;
            StatusCode::OK
        }
        // Updates we do not act on are acknowledged, or Telegram resends them.
        Ok(None) => StatusCode::OK,
        Err(e) => {
            tracing::warn!(error = %e, "telegram webhook body is not an Update");
            StatusCode::BAD_REQUEST
        }
    }
}
