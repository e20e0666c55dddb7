//! The routing decision itself: one event, one recipient → which channels,
//! when. Everything it needs is passed in, so it is a pure function.

use crate::quiet::{is_quiet, quiet_ends_after};
use crate::{ChannelKind, Preferences, RoutingPolicy, Urgency};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One notification as routing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    pub kind: &'a str,
    /// The sender's urgency, if it gave one.
    pub urgency: Option<Urgency>,
    pub now: DateTime<Utc>,
    /// When the same dedupe key was last accepted for this recipient, if ever.
    pub last_duplicate_at: Option<DateTime<Utc>>,
}

/// When a step's delivery becomes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    Now,
    /// Held until this instant (the end of the recipient's quiet hours).
    After(DateTime<Utc>),
    /// Collected into the recipient's next digest.
    Digest,
}

/// One delivery: a channel, when, and where to turn if that channel fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub channel: ChannelKind,
    pub timing: Timing,
    /// Tried in order if `channel` fails for good.
    pub fallbacks: Vec<ChannelKind>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub urgency: Urgency,
    pub steps: Vec<Step>,
    /// A repeat within the dedupe window: `steps` is empty, nothing is sent.
    pub duplicate: bool,
}

/// Decide where and when `event` goes for the person with `prefs`.
///
/// The web feed always gets it first (it is the record everyone can see);
/// `urgent` adds one push step with the rest of the push list as fallbacks,
/// held to the end of quiet hours unless urgent breaks through; `info` adds a
/// digest step; `fyi` stays on the web.
pub fn plan(policy: &RoutingPolicy, prefs: &Preferences, event: &Event<'_>) -> Plan {
    let urgency = policy.urgency_for(event.kind, event.urgency);
    if policy.is_duplicate(event.now, event.last_duplicate_at) {
        return Plan {
            urgency,
            steps: Vec::new(),
            duplicate: true,
        };
    }
    let mut steps = vec![Step {
        channel: ChannelKind::Web,
        timing: Timing::Now,
        fallbacks: Vec::new(),
    }];
    match urgency {
        Urgency::Urgent => steps.extend(push_step(policy, prefs, event)),
        Urgency::Info if prefs.digest_channel != ChannelKind::Web => steps.push(Step {
            channel: prefs.digest_channel,
            timing: Timing::Digest,
            fallbacks: Vec::new(),
        }),
        Urgency::Info | Urgency::Fyi => {}
    }
    Plan {
        urgency,
        steps,
        duplicate: false,
    }
}

/// The push for an urgent event, or `None` when the person has no push
/// channel besides the web feed (which already has it).
fn push_step(policy: &RoutingPolicy, prefs: &Preferences, event: &Event<'_>) -> Option<Step> {
    let listed = prefs.by_kind.get(event.kind).unwrap_or(&prefs.push);
    let mut channels = push_channels(listed);
    if channels.is_empty() {
        return None;
    }
    if policy.email_fallback {
        channels = with_email_fallback(channels);
    }
    let mut channels = channels.into_iter();
    let channel = channels.next()?;
    let timing = match &prefs.quiet_hours {
        Some(q) if !q.urgent_breaks_through && is_quiet(q, prefs.time_zone, event.now) => {
            Timing::After(quiet_ends_after(q, prefs.time_zone, event.now))
        }
        _ => Timing::Now,
    };
    Some(Step {
        channel,
        timing,
        fallbacks: channels.collect(),
    })
}

/// `chain` with email appended when it is not already in it: the last
/// resort after every chat channel the person listed. Order is otherwise kept.
pub fn with_email_fallback(mut chain: Vec<ChannelKind>) -> Vec<ChannelKind> {
    if !chain.contains(&ChannelKind::Email) {
        chain.push(ChannelKind::Email);
    }
    chain
}

/// The push list without Web (it is already the first step) and without
/// repeats, in the person's order.
fn push_channels(listed: &[ChannelKind]) -> Vec<ChannelKind> {
    let mut out: Vec<ChannelKind> = Vec::with_capacity(listed.len());
    for &channel in listed {
        if channel != ChannelKind::Web && !out.contains(&channel) {
            out.push(channel);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QuietHours;
    use ChannelKind::{Console, Discord, Email, Slack, Telegram, Web};
    use chrono::{NaiveTime, TimeZone};
    use chrono_tz::Europe::Kyiv;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid test instant")
    }

    fn event(kind: &str, urgency: Option<Urgency>, now: DateTime<Utc>) -> Event<'_> {
        Event {
            kind,
            urgency,
            now,
            last_duplicate_at: None,
        }
    }

    fn web() -> Step {
        Step {
            channel: Web,
            timing: Timing::Now,
            fallbacks: vec![],
        }
    }

    fn kyiv_nights(breaks_through: bool) -> Preferences {
        let hm = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("valid test time");
        Preferences {
            time_zone: Kyiv,
            push: vec![Telegram, Slack, Email],
            quiet_hours: Some(QuietHours {
                start: hm(22),
                end: hm(7),
                urgent_breaks_through: breaks_through,
            }),
            ..Preferences::default()
        }
    }

    const DAY: (u32, u32) = (9, 0); // 12:00 Kyiv in July
    const NIGHT: (u32, u32) = (21, 0); // 00:00 Kyiv in July

    #[test]
    fn urgent_goes_to_web_and_the_first_push_with_the_rest_as_fallbacks() {
        let now = utc(2026, 7, 1, DAY.0, DAY.1);
        let p = plan(
            &RoutingPolicy::default(),
            &kyiv_nights(false),
            &event("alert", Some(Urgency::Urgent), now),
        );
        assert_eq!(p.urgency, Urgency::Urgent);
        assert!(!p.duplicate);
        assert_eq!(
            p.steps,
            vec![
                web(),
                Step {
                    channel: Telegram,
                    timing: Timing::Now,
                    fallbacks: vec![Slack, Email],
                }
            ]
        );
    }

    #[test]
    fn urgent_in_quiet_hours_waits_for_the_end() {
        let now = utc(2026, 7, 1, NIGHT.0, NIGHT.1);
        let p = plan(
            &RoutingPolicy::default(),
            &kyiv_nights(false),
            &event("alert", Some(Urgency::Urgent), now),
        );
        // 07:00 Kyiv summer time = 04:00 UTC next day.
        assert_eq!(p.steps[1].timing, Timing::After(utc(2026, 7, 2, 4, 0)));
        assert_eq!(p.steps[0], web(), "the web feed is never held");
    }

    #[test]
    fn urgent_in_quiet_hours_with_breakthrough_goes_now() {
        let now = utc(2026, 7, 1, NIGHT.0, NIGHT.1);
        let p = plan(
            &RoutingPolicy::default(),
            &kyiv_nights(true),
            &event("alert", Some(Urgency::Urgent), now),
        );
        assert_eq!(p.steps[1].timing, Timing::Now);
    }

    #[test]
    fn info_goes_to_the_digest_even_at_night() {
        let now = utc(2026, 7, 1, NIGHT.0, NIGHT.1);
        let p = plan(
            &RoutingPolicy::default(),
            &kyiv_nights(false),
            &event("report", None, now), // default urgency: info
        );
        assert_eq!(p.urgency, Urgency::Info);
        assert_eq!(
            p.steps,
            vec![
                web(),
                Step {
                    channel: Email,
                    timing: Timing::Digest,
                    fallbacks: vec![],
                }
            ]
        );
    }

    #[test]
    fn info_with_a_web_digest_is_web_only() {
        let prefs = Preferences {
            digest_channel: Web,
            ..Preferences::default()
        };
        let now = utc(2026, 7, 1, DAY.0, DAY.1);
        let p = plan(
            &RoutingPolicy::default(),
            &prefs,
            &event("report", None, now),
        );
        assert_eq!(p.steps, vec![web()]);
    }

    #[test]
    fn fyi_is_web_only() {
        let now = utc(2026, 7, 1, DAY.0, DAY.1);
        let p = plan(
            &RoutingPolicy::default(),
            &kyiv_nights(true),
            &event("note", Some(Urgency::Fyi), now),
        );
        assert_eq!(p.urgency, Urgency::Fyi);
        assert_eq!(p.steps, vec![web()]);
    }

    #[test]
    fn kind_urgency_applies_when_the_sender_gives_none() {
        let mut policy = RoutingPolicy::default();
        policy
            .kind_urgency
            .insert("decision".into(), Urgency::Urgent);
        let now = utc(2026, 7, 1, DAY.0, DAY.1);
        let p = plan(
            &policy,
            &Preferences::default(),
            &event("decision", None, now),
        );
        assert_eq!(p.urgency, Urgency::Urgent);
        assert_eq!(p.steps[1].channel, Console);
    }

    #[test]
    fn dedupe_inside_outside_and_at_the_window_edge() {
        let policy = RoutingPolicy::default(); // 300 s
        let prefs = Preferences::default();
        let now = utc(2026, 7, 1, DAY.0, DAY.1);
        let with_last = |secs_ago: i64| Event {
            last_duplicate_at: Some(now - chrono::TimeDelta::seconds(secs_ago)),
            ..event("alert", Some(Urgency::Urgent), now)
        };
        let inside = plan(&policy, &prefs, &with_last(299));
        assert!(inside.duplicate);
        assert!(inside.steps.is_empty());
        assert_eq!(inside.urgency, Urgency::Urgent);
        let edge = plan(&policy, &prefs, &with_last(300));
        assert!(!edge.duplicate);
        assert_eq!(edge.steps.len(), 2);
        assert!(!plan(&policy, &prefs, &with_last(3600)).duplicate);
        let off = RoutingPolicy {
            dedupe_window_secs: 0,
            ..RoutingPolicy::default()
        };
        assert!(!plan(&off, &prefs, &with_last(0)).duplicate);
    }

    #[test]
    fn by_kind_overrides_the_push_list() {
        let mut prefs = kyiv_nights(true);
        prefs
            .by_kind
            .insert("deploy".into(), vec![Discord, Telegram]);
        let now = utc(2026, 7, 1, DAY.0, DAY.1);
        let deploy = plan(
            &RoutingPolicy::default(),
            &prefs,
            &event("deploy", Some(Urgency::Urgent), now),
        );
        assert_eq!(deploy.steps[1].channel, Discord);
        // Email closes the chain (the hub-wide email fallback rule).
        assert_eq!(deploy.steps[1].fallbacks, vec![Telegram, Email]);
        let other = plan(
            &RoutingPolicy::default(),
            &prefs,
            &event("alert", Some(Urgency::Urgent), now),
        );
        assert_eq!(other.steps[1].channel, Telegram);
    }

    #[test]
    fn web_and_repeats_in_the_push_list_are_not_doubled() {
        let prefs = Preferences {
            push: vec![Web, Slack, Web, Email, Slack],
            ..Preferences::default()
        };
        let now = utc(2026, 7, 1, DAY.0, DAY.1);
        let p = plan(
            &RoutingPolicy::default(),
            &prefs,
            &event("alert", Some(Urgency::Urgent), now),
        );
        assert_eq!(
            p.steps,
            vec![
                web(),
                Step {
                    channel: Slack,
                    timing: Timing::Now,
                    fallbacks: vec![Email],
                }
            ]
        );
    }

    #[test]
    fn urgent_with_only_web_to_push_is_web_only() {
        let prefs = Preferences {
            push: vec![Web],
            ..Preferences::default()
        };
        let now = utc(2026, 7, 1, DAY.0, DAY.1);
        let p = plan(
            &RoutingPolicy::default(),
            &prefs,
            &event("alert", Some(Urgency::Urgent), now),
        );
        assert_eq!(p.steps, vec![web()]);
    }

    #[test]
    fn email_closes_the_fallback_chain_unless_listed_or_turned_off() {
        let now = utc(2026, 7, 1, DAY.0, DAY.1);
        let prefs = Preferences {
            push: vec![Telegram, Slack],
            ..Preferences::default()
        };
        let urgent = event("alert", Some(Urgency::Urgent), now);
        let p = plan(&RoutingPolicy::default(), &prefs, &urgent);
        assert_eq!(p.steps[1].channel, Telegram);
        assert_eq!(p.steps[1].fallbacks, vec![Slack, Email]);
        // Listed early: left where the person put it, not repeated.
        let listed = Preferences {
            push: vec![Email, Telegram],
            ..Preferences::default()
        };
        let p = plan(&RoutingPolicy::default(), &listed, &urgent);
        assert_eq!(
            (p.steps[1].channel, p.steps[1].fallbacks.clone()),
            (Email, vec![Telegram])
        );
        let off = RoutingPolicy {
            email_fallback: false,
            ..RoutingPolicy::default()
        };
        assert_eq!(plan(&off, &prefs, &urgent).steps[1].fallbacks, vec![Slack]);
        // Nothing to push besides the web feed: email is a fallback, not a push.
        let web_only = Preferences {
            push: vec![Web],
            ..Preferences::default()
        };
        assert_eq!(
            plan(&RoutingPolicy::default(), &web_only, &urgent).steps,
            vec![web()]
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn channel() -> impl Strategy<Value = ChannelKind> {
            proptest::sample::select(ChannelKind::ALL.to_vec())
        }

        proptest! {
            /// For any push list with a non-web channel, the push chain is the
            /// person's list (web and repeats removed, order kept) with email
            /// exactly once, last unless the person placed it.
            #[test]
            fn push_chain_ends_in_email_exactly_once(push in proptest::collection::vec(channel(), 0..8)) {
                let prefs = Preferences { push: push.clone(), ..Preferences::default() };
                let now = utc(2026, 7, 1, DAY.0, DAY.1);
                let p = plan(&RoutingPolicy::default(), &prefs, &event("alert", Some(Urgency::Urgent), now));
                let mut expected: Vec<ChannelKind> = Vec::new();
                for c in push.iter().copied().filter(|c| *c != Web) {
                    if !expected.contains(&c) { expected.push(c); }
                }
                if expected.is_empty() {
                    prop_assert_eq!(p.steps.len(), 1);
                } else {
                    if !expected.contains(&Email) { expected.push(Email); }
                    let step = &p.steps[1];
                    let chain: Vec<ChannelKind> = std::iter::once(step.channel).chain(step.fallbacks.iter().copied()).collect();
                    prop_assert_eq!(chain.iter().filter(|c| **c == Email).count(), 1);
                    prop_assert_eq!(chain, expected);
                }
            }
        }
    }
}
