//! The daily digest: `info` notifications wait as `held` deliveries and go
//! out once a day at each person's digest time, as one message on their
//! digest channel (email by default). See `store::digests` for why every
//! held item lands in exactly one digest.
//!
//! Nothing stays held for ever:
//! - a person whose digest channel is the web feed holds nothing new (the
//!   feed already has every item), but items held before they switched still
//!   get their digest slot: one web-only digest marks them digested;
//! - items held for a person no longer in config.toml are found when the
//!   scheduler starts, logged, and marked `skipped` with the reason in
//!   `last_error`. Each was published on the web feed when it was accepted
//!   (routing always plans the feed first), so it is still on the record;
//!   only the digest that would have repeated it is dropped.

pub mod build;

use crate::config::Config;
use crate::directory::PersonEntry;
use crate::ids::new_id;
use crate::ingest::plan::join_channels;
use crate::schedule::JobHub;
use crate::schedule::{DailyJob, Slot};
use crate::store::{NewDelivery, NewNotification, now_ms};
use async_trait::async_trait;
use chrono::NaiveTime;
use routing::ChannelKind;

pub struct DigestJob {
    email_fallback: bool,
    /// Written into `scheduled_runs.claimed_by`.
    instance: String,
}

/// What one run did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestOutcome {
    /// The slot was claimed before (a restart, another instance).
    AlreadyDone,
    /// Nothing was held: the slot is claimed, nothing is sent.
    Empty,
    /// Not one of the person's digest days: the slot is claimed, held items
    /// wait for the next digest day.
    NotADigestDay,
    /// One digest queued, holding this many items.
    Queued { digest_id: String, items: usize },
}

impl DigestJob {
    pub fn from_config(config: &Config) -> DigestJob {
        DigestJob {
            email_fallback: config.routing.email_fallback,
            instance: format!("pid:{}", std::process::id()),
        }
    }

    /// Build and queue `person`'s digest for `slot`, in one transaction.
    pub async fn run_slot(
        &self,
        hub: &JobHub,
        person: &PersonEntry,
        slot: &Slot,
    ) -> anyhow::Result<DigestOutcome> {
        let now = now_ms();
        let Some(mut run) = hub
            .store
            .begin_digest(&slot.key(), &self.instance, now)
            .await?
        else {
            return Ok(DigestOutcome::AlreadyDone);
        };
        if !is_digest_day(&person.digest_days, slot.date) {
            run.commit_empty().await?;
            return Ok(DigestOutcome::NotADigestDay);
        }
        let items = run.held(&person.id, slot.due_at.timestamp_millis()).await?;
        let Some(newest) = items.first() else {
            run.commit_empty().await?;
            return Ok(DigestOutcome::Empty);
        };
        // The digest channel as it is now; if the person has no address
        // there any more, where the items were held for.
        let digest_channel = person.prefs.digest_channel;
        let (channel, address) = match person.address(digest_channel) {
            Some(a) => (digest_channel.as_str().to_string(), a),
            None => (newest.channel.clone(), newest.address.clone()),
        };
        let view = build::view(&items, slot.date, person.prefs.time_zone);
        let message = build::message(&view);
        let extras = crate::dispatch::message::Extras {
            buttons: Vec::new(),
            footer: None,
            ..crate::dispatch::message::Extras::of(&message)
        };
        let digest_id = new_id("n");
        let notification = NewNotification {
            id: digest_id.clone(),
            source: "system".into(),
            kind: "digest".into(),
            urgency: "info",
            recipient_kind: "person",
            recipient_id: person.id.clone(),
            project_id: None,
            title: message.title.clone(),
            body: message.text.clone(),
            fields_json: extras.to_json(),
            decision_id: None,
            dedupe_key: None,
            duplicate: false,
            created_at: now,
        };
        let delivery = NewDelivery {
            id: new_id("d"),
            notification_id: digest_id.clone(),
            person_id: Some(person.id.clone()),
            channel: channel.clone(),
            address,
            op: crate::store::DeliveryOp::Send,
            target_message_id: None,
            status: crate::store::DeliveryState::Pending,
            next_attempt_at: now,
            fallbacks: join_channels(&self.fallbacks(person, &channel)),
            created_at: now,
        };
        run.commit_digest(&items, &notification, &delivery, now)
            .await?;
        hub.wake.notify_one();
        Ok(DigestOutcome::Queued {
            digest_id,
            items: items.len(),
        })
    }

    /// If the digest channel fails for good: the person's push channels,
    /// then email (the same rule as for pushes). The web feed does not fail.
    fn fallbacks(&self, person: &PersonEntry, channel: &str) -> Vec<ChannelKind> {
        let mut chain: Vec<ChannelKind> = Vec::new();
        if channel == ChannelKind::Web.as_str() {
            return chain;
        }
        for &c in &person.prefs.push {
            if c != ChannelKind::Web && !chain.contains(&c) {
                chain.push(c);
            }
        }
        if self.email_fallback {
            chain = routing::with_email_fallback(chain);
        }
        chain.retain(|c| c.as_str() != channel);
        chain
    }
}

/// Held items of people no longer in config.toml: no digest slot will ever
/// come for them. Marked `skipped` (see the module comment), logged per person.
pub async fn release_orphans(hub: &JobHub) -> anyhow::Result<u64> {
    let mut released = 0;
    for person in hub.store.held_people().await? {
        if hub.dir.person(&person).is_some() {
            continue;
        }
        let reason = format!(
            "held for the digest of {person:?}, who is no longer in config.toml; the item stays on the web feed"
        );
        let n = hub.store.release_held(&person, &reason, now_ms()).await?;
        tracing::warn!(person = %person, items = n, "held digest items of a person no longer in config.toml were released (status skipped); they remain on the web feed");
        released += n;
    }
    Ok(released)
}

/// Whether `date` (the person's local date) is one of their digest days;
/// no days listed means daily.
pub fn is_digest_day(days: &[chrono::Weekday], date: chrono::NaiveDate) -> bool {
    use chrono::Datelike;
    days.is_empty() || days.contains(&date.weekday())
}

#[async_trait]
impl DailyJob for DigestJob {
    fn name(&self) -> &'static str {
        "digest"
    }

    fn local_time(&self, person: &PersonEntry) -> Option<NaiveTime> {
        // Also for a web-only digest: nothing new is held for it, but items
        // held before the person switched to the web must not wait for ever.
        Some(person.digest_time)
    }

    async fn on_start(&self, hub: &JobHub) {
        if let Err(e) = release_orphans(hub).await {
            tracing::error!(error = %e, "looking for held items of people no longer configured failed; they stay held until the next start");
        }
    }

    async fn run(&self, hub: &JobHub, person: &PersonEntry, slot: &Slot) -> anyhow::Result<()> {
        match self.run_slot(hub, person, slot).await? {
            DigestOutcome::Queued { digest_id, items } => {
                tracing::info!(person = %person.id, slot = %slot.key(), digest = %digest_id, items, "digest queued")
            }
            DigestOutcome::Empty => {
                tracing::debug!(person = %person.id, slot = %slot.key(), "nothing held: no digest")
            }
            DigestOutcome::AlreadyDone | DigestOutcome::NotADigestDay => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Weekday};

    #[test]
    fn digest_days_default_to_daily_and_follow_the_local_date() {
        // 2 November 2026 is a Monday.
        let mon = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let tue = mon.succ_opt().unwrap();
        assert!(is_digest_day(&[], mon) && is_digest_day(&[], tue));
        let weekly = [Weekday::Mon];
        assert!(is_digest_day(&weekly, mon));
        assert!(!is_digest_day(&weekly, tue));
    }
}
