//! Telegram's inbound side: updates from the getUpdates loop (default) or
//! the webhook route on the hub's HTTP server, each acted on once and handed
//! to the hub's inbox; replies and the pressed message's edit go through
//! the outbox.

use super::{
    Incoming, IncomingKind, Poller, SECRET_HEADER, TelegramAdapter, parse_webhook, secret_matches,
};
use crate::InboundKind;
use crate::inbox::{Claim, Inbox, InboxError};
use crate::platform::{Webhook, WebhookRequest, WebhookResponse, empty_response};
use async_trait::async_trait;
use http::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The inbound side: updates from the poll loop or the webhook route.
pub(super) struct Listener {
    pub(super) inbox: Arc<dyn Inbox>,
    pub(super) adapter: Arc<TelegramAdapter>,
    /// The bot's username once registration got that far.
    pub(super) ready: watch::Receiver<Option<String>>,
    pub(super) secret: String,
    pub(super) bot_id: String,
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
    async fn run(&self, inbound: &crate::Inbound, query: Option<&str>) {
        let username = self.ready.borrow().clone();
        let mut reply = self.inbox.handle(inbound, username.as_deref()).await;
        if let Some(query) = query {
            if let Some(notice) = self.answer_prompt(inbound, reply.as_ref()).await {
                reply = Some(neutral::Reply::ok(neutral::RichMessage::text(notice)));
            }
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
        let queued = match (reply.secret, thread) {
            // A credential is never kept by the hub: sent once, directly.
            (true, thread) => {
                let to = crate::Destination {
                    address: inbound.chat_id.clone(),
                    thread,
                    to_person: false,
                    decision: None,
                };
                crate::Adapter::send(self.adapter.as_ref(), &to, &reply.message)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            (false, thread) => self
                .inbox
                .send_later(
                    routing::ChannelKind::Telegram,
                    &inbound.chat_id,
                    thread,
                    &reply,
                )
                .await
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = queued {
            tracing::error!(error = %e, chat = %inbound.chat_id, "could not queue a command's reply for Telegram");
        }
    }

    /// A press that asks the person to write the answer (Edit draft): the
    /// notice holds 200 characters, so the whole draft comes as a message
    /// of its own that opens a reply (ForceReply), queued under the pressed
    /// message; the reply answers. The press's notice, when it did.
    async fn answer_prompt(
        &self,
        inbound: &crate::Inbound,
        reply: Option<&neutral::Reply>,
    ) -> Option<String> {
        let (InboundKind::Button { token }, Some(r), Some(message_id)) =
            (&inbound.what, reply, inbound.message_id.as_deref())
        else {
            return None;
        };
        if r.is_error {
            return None;
        }
        let target = format!("{}:{message_id}", inbound.chat_id);
        match self
            .inbox
            .queue_answer_prompt(
                routing::ChannelKind::Telegram,
                &inbound.chat_id,
                target,
                token,
            )
            .await
        {
            Ok(notice) => notice,
            Err(e) => {
                // The press's own notice still shows the draft's start.
                tracing::error!(error = %e, chat = %inbound.chat_id, "could not send a draft to edit on Telegram");
                None
            }
        }
    }

    /// Have the pressed message show the decision's outcome, through the
    /// outbox (paced with the chat, retried on 429/5xx, recorded). The
    /// resolution has queued the edit of every copy recorded as sent; a
    /// press can come before its message's send was recorded (or on a
    /// message the outbox never recorded), so the edit is queued here
    /// unless one of this message is queued already. (Should both come,
    /// the second is "message is not modified", which counts as done.)
    async fn show_outcome(&self, inbound: &crate::Inbound, token: &str) {
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
pub(super) async fn poll_loop(
    inbox: Arc<Listener>,
    mut poller: Poller,
    mut stop: watch::Receiver<bool>,
) {
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
#[async_trait]
impl Webhook for Listener {
    async fn call(&self, request: WebhookRequest) -> WebhookResponse {
        empty_response(self.webhook(request).await)
    }
}

impl Listener {
    async fn webhook(&self, request: WebhookRequest) -> StatusCode {
        let given = request.headers().get(SECRET_HEADER).map(|v| v.as_bytes());
        if !secret_matches(&self.secret, given) {
            tracing::warn!("telegram webhook call without the right secret token refused");
            return StatusCode::UNAUTHORIZED;
        }
        if self.ready.borrow().is_none() {
            tracing::warn!(
                "telegram webhook call before registration finished; Telegram will resend it"
            );
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match parse_webhook(request.body()) {
            Ok(Some(incoming)) => match self.handle(incoming).await {
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
}
