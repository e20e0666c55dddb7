//! Records successful sends. Queues hand their sends here and go on with
//! the next message; whatever has arrived is written in one statement, so
//! under load the outbox makes one write per batch, not per delivery, and
//! keeps out of ingest's way on the database's write lock.

use crate::store::{Store, StoreError, now_ms};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// A delivery that went out, and what the platform called it.
#[derive(Debug)]
pub struct SentRecord {
    pub delivery_id: String,
    pub platform_message_id: Option<String>,
    /// Set for a copy of a decision request: the decision may have been
    /// resolved while this copy was on its way.
    pub decision_id: Option<i64>,
    /// A question's message: it may have been answered while on its way.
    pub question_copy: bool,
}

/// Sends made whose outcome is not in the database yet. While the database
/// is away their leases run out; the next claim takes such a row again
/// (which keeps it leased, and keeps the chat's later messages behind it)
/// but must not send it twice: the claim leaves out what is held here.
#[derive(Clone, Default)]
pub struct Held(Arc<Mutex<HashSet<String>>>);

impl Held {
    /// What is held now, for a claim about to start (see `claim_due`).
    pub fn snapshot(&self) -> HashSet<String> {
        self.0.lock().map(|h| h.clone()).unwrap_or_default()
    }

    fn hold(&self, id: &str) {
        if let Ok(mut h) = self.0.lock() {
            h.insert(id.to_string());
        }
    }

    /// After the outcomes are committed, not before: see `claim_due`.
    fn recorded(&self, batch: &[SentRecord]) {
        if let Ok(mut h) = self.0.lock() {
            for r in batch {
                h.remove(&r.delivery_id);
            }
        }
    }
}

/// Where a queue hands a send it made: held, then written by [`run`].
#[derive(Clone)]
pub struct Outcomes {
    pub tx: mpsc::UnboundedSender<SentRecord>,
    pub held: Held,
}

impl Outcomes {
    pub fn sent(&self, record: SentRecord) {
        self.held.hold(&record.delivery_id);
        // The receiver lives until every queue is done; if it were gone
        // the row stays `sending` and is sent again: never lost.
        let _ = self.tx.send(record);
    }
}

/// Most sends written in one statement.
const MAX_BATCH: usize = 500;
/// Wait before writing again after the database refused a batch.
const RETRY_WAIT: Duration = Duration::from_millis(500);
/// Tries left for a batch once the dispatcher has stopped.
const GIVE_UP_WHEN_STOPPING: u32 = 3;

/// Write records as they come until every sender is gone and the channel is
/// empty. A batch the database refuses is kept and written again: a send is
/// never forgotten while the process lives (after a crash the rows are still
/// `sending` and go out again: delivery is at-least-once).
pub async fn run(
    store: Store,
    wake: Arc<Notify>,
    mut rx: mpsc::UnboundedReceiver<SentRecord>,
    held: Held,
) {
    let mut batch: Vec<SentRecord> = Vec::new();
    let mut failures = 0;
    loop {
        if batch.is_empty() {
            match rx.recv().await {
                Some(r) => batch.push(r),
                None => return,
            }
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        match write(&store, &wake, &batch).await {
            Ok(()) => {
                held.recorded(&batch);
                batch.clear();
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                // Stopping with the database gone: the rows stay `sending`
                // and go out again after the restart.
                if rx.is_closed() && failures >= GIVE_UP_WHEN_STOPPING {
                    tracing::error!(error = %e, sends = batch.len(), "could not record sends before stopping; they will be sent again after the restart");
                    return;
                }
                if failures == 1 {
                    tracing::error!(error = %e, sends = batch.len(), "recording sends failed; retrying until the database answers");
                }
                tokio::time::sleep(RETRY_WAIT).await;
            }
        }
    }
}

async fn write(store: &Store, wake: &Notify, batch: &[SentRecord]) -> Result<(), StoreError> {
    let sent: Vec<(String, Option<String>)> = batch
        .iter()
        .map(|r| (r.delivery_id.clone(), r.platform_message_id.clone()))
        .collect();
    store.mark_sent_many(&sent, now_ms()).await?;
    // Messages queued behind these in their chats can be claimed now.
    wake.notify_one();
    edit_late_requests(store, wake, batch).await
}

/// A decision resolved while a copy of its request was on its way missed
/// that copy when it queued its edits (only sent copies have a message to
/// edit). Queue the edit for such copies now, so no request is left
/// showing buttons for a decision already made. (If both see the copy, it
/// is edited twice to the same content, which is harmless.)
async fn edit_late_requests(
    store: &Store,
    wake: &Notify,
    batch: &[SentRecord],
) -> Result<(), StoreError> {
    let mut by_decision: HashMap<i64, Vec<String>> = HashMap::new();
    for r in batch {
        if let Some(decision) = r.decision_id {
            by_decision
                .entry(decision)
                .or_default()
                .push(r.delivery_id.clone());
        }
    }
    for (decision_id, deliveries) in by_decision {
        let decision = store
            .decision(decision_id)
            .await
            .map_err(|e| StoreError::Shared(e.to_string()))?;
        let Some(decision) = decision.filter(|d| d.status != commands::DecisionStatus::Pending)
        else {
            continue;
        };
        let edit = crate::ingest::decisions::resolution_edit(&decision);
        if store.queue_decision_edits_for(&edit, &deliveries).await? > 0 {
            wake.notify_one();
        }
    }
    edit_late_questions(store, wake, batch).await
}

/// The same for questions: a copy sent after the question was answered is
/// edited to show the answer.
async fn edit_late_questions(
    store: &Store,
    wake: &Notify,
    batch: &[SentRecord],
) -> Result<(), StoreError> {
    let copies: Vec<String> = batch
        .iter()
        .filter(|r| r.question_copy)
        .map(|r| r.delivery_id.clone())
        .collect();
    if copies.is_empty() {
        return Ok(());
    }
    let shared = |e: commands::BackendError| StoreError::Shared(e.to_string());
    for (question, deliveries) in store
        .answered_question_copies(&copies)
        .await
        .map_err(shared)?
    {
        let edit = crate::ingest::questions::answered_edit(&question);
        if store
            .queue_question_edits_for(&question, &edit, &deliveries)
            .await
            .map_err(shared)?
            > 0
        {
            wake.notify_one();
        }
    }
    Ok(())
}
