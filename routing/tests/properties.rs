//! Property tests for the routing rules and the DST-sensitive time helpers.
//!
//! Instants are drawn across 2020–2035 in a handful of real zones chosen for
//! awkward rules (30-minute DST, DST at midnight, 45-minute offsets, negative
//! DST, no DST), half of them within a day and a half of an offset change so
//! that gaps and folds are exercised, not just hoped for.

use chrono::{DateTime, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use routing::{
    ChannelKind, Event, Preferences, QuietHours, RoutingPolicy, Timing, Urgency, is_quiet,
    local_date, next_local_time, plan, quiet_ends_after,
};

const ZONES: [Tz; 12] = [
    Tz::UTC,
    Tz::Europe__Kyiv,
    Tz::Europe__London,
    Tz::America__New_York,
    Tz::America__St_Johns,
    Tz::America__Santiago,
    Tz::Australia__Lord_Howe,
    Tz::Asia__Kolkata,
    Tz::Asia__Kathmandu,
    Tz::Pacific__Chatham,
    Tz::Africa__Casablanca,
    Tz::Pacific__Kiritimati,
];

const KINDS: [&str; 3] = ["alert", "deploy", "report"];

/// 2020-01-01T00:00Z .. 2036-01-01T00:00Z
const FROM: i64 = 1_577_836_800;
const TO: i64 = 2_082_758_400;

fn offset_secs(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

fn wall(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

/// The first offset change after `at` within a year, to the second.
fn next_change(tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let start = offset_secs(tz, at);
    let (mut lo, mut hi) = (at.timestamp(), None);
    for day in 1..=400 {
        let t = at.timestamp() + day * 86_400;
        if offset_secs(tz, DateTime::from_timestamp(t, 0)?) != start {
            hi = Some(t);
            break;
        }
        lo = t;
    }
    let mut hi = hi?;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_secs(tz, DateTime::from_timestamp(mid, 0)?) == start {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// Either a uniform instant, or one within ±36 h (often ±2 h) of the next
/// offset change.
fn instant() -> impl Strategy<Value = (Tz, DateTime<Utc>)> {
    (
        prop::sample::select(ZONES.to_vec()),
        FROM..TO,
        0u32..1_000_000_000,
        any::<bool>(),
        prop_oneof![-129_600i64..129_600, -7_200i64..7_200],
    )
        .prop_map(|(tz, secs, nanos, near, jitter)| {
            // Whole seconds half the time: transitions and slots sit on them.
            let nanos = if near { 0 } else { nanos };
            let base = DateTime::from_timestamp(secs, nanos).unwrap_or_default();
            let at = if near {
                next_change(tz, base)
                    .and_then(|c| c.checked_add_signed(TimeDelta::seconds(jitter)))
                    .unwrap_or(base)
            } else {
                base
            };
            (tz, at)
        })
}

/// A wall-clock time: arbitrary, or close to the wall clock at `at` (so that,
/// near an offset change, it often lands in the gap or the fold).
fn local_time_near(tz: Tz, at: DateTime<Utc>, pick: (bool, u32, i64)) -> NaiveTime {
    let (near, secs, delta_min) = pick;
    if near {
        (wall(tz, at) + TimeDelta::minutes(delta_min)).time()
    } else {
        NaiveTime::from_num_seconds_from_midnight_opt(secs % 86_400, 0).unwrap_or_default()
    }
}

fn local_pick() -> impl Strategy<Value = (bool, u32, i64)> {
    (any::<bool>(), 0u32..86_400, -120i64..120)
}

fn channel() -> impl Strategy<Value = ChannelKind> {
    prop::sample::select(ChannelKind::ALL.to_vec())
}

fn urgency() -> impl Strategy<Value = Urgency> {
    prop::sample::select(Urgency::ALL.to_vec())
}

fn quiet_hours() -> impl Strategy<Value = QuietHours> {
    (0u32..96, 0u32..96, any::<bool>(), any::<bool>()).prop_map(|(s, e, same, breaks)| {
        // Quarter hours, like people set them (and like DST changes fall).
        let t = |q: u32| NaiveTime::from_hms_opt(q / 4, (q % 4) * 15, 0).unwrap_or_default();
        QuietHours {
            start: t(s),
            end: if same { t(s) } else { t(e) },
            urgent_breaks_through: breaks,
        }
    })
}

fn preferences(tz: Tz) -> impl Strategy<Value = Preferences> {
    (
        prop::collection::vec(channel(), 0..7),
        prop::collection::btree_map(
            prop::sample::select(KINDS.to_vec()).prop_map(String::from),
            prop::collection::vec(channel(), 0..7),
            0..3,
        ),
        channel(),
        prop::option::of(quiet_hours()),
    )
        .prop_map(
            move |(push, by_kind, digest_channel, quiet_hours)| Preferences {
                time_zone: tz,
                push,
                by_kind,
                digest_channel,
                quiet_hours,
            },
        )
}

fn policy() -> impl Strategy<Value = RoutingPolicy> {
    (
        prop::collection::btree_map(
            prop::sample::select(KINDS.to_vec()).prop_map(String::from),
            urgency(),
            0..3,
        ),
        urgency(),
        prop_oneof![Just(0i64), Just(300), -10i64..1_000],
        any::<bool>(),
    )
        .prop_map(
            |(kind_urgency, default_urgency, dedupe_window_secs, email_fallback)| RoutingPolicy {
                kind_urgency,
                default_urgency,
                dedupe_window_secs,
                email_fallback,
            },
        )
}

#[derive(Debug)]
struct Case {
    policy: RoutingPolicy,
    prefs: Preferences,
    kind: &'static str,
    urgency: Option<Urgency>,
    now: DateTime<Utc>,
    last: Option<DateTime<Utc>>,
}

impl Case {
    fn event(&self) -> Event<'_> {
        Event {
            kind: self.kind,
            urgency: self.urgency,
            now: self.now,
            last_duplicate_at: self.last,
        }
    }
}

fn case() -> impl Strategy<Value = Case> {
    instant().prop_flat_map(|(tz, now)| {
        (
            policy(),
            preferences(tz),
            prop::sample::select(KINDS.to_vec()),
            prop::option::of(urgency()),
            prop::option::of(-2_000i64..2_000),
        )
            .prop_map(move |(policy, prefs, kind, urgency, last_ago)| Case {
                policy,
                prefs,
                kind,
                urgency,
                now,
                last: last_ago.map(|s| now - TimeDelta::seconds(s)),
            })
    })
}

/// The push list as the rules describe it, written independently of the
/// crate: the kind's override or the default, without Web, first copy wins.
fn expected_push(prefs: &Preferences, kind: &str) -> Vec<ChannelKind> {
    let listed = prefs.by_kind.get(kind).unwrap_or(&prefs.push);
    let mut out = Vec::new();
    for c in listed {
        if *c != ChannelKind::Web && !out.contains(c) {
            out.push(*c);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn web_comes_first_unless_duplicate(c in case()) {
        let p = plan(&c.policy, &c.prefs, &c.event());
        prop_assert_eq!(p.urgency, c.policy.urgency_for(c.kind, c.urgency));
        if p.duplicate {
            prop_assert!(p.steps.is_empty());
        } else {
            prop_assert_eq!(p.steps[0].channel, ChannelKind::Web);
            prop_assert_eq!(p.steps[0].timing, Timing::Now);
            prop_assert!(p.steps[0].fallbacks.is_empty());
        }
    }

    #[test]
    fn duplicate_exactly_when_inside_a_positive_window(c in case()) {
        let p = plan(&c.policy, &c.prefs, &c.event());
        let inside = match c.last {
            Some(last) if c.policy.dedupe_window_secs > 0 => {
                (c.now - last).num_nanoseconds().unwrap_or(i64::MAX).abs()
                    < c.policy.dedupe_window_secs * 1_000_000_000
            }
            _ => false,
        };
        prop_assert_eq!(p.duplicate, inside);
    }

    #[test]
    fn fyi_is_only_ever_web(c in case()) {
        let p = plan(&c.policy, &c.prefs, &c.event());
        if p.urgency == Urgency::Fyi {
            prop_assert!(p.steps.iter().all(|s| s.channel == ChannelKind::Web));
        }
    }

    #[test]
    fn no_channel_appears_twice(c in case()) {
        let p = plan(&c.policy, &c.prefs, &c.event());
        for step in &p.steps {
            // Across steps, and across each step's channel and fallbacks.
            prop_assert_eq!(p.steps.iter().filter(|s| s.channel == step.channel).count(), 1);
            let mut all = vec![step.channel];
            all.extend(&step.fallbacks);
            let mut sorted = all.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), all.len());
        }
    }

    #[test]
    fn urgent_has_exactly_one_push_step_with_the_rest_as_fallbacks(c in case()) {
        let p = plan(&c.policy, &c.prefs, &c.event());
        let mut expected = expected_push(&c.prefs, c.kind);
        // The email fallback rule: email closes a chain that does not list it.
        if c.policy.email_fallback && !expected.is_empty() && !expected.contains(&ChannelKind::Email) {
            expected.push(ChannelKind::Email);
        }
        if p.urgency == Urgency::Urgent && !p.duplicate && !expected.is_empty() {
            let pushes: Vec<_> = p.steps.iter().filter(|s| s.channel != ChannelKind::Web).collect();
            prop_assert_eq!(pushes.len(), 1);
            prop_assert_eq!(pushes[0].channel, expected[0]);
            prop_assert_eq!(&pushes[0].fallbacks, &expected[1..].to_vec());
        }
    }

    #[test]
    fn info_adds_only_a_digest_step(c in case()) {
        let p = plan(&c.policy, &c.prefs, &c.event());
        if p.urgency == Urgency::Info && !p.duplicate {
            let rest = &p.steps[1..];
            if c.prefs.digest_channel == ChannelKind::Web {
                prop_assert!(rest.is_empty());
            } else {
                prop_assert_eq!(rest.len(), 1);
                prop_assert_eq!(rest[0].channel, c.prefs.digest_channel);
                prop_assert_eq!(rest[0].timing, Timing::Digest);
            }
        }
    }

    #[test]
    fn held_steps_wait_until_a_non_quiet_instant_after_now(c in case()) {
        let p = plan(&c.policy, &c.prefs, &c.event());
        for step in &p.steps {
            if let Timing::After(t) = step.timing {
                prop_assert!(t > c.now, "After({t}) for now {}", c.now);
                let q = c.prefs.quiet_hours.as_ref();
                prop_assert!(q.is_some_and(|q| !q.urgent_breaks_through));
                prop_assert!(q.is_some_and(|q| !is_quiet(q, c.prefs.time_zone, t)));
            }
        }
    }

    #[test]
    fn quiet_ends_at_the_first_non_quiet_instant(
        (tz, at) in instant(),
        start in local_pick(),
        end in local_pick(),
        urgent_breaks_through in any::<bool>(),
    ) {
        // Window edges near the wall clock at `at`, so that near an offset
        // change they often fall in the gap or the fold.
        let q = QuietHours {
            start: local_time_near(tz, at, start),
            end: local_time_near(tz, at, end),
            urgent_breaks_through,
        };
        let end = quiet_ends_after(&q, tz, at);
        prop_assert!(end >= at);
        if q.start == q.end {
            prop_assert!(!is_quiet(&q, tz, at));
            prop_assert_eq!(end, at);
        } else {
            prop_assert!(!is_quiet(&q, tz, end), "{end} is quiet");
            // The rest of today's window plus, when a spring-forward gap
            // swallows the whole of the day's non-quiet stretch, one more
            // day: under 49 hours.
            prop_assert!(end - at < TimeDelta::hours(49), "{end} is too far after {at}");
            // ...and nothing before it is: probe every 7 minutes and the
            // last second.
            let mut t = at;
            while t < end {
                prop_assert!(is_quiet(&q, tz, t), "{t} is not quiet but the end was {end}");
                t += TimeDelta::minutes(7);
            }
            let last = end - TimeDelta::seconds(1);
            if last >= at {
                prop_assert!(is_quiet(&q, tz, last));
            }
        }
    }

    #[test]
    fn next_local_time_is_the_next_reading_of_local(
        (tz, after) in instant(),
        pick in local_pick(),
    ) {
        let local = local_time_near(tz, after, pick);
        let next = next_local_time(tz, local, after);
        prop_assert!(next > after);
        prop_assert!(next < after + TimeDelta::hours(26), "{next} for {after}");
        let reading = wall(tz, next);
        if reading.time() == local {
            // In a fold it is the earlier of the two instants.
            let earliest = tz.from_local_datetime(&reading).earliest().map(|t| t.with_timezone(&Utc));
            prop_assert_eq!(earliest, Some(next));
        } else {
            // Only allowed when `local` did not exist that day; then it is
            // the pre-gap reading, i.e. shifted forward by the gap.
            let date = reading.date();
            let gap_day = [date, date.pred_opt().unwrap_or(date)]
                .into_iter()
                .find(|d| tz.from_local_datetime(&d.and_time(local)).earliest().is_none());
            prop_assert!(gap_day.is_some(), "{next} reads {reading}, wanted {local}");
            if let Some(d) = gap_day {
                let before_gap = offset_secs(tz, next - TimeDelta::hours(6));
                let shifted = d.and_time(local) - TimeDelta::seconds(before_gap.into());
                prop_assert_eq!(shifted.and_utc(), next);
            }
        }
    }

    #[test]
    fn a_daily_slot_fires_once_per_day(
        (tz, after) in instant(),
        pick in local_pick(),
    ) {
        let local = local_time_near(tz, after, pick);
        let first = next_local_time(tz, local, after);
        let second = next_local_time(tz, local, first);
        // Consecutive days' readings are 24 h apart give or take DST and a
        // gap shift; a fold's second reading would be at most 3 h later.
        prop_assert!(second - first > TimeDelta::hours(22), "{first} then {second}");
        prop_assert!(local_date(tz, second) > local_date(tz, first));
    }

    #[test]
    fn local_date_is_the_wall_clock_date((tz, at) in instant()) {
        prop_assert_eq!(local_date(tz, at), wall(tz, at).date());
    }
}
