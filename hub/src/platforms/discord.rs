//! Discord wired into the hub: the outbound adapter for the dispatcher, the
//! slash commands registered at start (from the one command spec), and the
//! Interactions Endpoint on the hub's HTTP server. Each interaction is
//! verified before anything is read, run once (by its ID), and answered
//! within `ack_deadline_ms`; past that Discord gets a deferred answer
//! ("thinking…") and the result is edited in through the interaction token
//! — queued in the outbox like every other message, as are a long reply's
//! later parts.

use super::{Hub, Platforms};
use adapters::InboundKind;
use adapters::discord::followup::{FollowUp, Parts};
use adapters::discord::inbound::{
    self, Act, InboundError, Interaction, SIGNATURE_HEADER, SignatureCheck, TIMESTAMP_HEADER,
};
use adapters::discord::{DiscordAdapter, DiscordConfig, render};
use adapters::inbox::{Claim, Inbox};
use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use commands::{Reply, RichMessage};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Interactions are small JSON documents; anything bigger is not Discord.
const BODY_LIMIT: usize = 256 * 1024;
/// Start Discord if it is enabled: a wrong setting fails the start at once.
/// The slash commands are registered while the HTTP API already listens
/// (see `Platforms::checks`): Discord refusing them (401 for a wrong token)
/// fails the start; an outage (network, 5xx, 429) does not, and the
/// registration is retried in the background until it is done.
pub async fn start(
    config: &DiscordConfig,
    hub: &Hub,
    stop: watch::Receiver<bool>,
    platforms: &mut Platforms,
) -> anyhow::Result<()> {
    if !config.enabled {
        return Ok(());
    }
    let adapter = Arc::new(DiscordAdapter::new(config).context("discord")?);
    if let Some(slots) = hub.slots.clone() {
        adapter.share_pace(slots);
    }
    let check = check_public_key(config)?;
    let (verdict_tx, verdict) = oneshot::channel();
    platforms
        .tasks
        .push(tokio::spawn(register(adapter.clone(), verdict_tx, stop)));
    platforms.checks.push(Box::pin(async move {
        match verdict.await {
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("discord")),
            Ok(Ok(())) | Err(_) => Ok(()),
        }
    }));
    platforms.adapters.push(adapter.clone());
    let discord = Arc::new(Discord {
        inbox: hub.inbox.clone(),
        adapter,
        check,
        deadline: Duration::from_millis(config.ack_deadline_ms),
    });
    let routes = Router::new()
        .route(&config.interactions_path, post(interaction))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(discord);
    platforms.routes = std::mem::take(&mut platforms.routes).merge(routes);
    tracing::info!(endpoint = %config.interactions_path, "discord adapter started");
    Ok(())
}

/// The interactions' signature key, checked (also by `orkhub check-config`).
pub(super) fn check_public_key(config: &DiscordConfig) -> anyhow::Result<SignatureCheck> {
    SignatureCheck::new(&config.public_key)
        .map_err(|e| anyhow::anyhow!("discord: adapters.discord.public_key: {e}"))
}

/// Longest pause between registration attempts.
const MAX_REGISTRATION_BACKOFF: Duration = Duration::from_secs(60);

/// Register the slash commands. The first outcome is the start-up check's
/// verdict (Ok also for an outage); after an outage, try again with a
/// growing pause until done, refused, or the hub stops.
async fn register(
    adapter: Arc<DiscordAdapter>,
    verdict: oneshot::Sender<Result<(), adapters::discord::DiscordError>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut verdict = Some(verdict);
    let mut wait = Duration::from_secs(1);
    let list = commands::discord_application_commands();
    loop {
        let attempt = tokio::select! {
            r = adapter.register_commands(&list) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match attempt {
            Ok(n) => {
                tracing::info!(commands = n, "discord: slash commands registered");
                if let Some(v) = verdict.take() {
                    let _ = v.send(Ok(()));
                }
                return;
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "discord: registering the slash commands failed; retrying in the background");
                if let Some(v) = verdict.take() {
                    let _ = v.send(Ok(()));
                }
            }
            Err(e) => {
                match verdict.take() {
                    Some(v) => {
                        let _ = v.send(Err(e));
                    }
                    None => {
                        tracing::error!(error = %e, "discord: Discord refused the slash commands; they stay unregistered until the hub restarts")
                    }
                }
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        wait = (wait * 2).min(MAX_REGISTRATION_BACKOFF);
    }
}

struct Discord {
    inbox: Arc<dyn Inbox>,
    adapter: Arc<DiscordAdapter>,
    check: SignatureCheck,
    deadline: Duration,
}

async fn interaction(
    State(discord): State<Arc<Discord>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = discord.check.verify(
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        &body,
        chrono::Utc::now().timestamp(),
    );
    match verified.and_then(|()| inbound::parse(&body)) {
        Ok(Interaction::Ping) => axum::Json(render::pong()).into_response(),
        Ok(Interaction::Unsupported(kind)) => {
            let reply = Reply::error(format!(
                "orkhub does not handle interactions of type {kind}."
            ));
            axum::Json(render::body(&render::reply_response(&reply).0)).into_response()
        }
        Ok(Interaction::Act(act)) => axum::Json(discord.answer(act).await).into_response(),
        Err(e) => refuse(e),
    }
}

fn refuse(e: InboundError) -> Response {
    // Discord sends requests with bad signatures on purpose, and expects 401.
    let status = match e {
        InboundError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    tracing::warn!(error = %e, status = status.as_u16(), "discord: interaction refused");
    (status, e.to_string()).into_response()
}

/// What an interaction's answer is made of.
struct Answer {
    /// The immediate response's JSON body.
    body: Value,
    /// The reply has parts after the body's, sent as follow-ups.
    more: bool,
    ephemeral: bool,
    /// For a deferred answer: how to finish it.
    finish: Finish,
}

enum Finish {
    Command(Reply),
    Press(RichMessage),
    /// A refused press: the pressed message stays; the reason goes to the
    /// presser alone.
    PressRefused(Reply),
}

impl Discord {
    /// Run the interaction (spawned, so it carries on past the deadline) and
    /// say what Discord gets now: the answer when it is ready in time, else
    /// a deferred one — the result is edited in when it is.
    async fn answer(self: &Arc<Self>, act: Act) -> Value {
        let (tx, rx) = oneshot::channel();
        let is_button = act.is_button;
        let me = self.clone();
        tokio::spawn(async move { me.run(act, tx).await });
        match tokio::time::timeout(self.deadline, rx).await {
            Ok(Ok(body)) => body,
            _ if is_button => render::body(&render::deferred_update()),
            _ => render::body(&render::deferred_command(false)),
        }
    }

    async fn run(&self, act: Act, immediate: oneshot::Sender<Value>) {
        let claim = self
            .inbox
            .claim(routing::ChannelKind::Discord, &act.id)
            .await;
        let answer = match claim {
            Ok(Claim::New) => self.act(&act).await,
            Ok(Claim::Seen { reply }) => {
                // A repeat: never run twice. The first run's answer if it is
                // kept, else "still working" (the first run finishes it).
                let again = reply
                    .and_then(|saved| serde_json::from_str(&saved).ok())
                    .unwrap_or_else(|| match act.is_button {
                        true => render::body(&render::deferred_update()),
                        false => render::body(&render::deferred_command(true)),
                    });
                let _ = immediate.send(again);
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, id = %act.id, "discord: cannot record the interaction; not running it");
                self.reply_answer(Reply::error(
                    "The hub cannot reach its database right now; nothing was done. Try again shortly.",
                ))
            }
        };
        if let Err(e) = self
            .inbox
            .save_reply(
                routing::ChannelKind::Discord,
                &act.id,
                &answer.body.to_string(),
            )
            .await
        {
            tracing::error!(error = %e, "discord: could not keep the answer for repeats");
        }
        // What follows the answer leaves through the outbox (paced with the
        // channel, retried, recorded), addressed with the interaction's
        // token: see `adapters::discord::followup`.
        let (parts, reply) = if immediate.send(answer.body).is_ok() {
            if !answer.more {
                return;
            }
            let reply = match answer.finish {
                Finish::Command(reply) | Finish::PressRefused(reply) => reply,
                Finish::Press(_) => return,
            };
            (Parts::Rest, reply)
        } else {
            // The deadline passed: Discord was told to wait; finish now.
            match answer.finish {
                Finish::Command(reply) => (Parts::Finish, reply),
                Finish::Press(message) => (Parts::Press, Reply::ok(message)),
                Finish::PressRefused(reply) => (Parts::FirstAsFollowUp, reply),
            }
        };
        let ephemeral = parts == Parts::FirstAsFollowUp || answer.ephemeral;
        let target = FollowUp::new(&act.token, parts, ephemeral).encode();
        if let Err(e) = adapters::inbox::send_later_or_now(
            self.inbox.as_ref(),
            self.adapter.as_ref(),
            &act.inbound.chat_id,
            target,
            &reply,
        )
        .await
        {
            tracing::error!(error = %e, id = %act.id, "discord: could not send what follows an interaction's answer");
        }
    }

    /// Run a command or a press through the shared command layer.
    async fn act(&self, act: &Act) -> Answer {
        let reply = self
            .inbox
            .handle(&act.inbound, None)
            .await
            .unwrap_or_else(|| Reply::error("That was not addressed to orkhub."));
        let InboundKind::Button { token } = &act.inbound.what else {
            return self.reply_answer(reply);
        };
        if reply.is_error {
            let mut answer = self.reply_answer(reply.clone());
            answer.finish = Finish::PressRefused(reply);
            return answer;
        }
        // The pressed message shows the outcome at once (type 7).
        match self.inbox.pressed_outcome(token).await {
            Some(message) => Answer {
                body: render::body(&render::update_response(&message)),
                more: false,
                ephemeral: false,
                finish: Finish::Press(message),
            },
            None => self.reply_answer(reply),
        }
    }

    fn reply_answer(&self, reply: Reply) -> Answer {
        let (response, rest) = render::reply_response(&reply);
        Answer {
            body: render::body(&response),
            more: !rest.is_empty(),
            ephemeral: render::is_ephemeral(&reply),
            finish: Finish::Command(reply),
        }
    }
}
