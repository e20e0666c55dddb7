//! Daily slots in a person's own time zone, for the digest and brief
//! schedulers: when does "09:00 for this person" next happen, and which
//! calendar day is it for them (the once-per-day slot key).

use crate::zone;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// The person's calendar date at `at`.
pub fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    zone::wall_clock(tz, at).date()
}

/// The instant the wall clock in `tz` reads `time` on `date`, by the one
/// rule every daily slot and every brief window uses (see `zone::resolve`):
/// in a fold the earlier instant, in a spring-forward gap the reading shifted
/// forward by the gap's length (03:30 in Kyiv's 03:00→04:00 gap is 04:30).
/// None only at the edges of chrono's calendar.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    zone::resolve(tz, date.and_time(time))
}

/// The next instant strictly after `after` whose wall clock in `tz` reads
/// `local`.
///
/// DST: on a fall-back day a reading that happens twice resolves to the
/// earlier instant only, so the slot fires once (asking again with `after` set
/// to that instant gives the next day's). On a spring-forward day a reading
/// that never happens is shifted forward by the gap's length (03:30 in a
/// 03:00→04:00 gap fires at 04:30); see `zone::resolve`.
pub fn next_local_time(tz: Tz, local: NaiveTime, after: DateTime<Utc>) -> DateTime<Utc> {
    let today = local_date(tz, after);
    // Yesterday's slot is tried too: a gap shift can push it past midnight.
    // Four days always contain the answer, since a slot recurs within 26 hours.
    let mut day = today.pred_opt().unwrap_or(today);
    for _ in 0..4 {
        if let Some(at) = local_instant(tz, day, local)
            && at > after
        {
            return at;
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    // Only reachable at the very end of chrono's calendar, where there is no
    // later day to schedule on; a day later is the closest honest answer.
    after
        .checked_add_signed(TimeDelta::days(1))
        .unwrap_or(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Kyiv;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid test instant")
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid test time")
    }

    #[test]
    fn kyiv_nine_is_six_utc_in_summer_and_seven_in_winter() {
        assert_eq!(
            next_local_time(Kyiv, hm(9, 0), utc(2026, 7, 1, 0, 0)),
            utc(2026, 7, 1, 6, 0)
        );
        assert_eq!(
            next_local_time(Kyiv, hm(9, 0), utc(2026, 1, 15, 0, 0)),
            utc(2026, 1, 15, 7, 0)
        );
    }

    #[test]
    fn strictly_after_moves_to_the_next_day() {
        let nine = utc(2026, 7, 1, 6, 0);
        assert_eq!(next_local_time(Kyiv, hm(9, 0), nine), utc(2026, 7, 2, 6, 0));
        assert_eq!(
            next_local_time(Kyiv, hm(9, 0), nine - TimeDelta::seconds(1)),
            nine
        );
    }

    #[test]
    fn kyiv_spring_forward_day() {
        // 2026-03-29 03:00 EET (+2) → 04:00 EEST (+3).
        let before = utc(2026, 3, 28, 12, 0);
        // 09:00 that day is already in summer time.
        assert_eq!(
            next_local_time(Kyiv, hm(9, 0), before),
            utc(2026, 3, 29, 6, 0)
        );
        // 03:30 does not exist: shifted by the hour gap to 04:30 EEST.
        let shifted = next_local_time(Kyiv, hm(3, 30), before);
        assert_eq!(shifted, utc(2026, 3, 29, 1, 30));
        // ...and fires once: the next one is the following day's 03:30 EEST.
        assert_eq!(
            next_local_time(Kyiv, hm(3, 30), shifted),
            utc(2026, 3, 30, 0, 30)
        );
    }

    #[test]
    fn kyiv_fall_back_day_fires_once_at_the_earlier_instant() {
        // 2026-10-25 04:00 EEST (+3) → 03:00 EET (+2): 03:30 happens twice,
        // at 00:30 and 01:30 UTC.
        let first = next_local_time(Kyiv, hm(3, 30), utc(2026, 10, 24, 12, 0));
        assert_eq!(first, utc(2026, 10, 25, 0, 30));
        assert_eq!(
            next_local_time(Kyiv, hm(3, 30), first),
            utc(2026, 10, 26, 1, 30)
        );
        // Even between the two readings the later duplicate is skipped.
        assert_eq!(
            next_local_time(Kyiv, hm(3, 30), utc(2026, 10, 25, 1, 0)),
            utc(2026, 10, 26, 1, 30)
        );
        // 09:00 that day is in winter time.
        assert_eq!(
            next_local_time(Kyiv, hm(9, 0), first),
            utc(2026, 10, 25, 7, 0)
        );
    }

    #[test]
    fn new_york_spring_forward_day() {
        // 2026-03-08 02:00 EST (-5) → 03:00 EDT (-4).
        let shifted = next_local_time(New_York, hm(2, 30), utc(2026, 3, 7, 12, 0));
        assert_eq!(shifted, utc(2026, 3, 8, 7, 30)); // 03:30 EDT
        assert_eq!(
            next_local_time(New_York, hm(2, 30), shifted),
            utc(2026, 3, 9, 6, 30)
        );
    }

    #[test]
    fn new_york_fall_back_day() {
        // 2026-11-01 02:00 EDT (-4) → 01:00 EST (-5): 01:30 happens at 05:30
        // and 06:30 UTC.
        let first = next_local_time(New_York, hm(1, 30), utc(2026, 10, 31, 12, 0));
        assert_eq!(first, utc(2026, 11, 1, 5, 30));
        assert_eq!(
            next_local_time(New_York, hm(1, 30), first),
            utc(2026, 11, 2, 6, 30)
        );
    }

    #[test]
    fn local_instant_is_the_rule_next_local_time_fires_by() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).expect("date");
        assert_eq!(
            local_instant(Kyiv, day, hm(3, 30)),
            Some(next_local_time(Kyiv, hm(3, 30), utc(2026, 3, 28, 12, 0)))
        );
        assert_eq!(
            local_instant(Kyiv, day, hm(3, 30)),
            Some(utc(2026, 3, 29, 1, 30))
        );
    }

    #[test]
    fn local_date_follows_the_persons_midnight() {
        // 22:30 UTC on 31 Dec is already New Year in Kyiv, still 31 Dec in NY.
        let at = utc(2025, 12, 31, 22, 30);
        assert_eq!(
            local_date(Kyiv, at),
            NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
        );
        assert_eq!(
            local_date(New_York, at),
            NaiveDate::from_ymd_opt(2025, 12, 31).expect("date")
        );
    }

    #[test]
    fn calendar_extremes_do_not_panic() {
        for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let _ = local_date(Kyiv, at);
            let _ = next_local_time(Kyiv, hm(9, 0), at);
            let _ = next_local_time(New_York, hm(9, 0), at);
        }
    }
}
