//! Budget periods in the company's time zone (`[budgets] time_zone`): an
//! agent's day and a project's month start at that zone's midnight, so a
//! day's spend resets when the people's day does. Every place that speaks
//! of "today" or "this month" for budgets reads its bounds from here.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

/// A budget period: `[start, end)` and its key in the budget tables (the
/// local date `2026-12-05`, or month `2026-12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub key: String,
}

/// Local midnight starting `date` in `tz` (on a day whose midnight is
/// skipped, the first instant of the day).
fn midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    routing::local_instant(tz, date, NaiveTime::MIN)
        .unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc())
}

/// The local day in `tz` containing `now`.
pub fn day(tz: Tz, now: DateTime<Utc>) -> Period {
    let date = now.with_timezone(&tz).date_naive();
    let next = date.succ_opt().unwrap_or(date);
    Period {
        start: midnight(tz, date),
        end: midnight(tz, next),
        key: date.format("%Y-%m-%d").to_string(),
    }
}

/// The local month in `tz` containing `now`.
pub fn month(tz: Tz, now: DateTime<Utc>) -> Period {
    let date = now.with_timezone(&tz).date_naive();
    let first = date.with_day(1).unwrap_or(date);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    Period {
        start: midnight(tz, first),
        end: midnight(tz, next),
        key: first.format("%Y-%m").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn kyivs_day_and_month_start_at_its_midnight_not_utcs() {
        let kyiv: Tz = "Europe/Kyiv".parse().unwrap();
        // 22:30 UTC on 31 December is 00:30 on 1 January in Kyiv (UTC+2).
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 22, 30, 0).unwrap();
        let d = day(kyiv, now);
        assert_eq!(d.key, "2027-01-01");
        assert_eq!(
            d.start,
            Utc.with_ymd_and_hms(2026, 12, 31, 22, 0, 0).unwrap()
        );
        assert_eq!(d.end, Utc.with_ymd_and_hms(2027, 1, 1, 22, 0, 0).unwrap());
        let m = month(kyiv, now);
        assert_eq!(m.key, "2027-01");
        assert_eq!(m.start, d.start);
        assert_eq!(m.end, Utc.with_ymd_and_hms(2027, 1, 31, 22, 0, 0).unwrap());
        // A minute before Kyiv's midnight is still the old day and month.
        let before = Utc.with_ymd_and_hms(2026, 12, 31, 21, 59, 0).unwrap();
        assert_eq!(day(kyiv, before).key, "2026-12-31");
        assert_eq!(month(kyiv, before).key, "2026-12");
        // A DST day is 23 hours long.
        let spring = Utc.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap();
        let d = day(kyiv, spring);
        assert_eq!((d.end - d.start).num_hours(), 23);
        assert_eq!(day(Tz::UTC, now).key, "2026-12-31");
    }
}
