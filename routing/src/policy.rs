//! Hub-wide routing policy: how urgent an event is when its sender does not
//! say, and how long a repeat of the same event is suppressed.

use crate::Urgency;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoutingPolicy {
    /// Urgency per event kind (exact, case-sensitive match) when the sender
    /// gives none.
    pub kind_urgency: BTreeMap<String, Urgency>,
    /// Urgency of any other event the sender gives none for.
    pub default_urgency: Urgency,
    /// Repeats of the same dedupe key for the same recipient within this many
    /// seconds are dropped. 0 (or negative) turns dedupe off.
    pub dedupe_window_secs: i64,
    /// Email ends every push fallback chain that does not list it: when a
    /// person's chat channel keeps failing, the message still reaches them.
    /// (People without an email address simply skip that step.)
    pub email_fallback: bool,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        RoutingPolicy {
            kind_urgency: BTreeMap::new(),
            default_urgency: Urgency::Info,
            dedupe_window_secs: 300,
            email_fallback: true,
        }
    }
}

impl RoutingPolicy {
    /// The sender's word wins, then the per-kind setting, then the default.
    pub fn urgency_for(&self, kind: &str, explicit: Option<Urgency>) -> Urgency {
        explicit
            .or_else(|| self.kind_urgency.get(kind).copied())
            .unwrap_or(self.default_urgency)
    }

    /// Whether an event whose dedupe key was last accepted at `last` is a
    /// repeat at `now`: strictly less than the window has passed.
    ///
    /// A `last` slightly after `now` (clock skew between hub instances) also
    /// counts as a repeat; one further in the future than the window does not,
    /// so a bad timestamp cannot silence a key forever.
    pub fn is_duplicate(&self, now: DateTime<Utc>, last: Option<DateTime<Utc>>) -> bool {
        let Some(last) = last else {
            return false;
        };
        if self.dedupe_window_secs <= 0 {
            return false;
        }
        // Windows beyond chrono's range are simply "forever".
        let window = TimeDelta::try_seconds(self.dedupe_window_secs).unwrap_or(TimeDelta::MAX);
        now.signed_duration_since(last).abs() < window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + secs, 0).expect("valid test instant")
    }

    #[test]
    fn urgency_explicit_then_kind_then_default() {
        let mut policy = RoutingPolicy::default();
        policy
            .kind_urgency
            .insert("decision".into(), Urgency::Urgent);
        assert_eq!(
            policy.urgency_for("decision", Some(Urgency::Fyi)),
            Urgency::Fyi
        );
        assert_eq!(policy.urgency_for("decision", None), Urgency::Urgent);
        assert_eq!(policy.urgency_for("cost", None), Urgency::Info);
        policy.default_urgency = Urgency::Fyi;
        assert_eq!(policy.urgency_for("cost", None), Urgency::Fyi);
    }

    #[test]
    fn dedupe_inside_outside_and_at_the_window_edge() {
        let policy = RoutingPolicy::default(); // 300 s
        assert!(!policy.is_duplicate(at(0), None));
        assert!(policy.is_duplicate(at(0), Some(at(0))));
        assert!(policy.is_duplicate(at(299), Some(at(0))));
        assert!(
            !policy.is_duplicate(at(300), Some(at(0))),
            "edge is outside"
        );
        assert!(!policy.is_duplicate(at(301), Some(at(0))));
    }

    #[test]
    fn dedupe_tolerates_skew_but_not_far_future_stamps() {
        let policy = RoutingPolicy::default();
        assert!(policy.is_duplicate(at(0), Some(at(10))));
        assert!(!policy.is_duplicate(at(0), Some(at(3600))));
    }

    #[test]
    fn dedupe_off_and_huge_windows() {
        let off = RoutingPolicy {
            dedupe_window_secs: 0,
            ..RoutingPolicy::default()
        };
        assert!(!off.is_duplicate(at(0), Some(at(0))));
        let forever = RoutingPolicy {
            dedupe_window_secs: i64::MAX,
            ..RoutingPolicy::default()
        };
        assert!(forever.is_duplicate(DateTime::<Utc>::MAX_UTC, Some(DateTime::<Utc>::MIN_UTC)));
    }
}
