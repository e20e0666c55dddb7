//! An in-memory [`Backend`] for tests (this crate's and the hub's), behind
//! the `testing` feature. It keeps the store's contract honestly: the
//! compare-and-set methods check the expected state and return `Conflict`
//! without writing, and every change appends its audit entry with the change.

use crate::backend::Backend;
use crate::error::BackendError;
use crate::message::RichMessage;
use crate::model::{
    Agent, AgentStats, Assignee, Assignment, AuditEntry, ButtonAction, CostBy, CostLine, Decision,
    DecisionStatus, NewDecision, NewTask, Person, Resolution, Role, StatusChange, Task, TaskFilter,
    TaskStatus,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use routing::ChannelKind;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

/// One cost record.
#[derive(Debug, Clone, PartialEq)]
pub struct CostRecord {
    pub at: DateTime<Utc>,
    pub agent: String,
    pub project: String,
    pub model: String,
    pub usd: f64,
}

#[derive(Debug, Default)]
pub struct State {
    pub people: BTreeMap<String, Person>,
    /// (platform, platform user id) → person id.
    pub identities: BTreeMap<(ChannelKind, String), String>,
    pub agents: BTreeMap<String, (Agent, AgentStats)>,
    pub approvers: BTreeMap<String, Vec<String>>,
    pub tasks: BTreeMap<i64, Task>,
    /// (task, needs)
    pub deps: BTreeSet<(i64, i64)>,
    pub decisions: BTreeMap<i64, Decision>,
    pub tokens: BTreeMap<String, ButtonAction>,
    pub costs: Vec<CostRecord>,
    pub audit: Vec<AuditEntry>,
    /// When set, the next `resolve_decision` finds the decision resolved by
    /// this (as if another instance won the race between read and write).
    pub race_resolution: Option<Resolution>,
    next_task: i64,
    next_decision: i64,
    next_token: u64,
}

#[derive(Debug, Default)]
pub struct MemoryBackend {
    state: Mutex<State>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state, for seeding and inspection. A poisoned lock (a test thread
    /// panicked) still yields the data.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add a person reachable as `user_id` on `platform`.
    pub fn add_person(&self, platform: ChannelKind, user_id: &str, id: &str, role: Role) -> Person {
        let person = Person {
            id: id.to_string(),
            display_name: capitalize(id),
            role,
        };
        let mut s = self.state();
        s.people.insert(id.to_string(), person.clone());
        s.identities
            .insert((platform, user_id.to_string()), id.to_string());
        person
    }

    pub fn add_agent(&self, agent: Agent, stats: AgentStats) {
        self.state().agents.insert(agent.id.clone(), (agent, stats));
    }

    pub fn set_approvers(&self, kind: &str, person_ids: &[&str]) {
        self.state().approvers.insert(
            kind.to_string(),
            person_ids.iter().map(|p| p.to_string()).collect(),
        );
    }

    /// Insert a pending decision directly (as an agent's API request would).
    pub fn add_pending_decision(&self, kind: &str, context: &str, requested_by: &str) -> Decision {
        let mut s = self.state();
        s.next_decision += 1;
        let d = Decision {
            id: s.next_decision,
            kind: kind.to_string(),
            context: context.to_string(),
            options: vec!["approve".into(), "deny".into()],
            status: DecisionStatus::Pending,
            requested_by: requested_by.to_string(),
            task_id: None,
            decided_by: None,
            reasoning: None,
            created_at: Utc::now(),
            decided_at: None,
        };
        s.decisions.insert(d.id, d.clone());
        d
    }

    pub fn add_cost(&self, record: CostRecord) {
        self.state().costs.push(record);
    }

    pub fn audit(&self) -> Vec<AuditEntry> {
        self.state().audit.clone()
    }

    pub fn get_task(&self, id: i64) -> Option<Task> {
        self.state().tasks.get(&id).cloned()
    }

    pub fn get_decision(&self, id: i64) -> Option<Decision> {
        self.state().decisions.get(&id).cloned()
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn apply_resolution(d: &mut Decision, r: &Resolution) {
    d.status = r.outcome.status();
    d.decided_by = Some(r.decided_by.clone());
    d.reasoning = r.reasoning.clone();
    d.decided_at = Some(Utc::now());
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn person_by_platform(
        &self,
        platform: ChannelKind,
        user_id: &str,
    ) -> Result<Option<Person>, BackendError> {
        let s = self.state();
        Ok(s.identities
            .get(&(platform, user_id.to_string()))
            .and_then(|id| s.people.get(id))
            .cloned())
    }

    async fn person(&self, id: &str) -> Result<Option<Person>, BackendError> {
        Ok(self.state().people.get(id).cloned())
    }

    async fn agent(&self, id: &str) -> Result<Option<Agent>, BackendError> {
        Ok(self.state().agents.get(id).map(|(a, _)| a.clone()))
    }

    async fn agents_with_stats(&self) -> Result<Vec<(Agent, AgentStats)>, BackendError> {
        let s = self.state();
        Ok(s.agents
            .values()
            .map(|(a, stats)| {
                // Like the SQL version: live open tasks on top of the seed.
                let live = s
                    .tasks
                    .values()
                    .filter(|t| {
                        t.assignee == Some(Assignee::Agent(a.id.clone()))
                            && t.status != TaskStatus::Completed
                    })
                    .count() as u32;
                let mut stats = stats.clone();
                stats.active_tasks += live;
                (a.clone(), stats)
            })
            .collect())
    }

    async fn approvers(&self, kind: &str) -> Result<Vec<String>, BackendError> {
        Ok(self
            .state()
            .approvers
            .get(kind)
            .cloned()
            .unwrap_or_default())
    }

    async fn task(&self, id: i64) -> Result<Option<Task>, BackendError> {
        Ok(self.state().tasks.get(&id).cloned())
    }

    async fn list_tasks(&self, f: &TaskFilter) -> Result<Vec<Task>, BackendError> {
        Ok(self
            .state()
            .tasks
            .values()
            .filter(|t| f.assignee.is_none() || t.assignee == f.assignee)
            .filter(|t| match f.status {
                Some(s) => t.status == s,
                None => f.include_completed || t.status != TaskStatus::Completed,
            })
            .filter(|t| f.project.is_none() || t.project == f.project)
            .take(f.limit as usize)
            .cloned()
            .collect())
    }

    async fn create_task(&self, new: &NewTask, audit: &AuditEntry) -> Result<Task, BackendError> {
        let mut s = self.state();
        s.next_task += 1;
        let now = Utc::now();
        let task = Task {
            id: s.next_task,
            title: new.title.clone(),
            status: new.status,
            blocked_from: None,
            priority: new.priority,
            project: new.project.clone(),
            assignee: new.assignee.clone(),
            due: new.due,
            capabilities: new.capabilities.clone(),
            created_by: new.created_by.clone(),
            created_at: now,
            updated_at: now,
        };
        s.tasks.insert(task.id, task.clone());
        let mut audit = audit.clone();
        audit.resource = format!("task:{}", task.id);
        s.audit.push(audit);
        Ok(task)
    }

    async fn assign_task(&self, c: &Assignment, audit: &AuditEntry) -> Result<Task, BackendError> {
        let mut s = self.state();
        let Some(task) = s.tasks.get_mut(&c.task_id) else {
            return Err(BackendError::NotFound(format!("task {}", c.task_id)));
        };
        if task.status != c.from {
            return Err(BackendError::Conflict(format!(
                "task {} is {}, not {}",
                c.task_id, task.status, c.from
            )));
        }
        task.assignee = Some(c.assignee.clone());
        task.status = c.to;
        task.updated_at = Utc::now();
        let task = task.clone();
        s.audit.push(audit.clone());
        Ok(task)
    }

    async fn update_task_status(
        &self,
        c: &StatusChange,
        audit: &AuditEntry,
    ) -> Result<Task, BackendError> {
        let mut s = self.state();
        let Some(task) = s.tasks.get_mut(&c.task_id) else {
            return Err(BackendError::NotFound(format!("task {}", c.task_id)));
        };
        if task.status != c.from {
            return Err(BackendError::Conflict(format!(
                "task {} is {}, not {}",
                c.task_id, task.status, c.from
            )));
        }
        task.status = c.to;
        task.blocked_from = c.blocked_from;
        task.updated_at = Utc::now();
        let task = task.clone();
        s.audit.push(audit.clone());
        Ok(task)
    }

    async fn dependencies(&self, task_id: i64) -> Result<Vec<Task>, BackendError> {
        let s = self.state();
        Ok(s.deps
            .iter()
            .filter(|(a, _)| *a == task_id)
            .filter_map(|(_, b)| s.tasks.get(b).cloned())
            .collect())
    }

    async fn dependents(&self, task_id: i64) -> Result<Vec<Task>, BackendError> {
        let s = self.state();
        Ok(s.deps
            .iter()
            .filter(|(_, b)| *b == task_id)
            .filter_map(|(a, _)| s.tasks.get(a).cloned())
            .collect())
    }

    async fn dependency_edges(&self) -> Result<Vec<(i64, i64)>, BackendError> {
        Ok(self.state().deps.iter().copied().collect())
    }

    async fn add_dependency(
        &self,
        task_id: i64,
        needs: i64,
        audit: &AuditEntry,
    ) -> Result<(), BackendError> {
        let mut s = self.state();
        if !s.tasks.contains_key(&task_id) || !s.tasks.contains_key(&needs) {
            return Err(BackendError::NotFound("task".into()));
        }
        if !s.deps.insert((task_id, needs)) {
            return Err(BackendError::Conflict("dependency exists".into()));
        }
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn remove_dependency(
        &self,
        task_id: i64,
        needs: i64,
        audit: &AuditEntry,
    ) -> Result<(), BackendError> {
        let mut s = self.state();
        if !s.deps.remove(&(task_id, needs)) {
            return Err(BackendError::NotFound("dependency".into()));
        }
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn decision(&self, id: i64) -> Result<Option<Decision>, BackendError> {
        Ok(self.state().decisions.get(&id).cloned())
    }

    async fn pending_decisions(&self) -> Result<Vec<Decision>, BackendError> {
        Ok(self
            .state()
            .decisions
            .values()
            .filter(|d| d.status == DecisionStatus::Pending)
            .cloned()
            .collect())
    }

    async fn create_decision(
        &self,
        new: &NewDecision,
        audit: &AuditEntry,
    ) -> Result<Decision, BackendError> {
        let mut s = self.state();
        s.next_decision += 1;
        let mut d = Decision {
            id: s.next_decision,
            kind: new.kind.clone(),
            context: new.context.clone(),
            options: new.options.clone(),
            status: DecisionStatus::Pending,
            requested_by: new.requested_by.clone(),
            task_id: new.task_id,
            decided_by: None,
            reasoning: None,
            created_at: Utc::now(),
            decided_at: None,
        };
        if let Some(r) = &new.resolved {
            apply_resolution(&mut d, r);
        }
        s.decisions.insert(d.id, d.clone());
        let mut audit = audit.clone();
        audit.resource = format!("decision:{}", d.id);
        s.audit.push(audit);
        Ok(d)
    }

    async fn resolve_decision(
        &self,
        id: i64,
        resolution: &Resolution,
        audit: &AuditEntry,
    ) -> Result<Decision, BackendError> {
        let mut s = self.state();
        let race = s.race_resolution.take();
        let Some(d) = s.decisions.get_mut(&id) else {
            return Err(BackendError::NotFound(format!("decision {id}")));
        };
        if let Some(r) = race {
            apply_resolution(d, &r);
        }
        if d.status != DecisionStatus::Pending {
            return Err(BackendError::Conflict(format!(
                "decision {id} is {}",
                d.status
            )));
        }
        apply_resolution(d, resolution);
        let d = d.clone();
        s.audit.push(audit.clone());
        Ok(d)
    }

    async fn mint_button_token(&self, action: &ButtonAction) -> Result<String, BackendError> {
        let mut s = self.state();
        s.next_token += 1;
        let token = format!("b{:08x}", s.next_token);
        s.tokens.insert(token.clone(), *action);
        Ok(token)
    }

    async fn button_action(&self, token: &str) -> Result<Option<ButtonAction>, BackendError> {
        Ok(self.state().tokens.get(token).copied())
    }

    async fn brief(&self, person: &Person) -> Result<RichMessage, BackendError> {
        let s = self.state();
        let mine = Some(Assignee::Person(person.id.clone()));
        let open = s
            .tasks
            .values()
            .filter(|t| t.assignee == mine && t.status != TaskStatus::Completed)
            .count();
        Ok(RichMessage::titled(
            format!("Brief for {}", person.display_name),
            format!("{open} open tasks assigned to you."),
        ))
    }

    async fn cost_summary(
        &self,
        since: DateTime<Utc>,
        by: CostBy,
    ) -> Result<Vec<CostLine>, BackendError> {
        let s = self.state();
        let mut groups: BTreeMap<String, (f64, u64)> = BTreeMap::new();
        for c in s.costs.iter().filter(|c| c.at >= since) {
            let key = match by {
                CostBy::Agent => &c.agent,
                CostBy::Project => &c.project,
                CostBy::Model => &c.model,
            };
            let g = groups.entry(key.clone()).or_default();
            g.0 += c.usd;
            g.1 += 1;
        }
        let mut lines: Vec<CostLine> = groups
            .into_iter()
            .map(|(key, (cost_usd, records))| CostLine {
                key,
                cost_usd,
                records,
            })
            .collect();
        lines.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd));
        Ok(lines)
    }
}
