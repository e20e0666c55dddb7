//! What the commands need from storage. The hub implements this over SQL
//! (SQLite and PostgreSQL); each method is one statement or one short
//! transaction. Methods that change data take an [`AuditEntry`] and must
//! write it in the same transaction as the change.
//!
//! Compare-and-set methods (`assign_task`, `update_task_status`,
//! `resolve_decision`) return [`BackendError::Conflict`] when the row is not
//! in the expected state, and change nothing. The rules in this crate rely on
//! that to never apply a transition or a resolution twice.

use crate::error::BackendError;
use crate::message::RichMessage;
use crate::model::{
    Agent, AgentStats, Assignment, AuditEntry, ButtonAction, CostBy, CostLine, Decision,
    NewDecision, NewTask, Person, Resolution, StatusChange, Task, TaskFilter,
};
use crate::questions::{Answer, Question};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use routing::ChannelKind;

#[async_trait]
pub trait Backend: Send + Sync {
    // ----- people and agents -------------------------------------------------

    /// The person behind a platform's immutable user ID, if known.
    async fn person_by_platform(
        &self,
        platform: ChannelKind,
        user_id: &str,
    ) -> Result<Option<Person>, BackendError>;

    /// A person by orkhub handle (`Person::id`).
    async fn person(&self, id: &str) -> Result<Option<Person>, BackendError>;

    async fn agent(&self, id: &str) -> Result<Option<Agent>, BackendError>;

    /// Every agent with its statistics, whatever its status (this crate filters).
    /// `active_tasks` counts its tasks that are not completed; `completed` /
    /// `failed` and `avg_cost_usd` come from its history.
    async fn agents_with_stats(&self) -> Result<Vec<(Agent, AgentStats)>, BackendError>;

    /// Person ids configured as approvers for a decision kind (may be empty).
    async fn approvers(&self, kind: &str) -> Result<Vec<String>, BackendError>;

    // ----- tasks --------------------------------------------------------------

    async fn task(&self, id: i64) -> Result<Option<Task>, BackendError>;

    /// Tasks matching the filter, lowest id first, at most `filter.limit`.
    async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>, BackendError>;

    /// Insert a task (id, `created_at` and `updated_at` set by the store).
    /// `audit.resource` is `"task"`: write it as `task:<new id>`.
    async fn create_task(&self, task: &NewTask, audit: &AuditEntry) -> Result<Task, BackendError>;

    /// `UPDATE tasks SET assignee, status = to WHERE id AND status = from`.
    /// `NotFound` if there is no such task, `Conflict` if its status differs.
    async fn assign_task(
        &self,
        change: &Assignment,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError>;

    /// `UPDATE tasks SET status = to, blocked_from WHERE id AND status = from`.
    /// `NotFound` if there is no such task, `Conflict` if its status differs.
    async fn update_task_status(
        &self,
        change: &StatusChange,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError>;

    /// The tasks `task_id` needs.
    async fn dependencies(&self, task_id: i64) -> Result<Vec<Task>, BackendError>;

    /// The tasks that need `task_id`.
    async fn dependents(&self, task_id: i64) -> Result<Vec<Task>, BackendError>;

    /// Every edge `(task, needs)`, for cycle checks. A small company has few.
    async fn dependency_edges(&self) -> Result<Vec<(i64, i64)>, BackendError>;

    /// Insert the edge "`task_id` needs `needs`". `Conflict` if it exists.
    async fn add_dependency(
        &self,
        task_id: i64,
        needs: i64,
        audit: &AuditEntry,
    ) -> Result<(), BackendError>;

    /// Delete the edge "`task_id` needs `needs`". `NotFound` if there is none.
    async fn remove_dependency(
        &self,
        task_id: i64,
        needs: i64,
        audit: &AuditEntry,
    ) -> Result<(), BackendError>;

    // ----- decisions ----------------------------------------------------------

    async fn decision(&self, id: i64) -> Result<Option<Decision>, BackendError>;

    /// Pending decisions, oldest first.
    async fn pending_decisions(&self) -> Result<Vec<Decision>, BackendError>;

    /// Insert a decision: pending, or already resolved when `new.resolved` is
    /// set (then `decided_at` is now). `audit.resource` is `"decision"`:
    /// write it as `decision:<new id>`.
    async fn create_decision(
        &self,
        new: &NewDecision,
        audit: &AuditEntry,
    ) -> Result<Decision, BackendError>;

    /// `UPDATE decisions SET status, decided_by, reasoning, decided_at = now
    /// WHERE id AND status = 'pending'`. `NotFound` if there is no such
    /// decision, `Conflict` if it was not pending (nothing is written).
    async fn resolve_decision(
        &self,
        id: i64,
        resolution: &Resolution,
        audit: &AuditEntry,
    ) -> Result<Decision, BackendError>;

    // ----- questions ----------------------------------------------------------

    /// A question agents asked a person. (Backends without questions say so.)
    async fn question(&self, id: i64) -> Result<Option<Question>, BackendError> {
        Err(BackendError::Unavailable(format!(
            "question #{id}: this backend stores no questions"
        )))
    }

    /// `UPDATE questions SET answer … WHERE id AND status = 'pending'`, with
    /// the edits of every copy of the question and its delivery to the
    /// agent. `NotFound` if there is no such question, `Conflict` if it was
    /// already answered (nothing is written).
    async fn answer_question(
        &self,
        id: i64,
        _answer: &Answer,
        _audit: &AuditEntry,
    ) -> Result<Question, BackendError> {
        Err(BackendError::Unavailable(format!(
            "question #{id}: this backend stores no questions"
        )))
    }

    // ----- buttons ------------------------------------------------------------

    /// Store `action` under a new random opaque token of at most 64 bytes
    /// (Telegram's callback-data limit) and return the token.
    async fn mint_button_token(&self, action: &ButtonAction) -> Result<String, BackendError>;

    /// The action behind a token, if it exists (and has not expired, if the
    /// store expires tokens).
    async fn button_action(&self, token: &str) -> Result<Option<ButtonAction>, BackendError>;

    // ----- the web console -----------------------------------------------

    /// A one-time login link to the web console for `person` (the hub
    /// stores only its hash); `None` when the hub has no web console.
    async fn login_link(&self, person: &Person) -> Result<Option<String>, BackendError> {
        let _ = person;
        Ok(None)
    }

    // ----- reports ------------------------------------------------------------

    /// Today's brief for this person, built by the hub with the briefs crate.
    async fn brief(&self, person: &Person) -> Result<RichMessage, BackendError>;

    /// Cost records since `since`, summed per agent, project or model,
    /// most expensive first.
    async fn cost_summary(
        &self,
        since: DateTime<Utc>,
        by: CostBy,
    ) -> Result<Vec<CostLine>, BackendError>;
}
