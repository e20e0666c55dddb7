//! Cron expressions of `[watchers]`: parsed the way tokio-cron-scheduler
//! parses them (croner, seconds field required), and which scheduled instant
//! a tick belongs to — pure, so it is tested without a clock.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// Parse `expr` (`sec min hour day-of-month month day-of-week`) with the
/// options tokio-cron-scheduler 0.15 parses its jobs with, so what passes
/// here is what it runs.
pub fn parse(expr: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .map_err(|e| {
            format!("not a cron expression with a seconds field ({e}), e.g. \"0 */5 * * * *\"")
        })
}

/// The latest instant of `schedule` at or before `now`: the tick a run at
/// `now` belongs to. The scheduler fires a little after the instant (it
/// looks at the clock every 500 ms), and two instances fire a moment apart:
/// both name the same tick. None when the schedule has no earlier instant.
pub fn latest_at_or_before(schedule: &Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule.find_previous_occurrence(&now, true).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, h, m, s)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn a_tick_is_its_scheduled_instant() {
        let every5 = parse("0 */5 * * * *").expect("valid");
        assert_eq!(
            latest_at_or_before(&every5, at(10, 5, 0)),
            Some(at(10, 5, 0))
        );
        // Fired late, or by a second instance a moment later: the same tick.
        assert_eq!(
            latest_at_or_before(&every5, at(10, 5, 1)),
            Some(at(10, 5, 0))
        );
        assert_eq!(
            latest_at_or_before(&every5, at(10, 9, 59)),
            Some(at(10, 5, 0))
        );
        assert_eq!(
            latest_at_or_before(&every5, at(10, 10, 0)),
            Some(at(10, 10, 0))
        );
        let daily = parse("0 30 9 * * *").expect("valid");
        assert_eq!(
            latest_at_or_before(&daily, at(8, 0, 0)),
            Some(at(9, 30, 0) - chrono::Duration::days(1))
        );
    }

    #[test]
    fn a_bad_expression_says_what_is_expected() {
        let e = parse("*/5 * * * *").expect_err("five fields");
        assert!(e.contains("seconds field"), "{e}");
        assert!(parse("0 0 25 * * *").is_err(), "hour 25");
        assert!(parse("every five minutes").is_err());
    }
}
