//! The instants a brief covers, in UTC, from the person's local date and
//! time zone. Pure arithmetic, so daylight-saving days are testable.

use crate::config::BriefConfig;
use crate::error::BriefError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

/// What one brief looks at. The store reads rows for these bounds; all are
/// UTC instants except `overdue_before_ms` (see below).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub person: String,
    pub tz: Tz,
    /// The person's local date the brief is for.
    pub date: NaiveDate,
    pub generated_at: DateTime<Utc>,
    /// Activity since the last brief (or 24 h before `until` when there was none).
    pub since: DateTime<Utc>,
    /// The brief's cut-off: its scheduled instant, or now if that is later.
    pub until: DateTime<Utc>,
    /// Local midnight starting `date`: "today" for spend (in the budgets'
    /// zone once [`Window::with_budget_zone`] applies).
    pub day_start: DateTime<Utc>,
    /// Local midnight seven days earlier: the 7-day average covers
    /// `[week_start, day_start)`.
    pub week_start: DateTime<Utc>,
    /// Local midnight on the first of the month, and of the next month.
    pub month_start: DateTime<Utc>,
    pub month_end: DateTime<Utc>,
    /// Due dates are stored as UTC midnight of the due day; a task is
    /// overdue when its due day is before the brief's date.
    pub overdue_before_ms: i64,
    /// Open urgent / high tasks created before these breach their SLA.
    pub sla_urgent_before: DateTime<Utc>,
    pub sla_high_before: DateTime<Utc>,
    /// No heartbeat since this instant: silent.
    pub silent_before: DateTime<Utc>,
}

impl Window {
    /// The window of `person`'s brief for local `date`, sent at local
    /// `brief_time`, computed at `now`. `last_brief_at`: when their previous
    /// brief went out, if ever. A date after the person's today is refused.
    pub fn new(
        person: &str,
        tz: Tz,
        date: NaiveDate,
        brief_time: NaiveTime,
        now: DateTime<Utc>,
        last_brief_at: Option<DateTime<Utc>>,
        cfg: &BriefConfig,
    ) -> Result<Window, BriefError> {
        let today = now.with_timezone(&tz).date_naive();
        if date > today {
            return Err(BriefError::Window(format!(
                "{date} is after today ({today}) in {tz}"
            )));
        }
        let scheduled = local_instant(tz, date, brief_time)?;
        // A brief built after its time (catch-up, chat command, preview of
        // today) covers up to now; one for a past day stops at its own time.
        let until = if date == today {
            now
        } else {
            scheduled.min(now)
        };
        let since = match last_brief_at {
            Some(t) if t < until => t,
            _ => until - Duration::hours(24),
        };
        let first = date.with_day(1).ok_or_else(|| bad_date(date))?;
        let next_month = if first.month() == 12 {
            NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
        }
        .ok_or_else(|| bad_date(date))?;
        let week = date
            .checked_sub_days(chrono::Days::new(7))
            .ok_or_else(|| bad_date(date))?;
        Ok(Window {
            person: person.to_string(),
            tz,
            date,
            generated_at: now,
            since,
            until,
            day_start: local_instant(tz, date, NaiveTime::MIN)?,
            week_start: local_instant(tz, week, NaiveTime::MIN)?,
            month_start: local_instant(tz, first, NaiveTime::MIN)?,
            month_end: local_instant(tz, next_month, NaiveTime::MIN)?,
            overdue_before_ms: date.and_time(NaiveTime::MIN).and_utc().timestamp_millis(),
            sla_urgent_before: until - Duration::hours(cfg.sla_urgent_hours),
            sla_high_before: until - Duration::hours(cfg.sla_high_hours),
            silent_before: until - Duration::minutes(cfg.silent_after_minutes),
        })
    }

    /// The spend periods — today, the seven days before, this month — in
    /// `tz`, the zone budgets follow (`[budgets] time_zone`), rather than
    /// the reader's: the brief's spend then agrees with the budget alerts,
    /// `GET /api/v1/agents/me` and the console's Costs page. "Today" is the
    /// day in `tz` at the brief's cut-off.
    pub fn with_budget_zone(mut self, tz: Tz) -> Result<Window, BriefError> {
        let date = self.until.with_timezone(&tz).date_naive();
        let first = date.with_day(1).ok_or_else(|| bad_date(date))?;
        let next_month = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| bad_date(date))?;
        let week = date
            .checked_sub_days(chrono::Days::new(7))
            .ok_or_else(|| bad_date(date))?;
        self.day_start = local_instant(tz, date, NaiveTime::MIN)?;
        self.week_start = local_instant(tz, week, NaiveTime::MIN)?;
        self.month_start = local_instant(tz, first, NaiveTime::MIN)?;
        self.month_end = local_instant(tz, next_month, NaiveTime::MIN)?;
        Ok(self)
    }

    /// Fraction of the month elapsed at `until` (0 < f ≤ 1), for the
    /// forecast. At least one day counts as elapsed: early on the 1st a few
    /// hours' spend would otherwise be multiplied by hundreds.
    pub fn month_elapsed(&self) -> f64 {
        let total = (self.month_end - self.month_start).num_milliseconds() as f64;
        if total <= 0.0 {
            return 1.0;
        }
        let done = (self.until - self.month_start)
            .num_milliseconds()
            .max(Duration::days(1).num_milliseconds()) as f64;
        (done / total).clamp(f64::MIN_POSITIVE, 1.0)
    }
}

fn bad_date(d: NaiveDate) -> BriefError {
    BriefError::Window(format!("no calendar arithmetic possible around {d}"))
}

/// The instant the wall clock in `tz` shows `time` on `date`, by the
/// scheduler's own rule (`routing::local_instant`): a brief's window ends
/// exactly when its slot fell due, also on daylight-saving days (in a
/// spring-forward gap the reading is shifted forward by the gap's length).
pub fn local_instant(
    tz: Tz,
    date: NaiveDate,
    time: NaiveTime,
) -> Result<DateTime<Utc>, BriefError> {
    routing::local_instant(tz, date, time)
        .ok_or_else(|| BriefError::Window(format!("{date} {time} does not exist in {tz}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }
    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }
    fn nine() -> NaiveTime {
        NaiveTime::from_hms_opt(9, 0, 0).unwrap()
    }

    #[test]
    fn kyiv_nine_is_six_utc_in_july_and_seven_in_january() {
        let kyiv: Tz = "Europe/Kyiv".parse().unwrap();
        let cfg = BriefConfig::default();
        let july = Window::new(
            "ceo",
            kyiv,
            day(2026, 7, 1),
            nine(),
            utc(2026, 7, 2, 0, 0),
            None,
            &cfg,
        )
        .unwrap();
        assert_eq!(july.until, utc(2026, 7, 1, 6, 0));
        assert_eq!(july.day_start, utc(2026, 6, 30, 21, 0));
        let jan = Window::new(
            "ceo",
            kyiv,
            day(2026, 1, 15),
            nine(),
            utc(2026, 1, 16, 0, 0),
            None,
            &cfg,
        )
        .unwrap();
        assert_eq!(jan.until, utc(2026, 1, 15, 7, 0));
        assert_eq!(jan.day_start, utc(2026, 1, 14, 22, 0));
        assert_eq!(jan.since, utc(2026, 1, 14, 7, 0));
        assert_eq!(jan.month_start, utc(2025, 12, 31, 22, 0));
        assert_eq!(jan.month_end, utc(2026, 1, 31, 22, 0));
    }

    #[test]
    fn a_month_with_a_dst_change_has_its_real_length() {
        let kyiv: Tz = "Europe/Kyiv".parse().unwrap();
        let w = Window::new(
            "ceo",
            kyiv,
            day(2026, 3, 31),
            nine(),
            utc(2026, 4, 1, 0, 0),
            None,
            &BriefConfig::default(),
        )
        .unwrap();
        // March 2026 in Kyiv is 31 days minus the hour lost on the 29th.
        assert_eq!((w.month_end - w.month_start).num_hours(), 31 * 24 - 1);
    }

    #[test]
    fn activity_starts_at_the_last_brief_and_today_stops_at_now() {
        let utc_tz = Tz::UTC;
        let last = utc(2026, 7, 9, 9, 0);
        let now = utc(2026, 7, 10, 8, 0); // before today's 09:00
        let w = Window::new(
            "p",
            utc_tz,
            day(2026, 7, 10),
            nine(),
            now,
            Some(last),
            &BriefConfig::default(),
        )
        .unwrap();
        assert_eq!(w.since, last);
        assert_eq!(w.until, now);
        assert_eq!(w.silent_before, now - Duration::minutes(30));
    }

    #[test]
    fn a_time_in_the_spring_gap_ends_the_window_when_the_scheduler_fires() {
        // 03:30 does not exist on 29 March 2026 in Kyiv (03:00 → 04:00).
        // The scheduler fires at 04:30 local (01:30 UTC); the window of that
        // day's brief must end at the same instant.
        let kyiv: Tz = "Europe/Kyiv".parse().unwrap();
        let t = NaiveTime::from_hms_opt(3, 30, 0).unwrap();
        let fired = routing::next_local_time(kyiv, t, utc(2026, 3, 28, 12, 0));
        assert_eq!(fired, utc(2026, 3, 29, 1, 30));
        let w = Window::new(
            "ceo",
            kyiv,
            day(2026, 3, 29),
            t,
            utc(2026, 3, 30, 12, 0),
            None,
            &BriefConfig::default(),
        )
        .unwrap();
        assert_eq!(w.until, fired);
    }

    #[test]
    fn early_on_the_first_at_least_a_day_counts_as_elapsed() {
        // 03:00 UTC on 1 July: 3 of 744 hours, counted as 24.
        let w = Window::new(
            "p",
            Tz::UTC,
            day(2026, 7, 1),
            NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
            utc(2026, 7, 1, 3, 0),
            None,
            &BriefConfig::default(),
        )
        .unwrap();
        assert_eq!(w.month_elapsed(), 24.0 / 744.0);
    }

    #[test]
    fn a_future_date_is_refused() {
        let e = Window::new(
            "p",
            Tz::UTC,
            day(2026, 7, 11),
            nine(),
            utc(2026, 7, 10, 8, 0),
            None,
            &BriefConfig::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("2026-07-11 is after today"), "{e}");
    }
}
