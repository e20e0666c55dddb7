//! Decisions: pending first (approve or deny with a reason), then the
//! recently decided. A resolution goes through `commands::resolve_decision`
//! over the hub's backend — the path chat buttons and the API take — so
//! every chat copy is edited and the audit row says source `web`.
//! GET /console/decisions/{id}?action=approve is what an email's link
//! opens: a confirm page; only its POST decides. Agents' questions waiting
//! for the person are listed first (answered in `questions`).

use super::inbox::render;
use super::{ConsoleError, Signed, chrome, when};
use crate::api::AppState;
use adapters::web::console::Page;
use adapters::web::console::model::{DecisionConfirm, DecisionEntry, DecisionsView};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use commands::{Actor, Backend, Decision, DecisionOutcome, DecisionStatus, Person, Role};
use serde::Deserialize;
use std::collections::HashMap;

/// How many decided ones the page lists.
const RECENT: i64 = 20;
/// The longest reason accepted (the API's limit for notes).
const MAX_REASON: usize = 1000;

#[derive(Deserialize)]
pub struct Notice {
    resolved: Option<i64>,
    outcome: Option<String>,
    answered: Option<i64>,
}

pub async fn page(
    State(state): State<AppState>,
    who: Signed,
    Query(q): Query<Notice>,
) -> Result<Response, ConsoleError> {
    let pending = state
        .backend
        .pending_decisions()
        .await
        .map_err(ConsoleError::backend)?;
    let recent = state
        .store
        .recent_decisions(RECENT)
        .await
        .map_err(ConsoleError::backend)?;
    let mut rights = Rights::new(&state, &who.person);
    let mut view = DecisionsView {
        pending: Vec::with_capacity(pending.len()),
        recent: Vec::with_capacity(recent.len()),
        notice: match (q.resolved, q.outcome.as_deref(), q.answered) {
            (Some(id), Some("approve"), _) => format!("You approved decision #{id}."),
            (Some(id), Some("deny"), _) => format!("You denied decision #{id}."),
            (_, _, Some(id)) => format!("You answered question #{id}."),
            _ => String::new(),
        },
        questions: super::questions::waiting(&state, &who).await?,
    };
    for d in pending {
        let can = rights.may_decide(&d.kind).await?;
        view.pending.push(entry(&d, can));
    }
    for d in recent {
        view.recent.push(entry(&d, false));
    }
    let chrome = chrome(&state, &who, "Decisions", "decisions").await?;
    render(&state, Page::Decisions, &chrome, &view)
}

#[derive(Deserialize)]
pub struct ConfirmQuery {
    action: Option<String>,
}

pub async fn confirm(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<i64>,
    Query(q): Query<ConfirmQuery>,
) -> Result<Response, ConsoleError> {
    // No action (a decision email's "Review and decide" link): the page
    // offers both; an action names the one to confirm.
    let action = match q.action.as_deref() {
        None | Some("") => "",
        Some("approve") => "approve",
        Some("deny") => "deny",
        Some(other) => {
            return Err(ConsoleError::BadRequest(format!(
                "action={other:?}: expected approve or deny"
            )));
        }
    };
    let d = state
        .backend
        .decision(id)
        .await
        .map_err(ConsoleError::backend)?
        .ok_or_else(|| ConsoleError::NotFound(format!("There is no decision #{id}.")))?;
    let can = d.status == DecisionStatus::Pending
        && Rights::new(&state, &who.person).may_decide(&d.kind).await?;
    let chrome = chrome(&state, &who, "Confirm decision", "decisions").await?;
    let view = DecisionConfirm {
        decision: entry(&d, can),
        action: action.to_string(),
    };
    render(&state, Page::DecisionConfirm, &chrome, &view)
}

#[derive(Deserialize)]
pub struct ResolveIn {
    csrf: Option<String>,
    outcome: Option<String>,
    reason: Option<String>,
}

pub async fn resolve(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<i64>,
    Form(form): Form<ResolveIn>,
) -> Result<Response, ConsoleError> {
    who.check_csrf(form.csrf.as_deref())?;
    let outcome = match form.outcome.as_deref() {
        Some("approve") => DecisionOutcome::Approve,
        Some("deny") => DecisionOutcome::Deny,
        other => {
            return Err(ConsoleError::BadRequest(format!(
                "outcome = {other:?}: expected approve or deny"
            )));
        }
    };
    let reason = form
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON)
    {
        return Err(ConsoleError::BadRequest(format!(
            "A reason can have at most {MAX_REASON} characters."
        )));
    }
    if outcome == DecisionOutcome::Deny && reason.is_none() {
        // As the chat `deny` command: a denial says why.
        return Err(ConsoleError::BadRequest(
            "A denial needs a reason: write it in the Reason field.".into(),
        ));
    }
    let actor = Actor::person(who.person.clone(), "web");
    commands::resolve_decision(&state.backend, &actor, id, outcome, reason)
        .await
        .map_err(ConsoleError::service)?;
    // The resolution queued the edits of every delivered copy in its own
    // commit: have them sent now.
    state.wake.notify_one();
    let verb = match outcome {
        DecisionOutcome::Approve => "approve",
        DecisionOutcome::Deny => "deny",
    };
    Ok(Redirect::to(&format!("/console/decisions?resolved={id}&outcome={verb}")).into_response())
}

/// Whether the person may decide each kind (the chat rule: admin or owner,
/// or an approver of the kind), asking the store once per kind.
struct Rights<'a> {
    state: &'a AppState,
    person: &'a Person,
    kinds: HashMap<String, bool>,
}

impl<'a> Rights<'a> {
    fn new(state: &'a AppState, person: &'a Person) -> Self {
        Rights {
            state,
            person,
            kinds: HashMap::new(),
        }
    }

    async fn may_decide(&mut self, kind: &str) -> Result<bool, ConsoleError> {
        if self.person.role >= Role::Admin {
            return Ok(true);
        }
        if let Some(v) = self.kinds.get(kind) {
            return Ok(*v);
        }
        let v = self
            .state
            .backend
            .approvers(kind)
            .await
            .map_err(ConsoleError::backend)?
            .contains(&self.person.id);
        self.kinds.insert(kind.to_string(), v);
        Ok(v)
    }
}

fn entry(d: &Decision, can_decide: bool) -> DecisionEntry {
    let (title, rest) = d
        .context
        .split_once('\n')
        .unwrap_or((d.context.as_str(), ""));
    let mut body = rest.trim().to_string();
    if !d.options.is_empty() {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&format!("Options: {}", d.options.join(", ")));
    }
    DecisionEntry {
        id: d.id,
        kind: d.kind.clone(),
        title: title.to_string(),
        body,
        requested_by: d.requested_by.clone(),
        status: d.status.as_str().to_string(),
        decided_by: d.decided_by.clone().unwrap_or_default(),
        reasoning: d.reasoning.clone().unwrap_or_default(),
        at: when(d.decided_at.unwrap_or(d.created_at).timestamp_millis()),
        can_decide,
    }
}
