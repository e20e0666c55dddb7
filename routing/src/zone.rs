//! Time-zone primitives shared by quiet hours and schedules: turning a wall
//! clock into instants, and finding where a zone's UTC offset changes.
//!
//! Everything here returns `Option`/`Vec` instead of panicking: chrono reports
//! gaps, folds and calendar overflow as values, and we keep them as values.

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};

/// The wall clock in `tz` at `at`.
///
/// chrono's own `with_timezone(..).naive_local()` panics when the reading
/// falls outside its calendar (e.g. `DateTime::<Utc>::MAX_UTC` east of UTC);
/// there, and only there, this gives the UTC reading instead.
pub(crate) fn wall_clock(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    let utc = at.naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc).fix();
    utc.checked_add_offset(offset).unwrap_or(utc)
}

/// The one instant a wall-clock reading stands for, for scheduling.
///
/// - Normal: the single instant.
/// - Fall-back fold (the reading happens twice): the EARLIER instant, so a
///   daily slot fires once and as early as it could.
/// - Spring-forward gap (the reading never happens): the reading taken in the
///   offset in force *before* the gap, i.e. shifted forward by the gap's
///   length. 03:30 on a day Kyiv jumps 03:00→04:00 becomes 04:30 local
///   (01:30 UTC). This is java.time's and Temporal's "compatible" rule; it
///   keeps the slot the same real time after the previous midnight.
///
/// `None` only at the edges of chrono's calendar.
pub(crate) fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        chrono::LocalResult::None => shift_over_gap(tz, local),
    }
}

/// A reading inside a gap, taken in the pre-gap offset (see [`resolve`]).
fn shift_over_gap(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let gap = GapInfo::new(&local, &tz)?;
    match gap.begin {
        Some((_, before)) => local
            .checked_sub_offset(before.fix())
            .map(|utc| utc.and_utc()),
        // A gap with no known "before" can only be at the start of the zone's
        // history; the first instant after it is the only sensible answer.
        None => gap.end.map(|t| t.with_timezone(&Utc)),
    }
}

/// Every instant whose wall clock in `tz` reads `local`: none in a gap, two in
/// a fold. Quiet hours need both fold instants, because a window can end at
/// the second one.
pub(crate) fn instants_at(tz: Tz, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        chrono::LocalResult::Ambiguous(a, b) => {
            vec![a.with_timezone(&Utc), b.with_timezone(&Utc)]
        }
        chrono::LocalResult::None => Vec::new(),
    }
}

/// How far apart we sample the offset when looking for changes. Real zones
/// never change their offset twice within an hour, so a change between two
/// samples is always a single transition.
const SAMPLE_SECS: i64 = 3600;

/// The instants in `(from, to]` at which `tz`'s UTC offset changes (the first
/// instant with the new offset), in order. Transitions in the tz database sit
/// on whole seconds, so bisection to the second is exact.
pub(crate) fn offset_changes(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut changes = Vec::new();
    let (mut lo, end) = (from.timestamp(), to.timestamp());
    let Some(mut lo_offset) = offset_at(tz, lo) else {
        return changes;
    };
    while lo < end {
        let hi = lo.saturating_add(SAMPLE_SECS).min(end);
        let Some(hi_offset) = offset_at(tz, hi) else {
            break;
        };
        if hi_offset != lo_offset
            && let Some(change) = first_change(tz, lo, hi, lo_offset)
        {
            changes.push(change);
        }
        (lo, lo_offset) = (hi, hi_offset);
    }
    changes
}

/// Smallest second in `(lo, hi]` whose offset differs from `lo_offset`, given
/// that `hi`'s does.
fn first_change(tz: Tz, mut lo: i64, mut hi: i64, lo_offset: i32) -> Option<DateTime<Utc>> {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_at(tz, mid)? == lo_offset {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// `tz`'s offset from UTC in seconds at the Unix second `secs`.
fn offset_at(tz: Tz, secs: i64) -> Option<i32> {
    let at = DateTime::from_timestamp(secs, 0)?;
    Some(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use chrono_tz::Europe::Kyiv;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|date| date.and_hms_opt(h, min, 0))
            .expect("valid test date")
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        local(y, m, d, h, min).and_utc()
    }

    #[test]
    fn gap_reading_is_shifted_forward_by_the_gap_length() {
        // Kyiv 2026-03-29: 03:00 EET (+2) jumps to 04:00 EEST (+3).
        assert_eq!(
            resolve(Kyiv, local(2026, 3, 29, 3, 30)),
            Some(utc(2026, 3, 29, 1, 30))
        );
        assert!(instants_at(Kyiv, local(2026, 3, 29, 3, 30)).is_empty());
    }

    #[test]
    fn fold_reading_resolves_to_the_earlier_instant() {
        // Kyiv 2026-10-25: 04:00 EEST (+3) falls back to 03:00 EET (+2).
        assert_eq!(
            resolve(Kyiv, local(2026, 10, 25, 3, 30)),
            Some(utc(2026, 10, 25, 0, 30))
        );
        assert_eq!(
            instants_at(Kyiv, local(2026, 10, 25, 3, 30)),
            vec![utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)]
        );
    }

    #[test]
    fn offset_changes_finds_the_exact_transition_second() {
        let changes = offset_changes(Kyiv, utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0));
        assert_eq!(changes, vec![utc(2026, 3, 29, 1, 0)]);
        let none = offset_changes(Kyiv, utc(2026, 6, 1, 0, 0), utc(2026, 6, 3, 0, 0));
        assert!(none.is_empty());
    }

    #[test]
    fn extremes_of_the_calendar_do_not_panic() {
        let _ = resolve(Kyiv, NaiveDateTime::MAX);
        let _ = resolve(Kyiv, NaiveDateTime::MIN);
        let _ = instants_at(Kyiv, NaiveDateTime::MAX);
        let _ = offset_changes(Kyiv, DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC);
        let _ = offset_changes(Kyiv, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MIN_UTC);
    }
}
