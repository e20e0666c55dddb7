//! The dispatcher: claims due deliveries from the outbox, sends each through
//! its adapter, and records the outcome on the row. Transient failures are
//! retried with backoff; after the last attempt (or a permanent failure) the
//! delivery is dead and the recipient's next channel gets a new delivery.
//! Messages to the same chat go out in order: when one must wait, the ones
//! behind it wait too.

pub mod backoff;
pub mod message;
mod queue;
mod recorder;

pub use message::message_for;

use crate::config::OutboxConfig;
use crate::directory::Directory;
use crate::store::{ClaimedDelivery, Store, StoreError, now_ms};
use adapters::Adapter;
use routing::ChannelKind;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

pub type Adapters = HashMap<ChannelKind, Arc<dyn Adapter>>;

pub struct Dispatcher {
    pub store: Store,
    pub adapters: Adapters,
    pub dir: Arc<Directory>,
    pub config: OutboxConfig,
    /// Notified when new deliveries are due now.
    pub wake: Arc<Notify>,
}

impl Dispatcher {
    /// Run until `stop` turns true. Each chat's claimed messages go out as
    /// a queue of their own, up to `concurrency` chats at once; the loop
    /// claims more as soon as there is room, so a slow or paced chat never
    /// holds up the others. On stop, every queue finishes the send in hand
    /// and puts the rest back, and every send is recorded (the drain).
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let (sent_tx, sent_rx) = mpsc::unbounded_channel();
        let held = recorder::Held::default();
        let recorder = tokio::spawn(recorder::run(
            this.store.clone(),
            this.wake.clone(),
            sent_rx,
            held.clone(),
        ));
        let outcomes = recorder::Outcomes { tx: sent_tx, held };
        let mut running: JoinSet<()> = JoinSet::new();
        // Claimed queues waiting for a free slot.
        let mut ready: VecDeque<Vec<ClaimedDelivery>> = VecDeque::new();
        let poll = Duration::from_millis(this.config.poll_interval_ms.max(10));
        let slots = this.config.concurrency.max(1);
        let mut stop_changed = stop.clone();
        loop {
            if *stop.borrow() {
                break;
            }
            let mut claimed_any = false;
            let claimed_at = now_ms();
            if ready.is_empty() && running.len() < slots {
                match this.claim(claimed_at, &outcomes.held).await {
                    Ok(queues) => {
                        claimed_any = !queues.is_empty();
                        ready.extend(queues);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "claiming deliveries failed; retrying shortly");
                    }
                }
            }
            while running.len() < slots {
                let Some(queue) = ready.pop_front() else {
                    break;
                };
                let (this, stop, sent) = (this.clone(), stop.clone(), outcomes.clone());
                running.spawn(async move {
                    if let Err(e) = this.send_queue(queue, &stop, &sent).await {
                        // The rows keep their lease and are claimed again
                        // when it ends: nothing is lost.
                        tracing::error!(error = %e, "recording a delivery's outcome failed; it will be retried after its lease");
                    }
                });
            }
            if claimed_any && running.len() < slots {
                continue;
            }
            let wait = if running.len() < slots {
                this.until_next_due(claimed_at, poll).await
            } else {
                poll
            };
            tokio::select! {
                _ = this.wake.notified() => {}
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "a delivery queue stopped unexpectedly; its deliveries are retried after their lease");
                    }
                }
                _ = tokio::time::sleep(wait) => {}
                _ = stop_changed.changed() => {}
            }
        }
        // Claimed but never started: back to the outbox untouched.
        let unstarted: Vec<String> = ready.into_iter().flatten().map(|d| d.id).collect();
        if let Err(e) = this.store.release(&unstarted, now_ms()).await {
            tracing::error!(error = %e, "could not put unsent deliveries back; they are sent after their lease ends");
        }
        while running.join_next().await.is_some() {}
        drop(outcomes);
        let _ = recorder.await;
        tracing::info!("dispatcher stopped");
    }

    /// Claim due deliveries and group them into one queue per chat, each in
    /// the order the messages were accepted.
    async fn claim(
        &self,
        now: i64,
        held: &recorder::Held,
    ) -> Result<Vec<Vec<ClaimedDelivery>>, StoreError> {
        let lease = now + (self.config.lease_secs as i64) * 1000;
        let claimed = self
            .store
            .claim_due(now, lease, self.config.batch_size as i64, &held.snapshot())
            .await?;
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
        Ok(queues)
    }

    /// How long to sleep when nothing wakes the loop: until the next
    /// delivery is due, at most `poll`. One that was already due when the
    /// claim at `claimed_at` found nothing is waiting behind an earlier
    /// message to its chat that is in flight: the record of that send (or
    /// its queue ending) wakes the loop, so it does not spin meanwhile.
    async fn until_next_due(&self, claimed_at: i64, poll: Duration) -> Duration {
        match self.store.next_due_at().await {
            Ok(Some(at)) if at > claimed_at => {
                Duration::from_millis((at - now_ms()).clamp(0, poll.as_millis() as i64) as u64)
            }
            _ => poll,
        }
    }
}
