//! The dispatcher: claims due deliveries from the outbox, sends each through
//! its adapter, and records the outcome on the row. Transient failures are
//! retried with backoff; after the last attempt (or a permanent failure) the
//! delivery is dead and the recipient's next channel gets a new delivery.
//! Messages to the same chat go out in order: when one must wait, the ones
//! behind it wait too.

pub mod backoff;
pub mod message;

pub use message::message_for;

use crate::config::OutboxConfig;
use crate::directory::Directory;
use crate::ids::new_id;
use crate::ingest::plan::{join_channels, split_channels};
use crate::store::{ClaimedDelivery, NewDelivery, Store, StoreError, now_ms};
use adapters::{Adapter, Destination, SendError};
use futures::StreamExt;
use routing::ChannelKind;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

pub type Adapters = HashMap<ChannelKind, Arc<dyn Adapter>>;

/// The notification kind of a decision request (its copies carry buttons).
const DECISION_REQUESTED: &str = "decision.requested";

/// Sends that succeeded this round: (delivery ID, platform message ID).
type Sent = std::sync::Mutex<Vec<(String, Option<String>)>>;

pub struct Dispatcher {
    pub store: Store,
    pub adapters: Adapters,
    pub dir: Arc<Directory>,
    pub config: OutboxConfig,
    /// Notified when new deliveries are due now.
    pub wake: Arc<Notify>,
}

impl Dispatcher {
    /// Run until `stop` turns true; the batch in hand is finished first (drain).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        loop {
            if *stop.borrow() {
                break;
            }
            match self.round().await {
                Ok(0) => {
                    let wait = match self.store.next_due_at().await {
                        Ok(Some(at)) => Duration::from_millis(
                            (at - now_ms()).clamp(0, poll.as_millis() as i64) as u64,
                        ),
                        _ => poll,
                    };
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "outbox round failed; retrying shortly");
                    tokio::time::sleep(poll).await;
                }
            }
        }
        tracing::info!("dispatcher stopped");
    }

    /// Claim and send one batch; returns how many were claimed.
    pub async fn round(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        let lease = now + (self.config.lease_secs as i64) * 1000;
        let claimed = self
            .store
            .claim_due(now, lease, self.config.batch_size as i64)
            .await?;
        let n = claimed.len();
        if n == 0 {
            return Ok(0);
        }
        let requests: Vec<(String, i64)> = claimed
            .iter()
            .filter(|d| d.op == "send" && d.kind == DECISION_REQUESTED)
            .filter_map(|d| Some((d.id.clone(), d.decision_id?)))
            .collect();
        // One queue per destination keeps each chat in order; queues run side by side.
        let mut queues: Vec<Vec<ClaimedDelivery>> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        for d in claimed {
            let key = (d.channel.clone(), d.address.clone());
            let i = *index.entry(key).or_insert_with(|| {
                queues.push(Vec::new());
                queues.len() - 1
            });
            queues[i].push(d);
        }
        let sent = std::sync::Mutex::new(Vec::with_capacity(n));
        let results: Vec<Result<(), StoreError>> = futures::stream::iter(queues)
            .map(|q| self.send_queue(q, &sent))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        // Successful sends are recorded together, even if a queue failed.
        let sent = sent.into_inner().unwrap_or_else(|p| p.into_inner());
        self.store.mark_sent_many(&sent, now_ms()).await?;
        if !requests.is_empty() {
            self.edit_late_requests(&requests, &sent).await?;
        }
        for r in results {
            r?;
        }
        Ok(n)
    }

    /// A decision resolved while a copy of its request was on its way missed
    /// that copy when it queued its edits (only sent copies have a message to
    /// edit). Queue the edit for such copies now, so no request is left
    /// showing buttons for a decision already made. (If both see the copy,
    /// it is edited twice to the same content, which is harmless.)
    async fn edit_late_requests(
        &self,
        requests: &[(String, i64)],
        sent: &[(String, Option<String>)],
    ) -> Result<(), StoreError> {
        let mut by_decision: HashMap<i64, Vec<String>> = HashMap::new();
        for (delivery, decision) in requests {
            if sent.iter().any(|(id, _)| id == delivery) {
                by_decision
                    .entry(*decision)
                    .or_default()
                    .push(delivery.clone());
            }
        }
        for (decision_id, deliveries) in by_decision {
            let decision = commands::Backend::decision(&self.store, decision_id)
                .await
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let Some(decision) = decision.filter(|d| d.status != commands::DecisionStatus::Pending)
            else {
                continue;
            };
            let edit = crate::api::resolution_edit(&decision);
            if self
                .store
                .queue_decision_edits_for(&edit, &deliveries)
                .await?
                > 0
            {
                self.wake.notify_one();
            }
        }
        Ok(())
    }

    async fn send_queue(&self, queue: Vec<ClaimedDelivery>, sent: &Sent) -> Result<(), StoreError> {
        let mut rest = queue.into_iter();
        while let Some(d) = rest.next() {
            if let Some(wait_until) = self.deliver(&d, sent).await? {
                // Keep order: everything behind a delayed message waits for it.
                for later in rest.by_ref() {
                    self.store.release(&later.id, wait_until).await?;
                }
            }
        }
        Ok(())
    }

    /// Send one delivery and record the outcome. Returns `Some(t)` when it
    /// will be retried at `t` (so later messages to the same chat must wait).
    async fn deliver(&self, d: &ClaimedDelivery, sent: &Sent) -> Result<Option<i64>, StoreError> {
        let channel: Option<ChannelKind> = d.channel.parse().ok();
        let Some(adapter) = channel.and_then(|c| self.adapters.get(&c)) else {
            let reason = format!("no {} adapter is configured", d.channel);
            self.dead(d, &reason).await?;
            return Ok(None);
        };
        let message = message_for(d);
        // A delivery with a person is addressed to their own platform ID.
        let to = match d.person_id {
            Some(_) => Destination::person(d.address.clone()),
            None => Destination::to(d.address.clone()),
        };
        let started = std::time::Instant::now();
        let result = match (d.op.as_str(), &d.target_message_id) {
            ("edit", Some(target)) => adapter.edit(&to, target, &message).await.map(|_| None),
            _ => adapter
                .send(&to, &message)
                .await
                .map(|s| s.platform_message_id),
        };
        metrics::histogram!("orkhub_send_seconds", "adapter" => d.channel.clone())
            .record(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(_) => "sent",
            Err(SendError::Transient { .. }) => "retry",
            Err(SendError::Permanent { .. }) => "dead",
        };
        metrics::counter!("orkhub_deliveries_total", "adapter" => d.channel.clone(), "outcome" => outcome).increment(1);
        match result {
            Ok(pmid) => {
                if let Ok(mut s) = sent.lock() {
                    s.push((d.id.clone(), pmid));
                }
                Ok(None)
            }
            Err(e @ SendError::Transient { .. })
                if (d.attempts as u32) < self.config.max_attempts =>
            {
                let wait = backoff::delay(
                    d.attempts as u32,
                    self.config.base_backoff_ms,
                    self.config.max_backoff_ms,
                    e.retry_after(),
                    rand::random::<f64>(),
                );
                let at = now_ms() + wait.as_millis() as i64;
                tracing::warn!(delivery = %d.id, channel = %d.channel, attempt = d.attempts, retry_in_ms = wait.as_millis() as u64, error = %e, "delivery will be retried");
                self.store
                    .mark_retry(&d.id, at, &e.to_string(), now_ms())
                    .await?;
                Ok(Some(at))
            }
            Err(e) => {
                let reason = if e.is_retryable() {
                    format!("gave up after {} attempts: {e}", d.attempts)
                } else {
                    e.to_string()
                };
                self.dead(d, &reason).await?;
                Ok(None)
            }
        }
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
        if d.op != "send" {
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
                    op: "send",
                    target_message_id: None,
                    status: "pending",
                    next_attempt_at: now,
                    fallbacks: join_channels(&chain.collect::<Vec<_>>()),
                    created_at: now,
                });
            }
        }
        None
    }
}
