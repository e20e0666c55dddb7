//! Slack wired into the hub: the outbound adapter for the dispatcher, and
//! the inbound side — HTTP endpoints for slash commands and button presses
//! (`mode = "http"`), or a Socket Mode listener (`mode = "socket"`). Both
//! paths answer through [`Slack::answer`]: run once per request key (Slack
//! retries), within `ack_deadline_ms` in the response, else acknowledged at
//! once and finished through `response_url` (queued in the outbox).

use super::{Hub, Platforms};
use adapters::inbox::{Claim, Inbox};
use adapters::slack::inbound::{self, InboundError, SlackRequest};
use adapters::slack::response::ResponseTarget;
use adapters::slack::socket::{self, SocketRequest};
use adapters::slack::{SlackAdapter, SlackConfig, SlackMode, TokenCheck, render};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use commands::Reply;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Slack's requests are small forms; anything bigger is not from Slack.
const BODY_LIMIT: usize = 256 * 1024;

pub async fn start(
    config: &SlackConfig,
    hub: &Hub,
    stop: watch::Receiver<bool>,
    platforms: &mut Platforms,
) -> anyhow::Result<()> {
    if !config.enabled {
        return Ok(());
    }
    let adapter = Arc::new(SlackAdapter::new(config)?);
    if let Some(slots) = hub.slots.clone() {
        adapter.share_pace(slots);
    }
    platforms.adapters.push(adapter.clone());
    // Asked while the HTTP API already listens (see `Platforms::checks`):
    // a token Slack refuses fails the start, naming its key; an outage only
    // warns (sends retry through the outbox, Socket Mode keeps reconnecting).
    let (checker, check_config) = (adapter.clone(), config.clone());
    platforms.checks.push(Box::pin(async move {
        match checker.check_tokens(&check_config).await {
            Ok(()) => Ok(()),
            Err(e @ TokenCheck::Refused { .. }) => Err(anyhow::Error::new(e).context("slack")),
            Err(e) => {
                tracing::warn!(error = %e, "slack: starting anyway");
                Ok(())
            }
        }
    }));
    let slack = Arc::new(Slack {
        inbox: hub.inbox.clone(),
        adapter,
        config: config.clone(),
    });
    match config.mode {
        SlackMode::Http => {
            let routes = Router::new()
                .route(&config.commands_path, post(command))
                .route(&config.interactions_path, post(interaction))
                .layer(DefaultBodyLimit::max(BODY_LIMIT))
                .with_state(slack);
            platforms.routes = std::mem::take(&mut platforms.routes).merge(routes);
            tracing::info!(commands = %config.commands_path, interactions = %config.interactions_path, "slack: HTTP endpoints ready");
        }
        SlackMode::Socket => {
            let (tx, rx) = mpsc::channel(64);
            let listener_config = config.clone();
            let listener_stop = stop.clone();
            platforms.tasks.push(tokio::spawn(async move {
                if let Err(e) = socket::listen(&listener_config, tx, listener_stop).await {
                    tracing::error!(error = %e, "slack: Socket Mode stopped");
                }
            }));
            platforms
                .tasks
                .push(tokio::spawn(serve_socket(slack, rx, stop)));
            tracing::info!("slack: Socket Mode listener started");
        }
    }
    Ok(())
}

/// The inbound side's shared parts.
pub struct Slack {
    inbox: Arc<dyn Inbox>,
    adapter: Arc<SlackAdapter>,
    config: SlackConfig,
}

async fn command(State(slack): State<Arc<Slack>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = slack
        .verify(&headers, &body)
        .and_then(|_| inbound::parse_command(&body, &slack.config.command));
    match parsed {
        Ok(Some(request)) => respond(slack.answer(request).await),
        Ok(None) => StatusCode::OK.into_response(),
        Err(e) => refuse(e),
    }
}

async fn interaction(State(slack): State<Arc<Slack>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = slack
        .verify(&headers, &body)
        .and_then(|_| inbound::parse_interaction(&body));
    match parsed {
        Ok(Some(request)) => respond(slack.answer(request).await),
        Ok(None) => StatusCode::OK.into_response(),
        Err(e) => refuse(e),
    }
}

fn respond(body: Option<Value>) -> Response {
    match body {
        Some(v) => axum::Json(v).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

fn refuse(e: InboundError) -> Response {
    let status = match e {
        InboundError::NotUtf8 | InboundError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    tracing::warn!(error = %e, status = status.as_u16(), "slack: request refused");
    (status, e.to_string()).into_response()
}

/// Socket Mode requests, answered like HTTP ones, until the hub stops.
async fn serve_socket(
    slack: Arc<Slack>,
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

impl Slack {
    /// Nothing is read from a request before its signature and age pass.
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), InboundError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        inbound::verify(
            &self.config.signing_secret,
            header(inbound::SIGNATURE_HEADER),
            header(inbound::TIMESTAMP_HEADER),
            body,
        )?;
        if let Some(n) = header(inbound::RETRY_HEADER) {
            tracing::info!(retry = n, "slack: a retried request arrived");
        }
        Ok(())
    }

    /// Run a request (once per key) and say what the immediate answer is:
    /// the reply when it finished within the deadline, else an
    /// acknowledgement — the work goes on and its reply is posted to
    /// `response_url`. `None`: answer with an empty 200.
    pub async fn answer(self: &Arc<Self>, request: SlackRequest) -> Option<Value> {
        let (tx, rx) = oneshot::channel();
        let is_interaction = request.is_interaction;
        let me = self.clone();
        // Spawned, so the work carries on when the deadline passes.
        tokio::spawn(async move { me.run(request, tx).await });
        let deadline = Duration::from_millis(self.config.ack_deadline_ms);
        match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(answer)) => answer,
            _ if is_interaction => None,
            _ => Some(render::ack_body("Working on it…")),
        }
    }

    async fn run(&self, request: SlackRequest, immediate: oneshot::Sender<Option<Value>>) {
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
                Reply::error(
                    "The hub cannot reach its database right now; nothing was done. Try again shortly.",
                )
            }
        };
        let body = render::reply_body(&reply, None);
        if let Err(e) = self
            .inbox
            .save_reply(routing::ChannelKind::Slack, &request.key, &body.to_string())
            .await
        {
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

    /// A reply that comes after the acknowledgement goes to the request's
    /// `response_url` through the outbox (see `adapters::slack::response`):
    /// queued in the channel's order, paced with it, retried on a 429 or
    /// an outage, and recorded.
    async fn post_late(&self, request: &SlackRequest, reply: &Reply, replace: Option<bool>) {
        let Some(url) = &request.response_url else {
            tracing::warn!(key = %request.key, "slack: a reply had no response_url to go to");
            return;
        };
        let target =
            ResponseTarget::for_reply(url, reply, replace, request.thread_ts.as_deref()).encode();
        if let Err(e) = adapters::inbox::send_later_or_now(
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
