//! GET /api/v1/events: the live web feed over Server-Sent Events, for keys
//! with the `events:read` scope; `?recipient=alice` narrows it to one person
//! or channel.
//!
//! Resuming: every event's SSE `id` is `<ms>.<m|e>.<feed id>` — when it was
//! streamed (or recorded), whether it is a message or an edit, and its feed
//! ID. A client that reconnects with `Last-Event-ID` (EventSource does so by
//! itself) first gets the events recorded since then, oldest first, then
//! the live feed. Events are recorded when they are sent, which can differ
//! from when they were streamed by a commit's or a dispatch round's length,
//! so the replay starts [`REPLAY_SLACK_MS`] before the last event: an event
//! from that last second may come again (same `id` in the data), none is
//! skipped. At most [`REPLAY_LIMIT`] events are replayed; past that the
//! client is told `lagged`, as a slow live viewer is.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiQuery;
use crate::dispatch::message::stored_message;
use crate::store::RecordedFeedEvent;
use adapters::web::FeedEvent;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use std::collections::HashSet;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// How far before the last event seen the replay starts (see the module).
pub const REPLAY_SLACK_MS: i64 = 1_000;
/// Most events replayed to one reconnecting viewer.
pub const REPLAY_LIMIT: usize = 10_000;
const PAGE: i64 = 1_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    pub recipient: Option<String>,
}

/// Where a viewer left off: its `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    at_ms: i64,
    edited: bool,
    feed_id: String,
}

impl Cursor {
    fn parse(raw: &str) -> Option<Cursor> {
        let (at, rest) = raw.trim().split_once('.')?;
        let (kind, feed_id) = rest.split_once('.')?;
        let edited = match kind {
            "m" => false,
            "e" => true,
            _ => return None,
        };
        Some(Cursor {
            at_ms: at.parse().ok()?,
            edited,
            feed_id: feed_id.to_string(),
        })
        .filter(|c| !c.feed_id.is_empty())
    }
}

/// The SSE id of an event streamed or recorded at `at_ms`.
fn sse_id(at_ms: i64, ev: &FeedEvent) -> String {
    format!("{at_ms}.{}.{}", if ev.edited { "e" } else { "m" }, ev.id)
}

fn sse_event(at_ms: i64, ev: &FeedEvent) -> Event {
    let data = serde_json::to_string(ev).unwrap_or_default();
    Event::default()
        .event(if ev.edited { "edit" } else { "message" })
        .id(sse_id(at_ms, ev))
        .data(data)
}

#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(
        Filter,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (`<ms>.<m|e>.<feed id>`)")
    ),
    responses(
        (status = 200, description = "Server-Sent Events: `message` and `edit` events whose data is a FeedEvent; `question.answered` (data: the Question) for the caller's own questions; `lagged` when events were missed; keep-alive comments", content_type = "text/event-stream", body = String),
        (status = 400, description = "Malformed JSON, or a bad Idempotency-Key header", body = super::openapi::ErrorBody),
        super::openapi::KeyRefusals,
    ),
    security(("api_key" = ["events:read"]))
)]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(filter): ApiQuery<Filter>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    caller.require("events:read")?;
    feed(
        state,
        headers,
        filter.recipient,
        Some(caller.agent_id.clone()),
    )
    .await
}

/// The web console's live inbox: one person's feed, for a session (the
/// console checked it), with the same replay and resume rules.
pub async fn person_feed(
    state: AppState,
    headers: HeaderMap,
    person: String,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    feed(state, headers, Some(person), None).await
}

/// The feed after the caller was checked: replay after `Last-Event-ID`,
/// then live, for one recipient or all; with `asker`, also that agent's
/// questions as they are answered on this instance.
async fn feed(
    state: AppState,
    headers: HeaderMap,
    recipient: Option<String>,
    asker: Option<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    let filter = Filter { recipient };
    let cursor = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(Cursor::parse).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_header",
                "Last-Event-ID: expected an event id this feed sent (<ms>.<m|e>.<feed id>)",
            )
        })?),
    };
    // Subscribe before reading what was recorded, so nothing falls between.
    let rx = state.web.subscribe();
    let (replay, mut replayed) = match &cursor {
        Some(c) => replay(&state, c, filter.recipient.as_deref()).await?,
        None => (Vec::new(), HashSet::new()),
    };
    // End the stream when the hub stops, or graceful shutdown would wait on it forever.
    let mut stopping = state.stopping.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let live = BroadcastStream::new(rx).filter_map(move |item| match item {
        Ok(ev) => {
            if filter
                .recipient
                .as_ref()
                .is_some_and(|r| r != &ev.recipient)
            {
                return None;
            }
            // Published while the replay was read: already sent from there.
            if !replayed.is_empty() && replayed.remove(&(ev.id.clone(), ev.edited)) {
                return None;
            }
            Some(Ok(sse_event(crate::store::now_ms(), &ev)))
        }
        // A slow viewer missed events: say so, the database still has them.
        Err(BroadcastStreamRecvError::Lagged(n)) => {
            Some(Ok(Event::default().event("lagged").data(n.to_string())))
        }
    });
    // The caller's own questions, as they are answered on this instance.
    // Only an agent's feed carries its questions: a person's feed (the
    // console) does not subscribe to them at all.
    let answered = asker.map(|asker| {
        BroadcastStream::new(state.backend.question_bus().subscribe()).filter_map(move |item| {
            match item {
                Ok(q) if q.asked_by == asker => Some(Ok(question_answered(&q))),
                _ => None,
            }
        })
    });
    let live = live.merge(futures::StreamExt::flatten(futures::stream::iter(answered)));
    let events = tokio_stream::iter(replay.into_iter().map(Ok)).chain(live);
    Ok(Sse::new(futures::StreamExt::take_until(events, stopped))
        .keep_alive(KeepAlive::new().interval(state.sse_keep_alive)))
}

/// `question.answered`: the question with its answer (who, how, when), as
/// `GET /questions/{id}` shows it.
fn question_answered(q: &commands::Question) -> Event {
    Event::default()
        .event("question.answered")
        .data(serde_json::to_string(q).unwrap_or_default())
}

/// The recorded events after `cursor` (less the one it names), as SSE
/// events, and their (feed id, edited) keys to drop from the live feed.
async fn replay(
    state: &AppState,
    cursor: &Cursor,
    recipient: Option<&str>,
) -> Result<(Vec<Event>, HashSet<(String, bool)>), ApiError> {
    let since = cursor.at_ms.saturating_sub(REPLAY_SLACK_MS);
    let mut out = Vec::new();
    let mut keys = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = state
            .store
            .recorded_feed_events(since, after.as_deref(), recipient, PAGE)
            .await?;
        let full = page.len() as i64 == PAGE;
        for rec in page {
            after = Some(rec.delivery_id.clone());
            let sent_at = rec.sent_at;
            if rec.feed_id == cursor.feed_id && rec.edited == cursor.edited {
                continue;
            }
            if out.len() == REPLAY_LIMIT {
                out.push(
                    Event::default()
                        .event("lagged")
                        .data(format!("replay stopped after {REPLAY_LIMIT} events")),
                );
                return Ok((out, keys));
            }
            let ev = feed_event(rec);
            keys.insert((ev.id.clone(), ev.edited));
            out.push(sse_event(sent_at, &ev));
        }
        if !full {
            return Ok((out, keys));
        }
    }
}

/// A recorded event as the feed shows it (the same message the live event had).
fn feed_event(rec: RecordedFeedEvent) -> FeedEvent {
    let (mut message, _) = stored_message(rec.title, rec.body, &rec.fields_json);
    // The feed is plain text (see `adapters::web`): a brief's text is its
    // plain rendering, a digest's message its neutral one.
    message.document = None;
    FeedEvent {
        id: rec.feed_id,
        recipient: rec.recipient,
        edited: rec.edited,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn a_cursor_reads_back_what_the_feed_sent() {
        assert_eq!(
            Cursor::parse("1767225600000.e.w1a2b-7"),
            Some(Cursor {
                at_ms: 1_767_225_600_000,
                edited: true,
                feed_id: "w1a2b-7".into()
            })
        );
        let id = "d_0193a2b4c5d60000000112345678";
        assert_eq!(
            Cursor::parse(&format!("5.m.{id}")).map(|c| c.feed_id),
            Some(id.to_string())
        );
        for bad in ["", "abc", "12.x.id", "12.m.", "m.12.id", "1.2"] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }
}
