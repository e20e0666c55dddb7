//! Turn one accepted notification into its delivery rows, using the pure
//! routing crate for people and the channel's bindings for channels.

use crate::directory::Directory;
use crate::ids::new_id;
use crate::store::{DeliveryOp, DeliveryState, NewDelivery};
use routing::{ChannelKind, Event, Plan, RoutingPolicy, Timing};

pub enum Recipient {
    Person(String),
    Channel(String),
}

/// Deliveries for a person: routing decides; addresses come from the directory.
/// A step whose channel has no address for this person moves to its next
/// fallback; with none left it is dropped (the web feed always remains).
/// A digest step has no fallbacks from routing: without an address on the
/// digest channel (the default, email, for someone without an email) the
/// item is held on the first push channel that has one instead, so `info`
/// never silently becomes web-only; the digest goes out there.
pub fn person_deliveries(
    dir: &Directory,
    policy: &RoutingPolicy,
    person_id: &str,
    notification_id: &str,
    event: &Event<'_>,
) -> (Plan, Vec<NewDelivery>) {
    let Some(person) = dir.person(person_id) else {
        return (
            Plan {
                urgency: policy.urgency_for(event.kind, event.urgency),
                steps: vec![],
                duplicate: false,
            },
            vec![],
        );
    };
    let plan = routing::plan(policy, &person.prefs, event);
    let now_ms = event.now.timestamp_millis();
    let mut out = Vec::new();
    for step in &plan.steps {
        let digest_fallbacks = match step.timing {
            Timing::Digest => digest_fallbacks(&person.prefs),
            _ => Vec::new(),
        };
        let mut chain = std::iter::once(step.channel)
            .chain(step.fallbacks.iter().copied())
            .chain(digest_fallbacks);
        let Some((channel, address, rest)) = (|| {
            while let Some(c) = chain.next() {
                if let Some(a) = person.address(c) {
                    return Some((c, a, chain.collect::<Vec<_>>()));
                }
            }
            None
        })() else {
            continue;
        };
        let (status, at) = match step.timing {
            Timing::Now => (DeliveryState::Pending, now_ms),
            Timing::After(t) => (DeliveryState::Pending, t.timestamp_millis()),
            Timing::Digest => (DeliveryState::Held, now_ms),
        };
        out.push(NewDelivery {
            id: new_id("d"),
            notification_id: notification_id.to_string(),
            person_id: Some(person_id.to_string()),
            channel: channel.as_str().to_string(),
            address,
            op: DeliveryOp::Send,
            target_message_id: None,
            status,
            next_attempt_at: at,
            fallbacks: join_channels(&rest),
            created_at: now_ms,
        });
    }
    (plan, out)
}

/// Where a held item goes when the digest channel has no address: the
/// person's push channels in order (not the web feed, which has it anyway).
fn digest_fallbacks(prefs: &routing::Preferences) -> Vec<ChannelKind> {
    prefs
        .push
        .iter()
        .copied()
        .filter(|c| *c != ChannelKind::Web && *c != prefs.digest_channel)
        .collect()
}

/// Deliveries for a channel: the web feed and every platform it is bound to, now.
pub fn channel_deliveries(
    dir: &Directory,
    channel_id: &str,
    notification_id: &str,
    now_ms: i64,
) -> Vec<NewDelivery> {
    let mut targets = vec![(ChannelKind::Web, channel_id.to_string())];
    if let Some(c) = dir.channel(channel_id) {
        targets.extend(
            c.bindings
                .iter()
                .filter(|(k, _)| **k != ChannelKind::Web)
                .map(|(k, a)| (*k, a.clone())),
        );
    }
    targets
        .into_iter()
        .map(|(channel, address)| NewDelivery {
            id: new_id("d"),
            notification_id: notification_id.to_string(),
            person_id: None,
            channel: channel.as_str().to_string(),
            address,
            op: DeliveryOp::Send,
            target_message_id: None,
            status: DeliveryState::Pending,
            next_attempt_at: now_ms,
            fallbacks: String::new(),
            created_at: now_ms,
        })
        .collect()
}

pub fn join_channels(channels: &[ChannelKind]) -> String {
    channels
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parse a stored fallback list, skipping anything unknown.
pub fn split_channels(s: &str) -> Vec<ChannelKind> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .filter_map(|x| x.parse().ok())
        .collect()
}
