//! A chat command's reply leaves through the outbox like every other
//! message: a notification row and one delivery to the chat the command came
//! from, committed before the dispatcher sends it. So the reply is paced
//! with the chat's other messages, retried on a 429 or an outage, and
//! recorded; before, it was sent directly and a single 429 dropped it.
//! (Where a platform wants the answer inside the HTTP response — Slack's
//! acknowledgement, Discord's interaction response, Telegram's
//! answerCallbackQuery toast — that answer stays; what follows it comes
//! through here: Slack's `response_url` posts and Discord's interaction
//! follow-ups, addressed by their adapter's own target in place of a
//! thread, and the edit of a pressed Telegram message.)

use crate::dispatch::message::Extras;
use crate::ids::new_id;
use crate::inbox::HubInbox;
use crate::store::{DeliveryOp, NewDelivery, NewNotification, StoreError, now_ms};
use commands::{Reply, RichMessage};
use routing::ChannelKind;

/// The notification kind of a command's reply.
pub const KIND: &str = "command.reply";
/// The notification kind of a pressed message edited to show the outcome.
pub const OUTCOME_KIND: &str = "button.outcome";

/// Queue `reply` for `chat` on `platform`, under the platform's message
/// `thread` (the command's own message, as that platform's adapter names a
/// message to answer), and wake the dispatcher. Returns the notification ID.
pub async fn queue(
    hub: &HubInbox,
    platform: ChannelKind,
    chat: &str,
    thread: Option<String>,
    reply: &Reply,
) -> Result<String, StoreError> {
    queue_op(
        hub,
        platform,
        chat,
        DeliveryOp::Send,
        thread,
        KIND,
        &reply.message,
    )
    .await
}

/// Queue an edit of the platform message `target` (as that platform's
/// adapter names a message) in `chat` to show `message`, and wake the
/// dispatcher. Returns the notification ID.
pub async fn queue_edit(
    hub: &HubInbox,
    platform: ChannelKind,
    chat: &str,
    target: String,
    message: &RichMessage,
) -> Result<String, StoreError> {
    queue_op(
        hub,
        platform,
        chat,
        DeliveryOp::Edit,
        Some(target),
        OUTCOME_KIND,
        message,
    )
    .await
}

/// Queue `message`, a message asking for a reply that answers question
/// `question` (a supervised draft to edit), for `chat` on `platform` under
/// the pressed message `thread`. The message is recorded as the question's
/// copy first, so a reply to it answers the question. Returns the
/// notification ID.
pub async fn queue_answer_prompt(
    hub: &HubInbox,
    platform: ChannelKind,
    chat: &str,
    thread: Option<String>,
    question: i64,
    message: &RichMessage,
) -> Result<String, StoreError> {
    let id = new_id("n");
    hub.store.record_question_copy(question, &id).await?;
    queue_op_as(
        hub,
        id,
        platform,
        chat,
        DeliveryOp::Send,
        thread,
        KIND,
        message,
    )
    .await
}

async fn queue_op(
    hub: &HubInbox,
    platform: ChannelKind,
    chat: &str,
    op: DeliveryOp,
    target: Option<String>,
    kind: &str,
    message: &RichMessage,
) -> Result<String, StoreError> {
    queue_op_as(hub, new_id("n"), platform, chat, op, target, kind, message).await
}

#[allow(clippy::too_many_arguments)]
async fn queue_op_as(
    hub: &HubInbox,
    id: String,
    platform: ChannelKind,
    chat: &str,
    op: DeliveryOp,
    target: Option<String>,
    kind: &str,
    message: &RichMessage,
) -> Result<String, StoreError> {
    let now = now_ms();
    let notification = NewNotification {
        id: id.clone(),
        source: "system".into(),
        kind: kind.into(),
        // Someone is waiting for it in the chat.
        urgency: "urgent",
        recipient_kind: "channel",
        recipient_id: format!("{}:{chat}", platform.as_str()),
        project_id: None,
        title: message.title.clone(),
        body: message.text.clone(),
        fields_json: Extras::of(message).to_json(),
        decision_id: None,
        dedupe_key: None,
        duplicate: false,
        created_at: now,
    };
    let delivery = NewDelivery {
        id: new_id("d"),
        notification_id: id.clone(),
        person_id: None,
        channel: platform.as_str().to_string(),
        address: chat.to_string(),
        op,
        // For a send: the platform message it answers (see dispatch/queue.rs),
        // or an adapter's own follow-up target; for an edit: the message.
        target_message_id: target,
        status: crate::store::DeliveryState::Pending,
        next_attempt_at: now,
        fallbacks: String::new(),
        created_at: now,
    };
    hub.store
        .insert_batch(&[notification], &[delivery], &[])
        .await?;
    hub.wake.notify_one();
    Ok(id)
}
