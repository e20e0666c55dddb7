//! Decisions and the button tokens that resolve them. A decision commits
//! together with what it sends: its requests to the approvers when it is
//! created, the edits of its delivered copies when it is resolved, planned
//! by the [`DecisionRows`] each call is given.

use super::{commit, corrupt, db, string_list, string_list_json, write_audit};
use crate::store::{DecisionRows, Store, from_ms, now_ms};
use commands::{
    AuditEntry, BackendError, ButtonAction, Decision, DecisionButtons, DecisionStatus, NewDecision,
    Resolution,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

/// The columns [`decision_from_row`] reads, in every decision query.
macro_rules! decision_columns {
    () => {
        "id, kind, context, options, status, requested_by, task_id, decided_by, reasoning, \
         decided_at, created_at"
    };
}

fn decision_from_row(row: &AnyRow) -> Result<Decision, BackendError> {
    let read = db("reading a decision");
    let id: i64 = row.try_get("id").map_err(&read)?;
    let status: String = row.try_get("status").map_err(&read)?;
    // The schema also allows `cancelled`, which no command writes yet; it
    // is reported rather than shown as something it is not.
    let status: DecisionStatus = status
        .parse()
        .map_err(|e| corrupt(format!("status of decision {id}: {e}")))?;
    let options: String = row.try_get("options").map_err(&read)?;
    let decided_at: Option<i64> = row.try_get("decided_at").map_err(&read)?;
    Ok(Decision {
        id,
        kind: row.try_get("kind").map_err(&read)?,
        context: row.try_get("context").map_err(&read)?,
        options: string_list(&options, &format!("options of decision {id}"))?,
        status,
        requested_by: row.try_get("requested_by").map_err(&read)?,
        task_id: row.try_get("task_id").map_err(&read)?,
        decided_by: row.try_get("decided_by").map_err(&read)?,
        reasoning: row.try_get("reasoning").map_err(&read)?,
        created_at: from_ms(row.try_get("created_at").map_err(&read)?),
        decided_at: decided_at.map(from_ms),
    })
}

/// A new button token: 16 random bytes as hex, 32 URL-safe characters
/// (Telegram allows 64 bytes of callback data).
/// A decision event for webhooks: the decision as the API shows it.
fn decision_event(event_type: &str, d: &Decision, at: i64) -> crate::store::WebhookEvent {
    crate::store::WebhookEvent::new(event_type, serde_json::json!({ "decision": d }), at)
}

fn new_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A new button token for `verb` on a decision (in the decision's
/// transaction when it is created with it).
async fn insert_token<'e, E>(
    executor: E,
    verb: &str,
    decision_id: i64,
) -> Result<String, BackendError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let token = new_token();
    sqlx::query(
        "INSERT INTO button_tokens (token, action, object_id, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&token)
    .bind(verb)
    .bind(decision_id.to_string())
    .bind(now_ms())
    .execute(executor)
    .await
    .map_err(db("storing a button token"))?;
    Ok(token)
}

/// A store error met while writing what a decision sends: worth retrying
/// (the whole transaction, decision included, was rolled back).
fn store(doing: &'static str) -> impl Fn(crate::store::StoreError) -> BackendError {
    move |e| BackendError::Unavailable(format!("{doing}: {e}"))
}

impl Store {
    pub async fn decision(&self, id: i64) -> Result<Option<Decision>, BackendError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            decision_columns!(),
            " FROM decisions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a decision"))?;
        row.as_ref().map(decision_from_row).transpose()
    }

    pub async fn pending_decisions(&self) -> Result<Vec<Decision>, BackendError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            decision_columns!(),
            " FROM decisions WHERE status = 'pending' ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading pending decisions"))?;
        rows.iter().map(decision_from_row).collect()
    }

    /// The most recently decided decisions, newest first (the console's
    /// Decisions page shows them under the pending ones).
    pub async fn recent_decisions(&self, limit: i64) -> Result<Vec<Decision>, BackendError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            decision_columns!(),
            " FROM decisions WHERE status <> 'pending' ORDER BY decided_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading decided decisions"))?;
        rows.iter().map(decision_from_row).collect()
    }

    /// Insert a decision and, when it is pending, its request to every
    /// approver as `rows` plans it — notifications, deliveries and button
    /// tokens — in the same transaction. Returns the decision and the
    /// answer for each notification made.
    pub async fn create_decision_notified(
        &self,
        new: &NewDecision,
        audit: &AuditEntry,
        rows: &dyn DecisionRows,
    ) -> Result<(Decision, Vec<serde_json::Value>), BackendError> {
        let mut tx = self.begin_tx().await?;
        let now = chrono::Utc::now();
        let now_ms = now.timestamp_millis();
        let r = new.resolved.as_ref();
        let status = r.map_or(DecisionStatus::Pending, |r| r.outcome.status());
        let row = sqlx::query(concat!(
            "INSERT INTO decisions (kind, context, options, status, requested_by, task_id, \
             decided_by, reasoning, decided_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
            decision_columns!()
        ))
        .bind(&new.kind)
        .bind(&new.context)
        .bind(string_list_json(&new.options))
        .bind(status.as_str())
        .bind(&new.requested_by)
        .bind(new.task_id)
        .bind(r.map(|r| r.decided_by.as_str()))
        .bind(r.and_then(|r| r.reasoning.as_deref()))
        .bind(r.map(|_| now_ms))
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("creating a decision"))?;
        let decision = decision_from_row(&row)?;
        write_audit(&mut tx, audit, Some(&format!("decision:{}", decision.id))).await?;
        // A record of a decision already made is created and resolved at once.
        let mut events = vec![decision_event("decision.created", &decision, now_ms)];
        if decision.status != DecisionStatus::Pending {
            events.push(decision_event("decision.resolved", &decision, now_ms));
        }
        self.queue_webhook_events_in(&mut tx, &events)
            .await
            .map_err(store("queuing the webhook events"))?;
        let mut answers = Vec::new();
        // A record of a decision already made (an automatic assignment)
        // asks nobody; a pending one goes to everyone who may decide.
        if decision.status == DecisionStatus::Pending {
            // The transaction has written: these reads are safe on SQLite too.
            let candidates =
                crate::store::decision_copies::decision_recipients(&mut *tx, &decision.kind)
                    .await
                    .map_err(store("reading who may decide"))?;
            let buttons = DecisionButtons {
                approve: insert_token(&mut *tx, "approve", decision.id).await?,
                deny: insert_token(&mut *tx, "deny", decision.id).await?,
            };
            let sent = rows.requested(&decision, &buttons, &candidates, now);
            self.insert_notifications_in(&mut tx, &sent.notifications, &sent.deliveries)
                .await
                .map_err(store("queuing the decision's requests"))?;
            answers = sent.answers;
        }
        commit(tx).await?;
        Ok((decision, answers))
    }

    /// Resolve a pending decision and queue, in the same transaction, the
    /// edit of every copy already delivered (as `rows` plans it).
    pub async fn resolve_decision_edited(
        &self,
        id: i64,
        resolution: &Resolution,
        audit: &AuditEntry,
        rows: &dyn DecisionRows,
    ) -> Result<Decision, BackendError> {
        let mut tx = self.begin_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE decisions SET status = $1, decided_by = $2, reasoning = $3, decided_at = $4 \
             WHERE id = $5 AND status = 'pending' RETURNING ",
            decision_columns!()
        ))
        .bind(resolution.outcome.status().as_str())
        .bind(&resolution.decided_by)
        .bind(resolution.reasoning.as_deref())
        .bind(now_ms())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("resolving a decision"))?;
        let Some(row) = row else {
            // Nothing changed; find out why, then drop the transaction.
            let found: Option<(String,)> =
                sqlx::query_as("SELECT status FROM decisions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("reading a decision"))?;
            return Err(match found {
                None => BackendError::NotFound(format!("decision {id}")),
                Some((status,)) => BackendError::Conflict(format!("decision {id} is {status}")),
            });
        };
        let decision = decision_from_row(&row)?;
        write_audit(&mut tx, audit, None).await?;
        self.queue_webhook_events_in(
            &mut tx,
            &[decision_event("decision.resolved", &decision, now_ms())],
        )
        .await
        .map_err(store("queuing the webhook events"))?;
        // Every copy already delivered is edited to show the outcome, in
        // this same commit (copies sent later are edited by the dispatcher).
        Store::queue_decision_edits_in(&mut tx, &rows.resolved(&decision))
            .await
            .map_err(store("queuing the edits of the decision's copies"))?;
        commit(tx).await?;
        Ok(decision)
    }

    pub async fn mint_button_token(&self, action: &ButtonAction) -> Result<String, BackendError> {
        let (verb, object) = match action {
            ButtonAction::Approve { decision_id } => ("approve", decision_id.to_string()),
            ButtonAction::Deny { decision_id } => ("deny", decision_id.to_string()),
            ButtonAction::Answer {
                question_id,
                option,
            } => ("answer", format!("{question_id}:{option}")),
            ButtonAction::ApproveDraft { question_id } => {
                ("approve_draft", question_id.to_string())
            }
            ButtonAction::EditDraft { question_id } => ("edit_draft", question_id.to_string()),
        };
        let token = new_token();
        sqlx::query(
            "INSERT INTO button_tokens (token, action, object_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&token)
        .bind(verb)
        .bind(object)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db("storing a button token"))?;
        Ok(token)
    }

    /// Tokens do not expire: a button on an old message stays safe to press
    /// because resolving is compare-and-set ("already approved by ...").
    pub async fn button_action(&self, token: &str) -> Result<Option<ButtonAction>, BackendError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT action, object_id FROM button_tokens WHERE token = $1")
                .bind(token)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a button token"))?;
        let Some((action, object)) = row else {
            return Ok(None);
        };
        let bad = || corrupt(format!("button token object {object:?}"));
        let id = |raw: &str| raw.parse::<i64>().map_err(|_| bad());
        match action.as_str() {
            "approve" => Ok(Some(ButtonAction::Approve {
                decision_id: id(&object)?,
            })),
            "deny" => Ok(Some(ButtonAction::Deny {
                decision_id: id(&object)?,
            })),
            "answer" => {
                let (q, option) = object.split_once(':').ok_or_else(bad)?;
                Ok(Some(ButtonAction::Answer {
                    question_id: id(q)?,
                    option: option.parse().map_err(|_| bad())?,
                }))
            }
            "approve_draft" => Ok(Some(ButtonAction::ApproveDraft {
                question_id: id(&object)?,
            })),
            "edit_draft" => Ok(Some(ButtonAction::EditDraft {
                question_id: id(&object)?,
            })),
            other => Err(corrupt(format!("button token action {other:?}"))),
        }
    }
}
