//! One person's delivery preferences: where pushes go, where the digest goes,
//! and when they do not want to be disturbed.

use crate::ChannelKind;
use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A daily do-not-disturb window in the person's wall-clock time, from `start`
/// (inclusive) to `end` (exclusive). It may wrap midnight (22:00–07:00);
/// `start == end` means no quiet hours at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    /// Whether urgent pushes are delivered during the window anyway.
    #[serde(default)]
    pub urgent_breaks_through: bool,
}

impl QuietHours {
    /// Whether the window covers the wall-clock time `t`.
    pub fn covers(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// True when the window covers no time at all.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preferences {
    /// IANA name on the wire ("Europe/Kyiv").
    #[serde(with = "tz_name")]
    pub time_zone: Tz,
    /// Push channels in order of preference: the first is tried first, the
    /// rest are fallbacks.
    pub push: Vec<ChannelKind>,
    /// Per event-kind replacement for `push`.
    pub by_kind: BTreeMap<String, Vec<ChannelKind>>,
    /// Where `info` items are collected.
    pub digest_channel: ChannelKind,
    pub quiet_hours: Option<QuietHours>,
}

impl Default for Preferences {
    /// What `orkhub serve` with no platform tokens can deliver: console pushes,
    /// an email digest, UTC, never quiet.
    fn default() -> Self {
        Preferences {
            time_zone: Tz::UTC,
            push: vec![ChannelKind::Console],
            by_kind: BTreeMap::new(),
            digest_channel: ChannelKind::Email,
            quiet_hours: None,
        }
    }
}

/// chrono-tz's own serde support is behind a feature the workspace does not
/// enable; the IANA name is all we need.
mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("unknown time zone {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid test time")
    }

    fn quiet(start: NaiveTime, end: NaiveTime) -> QuietHours {
        QuietHours {
            start,
            end,
            urgent_breaks_through: false,
        }
    }

    #[test]
    fn window_that_wraps_midnight() {
        let q = quiet(hm(22, 0), hm(7, 0));
        assert!(q.covers(hm(22, 0)));
        assert!(q.covers(hm(23, 59)));
        assert!(q.covers(hm(0, 0)));
        assert!(q.covers(hm(6, 59)));
        assert!(!q.covers(hm(7, 0)));
        assert!(!q.covers(hm(12, 0)));
        assert!(!q.covers(hm(21, 59)));
    }

    #[test]
    fn window_within_a_day() {
        let q = quiet(hm(13, 0), hm(14, 0));
        assert!(q.covers(hm(13, 0)));
        assert!(!q.covers(hm(14, 0)));
        assert!(!q.covers(hm(12, 59)));
    }

    #[test]
    fn equal_start_and_end_is_never_quiet() {
        let q = quiet(hm(8, 0), hm(8, 0));
        assert!(q.is_empty());
        assert!(!q.covers(hm(8, 0)));
        assert!(!q.covers(hm(20, 0)));
    }

    #[test]
    fn defaults_match_a_tokenless_hub() {
        let p = Preferences::default();
        assert_eq!(p.time_zone, Tz::UTC);
        assert_eq!(p.push, vec![ChannelKind::Console]);
        assert_eq!(p.digest_channel, ChannelKind::Email);
        assert_eq!(p.quiet_hours, None);
    }
}
