//! One notification's delivery story: every channel it went to, status,
//! attempts, last error, the platform's message ID. Its recipients and
//! admins may look; admins can send a dead delivery again.

use super::inbox::render;
use super::{ConsoleError, Signed, chrome, when};
use crate::api::AppState;
use adapters::web::console::Page;
use adapters::web::console::model::{DeliveryEntry, NotificationView};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use commands::Role;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Notice {
    retried: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> Result<Response, ConsoleError> {
    let admin = who.person.role >= Role::Admin;
    let not_found = || ConsoleError::NotFound(format!("There is no notification {id:?} for you."));
    let (n, deliveries) = state
        .store
        .notification(&id)
        .await
        .map_err(ConsoleError::store)?
        .ok_or_else(not_found)?;
    // Someone else's notification is "not found", not "forbidden": its
    // existence is not theirs to learn.
    if !admin
        && !state
            .store
            .routed_to(&id, &who.person.id)
            .await
            .map_err(ConsoleError::store)?
    {
        return Err(not_found());
    }
    let view = NotificationView {
        title: n.title.clone().unwrap_or_else(|| n.kind.clone()),
        id: n.id,
        urgency: n.urgency,
        kind: n.kind,
        source: n.source,
        body: n.body,
        at: when(n.created_at),
        deliveries: deliveries
            .into_iter()
            .map(|d| DeliveryEntry {
                can_retry: admin && d.status == "dead",
                id: d.id,
                channel: d.channel,
                address: d.address,
                op: d.op,
                status: d.status,
                attempts: d.attempts,
                last_error: d.last_error.unwrap_or_default(),
                platform_message_id: d.platform_message_id.unwrap_or_default(),
                sent_at: d.sent_at.map(when).unwrap_or_default(),
            })
            .collect(),
        notice: q
            .retried
            .map(|d| format!("Delivery {d} is queued again."))
            .unwrap_or_default(),
    };
    let chrome = chrome(&state, &who, "Notification", "inbox").await?;
    render(&state, Page::Notification, &chrome, &view)
}

#[derive(Deserialize)]
pub struct RetryIn {
    csrf: Option<String>,
    notification: Option<String>,
}

pub async fn retry(
    State(state): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(form): Form<RetryIn>,
) -> Result<Response, ConsoleError> {
    who.check_csrf(form.csrf.as_deref())?;
    if who.person.role < Role::Admin {
        return Err(ConsoleError::Forbidden(format!(
            "Retrying a delivery needs the admin role; you are {}.",
            who.person.role.with_article()
        )));
    }
    let actor = who.person.id.clone();
    if !state
        .store
        .retry_dead_delivery(&id, &actor)
        .await
        .map_err(ConsoleError::store)?
    {
        return Err(ConsoleError::Conflict(format!(
            "Delivery {id:?} is not dead (or does not exist): nothing to retry."
        )));
    }
    state.wake.notify_one();
    let back = match form
        .notification
        .filter(|n| n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        Some(n) => format!("/console/notifications/{n}?retried={id}"),
        None => "/console".to_string(),
    };
    Ok(Redirect::to(&back).into_response())
}
