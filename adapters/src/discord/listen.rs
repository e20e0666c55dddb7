//! Discord's inbound side: the Interactions Endpoint on the hub's HTTP
//! server. Each interaction is verified before anything is read, run once
//! (by its ID), and answered within `ack_deadline_ms`; past that Discord
//! gets a deferred answer ("thinking…") and the result is edited in through
//! the interaction token — queued in the outbox like every other message,
//! as are a long reply's later parts.

use super::followup::{FollowUp, Parts};
use super::inbound::{
    self, Act, InboundError, Interaction, SIGNATURE_HEADER, SignatureCheck, TIMESTAMP_HEADER,
};
use super::{DiscordAdapter, render};
use crate::InboundKind;
use crate::deadline::{self, Immediate};
use crate::inbox::{Claim, Inbox};
use crate::platform::{
    Webhook, WebhookRequest, WebhookResponse, header, json_response, text_response,
};
use async_trait::async_trait;
use http::StatusCode;
use neutral::{Reply, RichMessage};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Interactions are small JSON documents; anything bigger is not Discord.
pub(super) const BODY_LIMIT: usize = 256 * 1024;

pub(super) struct Listener {
    pub(super) inbox: Arc<dyn Inbox>,
    pub(super) adapter: Arc<DiscordAdapter>,
    pub(super) check: SignatureCheck,
    pub(super) deadline: Duration,
}

/// The Interactions Endpoint (`interactions_path`).
pub(super) struct Endpoint(pub(super) Arc<Listener>);

#[async_trait]
impl Webhook for Endpoint {
    /// Nothing is read before the signature passes.
    async fn call(&self, request: WebhookRequest) -> WebhookResponse {
        let discord = &self.0;
        let verified = discord.check.verify(
            header(&request, SIGNATURE_HEADER),
            header(&request, TIMESTAMP_HEADER),
            request.body(),
            chrono::Utc::now().timestamp(),
        );
        match verified.and_then(|()| inbound::parse(request.body())) {
            Ok(Interaction::Ping) => json_response(StatusCode::OK, &render::pong()),
            Ok(Interaction::Unsupported(kind)) => {
                let reply = Reply::error(format!(
                    "orkhub does not handle interactions of type {kind}."
                ));
                json_response(
                    StatusCode::OK,
                    &render::body(&render::reply_response(&reply, discord.adapter.templates()).0),
                )
            }
            Ok(Interaction::Act(act)) => json_response(StatusCode::OK, &discord.answer(act).await),
            Err(e) => refuse(e),
        }
    }
}

fn refuse(e: InboundError) -> WebhookResponse {
    // Discord sends requests with bad signatures on purpose, and expects 401.
    let status = match e {
        InboundError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    tracing::warn!(error = %e, status = status.as_u16(), "discord: interaction refused");
    text_response(status, e.to_string())
}

/// What an interaction's answer is made of.
struct Answer {
    /// The immediate response's JSON body.
    body: Value,
    /// The reply has parts after the body's, sent as follow-ups.
    more: bool,
    ephemeral: bool,
    /// It holds a credential: not kept for repeats.
    secret: bool,
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

impl Listener {
    /// Run the interaction (spawned, so it carries on past the deadline) and
    /// say what Discord gets now: the answer when it is ready in time, else
    /// a deferred one — the result is edited in when it is.
    async fn answer(self: &Arc<Self>, act: Act) -> Value {
        let is_button = act.is_button;
        let me = self.clone();
        deadline::answer_or_defer(
            self.deadline,
            |now| async move { me.run(act, now).await },
            || match is_button {
                true => render::body(&render::deferred_update()),
                false => render::body(&render::deferred_command(false)),
            },
        )
        .await
    }

    async fn run(&self, act: Act, immediate: Immediate<Value>) {
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
                self.reply_answer(Reply::error(deadline::DATABASE_UNAVAILABLE))
            }
        };
        // A credential is not kept for repeats: a repeat gets "thinking…".
        let saved = match answer.secret {
            true => Ok(()),
            false => {
                self.inbox
                    .save_reply(
                        routing::ChannelKind::Discord,
                        &act.id,
                        &answer.body.to_string(),
                    )
                    .await
            }
        };
        if let Err(e) = saved {
            tracing::error!(error = %e, "discord: could not keep the answer for repeats");
        }
        // What follows the answer leaves through the outbox (paced with the
        // channel, retried, recorded), addressed with the interaction's
        // token: see `super::followup`.
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
        if let Err(e) = crate::inbox::send_later_or_now(
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
                body: render::body(&render::update_response(&message, self.adapter.templates())),
                more: false,
                ephemeral: false,
                secret: false,
                finish: Finish::Press(message),
            },
            None => self.reply_answer(reply),
        }
    }

    fn reply_answer(&self, reply: Reply) -> Answer {
        let (response, rest) = render::reply_response(&reply, self.adapter.templates());
        Answer {
            body: render::body(&response),
            more: !rest.is_empty(),
            ephemeral: render::is_ephemeral(&reply),
            secret: reply.secret,
            finish: Finish::Command(reply),
        }
    }
}
