//! The inbox: everything routed to the person (any channel, `fyi`
//! included), newest first, unread since they last marked it read; new
//! items arrive live through /console/events.

use super::{ConsoleError, Signed, chrome, when};
use crate::api::AppState;
use crate::store::now_ms;
use adapters::web::console::Page;
use adapters::web::console::model::{InboxEntry, InboxView};
use axum::Form;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

/// How many items the page shows.
pub const SHOWN: i64 = 100;

pub async fn page(State(state): State<AppState>, who: Signed) -> Result<Response, ConsoleError> {
    let read_at = state
        .store
        .inbox_read_at(&who.person.id)
        .await
        .map_err(ConsoleError::store)?;
    let items = state
        .store
        .inbox(&who.person.id, SHOWN)
        .await
        .map_err(ConsoleError::store)?
        .into_iter()
        .map(|n| InboxEntry {
            unread: n.created_at > read_at,
            title: n.title.unwrap_or_else(|| n.kind.clone()),
            id: n.id,
            urgency: n.urgency,
            kind: n.kind,
            source: n.source,
            body: n.body,
            at: when(n.created_at),
            decision_id: n.decision_id,
        })
        .collect();
    let chrome = chrome(&state, &who, "Inbox", "inbox").await?;
    let view = InboxView {
        items,
        read_at: if read_at > 0 {
            when(read_at)
        } else {
            String::new()
        },
    };
    render(&state, Page::Inbox, &chrome, &view)
}

#[derive(Deserialize)]
pub struct CsrfIn {
    csrf: Option<String>,
}

pub async fn mark_read(
    State(state): State<AppState>,
    who: Signed,
    Form(form): Form<CsrfIn>,
) -> Result<Response, ConsoleError> {
    who.check_csrf(form.csrf.as_deref())?;
    state
        .store
        .mark_inbox_read(&who.person.id, now_ms())
        .await
        .map_err(ConsoleError::store)?;
    Ok(Redirect::to("/console").into_response())
}

/// A page as HTML, or the error page if its template fails.
pub(crate) fn render<C: serde::Serialize>(
    state: &AppState,
    page: Page,
    chrome: &adapters::web::console::model::Chrome,
    view: &C,
) -> Result<Response, ConsoleError> {
    state
        .console
        .render
        .render(page, chrome, view)
        .map(|html| Html(html).into_response())
        .map_err(|e| {
            tracing::error!(error = %e, page = ?page, "console: page does not render");
            ConsoleError::Internal
        })
}
