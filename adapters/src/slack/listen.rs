//! Slack's inbound side: slash commands, button presses and thread replies
//! (Events API `message` events) from the HTTP endpoints (`mode = "http"`)
//! or the Socket Mode listener. All are answered by [`Listener::answer`]:
//! run once per request key (Slack retries), within `ack_deadline_ms` in
//! the response, else acknowledged at once and finished through
//! `response_url` (queued in the outbox); an event is acknowledged at once
//! and its answer posted in the thread.

use super::inbound::{self, EventRequest, InboundError, SlackRequest};
use super::response::ResponseTarget;
use super::socket::SocketRequest;
use super::{SlackAdapter, SlackConfig, render};
use crate::deadline::{self, Immediate};
use crate::inbox::{Claim, Inbox};
use crate::platform::{
    Webhook, WebhookRequest, WebhookResponse, empty_response, header, json_response, text_response,
};
use async_trait::async_trait;
use http::StatusCode;
use neutral::Reply;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Slack's requests are small forms; anything bigger is not from Slack.
pub(super) const BODY_LIMIT: usize = 256 * 1024;

/// The inbound side's shared parts.
pub(super) struct Listener {
    pub(super) inbox: Arc<dyn Inbox>,
    pub(super) adapter: Arc<SlackAdapter>,
    pub(super) config: SlackConfig,
}

/// Which of Slack's endpoints: slash commands (`commands_path`),
/// interactivity (`interactions_path`, button presses) or the Events API
/// (`events_path`, thread replies). They differ only in how the verified
/// body is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EndpointKind {
    Commands,
    Interactions,
    Events,
}

pub(super) struct Endpoint {
    pub(super) listener: Arc<Listener>,
    pub(super) kind: EndpointKind,
}

#[async_trait]
impl Webhook for Endpoint {
    async fn call(&self, request: WebhookRequest) -> WebhookResponse {
        let slack = &self.listener;
        if let Err(e) = slack.verify(&request) {
            return refuse(e);
        }
        let parsed = match self.kind {
            EndpointKind::Interactions => inbound::parse_interaction(request.body()),
            EndpointKind::Commands => inbound::parse_command(request.body(), &slack.config.command),
            EndpointKind::Events => match inbound::parse_event(request.body()) {
                Ok(EventRequest::Challenge(c)) => {
                    return json_response(StatusCode::OK, &serde_json::json!({"challenge": c}));
                }
                Ok(EventRequest::Request(r)) => Ok(Some(r)),
                Ok(EventRequest::Ignored) => Ok(None),
                Err(e) => Err(e),
            },
        };
        match parsed {
            Ok(Some(request)) => respond(slack.answer(request).await),
            Ok(None) => empty_response(StatusCode::OK),
            Err(e) => refuse(e),
        }
    }
}

fn respond(body: Option<Value>) -> WebhookResponse {
    match body {
        Some(v) => json_response(StatusCode::OK, &v),
        None => empty_response(StatusCode::OK),
    }
}

fn refuse(e: InboundError) -> WebhookResponse {
    let status = match e {
        InboundError::NotUtf8 | InboundError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    tracing::warn!(error = %e, status = status.as_u16(), "slack: request refused");
    text_response(status, e.to_string())
}

/// Socket Mode requests, answered like HTTP ones, until the hub stops.
pub(super) async fn serve_socket(
    slack: Arc<Listener>,
    mut requests: mpsc::Receiver<SocketRequest>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let next = tokio::select! {
            r = requests.recv() => r,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(SocketRequest { request, answer }) = next else {
            break;
        };
        let slack = slack.clone();
        tokio::spawn(async move {
            let _ = answer.send(slack.answer(request).await);
        });
    }
}

impl Listener {
    /// Nothing is read from a request before its signature and age pass.
    fn verify(&self, request: &WebhookRequest) -> Result<(), InboundError> {
        inbound::verify(
            &self.config.signing_secret,
            header(request, inbound::SIGNATURE_HEADER),
            header(request, inbound::TIMESTAMP_HEADER),
            request.body(),
        )?;
        if let Some(n) = header(request, inbound::RETRY_HEADER) {
            tracing::info!(retry = n, "slack: a retried request arrived");
        }
        Ok(())
    }

    /// Run a request (once per key) and say what the immediate answer is:
    /// the reply when it finished within the deadline, else an
    /// acknowledgement — the work goes on and its reply is posted to
    /// `response_url`. `None`: answer with an empty 200.
    pub(super) async fn answer(self: &Arc<Self>, request: SlackRequest) -> Option<Value> {
        if request.is_event {
            // Slack wants events acknowledged at once (and retries after
            // 3 s); the answer goes into the thread as a message.
            let me = self.clone();
            tokio::spawn(async move { me.run_event(request).await });
            return None;
        }
        let is_interaction = request.is_interaction;
        let me = self.clone();
        deadline::answer_or_defer(
            Duration::from_millis(self.config.ack_deadline_ms),
            |now| async move { me.run(request, now).await },
            || (!is_interaction).then(|| render::ack_body("Working on it…")),
        )
        .await
    }

    async fn run(&self, request: SlackRequest, immediate: Immediate<Option<Value>>) {
        let claim = self
            .inbox
            .claim(routing::ChannelKind::Slack, &request.key)
            .await;
        let reply = match claim {
            Ok(Claim::New) => match self.inbox.handle(&request.inbound, None).await {
                Some(reply) => reply,
                None => {
                    let _ = immediate.send(None);
                    return;
                }
            },
            Ok(Claim::Seen { reply }) => {
                // A retry: never run twice. Commands get the first run's
                // reply when it is there; button presses were answered
                // through response_url by the first run.
                let answer = match (request.is_interaction, reply) {
                    (true, _) => None,
                    (false, Some(saved)) => serde_json::from_str(&saved).ok(),
                    (false, None) => Some(render::ack_body("Still working on it…")),
                };
                let _ = immediate.send(answer);
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, key = %request.key, "slack: cannot record the request; not running it");
                Reply::error(deadline::DATABASE_UNAVAILABLE)
            }
        };
        let body = render::reply_body(&reply, None, self.adapter.templates());
        // A credential is not kept for retries: a retry gets "still working".
        let saved = match reply.secret {
            true => Ok(()),
            false => {
                self.inbox
                    .save_reply(routing::ChannelKind::Slack, &request.key, &body.to_string())
                    .await
            }
        };
        if let Err(e) = saved {
            tracing::error!(error = %e, "slack: could not keep the reply for retries");
        }
        if request.is_interaction {
            let _ = immediate.send(None);
            self.post_late(&request, &reply, Some(false)).await;
        } else if immediate.send(Some(body)).is_err() {
            // The deadline passed and Slack got an acknowledgement.
            self.post_late(&request, &reply, None).await;
        }
    }

    /// An event (a thread reply): run once per event, its reply posted in
    /// the thread through the outbox. A reply to a message that asked
    /// nothing gets no answer at all.
    async fn run_event(&self, request: SlackRequest) {
        let claim = self
            .inbox
            .claim(routing::ChannelKind::Slack, &request.key)
            .await;
        let reply = match claim {
            Ok(Claim::New) => match self.inbox.handle(&request.inbound, None).await {
                Some(reply) => reply,
                None => return,
            },
            // Slack's retry of an event already run.
            Ok(Claim::Seen { .. }) => return,
            Err(e) => {
                tracing::error!(error = %e, key = %request.key, "slack: cannot record the event; not running it");
                Reply::error(deadline::DATABASE_UNAVAILABLE)
            }
        };
        let Some(thread) = request.inbound.message_id.clone() else {
            return;
        };
        if let Err(e) = crate::inbox::send_later_or_now(
            self.inbox.as_ref(),
            self.adapter.as_ref(),
            &request.inbound.chat_id,
            thread,
            &reply,
        )
        .await
        {
            tracing::error!(error = %e, key = %request.key, "slack: could not post the answer to a thread reply");
        }
    }

    /// A reply that comes after the acknowledgement goes to the request's
    /// `response_url` through the outbox (see `super::response`): queued in
    /// the channel's order, paced with it, retried on a 429 or an outage,
    /// and recorded.
    async fn post_late(&self, request: &SlackRequest, reply: &Reply, replace: Option<bool>) {
        let Some(url) = &request.response_url else {
            tracing::warn!(key = %request.key, "slack: a reply had no response_url to go to");
            return;
        };
        let target =
            ResponseTarget::for_reply(url, reply, replace, request.thread_ts.as_deref()).encode();
        if let Err(e) = crate::inbox::send_later_or_now(
            self.inbox.as_ref(),
            self.adapter.as_ref(),
            &request.inbound.chat_id,
            target,
            reply,
        )
        .await
        {
            tracing::error!(error = %e, key = %request.key, "slack: could not post the reply to response_url");
        }
    }
}
