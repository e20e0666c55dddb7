//! Quiet hours against real instants: is the person's wall clock inside the
//! window now, and when does the window next let go.

use crate::QuietHours;
use crate::schedule::{local_date, next_local_time};
use crate::zone;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// Whether the person's wall clock in `tz` at `at` is inside the window.
pub fn is_quiet(q: &QuietHours, tz: Tz, at: DateTime<Utc>) -> bool {
    q.covers(zone::wall_clock(tz, at).time())
}

/// The first instant at or after `at` that is not quiet (`at` itself when it
/// is not).
///
/// Exact across DST: between two offset changes the wall clock runs
/// continuously, so it can only leave the window where it reads `end`, or
/// where the offset changes (a spring-forward gap that swallows `end`, or a
/// fall-back that sets the clock back to before `start`). The answer is the
/// earliest such instant that is not quiet. So an `end` inside a gap releases
/// at the first instant after the gap, and when `at` is in the second pass of
/// a fold the window ends at the *second* reading of `end` — unlike
/// `next_local_time`, which fires a daily slot once.
pub fn quiet_ends_after(q: &QuietHours, tz: Tz, at: DateTime<Utc>) -> DateTime<Utc> {
    if !is_quiet(q, tz, at) {
        return at;
    }
    // A window is shorter than a day, so it usually lets go within ~25
    // hours. But a spring-forward gap can swallow the whole of a day's
    // non-quiet stretch (a 04:00–03:59 window on the night 03:00 jumps to
    // 04:00), and then the next chance is a day later: two days of
    // candidates after today covers that.
    let horizon = at
        .checked_add_signed(TimeDelta::days(2))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut candidates = zone::offset_changes(tz, at, horizon);
    let mut day = local_date(tz, at).pred_opt();
    for _ in 0..4 {
        let Some(d) = day else { break };
        candidates.extend(zone::instants_at(tz, d.and_time(q.end)));
        day = d.succ_opt();
    }
    candidates
        .into_iter()
        .filter(|&c| c >= at && !is_quiet(q, tz, c))
        .min()
        // Unreachable for real zones (a non-empty window always ends within
        // the horizon); kept so that no input can panic.
        .unwrap_or_else(|| next_local_time(tz, q.end, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone};
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Kyiv;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid test instant")
    }

    fn quiet(start: (u32, u32), end: (u32, u32)) -> QuietHours {
        let hm = |(h, m)| NaiveTime::from_hms_opt(h, m, 0).expect("valid test time");
        QuietHours {
            start: hm(start),
            end: hm(end),
            urgent_breaks_through: false,
        }
    }

    #[test]
    fn wrapping_window_in_the_persons_zone() {
        let q = quiet((22, 0), (7, 0));
        // Kyiv summer is UTC+3: 22:00 local = 19:00 UTC.
        assert!(!is_quiet(&q, Kyiv, utc(2026, 7, 1, 18, 59)));
        assert!(is_quiet(&q, Kyiv, utc(2026, 7, 1, 19, 0)));
        assert!(is_quiet(&q, Kyiv, utc(2026, 7, 1, 23, 0))); // 02:00 local
        assert!(is_quiet(&q, Kyiv, utc(2026, 7, 2, 3, 59)));
        assert!(!is_quiet(&q, Kyiv, utc(2026, 7, 2, 4, 0)));
        // The same instant is not quiet in New York (15:00 local).
        assert!(!is_quiet(&q, New_York, utc(2026, 7, 1, 19, 0)));
    }

    #[test]
    fn ends_at_the_next_reading_of_end() {
        let q = quiet((22, 0), (7, 0));
        let late = utc(2026, 7, 1, 20, 0); // 23:00 Kyiv
        assert_eq!(quiet_ends_after(&q, Kyiv, late), utc(2026, 7, 2, 4, 0));
        let early = utc(2026, 7, 2, 1, 0); // 04:00 Kyiv
        assert_eq!(quiet_ends_after(&q, Kyiv, early), utc(2026, 7, 2, 4, 0));
        let day = utc(2026, 7, 2, 9, 0);
        assert_eq!(quiet_ends_after(&q, Kyiv, day), day);
    }

    #[test]
    fn empty_window_is_never_quiet() {
        let q = quiet((8, 0), (8, 0));
        let at = utc(2026, 7, 2, 5, 0); // 08:00 Kyiv
        assert!(!is_quiet(&q, Kyiv, at));
        assert_eq!(quiet_ends_after(&q, Kyiv, at), at);
    }

    #[test]
    fn end_inside_a_spring_forward_gap_releases_right_after_the_gap() {
        // Kyiv 2026-03-29: 03:00 EET jumps to 04:00 EEST at 01:00 UTC, so
        // 03:30 never happens and at 04:00 the window is over.
        let q = quiet((22, 0), (3, 30));
        let at = utc(2026, 3, 28, 23, 0); // 01:00 EET
        assert_eq!(quiet_ends_after(&q, Kyiv, at), utc(2026, 3, 29, 1, 0));
    }

    #[test]
    fn second_pass_of_a_fold_ends_at_the_second_reading() {
        // Kyiv 2026-10-25: 04:00 EEST → 03:00 EET at 01:00 UTC; 03:30 is read
        // at 00:30 UTC and again at 01:30 UTC.
        let q = quiet((22, 0), (3, 30));
        assert_eq!(
            quiet_ends_after(&q, Kyiv, utc(2026, 10, 24, 22, 0)),
            utc(2026, 10, 25, 0, 30)
        );
        // 03:10 EET, back inside the window after the clock went back.
        let second_pass = utc(2026, 10, 25, 1, 10);
        assert!(is_quiet(&q, Kyiv, second_pass));
        assert_eq!(
            quiet_ends_after(&q, Kyiv, second_pass),
            utc(2026, 10, 25, 1, 30)
        );
    }

    #[test]
    fn fall_back_to_before_start_ends_the_window_at_the_change() {
        // Quiet 03:30–07:00. At 03:45 EEST the clock is inside; at 01:00 UTC
        // it reads 03:00 EET, outside, for half an hour.
        let q = quiet((3, 30), (7, 0));
        let at = utc(2026, 10, 25, 0, 45);
        assert!(is_quiet(&q, Kyiv, at));
        assert_eq!(quiet_ends_after(&q, Kyiv, at), utc(2026, 10, 25, 1, 0));
    }

    #[test]
    fn new_york_spring_forward_night() {
        // 2026-03-08 02:00 EST → 03:00 EDT; quiet 23:00–07:00 is an hour
        // shorter in real time and ends at 07:00 EDT = 11:00 UTC.
        let q = quiet((23, 0), (7, 0));
        assert_eq!(
            quiet_ends_after(&q, New_York, utc(2026, 3, 8, 4, 0)),
            utc(2026, 3, 8, 11, 0)
        );
    }

    #[test]
    fn a_gap_that_swallows_the_only_free_minute_holds_for_another_day() {
        // Quiet 04:00–03:59: free only from 03:59 to 04:00. On 2025-03-30
        // Kyiv jumps from 03:00 EET to 04:00 EEST, so that minute never
        // comes; the next one is 03:59 EEST on the 31st (00:59 UTC).
        let q = quiet((4, 0), (3, 59));
        let at = utc(2025, 3, 29, 2, 4); // 04:04 EET on the 29th
        assert_eq!(quiet_ends_after(&q, Kyiv, at), utc(2025, 3, 31, 0, 59));
    }

    #[test]
    fn calendar_extremes_do_not_panic() {
        let q = quiet((0, 0), (23, 59));
        for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let _ = is_quiet(&q, Kyiv, at);
            let _ = quiet_ends_after(&q, Kyiv, at);
        }
    }
}
