//! One chat's claimed deliveries, sent in order, and each outcome recorded.
//! A queue runs on its own: a chat the platform paces (one message a second
//! on Slack, twenty a minute in a Telegram group) holds up only itself.

use super::Dispatcher;
use super::backoff;
use super::message::message_for;
use super::recorder::{Outcomes, SentRecord};
use crate::ids::new_id;
use crate::ingest::plan::{join_channels, split_channels};
use crate::store::{ClaimedDelivery, DeliveryOp, DeliveryState, NewDelivery, StoreError, now_ms};
use adapters::{Destination, SendError};
use routing::ChannelKind;
use std::collections::HashMap;
use tokio::sync::watch;
use tracing::Instrument;

/// What a chat's queue does after one delivery.
enum Next {
    /// Sent (or dead and handed on): go on with the chat's next message.
    Continue,
    /// Retried at this time: everything behind it in the chat waits too.
    WaitUntil(i64),
}

impl Dispatcher {
    /// Send `queue` (one chat's deliveries, oldest first) in order. Stops
    /// early — putting the rest back untouched — when a message must wait
    /// for a retry (per-chat order), when the claim's lease is close to
    /// running out (another instance may take the rows then), or when the
    /// hub is stopping (the send in hand finishes first: the drain).
    pub(super) async fn send_queue(
        &self,
        queue: Vec<ClaimedDelivery>,
        stop: &watch::Receiver<bool>,
        sent: &Outcomes,
    ) -> Result<(), StoreError> {
        let margin = (self.config.lease_secs as i64) * 1000 / 4;
        // What this queue sent, by notification: a reply claimed together
        // with the message it answers goes under it too.
        let mut threads: HashMap<String, String> = HashMap::new();
        let mut rest = queue.into_iter();
        while let Some(d) = rest.next() {
            if *stop.borrow() || now_ms() + margin > d.lease_until {
                let ids: Vec<String> = std::iter::once(d).chain(rest).map(|d| d.id).collect();
                return self.store.release(&ids, now_ms()).await;
            }
            // Everything logged about this attempt (and by the adapter
            // while sending) carries which notification and chat it is.
            let span = tracing::info_span!(
                "delivery",
                notification = %d.notification_id,
                delivery = %d.id,
                adapter = %d.channel,
                chat = %d.address,
                op = d.op.as_str(),
                attempt = d.attempts,
            );
            let next = self
                .deliver(&d, sent, &mut threads)
                .instrument(span)
                .await?;
            if let Next::WaitUntil(at) = next {
                let ids: Vec<String> = rest.map(|d| d.id).collect();
                if !ids.is_empty() {
                    self.store.release(&ids, at).await?;
                }
                return Ok(());
            }
        }
        Ok(())
    }

    /// Send one delivery and record the outcome.
    async fn deliver(
        &self,
        d: &ClaimedDelivery,
        sent: &Outcomes,
        threads: &mut HashMap<String, String>,
    ) -> Result<Next, StoreError> {
        let channel: Option<ChannelKind> = d.channel.parse().ok();
        let Some(adapter) = channel.and_then(|c| self.adapters.get(&c)) else {
            count(d, "dead");
            let reason = format!("no {} adapter is configured", d.channel);
            self.dead(d, &reason).await?;
            return Ok(Next::Continue);
        };
        let (message, reply_to) = message_for(d);
        let to = self.destination(d, reply_to, threads).await?;
        match send(adapter.as_ref(), d, &to, &message).await {
            Ok(platform_message_id) => {
                record_sent(d, platform_message_id, sent, threads);
                Ok(Next::Continue)
            }
            Err(e) => self.record_failure(d, &e).await,
        }
    }

    /// Where the delivery goes: the person's own platform ID or the chat,
    /// and for a send, under the platform message it answers (a chat
    /// command's reply goes under the command: see `crate::replies`; a
    /// reply claimed with the message it answers goes under that).
    async fn destination(
        &self,
        d: &ClaimedDelivery,
        reply_to: Option<String>,
        threads: &HashMap<String, String>,
    ) -> Result<Destination, StoreError> {
        let mut to = match d.person_id {
            Some(_) => Destination::person(d.address.clone()),
            None => Destination::to(d.address.clone()),
        };
        if d.op == DeliveryOp::Send {
            to.thread.clone_from(&d.target_message_id);
            to.decision = d
                .decision_id
                .filter(|_| d.kind == crate::ingest::decisions::REQUESTED);
        }
        if let Some(parent) = reply_to.filter(|_| d.op == DeliveryOp::Send) {
            to.thread = match threads.get(&parent) {
                Some(id) => Some(id.clone()),
                None => {
                    self.store
                        .thread_target(&parent, &d.channel, &d.address)
                        .await?
                }
            };
        }
        Ok(to)
    }

    /// A failed send: retried later (the chat's queue waits), or dead and
    /// handed to the person's next channel.
    async fn record_failure(&self, d: &ClaimedDelivery, e: &SendError) -> Result<Next, StoreError> {
        match self.retry_at(d, e) {
            Some(at) => {
                count(d, "retry");
                tracing::warn!(delivery = %d.id, channel = %d.channel, attempt = d.attempts, retry_in_ms = at - now_ms(), error = %e, "delivery will be retried");
                let throttled = e.retry_after().is_some();
                self.store
                    .mark_retry(&d.id, at, &e.to_string(), throttled, now_ms())
                    .await?;
                Ok(Next::WaitUntil(at))
            }
            None => {
                count(d, "dead");
                let reason = match (e, e.retry_after()) {
                    (SendError::Permanent { .. }, _) => e.to_string(),
                    (_, Some(_)) => format!(
                        "still rate limited after {} s: {e}",
                        (now_ms() - d.created_at) / 1000
                    ),
                    (_, None) => {
                        format!("gave up after {} attempts: {e}", d.attempts - d.throttled)
                    }
                };
                self.dead(d, &reason).await?;
                Ok(Next::Continue)
            }
        }
    }

    /// When to try again after `e`, or `None` when the delivery is dead. A
    /// platform's own retry-after (a 429: the chat is being paced, not
    /// failing) is not held against `max_attempts`, only against how long
    /// the message may keep waiting.
    fn retry_at(&self, d: &ClaimedDelivery, e: &SendError) -> Option<i64> {
        if !e.is_retryable() {
            return None;
        }
        let failures = (d.attempts - d.throttled).max(1) as u32;
        let again = match e.retry_after() {
            Some(_) => now_ms() - d.created_at < (self.config.max_throttled_secs as i64) * 1000,
            None => failures < self.config.max_attempts,
        };
        if !again {
            return None;
        }
        let wait = backoff::delay(
            failures,
            self.config.base_backoff_ms,
            self.config.max_backoff_ms,
            e.retry_after(),
            rand::random::<f64>(),
        );
        Some(now_ms() + wait.as_millis() as i64)
    }

    /// Mark dead and hand the message to the recipient's next channel.
    async fn dead(&self, d: &ClaimedDelivery, reason: &str) -> Result<(), StoreError> {
        let fallback = self.fallback_for(d);
        tracing::warn!(delivery = %d.id, channel = %d.channel, error = %reason, fallback = fallback.as_ref().map(|f| f.channel.as_str()), "delivery dead");
        self.store
            .mark_dead(&d.id, reason, fallback.as_ref(), now_ms())
            .await
    }

    fn fallback_for(&self, d: &ClaimedDelivery) -> Option<NewDelivery> {
        if d.op != DeliveryOp::Send {
            return None;
        }
        let person = self.dir.person(d.person_id.as_deref()?)?;
        let mut chain = split_channels(&d.fallbacks).into_iter();
        while let Some(c) = chain.next() {
            if let Some(address) = person.address(c) {
                let now = now_ms();
                return Some(NewDelivery {
                    id: new_id("d"),
                    notification_id: d.notification_id.clone(),
                    person_id: d.person_id.clone(),
                    channel: c.as_str().to_string(),
                    address,
                    op: DeliveryOp::Send,
                    target_message_id: None,
                    status: DeliveryState::Pending,
                    next_attempt_at: now,
                    fallbacks: join_channels(&chain.collect::<Vec<_>>()),
                    created_at: now,
                });
            }
        }
        None
    }
}

/// Send or edit once through the adapter; the platform's message ID for a
/// send. Timed per adapter.
async fn send(
    adapter: &dyn adapters::Adapter,
    d: &ClaimedDelivery,
    to: &Destination,
    message: &neutral::RichMessage,
) -> Result<Option<String>, SendError> {
    tracing::debug!("sending");
    let started = std::time::Instant::now();
    let result = match (d.op, &d.target_message_id) {
        (DeliveryOp::Edit, Some(target)) => adapter.edit(to, target, message).await.map(|_| None),
        _ => adapter
            .send(to, message)
            .await
            .map(|s| s.platform_message_id),
    };
    metrics::histogram!("orkhub_send_seconds", "adapter" => d.channel.clone())
        .record(started.elapsed().as_secs_f64());
    result
}

/// A sent delivery: its message ID kept for this queue's replies, and the
/// outcome handed to the recorder (written in batches).
fn record_sent(
    d: &ClaimedDelivery,
    platform_message_id: Option<String>,
    sent: &Outcomes,
    threads: &mut HashMap<String, String>,
) {
    tracing::debug!(platform_message_id = platform_message_id.as_deref(), "sent");
    count(d, "sent");
    if let Some(id) = &platform_message_id {
        threads.insert(d.notification_id.clone(), id.clone());
    }
    let decision_id = d
        .decision_id
        .filter(|_| d.op == DeliveryOp::Send && d.kind == crate::ingest::decisions::REQUESTED);
    sent.sent(SentRecord {
        delivery_id: d.id.clone(),
        platform_message_id,
        decision_id,
        question_copy: d.op == DeliveryOp::Send && d.kind == crate::ingest::questions::ASKED,
    });
}

/// `orkhub_deliveries_total{adapter, outcome}`: sent, retry or dead — the
/// outcome decided, not the error's class (a last transient failure is dead).
fn count(d: &ClaimedDelivery, outcome: &'static str) {
    metrics::counter!("orkhub_deliveries_total", "adapter" => d.channel.clone(), "outcome" => outcome)
        .increment(1);
}
