//! The chat commands' backend: `commands::Backend` over the store, the
//! decisions' routing plan and the brief service. The store only stores;
//! what a decision sends (routing policy, directory) and how a brief is
//! built (templates, LLM) are the hub's, and they meet here — built once
//! at start and handed to whoever runs commands (chat platforms, the API),
//! so nothing depends on start-up order.

use crate::brief::{BriefFailure, BriefService};
use crate::ingest::decisions::DecisionNotices;
use crate::questions::QuestionBus;
use crate::store::{NewQuestion, Store};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use commands::{
    Agent, AgentStats, Answer, Assignment, AuditEntry, Backend, BackendError, ButtonAction, CostBy,
    CostLine, Decision, NewDecision, NewTask, Person, Question, Resolution, RichMessage,
    StatusChange, Task, TaskFilter,
};
use routing::ChannelKind;
use std::sync::Arc;

/// Cheap to clone: a store handle and two shared services.
#[derive(Clone)]
pub struct HubBackend {
    store: Store,
    notices: Arc<DecisionNotices>,
    brief: Arc<BriefService>,
    /// Answered questions, for this instance's long polls and SSE streams.
    questions: QuestionBus,
    /// The web console's login links, for the `/login` command (None: no console).
    login_links: Option<Arc<crate::console::LoginLinks>>,
}

impl HubBackend {
    pub fn new(store: Store, notices: Arc<DecisionNotices>, brief: Arc<BriefService>) -> Self {
        HubBackend {
            store,
            notices,
            brief,
            questions: QuestionBus::default(),
            login_links: None,
        }
    }

    /// Let the `/login` command hand out web console links.
    pub fn with_login_links(mut self, links: Arc<crate::console::LoginLinks>) -> Self {
        self.login_links = Some(links);
        self
    }

    /// Where answered questions are announced on this instance.
    pub fn question_bus(&self) -> &QuestionBus {
        &self.questions
    }

    /// Create a question with its message to the person (and, when it is
    /// answered at once, its callback), committed together. Returns the
    /// question and the API's answer for each notification.
    pub async fn create_question_notified(
        &self,
        new: &NewQuestion,
        audit: &AuditEntry,
    ) -> Result<(Question, Vec<serde_json::Value>), BackendError> {
        let (q, sent) = self
            .store
            .create_question(new, audit, self.notices.as_ref())
            .await?;
        if q.answer.is_some() {
            self.questions.answered(&q);
        }
        Ok((q, sent))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Create a decision with its requests to every approver, committed
    /// together. Returns the decision and the API's answer for each request.
    pub async fn create_decision_notified(
        &self,
        new: &NewDecision,
        audit: &AuditEntry,
    ) -> Result<(Decision, Vec<serde_json::Value>), BackendError> {
        self.store
            .create_decision_notified(new, audit, self.notices.as_ref())
            .await
    }
}

#[async_trait]
impl Backend for HubBackend {
    async fn person_by_platform(
        &self,
        platform: ChannelKind,
        user_id: &str,
    ) -> Result<Option<Person>, BackendError> {
        self.store.person_by_platform(platform, user_id).await
    }

    async fn person(&self, id: &str) -> Result<Option<Person>, BackendError> {
        self.store.person(id).await
    }

    async fn agent(&self, id: &str) -> Result<Option<Agent>, BackendError> {
        self.store.agent(id).await
    }

    async fn agents_with_stats(&self) -> Result<Vec<(Agent, AgentStats)>, BackendError> {
        self.store.agents_with_stats().await
    }

    async fn approvers(&self, kind: &str) -> Result<Vec<String>, BackendError> {
        self.store.approvers(kind).await
    }

    async fn task(&self, id: i64) -> Result<Option<Task>, BackendError> {
        self.store.task(id).await
    }

    async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>, BackendError> {
        self.store.list_tasks(filter).await
    }

    async fn create_task(&self, task: &NewTask, audit: &AuditEntry) -> Result<Task, BackendError> {
        self.store.create_task(task, audit).await
    }

    async fn assign_task(
        &self,
        change: &Assignment,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError> {
        self.store.assign_task(change, audit).await
    }

    async fn update_task_status(
        &self,
        change: &StatusChange,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError> {
        self.store.update_task_status(change, audit).await
    }

    async fn dependencies(&self, task_id: i64) -> Result<Vec<Task>, BackendError> {
        self.store.dependencies(task_id).await
    }

    async fn dependents(&self, task_id: i64) -> Result<Vec<Task>, BackendError> {
        self.store.dependents(task_id).await
    }

    async fn dependency_edges(&self) -> Result<Vec<(i64, i64)>, BackendError> {
        self.store.dependency_edges().await
    }

    async fn add_dependency(
        &self,
        task_id: i64,
        needs: i64,
        audit: &AuditEntry,
    ) -> Result<(), BackendError> {
        self.store.add_dependency(task_id, needs, audit).await
    }

    async fn remove_dependency(
        &self,
        task_id: i64,
        needs: i64,
        audit: &AuditEntry,
    ) -> Result<(), BackendError> {
        self.store.remove_dependency(task_id, needs, audit).await
    }

    async fn decision(&self, id: i64) -> Result<Option<Decision>, BackendError> {
        self.store.decision(id).await
    }

    async fn pending_decisions(&self) -> Result<Vec<Decision>, BackendError> {
        self.store.pending_decisions().await
    }

    async fn create_decision(
        &self,
        new: &NewDecision,
        audit: &AuditEntry,
    ) -> Result<Decision, BackendError> {
        Ok(self.create_decision_notified(new, audit).await?.0)
    }

    async fn resolve_decision(
        &self,
        id: i64,
        resolution: &Resolution,
        audit: &AuditEntry,
    ) -> Result<Decision, BackendError> {
        self.store
            .resolve_decision_edited(id, resolution, audit, self.notices.as_ref())
            .await
    }

    async fn question(&self, id: i64) -> Result<Option<Question>, BackendError> {
        self.store.question(id).await
    }

    async fn answer_question(
        &self,
        id: i64,
        answer: &Answer,
        audit: &AuditEntry,
    ) -> Result<Question, BackendError> {
        let q = self
            .store
            .answer_question_edited(id, answer, audit, self.notices.as_ref())
            .await?;
        self.questions.answered(&q);
        Ok(q)
    }

    async fn mint_button_token(&self, action: &ButtonAction) -> Result<String, BackendError> {
        self.store.mint_button_token(action).await
    }

    async fn button_action(&self, token: &str) -> Result<Option<ButtonAction>, BackendError> {
        self.store.button_action(token).await
    }

    async fn brief(&self, person: &Person) -> Result<RichMessage, BackendError> {
        // The real brief, as the schedule sends it (summary and buttons too).
        match self
            .brief
            .compose(&self.store, &person.id, None, Utc::now())
            .await
        {
            Ok((_, message)) => Ok(message),
            Err(BriefFailure::Buttons(e)) => Err(e),
            Err(e) => Err(BackendError::Unavailable(e.to_string())),
        }
    }

    async fn login_link(&self, person: &Person) -> Result<Option<String>, BackendError> {
        let Some(links) = &self.login_links else {
            return Ok(None);
        };
        links.mint(&person.id).await.map(Some).map_err(|e| match e {
            crate::store::StoreError::NotFound { .. } => {
                BackendError::NotFound(format!("person {:?}", person.id))
            }
            other => BackendError::Unavailable(other.to_string()),
        })
    }

    async fn cost_summary(
        &self,
        since: DateTime<Utc>,
        by: CostBy,
    ) -> Result<Vec<CostLine>, BackendError> {
        self.store.cost_summary(since, by).await
    }
}
