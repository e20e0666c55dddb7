//! Who a decision goes to, and editing every delivered copy of a decision
//! once it is resolved (one `edit` delivery per copy, in one transaction:
//! the resolution's own, or a later one for copies sent after it).

use super::{NewDelivery, NewNotification, Store, StoreError, now_ms};
use crate::ids::new_id;
use commands::{Decision, DecisionButtons};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// The resolved message that replaces every copy of a decision.
#[derive(Debug, Clone)]
pub struct DecisionEdit {
    pub decision_id: i64,
    pub source: String,
    pub title: Option<String>,
    pub body: String,
    pub fields_json: String,
}

/// The rows a decision writes with itself, in its own transaction: its
/// request to every approver when it is created, and the edit of every
/// delivered copy when it is resolved. So a crash (or a failed write) never
/// leaves a pending decision nobody was told about, nor a resolved one whose
/// copies still show Approve/Deny. The store writes these rows; the hub
/// plans them (it has the routing policy and the directory, which the
/// store does not know) and hands its planner to each call.
pub trait DecisionRows: Send + Sync {
    /// The requests to `candidates` (who may decide, by the database) for a
    /// pending decision, with its buttons.
    fn requested(
        &self,
        decision: &Decision,
        buttons: &DecisionButtons,
        candidates: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Announcement;

    /// What every copy of the resolved `decision` is edited to.
    fn resolved(&self, decision: &Decision) -> DecisionEdit;
}

/// The rows announcing one decision, and the API's answer for each
/// notification (as ingest answers a notification).
#[derive(Debug, Default)]
pub struct Announcement {
    pub notifications: Vec<NewNotification>,
    pub deliveries: Vec<NewDelivery>,
    pub answers: Vec<serde_json::Value>,
}

/// Who may decide a decision of `kind`: owners and admins, plus the
/// approvers configured for the kind; each once, by handle. People removed
/// from the config are not asked.
const RECIPIENTS: &str = "SELECT id FROM people WHERE role IN ('owner', 'admin') AND removed_at IS NULL \
     UNION SELECT a.person_id FROM decision_approvers a JOIN people p ON p.id = a.person_id \
     WHERE a.kind = $1 AND p.removed_at IS NULL ORDER BY 1";

impl Store {
    /// Everyone who may approve a decision of `kind` (see [`RECIPIENTS`]).
    pub async fn decision_recipients(&self, kind: &str) -> Result<Vec<String>, StoreError> {
        decision_recipients(&self.pool, kind).await
    }

    /// How many edits of this decision's copies are queued or done.
    pub async fn decision_edit_count(&self, decision_id: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE n.decision_id = $1 AND d.op = 'edit'",
        )
        .bind(decision_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// For every delivery of this decision that was sent (op `send`, status
    /// `sent`, with a platform message ID): a new `decision.resolved`
    /// notification to the same recipient and one `edit` delivery, due now,
    /// targeting that platform message. All inserts commit together.
    /// Returns how many edits were queued. (A resolution queues its edits
    /// in its own transaction; this is for copies handled later.)
    pub async fn queue_decision_edits(&self, edit: &DecisionEdit) -> Result<usize, StoreError> {
        self.queue_edits(edit, None).await
    }

    /// [`Store::queue_decision_edits`] for some copies only: those the
    /// dispatcher sent after the resolution had already queued its edits.
    pub async fn queue_decision_edits_for(
        &self,
        edit: &DecisionEdit,
        deliveries: &[String],
    ) -> Result<usize, StoreError> {
        self.queue_edits(edit, Some(deliveries)).await
    }

    async fn queue_edits(
        &self,
        edit: &DecisionEdit,
        only: Option<&[String]>,
    ) -> Result<usize, StoreError> {
        // Read first, outside the transaction: on SQLite (WAL) a transaction
        // that reads before it writes can fail when another writer got in.
        let rows = sent_copies(&self.pool, edit.decision_id).await?;
        let rows = only_these(rows, only);
        if rows.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let n = write_edits(&mut tx, edit, &rows).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Queue the edits of every sent copy inside `tx`, which has already
    /// written (the resolution), so its reads are safe on SQLite too.
    pub(super) async fn queue_decision_edits_in(
        tx: &mut Transaction<'_, Any>,
        edit: &DecisionEdit,
    ) -> Result<usize, StoreError> {
        let rows = sent_copies(&mut **tx, edit.decision_id).await?;
        write_edits(tx, edit, &rows).await
    }
}

/// [`Store::decision_recipients`] on any executor: the decision's own
/// transaction reads them when it is created.
pub(super) async fn decision_recipients<'e, E>(
    executor: E,
    kind: &str,
) -> Result<Vec<String>, StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let rows: Vec<(String,)> = sqlx::query_as(RECIPIENTS)
        .bind(kind)
        .fetch_all(executor)
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The sent copies of a decision's requests, with what an edit needs.
async fn sent_copies<'e, E>(executor: E, decision_id: i64) -> Result<Vec<AnyRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    Ok(sqlx::query(
        "SELECT d.notification_id, d.person_id, d.channel, d.address, d.platform_message_id, \
         n.urgency, n.recipient_kind, n.recipient_id, n.project_id, d.id \
         FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
         WHERE n.decision_id = $1 AND d.op = 'send' AND d.status = 'sent' \
         AND d.platform_message_id IS NOT NULL ORDER BY d.id",
    )
    .bind(decision_id)
    .fetch_all(executor)
    .await?)
}

fn only_these(rows: Vec<AnyRow>, only: Option<&[String]>) -> Vec<AnyRow> {
    match only {
        None => rows,
        Some(ids) => rows
            .into_iter()
            .filter(|r| r.try_get::<String, _>(9).is_ok_and(|id| ids.contains(&id)))
            .collect(),
    }
}

/// One `decision.resolved` notification per original notification, and one
/// `edit` delivery per copy. Returns how many edits were queued.
async fn write_edits(
    tx: &mut Transaction<'_, Any>,
    edit: &DecisionEdit,
    rows: &[AnyRow],
) -> Result<usize, StoreError> {
    let now = now_ms();
    let mut made: Vec<(String, String)> = Vec::new();
    for r in rows {
        let original: String = r.try_get(0)?;
        let notification_id = match made.iter().find(|(o, _)| *o == original) {
            Some((_, n)) => n.clone(),
            None => {
                let id = new_id("n");
                sqlx::query(
                    "INSERT INTO notifications (id, source, kind, urgency, recipient_kind, \
                     recipient_id, project_id, title, body, fields, decision_id, dedupe_key, \
                     duplicate, created_at) \
                     VALUES ($1, $2, 'decision.resolved', $3, $4, $5, $6, $7, $8, $9, $10, NULL, 0, $11)",
                )
                .bind(&id)
                .bind(&edit.source)
                .bind(r.try_get::<String, _>(5)?)
                .bind(r.try_get::<String, _>(6)?)
                .bind(r.try_get::<String, _>(7)?)
                .bind(r.try_get::<Option<String>, _>(8)?)
                .bind(edit.title.as_deref())
                .bind(&edit.body)
                .bind(&edit.fields_json)
                .bind(edit.decision_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                made.push((original, id.clone()));
                id
            }
        };
        sqlx::query(
            "INSERT INTO deliveries (id, notification_id, person_id, channel, address, op, \
             target_message_id, status, next_attempt_at, fallbacks, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'edit', $6, 'pending', $7, '', $7, $7)",
        )
        .bind(new_id("d"))
        .bind(&notification_id)
        .bind(r.try_get::<Option<String>, _>(1)?)
        .bind(r.try_get::<String, _>(2)?)
        .bind(r.try_get::<String, _>(3)?)
        .bind(r.try_get::<String, _>(4)?)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(rows.len())
}
