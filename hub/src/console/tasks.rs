//! The tasks board: columns by status, filters by project and assignee;
//! create, assign and move through the command layer (`commands::service`),
//! so the roles and lifecycle rules of chat apply (audit source `web`).

use super::inbox::render;
use super::{ConsoleError, Signed, chrome};
use crate::api::AppState;
use adapters::web::console::Page;
use adapters::web::console::model::{TaskCard, TaskColumn, TasksView};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use commands::spec::WhoRef;
use commands::{
    Actor, AssignTo, Assignee, MoveTarget, Priority, Role, Task, TaskDraft, TaskFilter, TaskStatus,
};
use routing::ChannelKind;
use serde::Deserialize;

/// Most tasks the board shows (lowest id first, as `task list`).
const SHOWN: u32 = 500;

#[derive(Deserialize, Default)]
pub struct Filters {
    project: Option<String>,
    assignee: Option<String>,
    notice: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    who: Signed,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let actor = Actor::person(who.person.clone(), "web");
    let project = f.project.filter(|p| !p.trim().is_empty());
    let assignee_text = f.assignee.unwrap_or_default().trim().to_string();
    let assignee = if assignee_text.is_empty() {
        None
    } else {
        Some(resolve(&state, &who, &assignee_text).await?)
    };
    let filter = TaskFilter {
        assignee,
        status: None,
        project: project.clone(),
        include_completed: true,
        limit: SHOWN,
    };
    let tasks = commands::list_tasks(&state.backend, &actor, &filter)
        .await
        .map_err(ConsoleError::service)?;
    let member = who.person.role >= Role::Member;
    let columns = TaskStatus::ALL
        .iter()
        .map(|s| TaskColumn {
            status: s.as_str().to_string(),
            tasks: tasks
                .iter()
                .filter(|t| t.status == *s)
                .map(|t| card(t, member))
                .collect(),
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
    };
    let chrome = chrome(&state, &who, "Tasks", "tasks").await?;
    render(&state, Page::Tasks, &chrome, &view)
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

/// A task's card: the lifecycle verbs it allows, for members and up.
fn card(t: &Task, member: bool) -> TaskCard {
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
    }
}
