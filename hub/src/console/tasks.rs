//! The tasks board: columns by status, filters by project and assignee;
//! create, assign and move through the command layer (`commands::service`),
//! so the roles and lifecycle rules of chat apply (audit source `web`).

use super::inbox::render;
use super::{ConsoleError, Signed, chrome};
use crate::api::AppState;
use crate::store::{BoardEdge, BoardFilter};
use adapters::web::console::Page;
use adapters::web::console::model::{TaskCard, TaskColumn, TaskRef, TasksView};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use commands::spec::WhoRef;
use commands::{
    Actor, AssignTo, Assignee, MoveTarget, Priority, Role, Task, TaskDraft, TaskStatus,
};
use routing::ChannelKind;
use serde::Deserialize;

/// Cards per column on the whole board: a board of 100,000 tasks shows
/// each column's count and its newest cards, with a link to page on.
const PER_COLUMN: i64 = 25;
/// Cards on the page of one column.
const PER_PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub struct Filters {
    project: Option<String>,
    assignee: Option<String>,
    /// One column only, paged (with `before`).
    status: Option<String>,
    /// Page on: tasks with a lower ID than this.
    before: Option<i64>,
    notice: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    who: Signed,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let project = f.project.filter(|p| !p.trim().is_empty());
    let assignee_text = f.assignee.unwrap_or_default().trim().to_string();
    let assignee = if assignee_text.is_empty() {
        None
    } else {
        Some(resolve(&state, &who, &assignee_text).await?)
    };
    let only = match f.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<TaskStatus>()
                .map_err(|e| ConsoleError::BadRequest(format!("status = {s:?}: {e}")))?,
        ),
    };
    let filter = BoardFilter {
        project: project.clone(),
        assignee,
    };
    let counts = state
        .store
        .board_counts(&filter)
        .await
        .map_err(ConsoleError::backend)?;
    let statuses: Vec<TaskStatus> = match only {
        Some(s) => vec![s],
        None => TaskStatus::ALL.to_vec(),
    };
    let (per, before) = match only {
        Some(_) => (PER_PAGE, f.before),
        None => (PER_COLUMN, None),
    };
    // The columns' reads are independent: run them together.
    let reads = statuses
        .iter()
        .map(|s| state.store.board_column(*s, &filter, before, per));
    let columns_tasks = futures::future::try_join_all(reads)
        .await
        .map_err(ConsoleError::backend)?;
    let member = who.person.role >= Role::Member;
    let shown: Vec<i64> = columns_tasks.iter().flatten().map(|t| t.id).collect();
    let edges = state
        .store
        .board_edges(&shown)
        .await
        .map_err(ConsoleError::backend)?;
    let base_query = query_string(&project.clone().unwrap_or_default(), &assignee_text);
    let columns = statuses
        .iter()
        .zip(columns_tasks)
        .map(|(s, tasks)| {
            let total = counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n);
            // More below the last card shown: its ID pages on.
            let more = match tasks.last() {
                Some(last) if tasks.len() as i64 == per => format!(
                    "/console/tasks?status={}&before={}{base_query}",
                    s.as_str(),
                    last.id
                ),
                _ => String::new(),
            };
            TaskColumn {
                status: s.as_str().to_string(),
                total,
                more,
                tasks: tasks.iter().map(|t| card(t, member, &edges)).collect(),
            }
        })
        .collect();
    let view = TasksView {
        columns,
        project: project.unwrap_or_default(),
        assignee: assignee_text,
        projects: state
            .console
            .projects
            .iter()
            .map(|(p, _)| p.clone())
            .collect(),
        can_create: member,
        notice: f.notice.unwrap_or_default(),
        single: only.is_some(),
        board: format!("/console/tasks?{}", base_query.trim_start_matches('&')),
    };
    let chrome = chrome(&state, &who, "Tasks", "tasks").await?;
    render(&state, Page::Tasks, &chrome, &view)
}

/// The filters as "&project=…&assignee=…" (only those set), for links.
fn query_string(project: &str, assignee: &str) -> String {
    let set: Vec<(&str, &str)> = [("project", project), ("assignee", assignee)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    match serde_urlencoded::to_string(set) {
        Ok(q) if !q.is_empty() => format!("&{q}"),
        _ => String::new(),
    }
}

#[derive(Deserialize)]
pub struct CreateIn {
    csrf: Option<String>,
    title: Option<String>,
    project: Option<String>,
    assignee: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    who: Signed,
    Form(form): Form<CreateIn>,
) -> Result<Response, ConsoleError> {
    who.check_csrf(form.csrf.as_deref())?;
    let actor = Actor::person(who.person.clone(), "web");
    let draft = TaskDraft {
        title: form.title.unwrap_or_default(),
        priority: Priority::default(),
        project: form.project.filter(|p| !p.trim().is_empty()),
        assignee: None,
        due: None,
        capabilities: Vec::new(),
    };
    let task = commands::create_task(&state.backend, &actor, draft)
        .await
        .map_err(ConsoleError::service)?;
    let to = form.assignee.unwrap_or_default().trim().to_string();
    if !to.is_empty() {
        let to = if to == "auto" {
            AssignTo::Auto
        } else {
            AssignTo::Assignee(resolve(&state, &who, &to).await?)
        };
        commands::assign_task(&state.backend, &actor, task.id, to)
            .await
            .map_err(ConsoleError::service)?;
    }
    Ok(Redirect::to(&format!(
        "/console/tasks?notice=Created+task+%23{}",
        task.id
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct MoveIn {
    csrf: Option<String>,
    verb: Option<String>,
}

pub async fn move_to(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<i64>,
    Form(form): Form<MoveIn>,
) -> Result<Response, ConsoleError> {
    who.check_csrf(form.csrf.as_deref())?;
    let target = match form.verb.as_deref() {
        Some("start") => MoveTarget::To(TaskStatus::InProgress),
        Some("review") => MoveTarget::To(TaskStatus::Review),
        Some("done") => MoveTarget::To(TaskStatus::Completed),
        Some("block") => MoveTarget::To(TaskStatus::Blocked),
        Some("unblock") => MoveTarget::Unblock,
        other => {
            return Err(ConsoleError::BadRequest(format!(
                "verb = {other:?}: expected start, review, done, block or unblock"
            )));
        }
    };
    let actor = Actor::person(who.person.clone(), "web");
    let r = commands::move_task(&state.backend, &actor, id, target, None)
        .await
        .map_err(ConsoleError::service)?;
    Ok(Redirect::to(&format!(
        "/console/tasks?notice=Task+%23{}+is+now+{}",
        r.task.id,
        r.task.status.as_str()
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct DepIn {
    csrf: Option<String>,
    needs: Option<String>,
}

/// POST /console/tasks/{id}/deps: "task {id} needs task {needs}", as
/// `task dep {id} needs {needs}` in chat (self-dependencies, duplicates and
/// cycles refused with the command's message; audit source `web`).
pub async fn add_dep(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<i64>,
    Form(form): Form<DepIn>,
) -> Result<Response, ConsoleError> {
    who.check_csrf(form.csrf.as_deref())?;
    let needs = needs_id(form.needs.as_deref())?;
    let actor = Actor::person(who.person.clone(), "web");
    let r = commands::add_dependency(&state.backend, &actor, id, needs)
        .await
        .map_err(ConsoleError::service)?;
    Ok(Redirect::to(&format!(
        "/console/tasks?notice=Task+%23{}+now+needs+%23{}",
        r.task.id, r.needs.id
    ))
    .into_response())
}

/// POST /console/tasks/{id}/deps/remove: the dependency goes (audited);
/// a task waiting on nothing else becomes ready (the command's rule).
pub async fn remove_dep(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<i64>,
    Form(form): Form<DepIn>,
) -> Result<Response, ConsoleError> {
    who.check_csrf(form.csrf.as_deref())?;
    let needs = needs_id(form.needs.as_deref())?;
    let actor = Actor::person(who.person.clone(), "web");
    let r = commands::remove_dependency(&state.backend, &actor, id, needs)
        .await
        .map_err(ConsoleError::service)?;
    let promoted = if r.promoted.is_some() {
        "+and+is+now+ready"
    } else {
        ""
    };
    Ok(Redirect::to(&format!(
        "/console/tasks?notice=Task+%23{id}+no+longer+needs+%23{needs}{promoted}"
    ))
    .into_response())
}

/// A task ID as typed: "42" or "#42".
fn needs_id(v: Option<&str>) -> Result<i64, ConsoleError> {
    let v = v.unwrap_or_default().trim();
    v.trim_start_matches('#').parse().map_err(|_| {
        ConsoleError::BadRequest(format!("needs = {v:?}: expected a task number such as 42"))
    })
}

async fn resolve(state: &AppState, who: &Signed, name: &str) -> Result<Assignee, ConsoleError> {
    let who_ref = if name == "me" {
        WhoRef::Me
    } else {
        WhoRef::Name(name.trim_start_matches('@').to_string())
    };
    commands::who::resolve(&state.backend, ChannelKind::Web, &who.person, &who_ref)
        .await
        .map_err(ConsoleError::service)
}

/// A task's card: the lifecycle verbs it allows and its dependencies
/// (editable by members and up).
fn card(t: &Task, member: bool, edges: &[BoardEdge]) -> TaskCard {
    let moves = if member && t.status == TaskStatus::Blocked {
        vec!["unblock".to_string()]
    } else if member && t.status != TaskStatus::Completed {
        commands::lifecycle::allowed_moves(t)
            .into_iter()
            .filter_map(|s| match s {
                TaskStatus::InProgress => Some("start"),
                TaskStatus::Review => Some("review"),
                TaskStatus::Completed => Some("done"),
                TaskStatus::Blocked => Some("block"),
                _ => None,
            })
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    };
    TaskCard {
        id: t.id,
        title: t.title.clone(),
        priority: format!("{:?}", t.priority).to_lowercase(),
        assignee: t.assignee.as_ref().map(Assignee::to_db).unwrap_or_default(),
        project: t.project.clone().unwrap_or_default(),
        due: t.due.map(|d| d.to_string()).unwrap_or_default(),
        moves,
        needs: edges
            .iter()
            .filter(|e| e.task == t.id)
            .map(|e| TaskRef {
                id: e.needs,
                done: e.needs_status == TaskStatus::Completed,
            })
            .collect(),
        blocks: edges
            .iter()
            .filter(|e| e.needs == t.id)
            .map(|e| e.task)
            .collect(),
        can_edit_deps: member && t.status != TaskStatus::Completed,
    }
}
