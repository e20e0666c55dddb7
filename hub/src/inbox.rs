//! The hub's side of every platform's listener (`adapters::inbox::Inbox`):
//! requests are claimed once in the store, run through the command layer
//! (`inbound`), and answered through the outbox (`replies`). Platforms get
//! this, not the HTTP API's state.

use crate::backend::HubBackend;
use crate::store::{RequestClaim, Store, StoreError};
use adapters::Inbound;
use adapters::inbox::{Claim, Inbox, InboxError};
use async_trait::async_trait;
use commands::{ButtonAction, Reply, RichMessage};
use routing::ChannelKind;
use std::sync::Arc;
use tokio::sync::Notify;

pub struct HubInbox {
    pub(crate) store: Store,
    pub(crate) backend: HubBackend,
    /// Wakes the dispatcher for what a command queued.
    pub(crate) wake: Arc<Notify>,
}

impl HubInbox {
    pub fn new(backend: HubBackend, wake: Arc<Notify>) -> Self {
        HubInbox {
            store: backend.store().clone(),
            backend,
            wake,
        }
    }
}

fn failed(doing: &'static str) -> impl Fn(StoreError) -> InboxError {
    move |e| InboxError {
        doing,
        cause: e.to_string(),
    }
}

#[async_trait]
impl Inbox for HubInbox {
    async fn claim(&self, platform: ChannelKind, key: &str) -> Result<Claim, InboxError> {
        let claim = self
            .store
            .claim_inbound_request(platform.as_str(), key)
            .await
            .map_err(failed("record the request"))?;
        Ok(match claim {
            RequestClaim::New => Claim::New,
            RequestClaim::Seen { reply } => Claim::Seen { reply },
        })
    }

    async fn save_reply(
        &self,
        platform: ChannelKind,
        key: &str,
        reply: &str,
    ) -> Result<(), InboxError> {
        self.store
            .save_inbound_reply(platform.as_str(), key, reply)
            .await
            .map_err(failed("keep the reply for retries"))
    }

    async fn handle(&self, inbound: &Inbound, bot_username: Option<&str>) -> Option<Reply> {
        crate::inbound::handle(self, inbound, bot_username).await
    }

    async fn send_later(
        &self,
        platform: ChannelKind,
        chat: &str,
        target: Option<String>,
        reply: &Reply,
    ) -> Result<(), InboxError> {
        crate::replies::queue(self, platform, chat, target, reply)
            .await
            .map(|_| ())
            .map_err(failed("queue the reply in the outbox"))
    }

    async fn pressed_outcome(&self, token: &str) -> Option<RichMessage> {
        crate::inbound::pressed_decision_outcome(self, token)
            .await
            .map(|(_, message)| message)
    }

    async fn show_pressed_outcome(
        &self,
        platform: ChannelKind,
        chat: &str,
        target: String,
        token: &str,
    ) -> Result<(), InboxError> {
        let Some((decision_id, message)) =
            crate::inbound::pressed_decision_outcome(self, token).await
        else {
            return Ok(());
        };
        // The resolution queued the edit of every copy recorded as sent; a
        // press can come before its message's send was recorded (or on a
        // message the outbox never recorded). Should both come, the second
        // is "message is not modified", which counts as done.
        let queued = self
            .store
            .decision_edit_queued(decision_id, platform.as_str(), &target)
            .await
            .map_err(failed("look up the decision's queued edits"))?;
        if queued {
            return Ok(());
        }
        crate::replies::queue_edit(self, platform, chat, target, &message)
            .await
            .map(|_| ())
            .map_err(failed("queue the edit of the pressed message"))
    }

    async fn queue_answer_prompt(
        &self,
        platform: ChannelKind,
        chat: &str,
        target: String,
        token: &str,
    ) -> Result<Option<String>, InboxError> {
        let question_id = match self.store.button_action(token).await {
            Ok(Some(ButtonAction::EditDraft { question_id })) => question_id,
            Ok(_) => return Ok(None),
            Err(e) => {
                return Err(InboxError {
                    doing: "look up the pressed button",
                    cause: e.to_string(),
                });
            }
        };
        let question = self
            .store
            .question(question_id)
            .await
            .map_err(|e| InboxError {
                doing: "read the question whose draft is edited",
                cause: e.to_string(),
            })?;
        let Some(message) = question.as_ref().and_then(commands::draft_prompt) else {
            return Ok(None);
        };
        crate::replies::queue_answer_prompt(
            self,
            platform,
            chat,
            Some(target),
            question_id,
            &message,
        )
        .await
        .map_err(failed("queue the draft to edit"))?;
        Ok(Some(commands::draft_prompt_notice(question_id)))
    }
}
