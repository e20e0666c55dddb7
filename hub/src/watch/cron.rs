//! Cron expressions of `[watchers]`: parsed the way tokio-cron-scheduler
//! parses them (croner, seconds field required), and which scheduled instant
//! a tick belongs to — pure, so it is tested without a clock.

use chrono::{DateTime, Duration, Utc};
use croner::Cron;

/// Parse `expr` (`sec min hour day-of-month month day-of-week`).
pub fn parse(expr: &str) -> Result<Cron, String> {
    Cron::new(expr)
        .with_seconds_required()
        .parse()
        .map_err(|e| format!("not a cron expression with a seconds field ({e}), e.g. \"0 */5 * * * *\""))
}

/// The latest instant of `schedule` at or before `now`: the tick a run at
/// `now` belongs to. A scheduler that fires a little late (or two instances
/// that fire a moment apart) still name the same tick. None when the
/// schedule had no instant in the last 400 days.
pub fn latest_at_or_before(schedule: &Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut back = Duration::seconds(1);
    while back <= Duration::days(400) {
        let mut from = now - back;
        let mut latest = None;
        // Occurrences from `now - back` up to `now`; the last one wins.
        while let Ok(t) = schedule.find_next_occurrence(&from, latest.is_none()) {
            if t > now {
                break;
            }
            latest = Some(t);
            from = t;
        }
        if latest.is_some() {
            return latest;
        }
        back *= 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, h, m, s).single().unwrap_or_default()
    }

    #[test]
    fn a_tick_is_its_scheduled_instant() {
        let every5 = parse("0 */5 * * * *").expect("valid");
        assert_eq!(latest_at_or_before(&every5, at(10, 5, 0)), Some(at(10, 5, 0)));
        // Fired late, or by a second instance a moment later: the same tick.
        assert_eq!(latest_at_or_before(&every5, at(10, 5, 1)), Some(at(10, 5, 0)));
        assert_eq!(latest_at_or_before(&every5, at(10, 9, 59)), Some(at(10, 5, 0)));
        assert_eq!(latest_at_or_before(&every5, at(10, 10, 0)), Some(at(10, 10, 0)));
        let daily = parse("0 30 9 * * *").expect("valid");
        assert_eq!(latest_at_or_before(&daily, at(8, 0, 0)), Some(at(9, 30, 0) - Duration::days(1)));
    }

    #[test]
    fn a_bad_expression_says_what_is_expected() {
        let e = parse("*/5 * * * *").expect_err("five fields");
        assert!(e.contains("seconds field"), "{e}");
        assert!(parse("0 */61 * * * *").is_err());
    }
}
