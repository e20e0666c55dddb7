//! The task actions, shared by chat commands and the agent HTTP API. Each
//! checks who is asking, applies the rules (lifecycle, dependencies,
//! auto-assignment) and writes through the [`Backend`] with an audit entry.
//! Decisions are resolved by [`crate::decisions::resolve_decision`].

use crate::assign::{self, AgentScore};
use crate::backend::Backend;
use crate::deps;
use crate::error::{BackendError, ServiceError};
use crate::lifecycle;
use crate::model::{
    Actor, Assignee, Assignment, Decision, DecisionOutcome, NewDecision, NewTask, Priority,
    Resolution, Role, Scope, StatusChange, Task, TaskFilter, TaskStatus,
};
use crate::roles::require;
use chrono::NaiveDate;
use serde_json::json;

use crate::model::MAX_TITLE_CHARS;

/// A task to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDraft {
    pub title: String,
    pub priority: Priority,
    pub project: Option<String>,
    pub assignee: Option<Assignee>,
    pub due: Option<NaiveDate>,
    pub capabilities: Vec<String>,
}

/// Create a task: `assigned` if it has an assignee, else `created`.
pub async fn create_task<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    draft: TaskDraft,
) -> Result<Task, ServiceError> {
    require(actor, "task new", Role::Member, Scope::TasksWrite)?;
    let title = draft.title.trim().to_string();
    if title.is_empty() {
        return Err(ServiceError::Invalid("A task needs a title.".into()));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(ServiceError::Invalid(format!(
            "A task title can have at most {MAX_TITLE_CHARS} characters."
        )));
    }
    if let Some(a) = &draft.assignee {
        check_assignee(backend, a).await?;
    }
    let new = NewTask {
        title,
        status: if draft.assignee.is_some() {
            TaskStatus::Assigned
        } else {
            TaskStatus::Created
        },
        priority: draft.priority,
        project: draft.project,
        assignee: draft.assignee,
        due: draft.due,
        capabilities: draft.capabilities,
        created_by: actor.name(),
    };
    // The store appends the new id to the resource (`task:<id>`).
    let audit = actor.audit("task.create", "task", json!({ "task": new }));
    Ok(backend.create_task(&new, &audit).await?)
}

/// Whom to assign a task to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignTo {
    /// Score the available agents and pick the best.
    Auto,
    Assignee(Assignee),
}

#[derive(Debug, Clone, PartialEq)]
pub enum AssignResult {
    Assigned {
        task: Task,
        /// For `auto`: the recorded decision (kind `assignment`, approved by
        /// the system) with every candidate's scores as its reasoning.
        record: Option<Decision>,
        scores: Vec<AgentScore>,
    },
    /// `auto` found no agent with any of the needed capabilities: the task
    /// stays unassigned and a pending `assignment` decision asks a person.
    Escalated {
        task: Task,
        decision: Decision,
        scores: Vec<AgentScore>,
    },
}

pub async fn assign_task<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    task_id: i64,
    to: AssignTo,
) -> Result<AssignResult, ServiceError> {
    require(actor, "task assign", Role::Member, Scope::TasksWrite)?;
    let task = load_task(backend, task_id).await?;
    let status = lifecycle::status_after_assignment(&task)?;
    match to {
        AssignTo::Assignee(assignee) => {
            check_assignee(backend, &assignee).await?;
            let audit = actor.audit(
                "task.assign",
                format!("task:{task_id}"),
                json!({ "assignee": assignee, "from": task.status, "to": status }),
            );
            let task = write_assignment(backend, &task, assignee, status, &audit).await?;
            Ok(AssignResult::Assigned {
                task,
                record: None,
                scores: Vec::new(),
            })
        }
        AssignTo::Auto => auto_assign(backend, actor, task, status).await,
    }
}

async fn auto_assign<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    task: Task,
    status: TaskStatus,
) -> Result<AssignResult, ServiceError> {
    let agents = backend.agents_with_stats().await?;
    let (scores, winner) = assign::rank(&task.capabilities, &agents);
    let reasoning: Vec<String> = scores.iter().map(AgentScore::explain).collect();
    let Some(winner) = winner else {
        let needs = if task.capabilities.is_empty() {
            "an assignee".to_string()
        } else {
            task.capabilities.join(", ")
        };
        let new = NewDecision {
            kind: "assignment".into(),
            context: format!(
                "Task #{} \"{}\" needs {needs}, and no available agent fits. Please assign it: `task assign {} @who`.",
                task.id, task.title, task.id
            ),
            options: Vec::new(),
            requested_by: actor.name(),
            task_id: Some(task.id),
            resolved: None,
        };
        let audit = actor.audit(
            "decision.create",
            "decision",
            json!({ "kind": "assignment", "task": task.id, "scores": scores }),
        );
        let decision = backend.create_decision(&new, &audit).await?;
        return Ok(AssignResult::Escalated {
            task,
            decision,
            scores,
        });
    };
    let assignee = Assignee::Agent(winner.clone());
    let audit = actor.audit(
        "task.assign",
        format!("task:{}", task.id),
        json!({ "assignee": assignee, "auto": true, "scores": scores, "from": task.status, "to": status }),
    );
    let assigned = write_assignment(backend, &task, assignee, status, &audit).await?;
    let record = NewDecision {
        kind: "assignment".into(),
        context: format!(
            "Task #{} \"{}\" assigned automatically to agent {winner}.",
            task.id, task.title
        ),
        options: scores.iter().map(|s| s.agent_id.clone()).collect(),
        requested_by: actor.name(),
        task_id: Some(task.id),
        resolved: Some(Resolution {
            outcome: DecisionOutcome::Approve,
            decided_by: "system".into(),
            reasoning: Some(reasoning.join("; ")),
        }),
    };
    let audit = actor.audit(
        "decision.create",
        "decision",
        json!({ "kind": "assignment", "task": task.id, "winner": winner }),
    );
    let record = backend.create_decision(&record, &audit).await?;
    Ok(AssignResult::Assigned {
        task: assigned,
        record: Some(record),
        scores,
    })
}

async fn write_assignment<B: Backend + ?Sized>(
    backend: &B,
    task: &Task,
    assignee: Assignee,
    to: TaskStatus,
    audit: &crate::model::AuditEntry,
) -> Result<Task, ServiceError> {
    let change = Assignment {
        task_id: task.id,
        from: task.status,
        assignee,
        to,
    };
    backend
        .assign_task(&change, audit)
        .await
        .map_err(|e| task_write_error(e, task.id))
}

/// Where a move goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveTarget {
    To(TaskStatus),
    /// Back to the status the task was blocked from.
    Unblock,
}

impl From<TaskStatus> for MoveTarget {
    fn from(s: TaskStatus) -> Self {
        MoveTarget::To(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveResult {
    pub task: Task,
    pub from: TaskStatus,
    /// Tasks that became `ready` because this one completed.
    pub promoted: Vec<Task>,
}

pub async fn move_task<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    task_id: i64,
    target: MoveTarget,
    note: Option<String>,
) -> Result<MoveResult, ServiceError> {
    require(actor, "task move", Role::Member, Scope::TasksWrite)?;
    let task = load_task(backend, task_id).await?;
    let to = match target {
        MoveTarget::To(s) => s,
        MoveTarget::Unblock if task.status == TaskStatus::Blocked => {
            lifecycle::unblock_target(&task)
        }
        MoveTarget::Unblock => return Err(ServiceError::NotBlocked(task_id)),
    };
    if target == MoveTarget::To(TaskStatus::Assigned) && task.assignee.is_none() {
        return Err(ServiceError::Invalid(format!(
            "Task #{task_id} has nobody to be assigned to; use `task assign {task_id} <@who|auto>`."
        )));
    }
    lifecycle::check_move(&task, to)?;
    if to == TaskStatus::InProgress {
        let open: Vec<(i64, String, TaskStatus)> = backend
            .dependencies(task_id)
            .await?
            .into_iter()
            .filter(|d| d.status != TaskStatus::Completed)
            .map(|d| (d.id, d.title, d.status))
            .collect();
        if !open.is_empty() {
            return Err(ServiceError::OpenDependencies {
                task: task_id,
                open,
            });
        }
    }
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    let change = StatusChange {
        task_id,
        from: task.status,
        to,
        blocked_from: (to == TaskStatus::Blocked).then_some(task.status),
    };
    let audit = actor.audit(
        "task.move",
        format!("task:{task_id}"),
        json!({ "from": task.status, "to": to, "note": note }),
    );
    let moved = backend
        .update_task_status(&change, &audit)
        .await
        .map_err(|e| task_write_error(e, task_id))?;
    let promoted = if to == TaskStatus::Completed {
        promote_dependents(backend, task_id).await?
    } else {
        Vec::new()
    };
    Ok(MoveResult {
        task: moved,
        from: task.status,
        promoted,
    })
}

/// After `completed_id` completes: each task that needs it, is still
/// `created` or `planning`, and has all its dependencies completed becomes
/// `ready`. Done as the system; a task changed meanwhile is left alone.
async fn promote_dependents<B: Backend + ?Sized>(
    backend: &B,
    completed_id: i64,
) -> Result<Vec<Task>, ServiceError> {
    let mut promoted = Vec::new();
    for dependent in backend.dependents(completed_id).await? {
        if let Some(t) = promote_if_ready(
            backend,
            &dependent,
            format!("dependencies completed (#{completed_id})"),
        )
        .await?
        {
            promoted.push(t);
        }
    }
    Ok(promoted)
}

async fn promote_if_ready<B: Backend + ?Sized>(
    backend: &B,
    task: &Task,
    because: String,
) -> Result<Option<Task>, ServiceError> {
    if !matches!(task.status, TaskStatus::Created | TaskStatus::Planning) {
        return Ok(None);
    }
    let deps = backend.dependencies(task.id).await?;
    if deps.iter().any(|d| d.status != TaskStatus::Completed) {
        return Ok(None);
    }
    let change = StatusChange {
        task_id: task.id,
        from: task.status,
        to: TaskStatus::Ready,
        blocked_from: None,
    };
    let audit = Actor::system().audit(
        "task.move",
        format!("task:{}", task.id),
        json!({ "from": task.status, "to": TaskStatus::Ready, "because": because }),
    );
    match backend.update_task_status(&change, &audit).await {
        Ok(t) => Ok(Some(t)),
        Err(BackendError::Conflict(_) | BackendError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyResult {
    pub task: Task,
    pub needs: Task,
    /// `Some` when the task became ready because everything it needs is done.
    pub promoted: Option<Task>,
}

/// Record "`task_id` needs `needs_id`", refusing self-dependencies,
/// duplicates and cycles (the error shows the cycle).
pub async fn add_dependency<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    task_id: i64,
    needs_id: i64,
) -> Result<DependencyResult, ServiceError> {
    require(actor, "task dep", Role::Member, Scope::TasksWrite)?;
    if task_id == needs_id {
        return Err(ServiceError::SelfDependency(task_id));
    }
    let task = load_task(backend, task_id).await?;
    let needs = load_task(backend, needs_id).await?;
    if task.status == TaskStatus::Completed {
        return Err(ServiceError::TaskClosed(task_id));
    }
    let edges = backend.dependency_edges().await?;
    deps::check_new_edge(&edges, task_id, needs_id)?;
    let audit = actor.audit(
        "task.dep",
        format!("task:{task_id}"),
        json!({ "needs": needs_id }),
    );
    match backend.add_dependency(task_id, needs_id, &audit).await {
        Ok(()) => {}
        Err(BackendError::Conflict(_)) => {
            return Err(ServiceError::AlreadyDepends {
                task: task_id,
                needs: needs_id,
            });
        }
        Err(e) => return Err(e.into()),
    }
    let promoted = promote_if_ready(
        backend,
        &task,
        format!("dependencies completed (#{needs_id})"),
    )
    .await?;
    Ok(DependencyResult {
        task,
        needs,
        promoted,
    })
}

/// Remove "`task_id` needs `needs_id`" (the same role and scope as adding
/// one). A task still waiting to start (`created` or `planning`) whose
/// last open dependency this was becomes `ready`, as when its last
/// dependency completes (done as the system, audited with the reason). A
/// task someone marked `blocked` stays blocked: that mark is a person's
/// call, not the dependencies', and `unblock` lifts it.
pub async fn remove_dependency<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    task_id: i64,
    needs_id: i64,
) -> Result<DependencyResult, ServiceError> {
    require(actor, "task dep", Role::Member, Scope::TasksWrite)?;
    let task = load_task(backend, task_id).await?;
    let needs = load_task(backend, needs_id).await?;
    let audit = actor.audit(
        "task.undep",
        format!("task:{task_id}"),
        json!({ "needs": needs_id }),
    );
    match backend.remove_dependency(task_id, needs_id, &audit).await {
        Ok(()) => {}
        Err(BackendError::NotFound(_)) => {
            return Err(ServiceError::NoSuchDependency {
                task: task_id,
                needs: needs_id,
            });
        }
        Err(e) => return Err(e.into()),
    }
    let promoted =
        promote_if_ready(backend, &task, format!("dependency on #{needs_id} removed")).await?;
    Ok(DependencyResult {
        task,
        needs,
        promoted,
    })
}

/// A task with the tasks it needs.
pub async fn show_task<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    task_id: i64,
) -> Result<(Task, Vec<Task>), ServiceError> {
    require(actor, "task show", Role::Viewer, Scope::TasksRead)?;
    let task = load_task(backend, task_id).await?;
    let deps = backend.dependencies(task_id).await?;
    Ok((task, deps))
}

pub async fn list_tasks<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    filter: &TaskFilter,
) -> Result<Vec<Task>, ServiceError> {
    require(actor, "task list", Role::Viewer, Scope::TasksRead)?;
    Ok(backend.list_tasks(filter).await?)
}

async fn load_task<B: Backend + ?Sized>(backend: &B, id: i64) -> Result<Task, ServiceError> {
    backend
        .task(id)
        .await?
        .ok_or(ServiceError::TaskNotFound(id))
}

/// The assignee must exist: a typo must not create work for nobody.
async fn check_assignee<B: Backend + ?Sized>(
    backend: &B,
    assignee: &Assignee,
) -> Result<(), ServiceError> {
    let exists = match assignee {
        Assignee::Person(id) => backend.person(id).await?.is_some(),
        Assignee::Agent(id) => backend.agent(id).await?.is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(ServiceError::UnknownAssignee(match assignee {
            Assignee::Person(id) | Assignee::Agent(id) => id.clone(),
        }))
    }
}

fn task_write_error(e: BackendError, id: i64) -> ServiceError {
    match e {
        BackendError::Conflict(_) => ServiceError::ChangedMeanwhile(format!("Task #{id}")),
        BackendError::NotFound(_) => ServiceError::TaskNotFound(id),
        other => other.into(),
    }
}
