//! Questions agents ask people. Like a decision, a question commits
//! together with what it sends: its request (with option buttons) when it
//! is asked, and when it is answered the edits of every delivered copy, the
//! `question.answered` webhook event and the call to its own callback URL —
//! all planned by the [`QuestionRows`] each call is given.

use super::{commit, corrupt, db, string_list, string_list_json, write_audit};
use crate::store::{Announcement, Store, StoreError, WebhookEvent, from_ms, now_ms};
use commands::{
    Answer, AuditEntry, BackendError, PermissionLevel, Question, QuestionButtons, QuestionStatus,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// The columns [`question_from_row`] reads, in every question query.
macro_rules! question_columns {
    () => {
        "id, text, options, context, task_id, asked_by, addressed_to, permission_level, mode, \
         status, draft, answer, answered_by, answered_via, deadline_at, answered_at, created_at"
    };
}

/// A question to insert. `answer` is set for an autonomous question the
/// LLM answered before it was stored; `draft` for a supervised one.
#[derive(Debug, Clone)]
pub struct NewQuestion {
    pub text: String,
    pub options: Vec<String>,
    pub context: Option<String>,
    pub task_id: Option<i64>,
    pub asked_by: String,
    pub to: String,
    pub permission_level: PermissionLevel,
    pub mode: PermissionLevel,
    pub draft: Option<String>,
    pub answer: Option<Answer>,
    pub deadline_at: Option<i64>,
    pub callback: Option<QuestionCallback>,
}

/// A callback URL the agent gave, with the secret its calls are signed with.
#[derive(Debug, Clone)]
pub struct QuestionCallback {
    pub url: String,
    pub secret: String,
}

/// What a question sends, planned by the hub (routing policy, directory).
pub trait QuestionRows: Send + Sync {
    /// Its message to the person it was routed to: with the options' (and
    /// a draft's) buttons while pending, as an `fyi` once answered.
    fn requested(
        &self,
        question: &Question,
        buttons: &QuestionButtons,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Announcement;

    /// What every copy of the answered question is edited to.
    fn answered(&self, question: &Question) -> QuestionEdit;
}

/// The answered message that replaces every copy of a question.
#[derive(Debug, Clone)]
pub struct QuestionEdit {
    pub title: Option<String>,
    pub body: String,
    pub fields_json: String,
}

fn question_from_row(row: &AnyRow) -> Result<Question, BackendError> {
    let read = db("reading a question");
    let id: i64 = row.try_get("id").map_err(&read)?;
    let level = |col: &str| -> Result<PermissionLevel, BackendError> {
        let raw: String = row.try_get(col).map_err(&read)?;
        raw.parse()
            .map_err(|e| corrupt(format!("{col} of question {id}: {e}")))
    };
    let options: String = row.try_get("options").map_err(&read)?;
    let status: String = row.try_get("status").map_err(&read)?;
    let status = match status.as_str() {
        "pending" => QuestionStatus::Pending,
        "answered" => QuestionStatus::Answered,
        other => return Err(corrupt(format!("status of question {id}: {other:?}"))),
    };
    let answer = match status {
        QuestionStatus::Pending => None,
        QuestionStatus::Answered => {
            let via: String = row.try_get("answered_via").map_err(&read)?;
            let at: Option<i64> = row.try_get("answered_at").map_err(&read)?;
            Some(Answer {
                text: row
                    .try_get::<Option<String>, _>("answer")
                    .map_err(&read)?
                    .unwrap_or_default(),
                by: row
                    .try_get::<Option<String>, _>("answered_by")
                    .map_err(&read)?
                    .unwrap_or_default(),
                via: via
                    .parse()
                    .map_err(|e| corrupt(format!("answered_via of question {id}: {e}")))?,
                at: from_ms(at.unwrap_or_default()),
            })
        }
    };
    let deadline: Option<i64> = row.try_get("deadline_at").map_err(&read)?;
    Ok(Question {
        id,
        text: row.try_get("text").map_err(&read)?,
        options: string_list(&options, &format!("options of question {id}"))?,
        context: row.try_get("context").map_err(&read)?,
        task_id: row.try_get("task_id").map_err(&read)?,
        asked_by: row.try_get("asked_by").map_err(&read)?,
        to: row.try_get("addressed_to").map_err(&read)?,
        permission_level: level("permission_level")?,
        mode: level("mode")?,
        status,
        draft: row.try_get("draft").map_err(&read)?,
        answer,
        deadline_at: deadline.map(from_ms),
        created_at: from_ms(row.try_get("created_at").map_err(&read)?),
    })
}

/// A store error met while writing what a question sends: the whole
/// transaction, question included, was rolled back.
fn store(doing: &'static str) -> impl Fn(StoreError) -> BackendError {
    move |e| BackendError::Unavailable(format!("{doing}: {e}"))
}

fn question_event(event_type: &str, q: &Question, at: i64) -> WebhookEvent {
    WebhookEvent::new(event_type, serde_json::json!({ "question": q }), at)
}

async fn insert_token(
    tx: &mut Transaction<'static, Any>,
    action: &str,
    object: String,
) -> Result<String, BackendError> {
    let token = hex::encode(rand::random::<[u8; 16]>());
    sqlx::query(
        "INSERT INTO button_tokens (token, action, object_id, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&token)
    .bind(action)
    .bind(object)
    .bind(now_ms())
    .execute(&mut **tx)
    .await
    .map_err(db("storing a button token"))?;
    Ok(token)
}

/// Record `notifications` as copies of question `id`.
async fn insert_copies(
    tx: &mut Transaction<'static, Any>,
    id: i64,
    notifications: &[String],
) -> Result<(), BackendError> {
    for n in notifications {
        sqlx::query("INSERT INTO question_copies (notification_id, question_id) VALUES ($1, $2)")
            .bind(n)
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(db("recording a question's copy"))?;
    }
    Ok(())
}

impl Store {
    /// A person who is in the config now (removed people are not asked).
    pub async fn current_person(&self, id: &str) -> Result<Option<String>, BackendError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM people WHERE id = $1 AND removed_at IS NULL")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("looking up a person"))?;
        Ok(row.map(|(id,)| id))
    }

    /// The first current owner by handle: who a question with nobody else
    /// to ask goes to.
    pub async fn first_current_owner(&self) -> Result<Option<String>, BackendError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM people WHERE role = 'owner' AND removed_at IS NULL ORDER BY id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db("looking up an owner"))?;
        Ok(row.map(|(id,)| id))
    }

    /// Record who a project's questions go to (from config.toml).
    pub async fn set_project_owner(
        &self,
        project: &str,
        owner: Option<&str>,
    ) -> Result<(), BackendError> {
        sqlx::query("UPDATE projects SET owner_id = $2 WHERE id = $1")
            .bind(project)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db("recording a project's owner"))?;
        Ok(())
    }

    /// The owner of `project`, when one is configured and still a person.
    pub async fn project_owner(&self, project: &str) -> Result<Option<String>, BackendError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT p.id FROM projects j JOIN people p ON p.id = j.owner_id \
             WHERE j.id = $1 AND p.removed_at IS NULL",
        )
        .bind(project)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("looking up a project's owner"))?;
        Ok(row.map(|(id,)| id))
    }

    pub async fn question(&self, id: i64) -> Result<Option<Question>, BackendError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            question_columns!(),
            " FROM questions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a question"))?;
        row.as_ref().map(question_from_row).transpose()
    }

    /// Pending questions addressed to `person_id`, oldest first, at most
    /// `limit` (the console's Decisions page).
    pub async fn pending_questions_for(
        &self,
        person_id: &str,
        limit: i64,
    ) -> Result<Vec<Question>, BackendError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            question_columns!(),
            " FROM questions WHERE status = 'pending' AND addressed_to = $1 ORDER BY created_at, id LIMIT $2"
        ))
        .bind(person_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a person's pending questions"))?;
        rows.iter().map(question_from_row).collect()
    }

    /// Record notification `notification_id` as a copy of question `id`
    /// before it is queued: a chat reply to its message answers the
    /// question. (No foreign key to notifications: a copy whose
    /// notification never came is matched by nothing.)
    pub async fn record_question_copy(
        &self,
        id: i64,
        notification_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO question_copies (notification_id, question_id) VALUES ($1, $2)")
            .bind(notification_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The question whose message `platform_message_id` was sent as on
    /// `channel` (a chat reply to it answers it).
    pub async fn question_for_message(
        &self,
        channel: &str,
        platform_message_id: &str,
    ) -> Result<Option<i64>, BackendError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT c.question_id FROM deliveries d JOIN question_copies c \
             ON c.notification_id = d.notification_id \
             WHERE d.channel = $1 AND d.platform_message_id = $2 LIMIT 1",
        )
        .bind(channel)
        .bind(platform_message_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("finding a question by its message"))?;
        Ok(row.map(|(id,)| id))
    }

    /// Insert a question with, in the same transaction, its message to the
    /// person (notification, deliveries, button tokens), its callback's
    /// subscription, its webhook events — and, for one answered at once,
    /// the callback's call. Returns the question and the answer for each
    /// notification made.
    pub async fn create_question(
        &self,
        new: &NewQuestion,
        audit: &AuditEntry,
        rows: &dyn QuestionRows,
    ) -> Result<(Question, Vec<serde_json::Value>), BackendError> {
        let mut tx = self.begin_tx().await?;
        let now = chrono::Utc::now();
        let now_ms = now.timestamp_millis();
        let a = new.answer.as_ref();
        let row = sqlx::query(concat!(
            "INSERT INTO questions (text, options, context, task_id, asked_by, addressed_to, \
             permission_level, mode, status, draft, answer, answered_by, answered_via, \
             deadline_at, answered_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING ",
            question_columns!()
        ))
        .bind(&new.text)
        .bind(string_list_json(&new.options))
        .bind(new.context.as_deref())
        .bind(new.task_id)
        .bind(&new.asked_by)
        .bind(&new.to)
        .bind(new.permission_level.as_str())
        .bind(new.mode.as_str())
        .bind(if a.is_some() { "answered" } else { "pending" })
        .bind(new.draft.as_deref())
        .bind(a.map(|a| a.text.as_str()))
        .bind(a.map(|a| a.by.as_str()))
        .bind(a.map(|a| a.via.as_str()))
        .bind(new.deadline_at)
        .bind(a.map(|a| a.at.timestamp_millis()))
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("creating a question"))?;
        let question = question_from_row(&row)?;
        write_audit(&mut tx, audit, Some(&format!("question:{}", question.id))).await?;
        let callback = match &new.callback {
            None => None,
            Some(cb) => Some(insert_callback(&mut tx, &question, cb, now_ms).await?),
        };
        let mut events = vec![question_event("question.asked", &question, now_ms)];
        if question.answer.is_some() {
            events.push(question_event("question.answered", &question, now_ms));
        }
        self.queue_webhook_events_in(&mut tx, &events)
            .await
            .map_err(store("queuing the webhook events"))?;
        if let (Some(sub), true) = (&callback, question.answer.is_some()) {
            queue_callback(&mut tx, sub, &question, now_ms).await?;
        }
        // Buttons only while someone has to act.
        let mut buttons = QuestionButtons::default();
        if question.answer.is_none() {
            for i in 0..question.options.len() {
                let object = format!("{}:{i}", question.id);
                buttons
                    .options
                    .push(insert_token(&mut tx, "answer", object).await?);
            }
            if question.draft.is_some() {
                buttons.approve_draft =
                    Some(insert_token(&mut tx, "approve_draft", question.id.to_string()).await?);
                buttons.edit_draft =
                    Some(insert_token(&mut tx, "edit_draft", question.id.to_string()).await?);
            }
        }
        let sent = rows.requested(&question, &buttons, now);
        self.insert_notifications_in(&mut tx, &sent.notifications, &sent.deliveries)
            .await
            .map_err(store("queuing the question's message"))?;
        let ids: Vec<String> = sent.notifications.iter().map(|n| n.id.clone()).collect();
        insert_copies(&mut tx, question.id, &ids).await?;
        if question.answer.is_some() {
            self.relay_question_answered_in(&mut tx, &question)
                .await
                .map_err(store("telling the other instances of the answer"))?;
        }
        commit(tx).await?;
        Ok((question, sent.answers))
    }

    /// Answer a pending question (compare-and-set: the first answer wins)
    /// and, in the same transaction, queue the edit of every delivered
    /// copy, the `question.answered` webhook event and the callback's call.
    pub async fn answer_question_edited(
        &self,
        id: i64,
        answer: &Answer,
        audit: &AuditEntry,
        rows: &dyn QuestionRows,
    ) -> Result<Question, BackendError> {
        let mut tx = self.begin_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE questions SET status = 'answered', answer = $1, answered_by = $2, \
             answered_via = $3, answered_at = $4 WHERE id = $5 AND status = 'pending' RETURNING ",
            question_columns!()
        ))
        .bind(&answer.text)
        .bind(&answer.by)
        .bind(answer.via.as_str())
        .bind(answer.at.timestamp_millis())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("answering a question"))?;
        let Some(row) = row else {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT status FROM questions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("reading a question"))?;
            return Err(match found {
                None => BackendError::NotFound(format!("question {id}")),
                Some((status,)) => BackendError::Conflict(format!("question {id} is {status}")),
            });
        };
        let question = question_from_row(&row)?;
        write_audit(&mut tx, audit, None).await?;
        let now = now_ms();
        self.queue_webhook_events_in(
            &mut tx,
            &[question_event("question.answered", &question, now)],
        )
        .await
        .map_err(store("queuing the webhook events"))?;
        let sub: Option<(Option<String>,)> =
            sqlx::query_as("SELECT callback_id FROM questions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a question's callback"))?;
        if let Some((Some(sub),)) = sub {
            queue_callback(&mut tx, &sub, &question, now).await?;
        }
        write_edits(&mut tx, &question, &rows.answered(&question), now, None).await?;
        self.relay_question_answered_in(&mut tx, &question)
            .await
            .map_err(store("telling the other instances of the answer"))?;
        commit(tx).await?;
        Ok(question)
    }

    /// The answered questions among these just-sent copies (deliveries),
    /// each with its copies: sent after the answer queued its edits.
    pub async fn answered_question_copies(
        &self,
        deliveries: &[String],
    ) -> Result<Vec<(Question, Vec<String>)>, BackendError> {
        let mut out: Vec<(Question, Vec<String>)> = Vec::new();
        for d in deliveries {
            let row: Option<(i64,)> = sqlx::query_as(
                "SELECT q.id FROM deliveries d JOIN question_copies c \
                 ON c.notification_id = d.notification_id JOIN questions q ON q.id = c.question_id \
                 WHERE d.id = $1 AND q.status = 'answered'",
            )
            .bind(d)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a question's copy"))?;
            let Some((id,)) = row else { continue };
            match out.iter_mut().find(|(q, _)| q.id == id) {
                Some((_, ds)) => ds.push(d.clone()),
                None => {
                    if let Some(q) = self.question(id).await? {
                        out.push((q, vec![d.clone()]));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Queue the edits of these sent copies of an answered question.
    pub async fn queue_question_edits_for(
        &self,
        question: &Question,
        edit: &QuestionEdit,
        deliveries: &[String],
    ) -> Result<usize, BackendError> {
        let mut tx = self.begin_tx().await?;
        let n = write_edits(&mut tx, question, edit, now_ms(), Some(deliveries)).await?;
        commit(tx).await?;
        Ok(n)
    }
}

/// The callback URL's own subscription: no event patterns (nothing fans
/// out to it), marked with the question so the webhook list leaves it out.
async fn insert_callback(
    tx: &mut Transaction<'static, Any>,
    q: &Question,
    cb: &QuestionCallback,
    now: i64,
) -> Result<String, BackendError> {
    let id = crate::ids::new_id("whq");
    sqlx::query(
        "INSERT INTO webhook_subscriptions (id, url, secret, source, status, max_attempts, \
         base_backoff_ms, max_backoff_ms, created_by, created_at, updated_at, question_id) \
         VALUES ($1, $2, $3, 'api', 'active', 8, 10000, 600000, $4, $5, $5, $6)",
    )
    .bind(&id)
    .bind(&cb.url)
    .bind(&cb.secret)
    .bind(&q.asked_by)
    .bind(now)
    .bind(q.id)
    .execute(&mut **tx)
    .await
    .map_err(db("storing a question's callback"))?;
    sqlx::query("UPDATE questions SET callback_id = $1 WHERE id = $2")
        .bind(&id)
        .bind(q.id)
        .execute(&mut **tx)
        .await
        .map_err(db("storing a question's callback"))?;
    Ok(id)
}

/// The answer's call to the question's callback URL: a webhook delivery,
/// signed, retried and logged by the webhook sender.
async fn queue_callback(
    tx: &mut Transaction<'static, Any>,
    subscription: &str,
    q: &Question,
    now: i64,
) -> Result<(), BackendError> {
    let event = question_event("question.answered", q, now);
    sqlx::query(
        "INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, body, status, \
         attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
    )
    .bind(subscription)
    .bind(&event.id)
    .bind(&event.event_type)
    .bind(&event.body)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db("queuing the question's callback"))?;
    Ok(())
}

/// One `question.answered` notification per original notification, and
/// one `edit` delivery per sent copy of the question.
/// `only`: these deliveries alone (copies sent after the answer).
async fn write_edits(
    tx: &mut Transaction<'static, Any>,
    q: &Question,
    edit: &QuestionEdit,
    now: i64,
    only: Option<&[String]>,
) -> Result<usize, BackendError> {
    let read = db("reading a question's copies");
    let rows = sqlx::query(
        "SELECT d.notification_id, d.person_id, d.channel, d.address, d.platform_message_id, \
         n.urgency, n.recipient_kind, n.recipient_id, n.project_id, d.id \
         FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
         JOIN question_copies c ON c.notification_id = n.id \
         WHERE c.question_id = $1 AND d.op = 'send' AND d.status = 'sent' \
         AND d.platform_message_id IS NOT NULL ORDER BY d.id",
    )
    .bind(q.id)
    .fetch_all(&mut **tx)
    .await
    .map_err(&read)?;
    let rows: Vec<AnyRow> = match only {
        None => rows,
        Some(ids) => rows
            .into_iter()
            .filter(|r| r.try_get::<String, _>(9).is_ok_and(|id| ids.contains(&id)))
            .collect(),
    };
    let mut made: Vec<(String, String)> = Vec::new();
    for r in &rows {
        let original: String = r.try_get(0).map_err(&read)?;
        let notification_id = match made.iter().find(|(o, _)| *o == original) {
            Some((_, n)) => n.clone(),
            None => {
                let nid = crate::ids::new_id("n");
                sqlx::query(
                    "INSERT INTO notifications (id, source, kind, urgency, recipient_kind, \
                     recipient_id, project_id, title, body, fields, decision_id, dedupe_key, \
                     duplicate, created_at) \
                     VALUES ($1, 'system', 'question.answered', $2, $3, $4, $5, $6, $7, $8, NULL, NULL, 0, $9)",
                )
                .bind(&nid)
                .bind(r.try_get::<String, _>(5).map_err(&read)?)
                .bind(r.try_get::<String, _>(6).map_err(&read)?)
                .bind(r.try_get::<String, _>(7).map_err(&read)?)
                .bind(r.try_get::<Option<String>, _>(8).map_err(&read)?)
                .bind(edit.title.as_deref())
                .bind(&edit.body)
                .bind(&edit.fields_json)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(db("queuing a question's edit"))?;
                insert_copies(tx, q.id, std::slice::from_ref(&nid)).await?;
                made.push((original, nid.clone()));
                nid
            }
        };
        sqlx::query(
            "INSERT INTO deliveries (id, notification_id, person_id, channel, address, op, \
             target_message_id, status, next_attempt_at, fallbacks, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'edit', $6, 'pending', $7, '', $7, $7)",
        )
        .bind(crate::ids::new_id("d"))
        .bind(&notification_id)
        .bind(r.try_get::<Option<String>, _>(1).map_err(&read)?)
        .bind(r.try_get::<String, _>(2).map_err(&read)?)
        .bind(r.try_get::<String, _>(3).map_err(&read)?)
        .bind(r.try_get::<String, _>(4).map_err(&read)?)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db("queuing a question's edit"))?;
    }
    Ok(rows.len())
}
