//! GET /api/v1/events: the live web feed over Server-Sent Events, for keys
//! with the `events:read` scope; `?recipient=alice` narrows it to one person
//! or channel.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

#[derive(Debug, Deserialize)]
pub struct Filter {
    pub recipient: Option<String>,
}

pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<Filter>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    caller.require("events:read")?;
    let rx = state.web.subscribe();
    // End the stream when the hub stops, or graceful shutdown would wait on it forever.
    let mut stopping = state.stopping.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let events = BroadcastStream::new(rx).filter_map(move |item| match item {
        Ok(ev) => {
            if filter
                .recipient
                .as_ref()
                .is_some_and(|r| r != &ev.recipient)
            {
                return None;
            }
            let data = serde_json::to_string(&ev).unwrap_or_default();
            let name = if ev.edited { "edit" } else { "message" };
            Some(Ok(Event::default()
                .event(name)
                .id(ev.id.clone())
                .data(data)))
        }
        // A slow viewer missed events: say so, the database still has them.
        Err(BroadcastStreamRecvError::Lagged(n)) => {
            Some(Ok(Event::default().event("lagged").data(n.to_string())))
        }
    });
    Ok(Sse::new(futures::StreamExt::take_until(events, stopped)).keep_alive(KeepAlive::default()))
}
