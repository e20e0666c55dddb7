//! The morning brief as a daily job: at each person's `brief_time` in their
//! zone, build it and queue it through the outbox. The slot claim and the
//! queued rows commit together, so a brief is sent once per person and day
//! even across restarts and instances.

use super::BriefService;
use crate::api::AppState;
use crate::directory::PersonEntry;
use crate::dispatch::message::Extras;
use crate::ids::new_id;
use crate::ingest::plan::join_channels;
use crate::schedule::{DailyJob, Slot};
use crate::store::{NewDelivery, NewNotification};
use async_trait::async_trait;
use chrono::{NaiveTime, Utc};
use commands::RichMessage;
use routing::ChannelKind;
use std::sync::Arc;

pub struct BriefJob {
    pub service: Arc<BriefService>,
}

#[async_trait]
impl DailyJob for BriefJob {
    fn name(&self) -> &'static str {
        "brief"
    }

    fn local_time(&self, person: &PersonEntry) -> Option<NaiveTime> {
        self.service.config().enabled.then_some(person.brief_time)
    }

    async fn run(&self, state: &AppState, person: &PersonEntry, slot: &Slot) -> anyhow::Result<()> {
        let now = Utc::now();
        let (_, message) = self
            .service
            .compose(&state.store, &person.id, Some(slot.date), now)
            .await?;
        let (notification, deliveries) = outbox_rows(person, &message, now.timestamp_millis());
        let by = format!("orkhub-{}", std::process::id());
        if state
            .store
            .queue_brief(&slot.key(), &by, &notification, &deliveries)
            .await?
        {
            tracing::info!(person = %person.id, slot = %slot.key(), deliveries = deliveries.len(), "brief queued");
            state.wake.notify_one();
        }
        Ok(())
    }
}

/// The brief's notification and deliveries: the web feed, and the person's
/// brief channels (`kind_channels.brief`, else their push list) — the first
/// one with an address now, the rest as fallbacks. Quiet hours do not hold
/// it back: the person chose the time.
pub fn outbox_rows(
    person: &PersonEntry,
    message: &RichMessage,
    now_ms: i64,
) -> (NewNotification, Vec<NewDelivery>) {
    let id = new_id("n");
    let fields_json = serde_json::to_string(&Extras {
        fields: message.fields.clone(),
        buttons: message.buttons.clone(),
        footer: message.footer.clone(),
        preformatted: message.preformatted.clone(),
    })
    .unwrap_or_else(|_| "{}".into());
    let notification = NewNotification {
        id: id.clone(),
        source: "system".into(),
        kind: "brief".into(),
        urgency: "info",
        recipient_kind: "person",
        recipient_id: person.id.clone(),
        project_id: None,
        title: message.title.clone(),
        body: message.text.clone(),
        fields_json,
        decision_id: None,
        dedupe_key: None,
        duplicate: false,
        created_at: now_ms,
    };
    let delivery = |channel: ChannelKind, address: String, fallbacks: String| NewDelivery {
        id: new_id("d"),
        notification_id: id.clone(),
        person_id: Some(person.id.clone()),
        channel: channel.as_str().to_string(),
        address,
        op: "send",
        target_message_id: None,
        status: "pending",
        next_attempt_at: now_ms,
        fallbacks,
        created_at: now_ms,
    };
    let mut out = vec![delivery(ChannelKind::Web, person.id.clone(), String::new())];
    let listed = person
        .prefs
        .by_kind
        .get("brief")
        .unwrap_or(&person.prefs.push);
    let mut push: Vec<ChannelKind> = Vec::new();
    for c in listed {
        if *c != ChannelKind::Web && !push.contains(c) {
            push.push(*c);
        }
    }
    if let Some(pos) = push.iter().position(|c| person.address(*c).is_some()) {
        let channel = push[pos];
        let address = person.address(channel).unwrap_or_default();
        out.push(delivery(channel, address, join_channels(&push[pos + 1..])));
    }
    (notification, out)
}
