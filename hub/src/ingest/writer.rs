//! The one writer task's work on a batch: accept each request (replay, ID,
//! dedupe, routing plan, feed events), store the batch in one transaction,
//! publish the live feed, answer every request. Each step is its own
//! function; [`Writer::commit`] only strings them together.

use super::plan::{self, Recipient};
use super::{Answer, IngestError, Pending, Submission, answer_text, publish_at_commit};
use crate::directory::Directory;
use crate::store::{
    BatchRows, DeliveryState, IdempotencyRecord, NewDelivery, NewNotification, Store, StoreError,
    WriterConnection,
};
use adapters::web::{FeedEvent, WebAdapter};
use routing::{RoutingPolicy, Urgency};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;

pub(super) struct Writer {
    pub(super) store: Store,
    pub(super) dir: Arc<Directory>,
    pub(super) policy: RoutingPolicy,
    /// The live feed, published at commit (None: the web adapter is off and
    /// web deliveries wait in the outbox like any other).
    pub(super) web: Option<Arc<WebAdapter>>,
    /// Last accepted time per (recipient, dedupe key), to spare a query.
    pub(super) recent: HashMap<(String, String), i64>,
    /// Its own database connection, kept between batches.
    pub(super) conn: WriterConnection,
}

/// What one batch writes, built up request by request, and the answers
/// waiting for its commit.
struct Batch {
    now: chrono::DateTime<chrono::Utc>,
    now_ms: i64,
    notifications: Vec<NewNotification>,
    deliveries: Vec<NewDelivery>,
    idempotency: Vec<IdempotencyRecord>,
    /// Index into `replies` of each (agent, Idempotency-Key) accepted in this
    /// batch, so a repeat within the batch replays the first answer.
    keys: HashMap<(String, String), usize>,
    feed: Vec<FeedEvent>,
    replies: Vec<Pending>,
}

impl Batch {
    fn new(size: usize) -> Batch {
        let now = chrono::Utc::now();
        Batch {
            now,
            now_ms: now.timestamp_millis(),
            notifications: Vec::with_capacity(size),
            deliveries: Vec::with_capacity(size * 2),
            idempotency: Vec::new(),
            keys: HashMap::new(),
            feed: Vec::new(),
            replies: Vec::with_capacity(size),
        }
    }

    /// Whether a delivery of this batch is due now (the dispatcher is woken).
    fn due_now(&self) -> bool {
        self.deliveries
            .iter()
            .any(|d| d.status == DeliveryState::Pending && d.next_attempt_at <= self.now_ms)
    }
}

/// A notification's routing: its urgency, whether it repeats a recent one,
/// and its deliveries.
struct Routed {
    urgency: Urgency,
    duplicate: bool,
    deliveries: Vec<NewDelivery>,
}

impl Writer {
    /// Plan, store and answer one batch. Returns whether anything is due now.
    pub(super) async fn commit(
        &mut self,
        jobs: Vec<(Submission, oneshot::Sender<Result<Answer, IngestError>>)>,
    ) -> bool {
        let mut batch = Batch::new(jobs.len());
        for (s, reply) in jobs {
            let answer = self.accept(s, &mut batch).await;
            batch.replies.push((reply, answer));
        }
        let due_now = batch.due_now();
        let count = batch.notifications.len();
        let stored = self.store(&mut batch).await;
        if let Err(e) = &stored {
            tracing::error!(error = %e, count, "ingest batch not stored; requests answered with an error");
            // Entries of requests that were not stored would hide a repeat.
            self.recent.clear();
        }
        let due_now = stored.is_ok() && due_now;
        let now_ms = batch.now_ms;
        self.publish_and_answer(batch, count, stored);
        self.prune(now_ms);
        due_now
    }

    /// One request: the first answer again for a repeated Idempotency-Key,
    /// else a new notification planned into `batch`.
    async fn accept(&mut self, s: Submission, batch: &mut Batch) -> Result<Answer, IngestError> {
        if let Some((key, hash)) = &s.idempotency
            && let Some(first) = self.replay(&s.source, key, hash, batch).await?
        {
            return Ok(first);
        }
        let id = crate::ids::new_id("n");
        let (recipient_kind, recipient_id) = match &s.recipient {
            Recipient::Person(p) => ("person", p.clone()),
            Recipient::Channel(c) => ("channel", c.clone()),
        };
        let mut routed = self.route(&s, &id, batch.now).await?;
        if self.web.is_some() {
            publish_at_commit(&mut routed.deliveries, &s, batch.now_ms, &mut batch.feed);
        }
        if let Some(k) = &s.dedupe_key
            && !routed.duplicate
        {
            self.recent
                .insert((recipient_id.clone(), k.clone()), batch.now_ms);
        }
        let answer = Answer {
            status: 201,
            body: answer_text(&id, routed.urgency, routed.duplicate, &routed.deliveries),
            replayed: false,
        };
        if let Some((key, hash)) = &s.idempotency {
            // This request's answer is the next one pushed.
            batch
                .keys
                .insert((s.source.clone(), key.clone()), batch.replies.len());
            batch.idempotency.push(IdempotencyRecord {
                agent_id: s.source.clone(),
                key: key.clone(),
                request_hash: hash.clone(),
                status_code: 201,
                response_body: answer.body.clone(),
            });
        }
        batch.notifications.push(NewNotification {
            id,
            source: s.source,
            kind: s.kind,
            urgency: routed.urgency.as_str(),
            recipient_kind,
            recipient_id,
            project_id: s.project_id,
            title: s.title,
            body: s.body,
            fields_json: s.fields_json,
            decision_id: s.decision_id,
            dedupe_key: s.dedupe_key,
            duplicate: routed.duplicate,
            created_at: batch.now_ms,
        });
        batch.deliveries.append(&mut routed.deliveries);
        Ok(answer)
    }

    /// The routing plan: a person's preferences, quiet hours and dedupe
    /// window, or a channel's own address.
    async fn route(
        &self,
        s: &Submission,
        id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Routed, IngestError> {
        Ok(match &s.recipient {
            Recipient::Person(p) => {
                let last = self.last_accepted(p, s.dedupe_key.as_deref()).await?;
                let event = routing::Event {
                    kind: &s.kind,
                    urgency: s.urgency,
                    now,
                    last_duplicate_at: last.and_then(chrono::DateTime::from_timestamp_millis),
                };
                let (plan, deliveries) =
                    plan::person_deliveries(&self.dir, &self.policy, p, id, &event);
                Routed {
                    urgency: plan.urgency,
                    duplicate: plan.duplicate,
                    deliveries,
                }
            }
            Recipient::Channel(c) => Routed {
                urgency: self.policy.urgency_for(&s.kind, s.urgency),
                duplicate: false,
                deliveries: plan::channel_deliveries(&self.dir, c, id, now.timestamp_millis()),
            },
        })
    }

    /// Write the batch's rows (and, for a feed shared between instances,
    /// its feed events) in one transaction. The rows go to the store (a
    /// SQLite batch is written on another thread); the answers and feed
    /// events stay in `batch`.
    async fn store(&mut self, batch: &mut Batch) -> Result<(), StoreError> {
        if batch.notifications.is_empty() {
            return Ok(());
        }
        let feed_json: Vec<String> = if self.store.feed_is_shared() {
            batch
                .feed
                .iter()
                .filter_map(|e| serde_json::to_string(e).ok())
                .collect()
        } else {
            Vec::new()
        };
        // Outbound webhooks: each new notification (not a repeat) is a
        // `notification.created` event, built by the database from the rows
        // and queued in the same commit.
        let rows = BatchRows {
            notifications: std::mem::take(&mut batch.notifications),
            deliveries: std::mem::take(&mut batch.deliveries),
            idempotency: std::mem::take(&mut batch.idempotency),
        };
        self.store
            .insert_ingest_batch_on(&mut self.conn, rows, &feed_json)
            .await
    }

    /// After the commit: this instance's live viewers get the feed events,
    /// and every request gets its answer (an error if the batch was lost).
    fn publish_and_answer(&self, batch: Batch, count: usize, stored: Result<(), StoreError>) {
        if stored.is_ok() && !batch.feed.is_empty() {
            // Counted like the dispatcher counts its sends.
            metrics::counter!("orkhub_deliveries_total", "adapter" => "web", "outcome" => "sent")
                .increment(batch.feed.len() as u64);
            // Other instances read them from the database (shared feed only).
            if let Some(web) = &self.web {
                for event in batch.feed {
                    web.publish_local(event);
                }
            }
        }
        // A batch of replays only commits nothing.
        if stored.is_ok() && count > 0 {
            metrics::counter!("orkhub_notifications_accepted_total").increment(count as u64);
            metrics::counter!("orkhub_ingest_batches_total").increment(1);
        }
        for (reply, result) in batch.replies {
            let result = match (result, &stored) {
                (Ok(a), Err(e)) if a.status == 201 => Err(IngestError::Store(e.shared())),
                (r, _) => r,
            };
            let _ = reply.send(result);
        }
    }

    /// The first answer to an earlier request with the same agent and
    /// Idempotency-Key: from this batch, else from the database. A key
    /// reused for a different body is refused.
    async fn replay(
        &self,
        agent: &str,
        key: &str,
        hash: &str,
        batch: &Batch,
    ) -> Result<Option<Answer>, IngestError> {
        if let Some(i) = batch.keys.get(&(agent.to_string(), key.to_string())) {
            return match &batch.replies[*i].1 {
                Ok(a) => Ok(Some(Answer {
                    replayed: true,
                    ..a.clone()
                })),
                Err(_) => Ok(None),
            };
        }
        match self.store.stored_response(agent, key).await? {
            Some(stored) if stored.request_hash != hash => {
                Err(IngestError::KeyReuse(key.to_string()))
            }
            Some(stored) => Ok(Some(Answer {
                status: stored.status_code,
                body: stored.body,
                replayed: true,
            })),
            None => Ok(None),
        }
    }

    async fn last_accepted(
        &self,
        recipient: &str,
        key: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        let Some(key) = key else { return Ok(None) };
        if let Some(t) = self.recent.get(&(recipient.to_string(), key.to_string())) {
            return Ok(Some(*t));
        }
        self.store.last_accepted(recipient, key).await
    }

    /// Forget dedupe entries older than the window; the database still has them.
    fn prune(&mut self, now_ms: i64) {
        if self.recent.len() > 100_000 {
            let window = self.policy.dedupe_window_secs * 1000;
            self.recent.retain(|_, t| now_ms - *t < window);
        }
    }
}
