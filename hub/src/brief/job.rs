//! The morning brief as a daily job: at each person's `brief_time` in their
//! zone, build it and queue it through the outbox.
//!
//! The slot is reserved first (a short transaction with a lease), then the
//! brief is built (with its LLM summary and that summary's cost), then the
//! reservation is completed in the transaction that queues the brief. So a
//! concurrent tick or a second instance neither sends the brief twice nor
//! pays for a summary that would be thrown away; a run that fails gives the
//! slot back for the next tick, and one that crashed loses it when the lease
//! runs out (the LLM timeout plus a margin).

use super::BriefService;
use crate::config::Config;
use crate::directory::PersonEntry;
use crate::dispatch::message::Extras;
use crate::ids::new_id;
use crate::ingest::plan::join_channels;
use crate::schedule::JobHub;
use crate::schedule::{DailyJob, Slot};
use crate::store::{NewDelivery, NewNotification};
use async_trait::async_trait;
use chrono::{NaiveTime, Utc};
use commands::RichMessage;
use routing::ChannelKind;
use std::sync::Arc;

/// How long a reservation outlives the LLM's timeout: the reads, the
/// plain text and the queueing commit.
const LEASE_MARGIN_MS: i64 = 120_000;

pub struct BriefJob {
    pub service: Arc<BriefService>,
    /// `routing.email_fallback`: email closes the brief's fallback chain, as
    /// it does for pushes and digests.
    pub email_fallback: bool,
}

impl BriefJob {
    pub fn from_config(config: &Config, service: Arc<BriefService>) -> BriefJob {
        BriefJob {
            service,
            email_fallback: config.routing.email_fallback,
        }
    }

    fn lease_ms(&self) -> i64 {
        let llm = &self.service.config().llm;
        let timeout = if llm.enabled {
            i64::try_from(llm.timeout_ms).unwrap_or(i64::MAX / 4)
        } else {
            0
        };
        timeout.saturating_add(LEASE_MARGIN_MS)
    }

    /// Build and queue `person`'s brief for the reserved `slot`.
    async fn build_and_queue(
        &self,
        hub: &JobHub,
        person: &PersonEntry,
        slot: &Slot,
        by: &str,
    ) -> anyhow::Result<bool> {
        let now = Utc::now();
        let (brief, message) = self
            .service
            .compose(&hub.store, &person.id, Some(slot.date), now)
            .await?;
        let (notification, deliveries) = outbox_rows(
            person,
            &message,
            now.timestamp_millis(),
            self.email_fallback,
        );
        let queued = hub
            .store
            .queue_brief(
                &slot.key(),
                by,
                brief.period.until.timestamp_millis(),
                Some(&brief),
                &notification,
                &deliveries,
            )
            .await?;
        if queued {
            tracing::info!(person = %person.id, slot = %slot.key(), deliveries = deliveries.len(), "brief queued");
            hub.wake.notify_one();
        } else {
            tracing::warn!(person = %person.id, slot = %slot.key(), "brief built after its slot's lease ran out; another run took the slot over, this one is dropped");
        }
        Ok(queued)
    }
}

#[async_trait]
impl DailyJob for BriefJob {
    fn name(&self) -> &'static str {
        "brief"
    }

    fn local_time(&self, person: &PersonEntry) -> Option<NaiveTime> {
        self.service.config().enabled.then_some(person.brief_time)
    }

    fn catch_up(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.service.config().catch_up_minutes.max(0))
    }

    async fn run(&self, hub: &JobHub, person: &PersonEntry, slot: &Slot) -> anyhow::Result<()> {
        // Unique per attempt: two ticks in one process are two claimants.
        let by = format!(
            "orkhub-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        );
        let now = crate::store::now_ms();
        if !hub
            .store
            .reserve_slot("brief", &slot.key(), &by, now, now + self.lease_ms())
            .await?
        {
            return Ok(());
        }
        match self.build_and_queue(hub, person, slot, &by).await {
            Ok(_) => Ok(()),
            Err(e) => {
                // Give the slot back so the next tick retries it now, not
                // after the lease; the caller logs the failure itself.
                if let Err(release) = hub.store.release_slot("brief", &slot.key(), &by).await {
                    tracing::warn!(slot = %slot.key(), error = %release, "giving back a failed brief's slot failed; it is retried when its lease runs out");
                }
                Err(e)
            }
        }
    }
}

/// The brief's notification and deliveries: the web feed, and the person's
/// brief channels (`kind_channels.brief`, else their push list, closed by
/// email when `email_fallback`, the same rule as pushes and digests) — the
/// first one with an address now, the rest as fallbacks. Quiet hours do not
/// hold it back: the person chose the time.
pub fn outbox_rows(
    person: &PersonEntry,
    message: &RichMessage,
    now_ms: i64,
    email_fallback: bool,
) -> (NewNotification, Vec<NewDelivery>) {
    let id = new_id("n");
    let fields_json = Extras::of(message).to_json();
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
        op: crate::store::DeliveryOp::Send,
        target_message_id: None,
        status: crate::store::DeliveryState::Pending,
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
    if email_fallback && !push.is_empty() {
        push = routing::with_email_fallback(push);
    }
    if let Some(pos) = push.iter().position(|c| person.address(*c).is_some()) {
        let channel = push[pos];
        let address = person.address(channel).unwrap_or_default();
        out.push(delivery(channel, address, join_channels(&push[pos + 1..])));
    }
    (notification, out)
}
