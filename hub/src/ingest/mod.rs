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
pub mod questions;
mod writer;

use crate::directory::Directory;
use crate::dispatch::message::stored_message;
use crate::store::{DeliveryOp, DeliveryState, NewDelivery, Store, StoreError};
use adapters::web::{FeedEvent, WebAdapter};
use commands::RichMessage;
use plan::Recipient;
use routing::{RoutingPolicy, Urgency};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};
use writer::Writer;

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
    /// The JSON text, written once: answered as is and stored as is for a
    /// replay (no `serde_json::Value` tree to build and walk per request).
    pub body: String,
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
            answer = %answer.body,
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
    let (tx, mut rx) = mpsc::channel::<Job>(queue.max(1));
    // Only on SQLite: there a commit costs the hub CPU for every page it
    // writes, and a larger batch writes fewer per notification. PostgreSQL
    // commits on its own side (the hub waits on its fsync) with batches
    // already larger, and the wait before each commit only lowered its
    // rate: 22,000 against 26,500-27,000/s under bench/external.sh.
    let join_ready = store.dialect() == crate::store::Dialect::Sqlite;
    let handle = tokio::spawn(async move {
        let mut writer = Writer {
            store,
            dir,
            policy,
            web,
            recent: HashMap::new(),
            conn: Default::default(),
        };
        let mut batch = Vec::with_capacity(max_batch);
        let max_batch = max_batch.max(1);
        while rx.recv_many(&mut batch, max_batch).await > 0 {
            if join_ready {
                join_the_ready(&mut rx, &mut batch, max_batch).await;
            }
            // Requests still waiting behind this batch: near ingest.queue,
            // new ones are about to be refused.
            metrics::gauge!("orkhub_ingest_queue_depth").set(rx.len() as f64);
            let due_now = writer.commit(std::mem::take(&mut batch)).await;
            if due_now {
                wake.notify_one();
            }
        }
        writer.conn.close().await;
    });
    (Ingest { tx }, handle)
}

/// Let the requests the runtime can already read join `batch` before it is
/// committed. The first submission wakes the writer and tokio runs a task it
/// just woke next (its LIFO slot), so without this a batch was whatever had
/// queued during the previous commit: 20 notifications on average under
/// `bench/external.sh sqlite`, and each commit rewrites the last page of
/// every table and index it touches, whatever its size. One yield puts the
/// writer behind every task that is ready now (the connections whose
/// requests have arrived) and the I/O driver's next poll; it costs an idle
/// hub nothing, and a loaded one the time to parse the requests it would
/// parse next anyway. SQLite only (see [`start`]).
async fn join_the_ready<T>(rx: &mut mpsc::Receiver<T>, batch: &mut Vec<T>, max: usize) {
    if batch.len() >= max {
        return;
    }
    tokio::task::yield_now().await;
    let room = max - batch.len();
    if !rx.is_empty() {
        rx.recv_many(batch, room).await;
    }
}

// The OpenAPI schema (its doc comments are the document's descriptions);
// the answers are written through `AcceptedView`, which borrows the
// batch's values.
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
    let answer = AcceptedView::new(id, urgency, duplicate, ds, to);
    // Strings, booleans and an enum: serializing cannot fail.
    serde_json::to_value(&answer).unwrap_or_default()
}

/// The same answer as JSON text (without `to`), into a buffer of its size:
/// it grew from 128 bytes in steps before.
fn answer_text(id: &str, urgency: Urgency, duplicate: bool, ds: &[NewDelivery]) -> String {
    // The keys, punctuation and longest urgency: 62 bytes; and 42 per
    // delivery with its longest status. More only if a string is escaped.
    let size = 62
        + id.len()
        + ds.iter()
            .map(|d| 42 + d.id.len() + d.channel.len())
            .sum::<usize>();
    let mut text = Vec::with_capacity(size);
    let answer = AcceptedView::new(id, urgency, duplicate, ds, None);
    // Strings, booleans and an enum into memory: writing cannot fail.
    if serde_json::to_writer(&mut text, &answer).is_err() {
        return String::new();
    }
    // serde_json writes UTF-8 only.
    String::from_utf8(text).unwrap_or_default()
}

/// An [`Accepted`] as the answers write it, borrowed from the batch's own
/// values: building an `Accepted` copied every ID, channel and status into
/// strings of its own first (with the text's growth, about 1,000 of the
/// hub's 98,000 instructions per notification, `bench/instructions.sh`).
/// The same fields in the same order through the same serializer; a test
/// holds the two equal.
#[derive(serde::Serialize)]
struct AcceptedView<'a> {
    id: &'a str,
    urgency: Urgency,
    duplicate: bool,
    deliveries: PlannedView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
}

impl<'a> AcceptedView<'a> {
    fn new(
        id: &'a str,
        urgency: Urgency,
        duplicate: bool,
        ds: &'a [NewDelivery],
        to: Option<&'a str>,
    ) -> Self {
        AcceptedView {
            id,
            urgency,
            duplicate,
            deliveries: PlannedView(ds),
            to,
        }
    }
}

/// Each delivery as a [`PlannedDelivery`].
struct PlannedView<'a>(&'a [NewDelivery]);

impl serde::Serialize for PlannedView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct One<'a> {
            id: &'a str,
            channel: &'a str,
            status: &'static str,
        }
        s.collect_seq(self.0.iter().map(|d| One {
            id: &d.id,
            channel: &d.channel,
            status: d.status.as_str(),
        }))
    }
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
        .filter(|d| {
            d.channel == "web" && d.status == DeliveryState::Pending && d.op == DeliveryOp::Send
        })
        .filter(|d| d.next_attempt_at <= now_ms)
    {
        d.status = DeliveryState::Sent;
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

#[cfg(test)]
mod tests {
    use super::join_the_ready;

    /// The documented answer, built as the API's schema has it.
    fn accepted(
        id: &str,
        urgency: routing::Urgency,
        duplicate: bool,
        ds: &[crate::store::NewDelivery],
        to: Option<&str>,
    ) -> super::Accepted {
        super::Accepted {
            id: id.to_string(),
            urgency,
            duplicate,
            deliveries: ds
                .iter()
                .map(|d| super::PlannedDelivery {
                    id: d.id.clone(),
                    channel: d.channel.clone(),
                    status: d.status.to_string(),
                })
                .collect(),
            to: to.map(str::to_string),
        }
    }

    /// The answers, written from the batch's values, are the JSON of the
    /// `Accepted` the API documents: the same fields in the same order,
    /// escaped the same way, with no delivery, with several, as a repeat,
    /// and with `to` where a decision's or question's answer has it.
    #[test]
    fn the_answer_text_is_the_documented_answer() {
        use crate::store::{DeliveryOp, DeliveryState, NewDelivery};
        let delivery = |id: &str, channel: &str, status| NewDelivery {
            id: id.into(),
            notification_id: "n_1".into(),
            person_id: Some("ceo".into()),
            channel: channel.into(),
            address: "ceo".into(),
            op: DeliveryOp::Send,
            target_message_id: None,
            status,
            next_attempt_at: 0,
            fallbacks: String::new(),
            created_at: 0,
        };
        let cases = [
            vec![],
            vec![
                delivery("d_1", "web", DeliveryState::Sent),
                delivery("d_2", "console", DeliveryState::Held),
            ],
            vec![
                delivery("d_\"3\"", "tele\\gram\n", DeliveryState::Pending),
                delivery("d_4", "émail ✉", DeliveryState::Sending),
                delivery("d_5", "x", DeliveryState::Dead),
            ],
        ];
        for ds in &cases {
            for (urgency, duplicate) in [
                (routing::Urgency::Urgent, false),
                (routing::Urgency::Info, true),
                (routing::Urgency::Fyi, false),
            ] {
                let documented =
                    serde_json::to_string(&accepted("n_1", urgency, duplicate, ds, None)).unwrap();
                assert_eq!(
                    super::answer_text("n_1", urgency, duplicate, ds),
                    documented
                );
                // The decisions' and questions' answers, with `to` and without.
                for to in [None, Some("ceo")] {
                    assert_eq!(
                        super::answer_body("n_1", urgency, duplicate, ds, to),
                        serde_json::to_value(accepted("n_1", urgency, duplicate, ds, to)).unwrap()
                    );
                }
            }
        }
    }
    use tokio::sync::mpsc;

    /// Ten requests become ready at once on the runtime's one worker: the
    /// first wakes the writer, and tokio would run it next (the task it
    /// just woke), before the other nine have submitted. They all make the
    /// one batch.
    #[test]
    fn a_batch_takes_the_requests_that_are_ready_with_it() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let sizes = runtime.block_on(async {
            tokio::spawn(async {
                let (tx, mut rx) = mpsc::channel::<u32>(100);
                let writer = tokio::spawn(async move {
                    let (mut sizes, mut batch) = (Vec::new(), Vec::new());
                    while rx.recv_many(&mut batch, 64).await > 0 {
                        join_the_ready(&mut rx, &mut batch, 64).await;
                        sizes.push(batch.len());
                        batch.clear();
                    }
                    sizes
                });
                // The writer waits for its first request.
                tokio::task::yield_now().await;
                for i in 0..10 {
                    let tx = tx.clone();
                    tokio::spawn(async move { tx.send(i).await.unwrap() });
                }
                drop(tx);
                writer.await.unwrap()
            })
            .await
            .unwrap()
        });
        assert_eq!(sizes, vec![10]);
    }

    #[tokio::test]
    async fn a_full_batch_does_not_wait() {
        let (tx, mut rx) = mpsc::channel::<u32>(10);
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
        let mut batch = Vec::new();
        rx.recv_many(&mut batch, 3).await;
        join_the_ready(&mut rx, &mut batch, 3).await;
        assert_eq!(batch, vec![0, 1, 2], "no more than the limit");
        join_the_ready(&mut rx, &mut batch, 5).await;
        assert_eq!(batch, vec![0, 1, 2, 3, 4], "the rest, up to the limit");
    }
}
