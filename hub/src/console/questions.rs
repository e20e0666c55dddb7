//! Agents' questions answered in the console (issue 22: "… or in the web
//! console"). The questions waiting for the signed-in person are listed on
//! the Decisions page; an answer goes through `commands::answer_question`
//! over the hub's backend — the path of the `answer` command, buttons and
//! replies — so the first answer wins, every chat copy is edited and the
//! agent gets it by long poll, SSE or callback, marked "via web".

use super::{ConsoleError, Signed, when};
use crate::api::AppState;
use adapters::web::console::model::QuestionEntry;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use commands::{Actor, AnswerVia, Question};
use serde::Deserialize;

/// Most questions the page lists.
const SHOWN: i64 = 50;
/// The longest answer accepted.
const MAX_ANSWER: usize = 4000;

/// The questions waiting for the signed-in person, oldest first.
pub(crate) async fn waiting(
    state: &AppState,
    who: &Signed,
) -> Result<Vec<QuestionEntry>, ConsoleError> {
    Ok(state
        .store
        .pending_questions_for(&who.person.id, SHOWN)
        .await
        .map_err(ConsoleError::backend)?
        .iter()
        .map(entry)
        .collect())
}

fn entry(q: &Question) -> QuestionEntry {
    QuestionEntry {
        id: q.id,
        text: q.text.clone(),
        asked_by: q.asked_by.clone(),
        context: q.context.clone().unwrap_or_default(),
        options: q.options.clone(),
        draft: q.draft.clone().unwrap_or_default(),
        task: q.task_id.map(|t| t.to_string()).unwrap_or_default(),
        at: when(q.created_at.timestamp_millis()),
    }
}

#[derive(Deserialize)]
pub struct AnswerIn {
    csrf: Option<String>,
    answer: Option<String>,
}

pub async fn answer(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<i64>,
    Form(form): Form<AnswerIn>,
) -> Result<Response, ConsoleError> {
    who.check_csrf(form.csrf.as_deref())?;
    let text = form.answer.unwrap_or_default();
    if text.chars().count() > MAX_ANSWER {
        return Err(ConsoleError::BadRequest(format!(
            "An answer can have at most {MAX_ANSWER} characters."
        )));
    }
    let actor = Actor::person(who.person.clone(), "web");
    commands::answer_question(&state.backend, &actor, id, &text, AnswerVia::Web)
        .await
        .map_err(ConsoleError::service)?;
    // The answer queued the edits of every chat copy in its own commit:
    // have them sent now.
    state.wake.notify_one();
    Ok(Redirect::to(&format!("/console/decisions?answered={id}")).into_response())
}
