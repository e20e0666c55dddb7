//! What people do in chat, after their platform's adapter has verified and
//! parsed it: run the command (or button press) through the one command
//! layer, then carry out its follow-ups. A new decision's requests to its
//! approvers, and a resolved one's edits of every delivered copy, were
//! written by the store in the decision's own transaction; what is left is
//! to have the dispatcher send them now. Returns the reply for the adapter
//! to render natively (None: not addressed to us).

use crate::inbox::HubInbox;
use crate::store::AuditRow;
use adapters::{Inbound, InboundKind};
use commands::{ButtonAction, Context, Event, Outcome, Reply, RichMessage};

pub async fn handle(
    hub: &HubInbox,
    inbound: &Inbound,
    bot_username: Option<&str>,
) -> Option<Reply> {
    let ctx = Context {
        platform: inbound.platform,
        user_id: inbound.user_id.clone(),
        chat_id: inbound.chat_id.clone(),
        bot_username: bot_username.map(str::to_string),
    };
    let outcome = match &inbound.what {
        InboundKind::Button { token } => commands::press(&hub.backend, &ctx, token).await,
        InboundKind::Reply { to, text } => {
            let question = match hub
                .store
                .question_for_message(ctx.platform.as_str(), to)
                .await
            {
                Ok(q) => q?,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look up the message a reply answers");
                    return None;
                }
            };
            commands::answer_by_reply(&hub.backend, &ctx, question, text).await
        }
        what => {
            let text = command_line(what).unwrap_or_default();
            commands::execute(&hub.backend, &ctx, &text).await
        }
    };
    match outcome {
        Outcome::Done { reply, events } => {
            for event in events {
                follow_up(hub, event);
            }
            Some(reply)
        }
        Outcome::Rejected { reply, error } => {
            if error.is_forbidden() {
                audit_refusal(hub, inbound, "command.refused", &error.to_string()).await;
            }
            Some(reply)
        }
        Outcome::UnknownUser { reply, .. } => {
            audit_refusal(hub, inbound, "command.unknown_user", "not a known person").await;
            Some(reply)
        }
        Outcome::NotForUs => None,
    }
}

/// The decision whose button `token` was pressed, and what the pressed
/// message should show now: its outcome, without buttons. Discord replaces
/// the pressed message in the interaction's answer; Telegram queues the
/// edit when the resolution did not (the outbox edits every copy it has
/// recorded as sent, and a quick press can beat that record). `None`: the
/// button is not a decision's (or the decision is gone).
/// The command line a person gave: typed text as it is, a platform's
/// structured options (Discord) through the one grammar. A name the grammar
/// does not know stays a bare word, which it refuses with a suggestion like
/// any mistyped command. `None` for a button.
fn command_line(what: &InboundKind) -> Option<std::borrow::Cow<'_, str>> {
    match what {
        InboundKind::Command { text } => Some(text.as_str().into()),
        InboundKind::Options { path, values } => {
            let named: Vec<(&str, String)> = values
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone()))
                .collect();
            let text = commands::command_text(path, &named)
                .unwrap_or_else(|| path.split_whitespace().next().unwrap_or("?").to_string());
            Some(text.into())
        }
        InboundKind::Button { .. } | InboundKind::Reply { .. } => None,
    }
}

pub async fn pressed_decision_outcome(hub: &HubInbox, token: &str) -> Option<(i64, RichMessage)> {
    let decision_id = match hub.store.button_action(token).await {
        Ok(Some(ButtonAction::Approve { decision_id } | ButtonAction::Deny { decision_id })) => {
            decision_id
        }
        // A question's button: its answered message, for the same edit.
        Ok(Some(
            ButtonAction::Answer { question_id, .. } | ButtonAction::ApproveDraft { question_id },
        )) => return pressed_question(hub, question_id).await,
        // Editing a draft answers nothing yet: the message stays as it is.
        Ok(Some(ButtonAction::EditDraft { .. })) => return None,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "could not look up a pressed button");
            return None;
        }
    };
    match hub.store.decision(decision_id).await {
        Ok(Some(d)) => Some((decision_id, commands::decision_message(&d, None))),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, decision = decision_id, "could not read a decision");
            None
        }
    }
}

/// [`pressed_decision_outcome`] for a question's button: the question as
/// it stands now (answered: no buttons). The number is the question's.
async fn pressed_question(hub: &HubInbox, question_id: i64) -> Option<(i64, RichMessage)> {
    match hub.store.question(question_id).await {
        Ok(Some(q)) => Some((question_id, commands::question_message(&q, None))),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, question = question_id, "could not read a question");
            None
        }
    }
}

fn follow_up(hub: &HubInbox, event: Event) {
    match event {
        // Committed with what they send; wake the dispatcher for it.
        Event::DecisionResolved(_) | Event::DecisionCreated(_) | Event::QuestionAnswered(_) => {
            hub.wake.notify_one()
        }
        Event::TaskChanged(_) => {}
    }
}

async fn audit_refusal(hub: &HubInbox, inbound: &Inbound, action: &str, why: &str) {
    let source = format!(
        "{} user {} in chat {}",
        inbound.platform, inbound.user_id, inbound.chat_id
    );
    let actor = format!("{}:{}", inbound.platform, inbound.user_id);
    let what = match command_line(&inbound.what) {
        Some(text) => {
            serde_json::json!({"command": text.chars().take(200).collect::<String>(), "why": why})
        }
        None => match &inbound.what {
            InboundKind::Reply { to, .. } => serde_json::json!({"reply_to": to, "why": why}),
            _ => serde_json::json!({"button": true, "why": why}),
        },
    };
    if let Err(e) = hub
        .store
        .audit(&AuditRow {
            actor: &actor,
            action,
            resource: &actor,
            details: what,
            source: &source,
        })
        .await
    {
        tracing::error!(error = %e, "could not audit a refused chat command");
    }
}
