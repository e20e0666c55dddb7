//! Inbound GitHub deliveries: each `X-GitHub-Delivery` is recorded in the
//! same transaction as what it caused (a task created or completed, a
//! notification queued), so a delivery runs once — a redelivery finds its
//! row — and a failure or crash leaves nothing half done: the row is not
//! there, and GitHub's redelivery runs it.

use super::{NewDelivery, NewNotification, Store, StoreError, WebhookEvent, now_ms};
use commands::{AuditEntry, BackendError, NewTask, Task};

/// What a delivery does to the hub's data.
#[derive(Debug, Clone)]
pub enum GithubEffect {
    /// Acknowledged, nothing to do (ping, an event or action not mapped).
    Nothing,
    /// A task for an issue or a review request, unless `(repo, reference)`
    /// has one already.
    CreateTask {
        repo: String,
        reference: String,
        task: NewTask,
        audit: AuditEntry,
    },
    /// Complete the task made for `(repo, reference)`, if there is one.
    CompleteTask {
        repo: String,
        reference: String,
        audit: AuditEntry,
    },
    /// Queue notifications (deploy or build status) with their deliveries.
    Notify {
        notifications: Vec<NewNotification>,
        deliveries: Vec<NewDelivery>,
        events: Vec<WebhookEvent>,
    },
}

/// What applying a delivery did.
#[derive(Debug, Clone, PartialEq)]
pub enum GithubApplied {
    /// This delivery ID was run before: nothing was done now.
    Duplicate,
    /// Run now; the task created or completed, if any.
    Done { task: Option<Task> },
}

fn backend(e: BackendError) -> StoreError {
    match e {
        BackendError::Unavailable(m) => StoreError::Unavailable(m),
        other => StoreError::Invalid(other.to_string()),
    }
}

impl Store {
    /// Record delivery `delivery_id` of `event` and apply `effect`, in one
    /// transaction.
    pub async fn apply_github_delivery(
        &self,
        delivery_id: &str,
        event: &str,
        effect: &GithubEffect,
    ) -> Result<GithubApplied, StoreError> {
        let mut tx = self.pool.begin().await?;
        let first = sqlx::query(
            "INSERT INTO github_deliveries (delivery_id, event, received_at) VALUES ($1, $2, $3) \
             ON CONFLICT (delivery_id) DO NOTHING",
        )
        .bind(delivery_id)
        .bind(event)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !first {
            return Ok(GithubApplied::Duplicate);
        }
        let task = match effect {
            GithubEffect::Nothing => None,
            GithubEffect::CreateTask {
                repo,
                reference,
                task,
                audit,
            } => {
                let existing: Option<(i64,)> =
                    sqlx::query_as("SELECT task_id FROM github_tasks WHERE repo = $1 AND ref = $2")
                        .bind(repo)
                        .bind(reference)
                        .fetch_optional(&mut *tx)
                        .await?;
                if existing.is_some() {
                    None
                } else {
                    let task = self
                        .insert_task_in(&mut tx, task, audit)
                        .await
                        .map_err(backend)?;
                    sqlx::query(
                        "INSERT INTO github_tasks (repo, ref, task_id) VALUES ($1, $2, $3)",
                    )
                    .bind(repo)
                    .bind(reference)
                    .bind(task.id)
                    .execute(&mut *tx)
                    .await?;
                    Some(task)
                }
            }
            GithubEffect::CompleteTask {
                repo,
                reference,
                audit,
            } => {
                let existing: Option<(i64,)> =
                    sqlx::query_as("SELECT task_id FROM github_tasks WHERE repo = $1 AND ref = $2")
                        .bind(repo)
                        .bind(reference)
                        .fetch_optional(&mut *tx)
                        .await?;
                match existing {
                    Some((id,)) => {
                        let audit = AuditEntry {
                            resource: format!("task:{id}"),
                            ..audit.clone()
                        };
                        self.complete_task_in(&mut tx, id, &audit)
                            .await
                            .map_err(backend)?
                    }
                    None => None,
                }
            }
            GithubEffect::Notify {
                notifications,
                deliveries,
                events,
            } => {
                self.insert_notifications_in(&mut tx, notifications, deliveries)
                    .await?;
                self.queue_webhook_events_in(&mut tx, events).await?;
                None
            }
        };
        tx.commit().await?;
        Ok(GithubApplied::Done { task })
    }
}
