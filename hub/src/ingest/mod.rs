//! Durable ingest. API handlers validate a request, then hand it to the one
//! writer task, which commits everything waiting in a single transaction
//! (multi-row inserts) and only then answers each request. Group commit is
//! what lets a 2-core machine accept tens of thousands of durable
//! notifications per second; nothing is answered 2xx before it is committed.
//!
//! The live web feed is published by the commit itself: a web delivery due
//! now is stored as sent, and its event goes out right after the commit (in
//! the same transaction, via NOTIFY, on PostgreSQL). The feed is a live view
//! with nothing to retry, and sending it through the dispatcher cost more
//! than everything else a notification needs.

pub mod decisions;
pub mod plan;
pub mod prune;

use crate::directory::Directory;
use crate::dispatch::message::stored_message;
use crate::ids::new_id;
use crate::store::{
    IdempotencyRecord, NewDelivery, NewNotification, Store, StoreError, WebhookEvent,
};
use adapters::web::{FeedEvent, WebAdapter};
use commands::RichMessage;
use plan::Recipient;
use routing::{RoutingPolicy, Urgency};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

/// A validated notification, ready to be planned and stored.
pub struct Submission {
    pub source: String,
    pub kind: String,
    pub urgency: Option<Urgency>,
    pub recipient: Recipient,
    pub project_id: Option<String>,
    pub title: Option<String>,
    pub body: String,
    pub fields_json: String,
    pub decision_id: Option<i64>,
    pub dedupe_key: Option<String>,
    /// (Idempotency-Key, hash of the request body).
    pub idempotency: Option<(String, String)>,
}

/// The answer to a submission: status code and JSON body, exactly as stored
/// for idempotent replay.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    /// The first answer to an earlier request with the same Idempotency-Key
    /// (answered with `idempotent-replayed: true`), not new work.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the hub is shutting down; retry against another instance or shortly")]
    Closed,
    #[error(
        "the hub is busy: {0} requests are already waiting to be stored (ingest.queue); retry after a second"
    )]
    Full(usize),
    #[error("Idempotency-Key {0:?} was already used for a different request body")]
    KeyReuse(String),
    #[error("could not store the notification: {0}")]
    Store(#[from] StoreError),
}

type Job = (Submission, oneshot::Sender<Result<Answer, IngestError>>);
/// A request's reply channel with the answer it will get once the batch commits.
type Pending = (
    oneshot::Sender<Result<Answer, IngestError>>,
    Result<Answer, IngestError>,
);

/// The handle API handlers use to submit.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Job>,
}

impl Ingest {
    /// Queue a submission and wait for its commit. A full queue is refused
    /// at once ([`IngestError::Full`], answered 503 with Retry-After):
    /// waiting for room would only pile up connections behind a writer
    /// that is already behind.
    pub async fn submit(&self, s: Submission) -> Result<Answer, IngestError> {
        let (tx, rx) = oneshot::channel();
        self.tx.try_send((s, tx)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                metrics::counter!("orkhub_ingest_refused_total", "reason" => "queue_full")
                    .increment(1);
                IngestError::Full(self.tx.max_capacity())
            }
            mpsc::error::TrySendError::Closed(_) => IngestError::Closed,
        })?;
        let answer = rx.await.map_err(|_| IngestError::Closed)??;
        // In the request's span: ties the request to the notification ID
        // and delivery IDs the dispatcher's `delivery` spans carry.
        tracing::debug!(
            notification = %answer.body["id"],
            deliveries = %answer.body["deliveries"],
            status = answer.status,
            "notification stored"
        );
        Ok(answer)
    }
}

/// Start the writer. It stops when every [`Ingest`] handle is dropped, after
/// committing what it holds. `wake` is notified after each commit that made
/// deliveries due now.
pub fn start(
    store: Store,
    dir: Arc<Directory>,
    policy: RoutingPolicy,
    limits: (usize, usize),
    web: Option<Arc<WebAdapter>>,
    wake: Arc<Notify>,
) -> (Ingest, tokio::task::JoinHandle<()>) {
    let (max_batch, queue) = limits;
    // Decisions' requests and edits are planned like notifications, and
    // written by the store in the decision's own transaction.
    store.set_decision_notices(Arc::new(decisions::DecisionNotices::new(
        dir.clone(),
        policy.clone(),
    )));
    let (tx, mut rx) = mpsc::channel::<Job>(queue.max(1));
    let handle = tokio::spawn(async move {
        let mut writer = Writer {
            store,
            dir,
            policy,
            web,
            recent: HashMap::new(),
        };
        let mut batch = Vec::with_capacity(max_batch);
        while rx.recv_many(&mut batch, max_batch.max(1)).await > 0 {
            // Requests still waiting behind this batch: near ingest.queue,
            // new ones are about to be refused.
            metrics::gauge!("orkhub_ingest_queue_depth").set(rx.len() as f64);
            let due_now = writer.commit(std::mem::take(&mut batch)).await;
            if due_now {
                wake.notify_one();
            }
        }
    });
    (Ingest { tx }, handle)
}

struct Writer {
    store: Store,
    dir: Arc<Directory>,
    policy: RoutingPolicy,
    /// The live feed, published at commit (None: the web adapter is off and
    /// web deliveries wait in the outbox like any other).
    web: Option<Arc<WebAdapter>>,
    /// Last accepted time per (recipient, dedupe key), to spare a query.
    recent: HashMap<(String, String), i64>,
}

impl Writer {
    /// Plan, store and answer one batch. Returns whether anything is due now.
    async fn commit(&mut self, jobs: Vec<Job>) -> bool {
        let now = chrono::Utc::now();
        let now_ms = now.timestamp_millis();
        let mut notifications = Vec::with_capacity(jobs.len());
        let mut deliveries: Vec<NewDelivery> = Vec::with_capacity(jobs.len() * 2);
        let mut idem = Vec::new();
        let mut replies = Vec::with_capacity(jobs.len());
        let mut keys_in_batch: HashMap<(String, String), usize> = HashMap::new();
        let mut feed: Vec<FeedEvent> = Vec::new();

        for (s, reply) in jobs {
            // Idempotency: a key seen before answers with the first answer.
            if let Some((key, hash)) = &s.idempotency {
                match self
                    .replay(&s.source, key, hash, &keys_in_batch, &replies)
                    .await
                {
                    Ok(Some(answer)) => {
                        replies.push((reply, Ok(answer)));
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        replies.push((reply, Err(e)));
                        continue;
                    }
                }
            }
            let id = new_id("n");
            let (recipient_kind, recipient_id) = match &s.recipient {
                Recipient::Person(p) => ("person", p.clone()),
                Recipient::Channel(c) => ("channel", c.clone()),
            };
            let (urgency, duplicate, mut ds) = match &s.recipient {
                Recipient::Person(p) => {
                    let last = match self.last_accepted(p, s.dedupe_key.as_deref()).await {
                        Ok(l) => l,
                        Err(e) => {
                            replies.push((reply, Err(e.into())));
                            continue;
                        }
                    };
                    let event = routing::Event {
                        kind: &s.kind,
                        urgency: s.urgency,
                        now,
                        last_duplicate_at: last.and_then(chrono::DateTime::from_timestamp_millis),
                    };
                    let (plan, ds) =
                        plan::person_deliveries(&self.dir, &self.policy, p, &id, &event);
                    (plan.urgency, plan.duplicate, ds)
                }
                Recipient::Channel(c) => (
                    self.policy.urgency_for(&s.kind, s.urgency),
                    false,
                    plan::channel_deliveries(&self.dir, c, &id, now_ms),
                ),
            };
            if self.web.is_some() {
                publish_at_commit(&mut ds, &s, now_ms, &mut feed);
            }
            if let Some(k) = &s.dedupe_key
                && !duplicate
            {
                self.recent
                    .insert((recipient_id.clone(), k.clone()), now_ms);
            }
            let body = answer_body(&id, urgency, duplicate, &ds, None);
            let answer = Answer {
                status: 201,
                body,
                replayed: false,
            };
            if let Some((key, hash)) = &s.idempotency {
                keys_in_batch.insert((s.source.clone(), key.clone()), replies.len());
                idem.push(IdempotencyRecord {
                    agent_id: s.source.clone(),
                    key: key.clone(),
                    request_hash: hash.clone(),
                    status_code: 201,
                    response_body: answer.body.to_string(),
                });
            }
            notifications.push(NewNotification {
                id,
                source: s.source,
                kind: s.kind,
                urgency: urgency.as_str(),
                recipient_kind,
                recipient_id,
                project_id: s.project_id,
                title: s.title,
                body: s.body,
                fields_json: s.fields_json,
                decision_id: s.decision_id,
                dedupe_key: s.dedupe_key,
                duplicate,
                created_at: now_ms,
            });
            deliveries.append(&mut ds);
            replies.push((reply, Ok(answer)));
        }

        let due_now = deliveries
            .iter()
            .any(|d| d.status == "pending" && d.next_attempt_at <= now_ms);
        let shared_feed = self.store.feed_is_shared();
        let feed_json: Vec<String> = if shared_feed {
            feed.iter()
                .filter_map(|e| serde_json::to_string(e).ok())
                .collect()
        } else {
            Vec::new()
        };
        // Outbound webhooks: each new notification (not a repeat) is a
        // `notification.created` event, queued in the same commit.
        let events: Vec<WebhookEvent> = notifications
            .iter()
            .filter(|n| !n.duplicate)
            .map(crate::webhooks::events::notification_created)
            .collect();
        let stored = if notifications.is_empty() {
            Ok(())
        } else {
            self.store
                .insert_batch_with_events(&notifications, &deliveries, &idem, &feed_json, &events)
                .await
        };
        if stored.is_ok() && !feed.is_empty() {
            // Counted like the dispatcher counts its sends.
            metrics::counter!("orkhub_deliveries_total", "adapter" => "web", "outcome" => "sent")
                .increment(feed.len() as u64);
            // This instance's viewers get them now; other instances read
            // them from the database (shared feed only).
            if let Some(web) = &self.web {
                for event in feed {
                    web.publish_local(event);
                }
            }
        }
        let failed = stored.is_err();
        if let Err(e) = &stored {
            tracing::error!(error = %e, count = notifications.len(), "ingest batch not stored; requests answered with an error");
            self.recent.clear();
        }
        for (reply, result) in replies {
            let result = match (result, &stored) {
                (Ok(a), Err(e)) if a.status == 201 => Err(IngestError::Store(e.shared())),
                (r, _) => r,
            };
            let _ = reply.send(result);
        }
        if !failed {
            metrics::counter!("orkhub_notifications_accepted_total")
                .increment(notifications.len() as u64);
        }
        self.prune(now_ms);
        due_now && !failed
    }

    async fn replay(
        &self,
        agent: &str,
        key: &str,
        hash: &str,
        in_batch: &HashMap<(String, String), usize>,
        replies: &[Pending],
    ) -> Result<Option<Answer>, IngestError> {
        if let Some(i) = in_batch.get(&(agent.to_string(), key.to_string())) {
            return match &replies[*i].1 {
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
                body: serde_json::from_str(&stored.body).unwrap_or(serde_json::Value::Null),
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

/// The API's answer for an accepted notification: its ID, urgency, and
/// each delivery planned for it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The notification's ID (`n_…`), for `GET /api/v1/notifications/{id}`.
    pub id: String,
    pub urgency: Urgency,
    /// A repeat of the same `dedupe_key` within the dedupe window: stored,
    /// but not sent again.
    pub duplicate: bool,
    pub deliveries: Vec<PlannedDelivery>,
    /// For a decision's requests: the approver this copy is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// One delivery as planned when the notification was accepted.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PlannedDelivery {
    pub id: String,
    /// `web`, `console`, `telegram`, `slack`, `discord` or `email`.
    pub channel: String,
    /// `pending` (due now or after quiet hours), `sent` (the live feed,
    /// published at commit) or `held` (for the digest).
    pub status: String,
}

fn answer_body(
    id: &str,
    urgency: Urgency,
    duplicate: bool,
    ds: &[NewDelivery],
    to: Option<&str>,
) -> serde_json::Value {
    let answer = Accepted {
        id: id.to_string(),
        urgency,
        duplicate,
        deliveries: ds
            .iter()
            .map(|d| PlannedDelivery {
                id: d.id.clone(),
                channel: d.channel.clone(),
                status: d.status.to_string(),
            })
            .collect(),
        to: to.map(str::to_string),
    };
    // Strings, booleans and an enum: serializing cannot fail.
    serde_json::to_value(answer).unwrap_or_default()
}

/// Mark the web deliveries in `ds` that are due now as published at commit,
/// and queue their feed events.
fn publish_at_commit(
    ds: &mut [NewDelivery],
    s: &Submission,
    now_ms: i64,
    feed: &mut Vec<FeedEvent>,
) {
    let mut message: Option<RichMessage> = None;
    for d in ds
        .iter_mut()
        .filter(|d| d.channel == "web" && d.status == "pending" && d.op == "send")
        .filter(|d| d.next_attempt_at <= now_ms)
    {
        d.status = "sent";
        let message = message
            .get_or_insert_with(|| {
                stored_message(s.title.clone(), s.body.clone(), &s.fields_json).0
            })
            .clone();
        feed.push(FeedEvent {
            id: d.id.clone(),
            recipient: d.address.clone(),
            edited: false,
            message,
        });
    }
}
