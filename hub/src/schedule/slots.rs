//! When a person's daily job is due: pure arithmetic over their time zone,
//! so it is testable across daylight-saving changes without a clock.
//! (tokio-cron-scheduler freezes a zone's UTC offset when a job is created,
//! so it would drift by an hour at every DST change; see CRATE-NOTES.)

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

/// One run of a daily job for one person: the local date it belongs to and
/// the instant it fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub person: String,
    pub date: NaiveDate,
    pub due_at: DateTime<Utc>,
}

impl Slot {
    /// The key stored in `scheduled_runs.slot`: one per person and local day.
    pub fn key(&self) -> String {
        format!("{}:{}", self.person, self.date)
    }
}

/// The slot that is due at `now`: today's (in `tz`) once its local time has
/// passed. A hub that was down at the time catches up later the same local
/// day; a day that passed entirely while it was down is not replayed.
pub fn due_slot(person: &str, tz: Tz, local: NaiveTime, now: DateTime<Utc>) -> Option<Slot> {
    let today = routing::local_date(tz, now);
    // The last instant whose wall clock reads `local`, at or before now.
    let yesterday = today.pred_opt()?;
    // Start well before yesterday began anywhere on Earth (UTC−12..+14) and
    // walk forward; it takes at most three steps.
    let search_from = yesterday.and_time(NaiveTime::MIN).and_utc() - chrono::Duration::hours(15);
    let mut due = routing::next_local_time(tz, local, search_from);
    loop {
        let next = routing::next_local_time(tz, local, due);
        if next > now {
            break;
        }
        due = next;
    }
    if due > now || routing::local_date(tz, due) != today {
        return None;
    }
    Some(Slot {
        person: person.to_string(),
        date: today,
        due_at: due,
    })
}

/// The slots due at `now`: today's (see [`due_slot`]), preceded by
/// yesterday's when it fell due no more than `catch_up` ago — a hub that was
/// down from 23:45 to 00:05 still sends the 23:50 brief. The caller skips
/// those already done. Yesterday's instant comes from the same resolver as
/// every other slot (`routing::local_instant`).
pub fn due_slots(
    person: &str,
    tz: Tz,
    local: NaiveTime,
    now: DateTime<Utc>,
    catch_up: chrono::Duration,
) -> Vec<Slot> {
    let mut out = Vec::with_capacity(2);
    let today = routing::local_date(tz, now);
    if let Some(yesterday) = today.pred_opt()
        && let Some(due) = routing::local_instant(tz, yesterday, local)
        && due <= now
        && now - due <= catch_up
    {
        out.push(Slot {
            person: person.to_string(),
            date: yesterday,
            due_at: due,
        });
    }
    out.extend(due_slot(person, tz, local, now));
    out
}

/// When `local` next falls due in `tz` after `now`.
pub fn next_due(tz: Tz, local: NaiveTime, now: DateTime<Utc>) -> DateTime<Utc> {
    routing::next_local_time(tz, local, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn kyiv_nine_is_six_utc_in_july_and_seven_in_january() {
        let kyiv: Tz = "Europe/Kyiv".parse().unwrap();
        let july = due_slot("ceo", kyiv, t(9, 0), utc(2026, 7, 1, 6, 0)).unwrap();
        assert_eq!(july.due_at, utc(2026, 7, 1, 6, 0));
        assert!(due_slot("ceo", kyiv, t(9, 0), utc(2026, 7, 1, 5, 59)).is_none());
        let jan = due_slot("ceo", kyiv, t(9, 0), utc(2026, 1, 15, 7, 0)).unwrap();
        assert_eq!(jan.due_at, utc(2026, 1, 15, 7, 0));
        assert!(due_slot("ceo", kyiv, t(9, 0), utc(2026, 1, 15, 6, 30)).is_none());
        assert_eq!(
            next_due(kyiv, t(9, 0), utc(2026, 1, 15, 6, 30)),
            utc(2026, 1, 15, 7, 0)
        );
    }

    #[test]
    fn the_slot_belongs_to_the_local_day_and_keys_by_it() {
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        // 08:00 in LA on 1 July is 15:00 UTC; at 02:00 UTC on 2 July it is
        // still 1 July in LA, and the slot is that day's.
        let s = due_slot("dana", la, t(8, 0), utc(2026, 7, 2, 2, 0)).unwrap();
        assert_eq!(s.date, NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
        assert_eq!(s.key(), "dana:2026-07-01");
        assert_eq!(s.due_at, utc(2026, 7, 1, 15, 0));
    }

    #[test]
    fn across_the_spring_change_the_due_instant_moves_an_hour() {
        let kyiv: Tz = "Europe/Kyiv".parse().unwrap();
        // Clocks go forward on 29 March 2026 at 03:00 local.
        let before = due_slot("ceo", kyiv, t(9, 0), utc(2026, 3, 28, 12, 0)).unwrap();
        let after = due_slot("ceo", kyiv, t(9, 0), utc(2026, 3, 29, 12, 0)).unwrap();
        assert_eq!(before.due_at, utc(2026, 3, 28, 7, 0));
        assert_eq!(after.due_at, utc(2026, 3, 29, 6, 0));
        assert_ne!(before.key(), after.key());
    }

    #[test]
    fn a_time_inside_the_gap_still_fires_that_day() {
        let kyiv: Tz = "Europe/Kyiv".parse().unwrap();
        // 03:30 does not exist on 29 March 2026 in Kyiv; it fires at 04:30.
        let s = due_slot("ceo", kyiv, t(3, 30), utc(2026, 3, 29, 3, 0)).unwrap();
        assert_eq!(s.date, NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        assert_eq!(s.due_at, utc(2026, 3, 29, 1, 30));
    }

    #[test]
    fn a_slot_missed_across_midnight_runs_within_the_catch_up() {
        let two_hours = chrono::Duration::hours(2);
        let keys = |now| -> Vec<(String, DateTime<Utc>)> {
            due_slots("ceo", chrono_tz::UTC, t(23, 50), now, two_hours)
                .into_iter()
                .map(|s| (s.key(), s.due_at))
                .collect()
        };
        // Down 23:45–00:05: at 00:05 yesterday's 23:50 slot is due.
        assert_eq!(
            keys(utc(2026, 7, 2, 0, 5)),
            vec![("ceo:2026-07-01".to_string(), utc(2026, 7, 1, 23, 50))]
        );
        // Exactly two hours later still; a minute after, no longer.
        assert_eq!(keys(utc(2026, 7, 2, 1, 50)).len(), 1);
        assert!(keys(utc(2026, 7, 2, 1, 51)).is_empty());
        // On the day itself, only today's.
        assert_eq!(
            keys(utc(2026, 7, 1, 23, 55)),
            vec![("ceo:2026-07-01".to_string(), utc(2026, 7, 1, 23, 50))]
        );
        // A 09:00 slot: yesterday's is long past the catch-up.
        let nine = due_slots(
            "ceo",
            chrono_tz::UTC,
            t(9, 0),
            utc(2026, 7, 2, 9, 30),
            two_hours,
        );
        assert_eq!(nine.len(), 1);
        assert_eq!(nine[0].key(), "ceo:2026-07-02");
        // In a zone: 23:50 Kyiv on 1 July is 20:50 UTC; down until 22:00 UTC
        // (01:00 Kyiv on 2 July).
        let kyiv: Tz = "Europe/Kyiv".parse().unwrap();
        let s = due_slots("ceo", kyiv, t(23, 50), utc(2026, 7, 1, 22, 0), two_hours);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].date, s[0].due_at),
            (
                NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
                utc(2026, 7, 1, 20, 50)
            )
        );
    }

    #[test]
    fn the_brief_window_ends_when_the_scheduler_fires_in_a_gap() {
        // 03:30 does not exist in Kyiv on 29 March 2026: the slot fires at
        // 04:30 local, and that day's brief covers up to the same instant.
        let kyiv: Tz = "Europe/Kyiv".parse().unwrap();
        let slot = due_slot("ceo", kyiv, t(3, 30), utc(2026, 3, 29, 12, 0)).unwrap();
        let w = briefs::Window::new(
            "ceo",
            kyiv,
            slot.date,
            t(3, 30),
            utc(2026, 3, 30, 12, 0),
            None,
            &briefs::BriefConfig::default(),
        )
        .unwrap();
        assert_eq!(w.until, slot.due_at);
        // And yesterday's catch-up slot on the next day resolves the same.
        let caught = due_slots(
            "ceo",
            kyiv,
            t(3, 30),
            utc(2026, 3, 30, 0, 0),
            chrono::Duration::hours(24),
        );
        assert_eq!(caught[0].due_at, slot.due_at);
    }

    #[test]
    fn new_york_digest_across_the_autumn_change() {
        // Clocks go back on Sunday 1 November 2026 at 02:00 EDT → 01:00 EST.
        let ny: Tz = "America/New_York".parse().unwrap();
        // An 08:00 digest: 12:00 UTC under EDT, 13:00 UTC under EST.
        let sat = due_slot("dana", ny, t(8, 0), utc(2026, 10, 31, 12, 0)).unwrap();
        assert_eq!(sat.due_at, utc(2026, 10, 31, 12, 0));
        assert!(due_slot("dana", ny, t(8, 0), utc(2026, 11, 1, 12, 30)).is_none());
        let sun = due_slot("dana", ny, t(8, 0), utc(2026, 11, 1, 13, 0)).unwrap();
        assert_eq!(sun.due_at, utc(2026, 11, 1, 13, 0));
        assert_eq!(sun.date, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(
            next_due(ny, t(8, 0), utc(2026, 10, 31, 12, 0)),
            utc(2026, 11, 1, 13, 0)
        );
        // 25 hours apart, and each local day has exactly one slot.
        assert_eq!(sun.due_at - sat.due_at, chrono::Duration::hours(25));
        assert_ne!(sat.key(), sun.key());
        // 01:30 happens twice on 1 November: the digest fires once, at the
        // first (EDT, 05:30 UTC); the repeat an hour later is the same slot.
        let first = due_slot("dana", ny, t(1, 30), utc(2026, 11, 1, 5, 45)).unwrap();
        assert_eq!(first.due_at, utc(2026, 11, 1, 5, 30));
        let later = due_slot("dana", ny, t(1, 30), utc(2026, 11, 1, 7, 0)).unwrap();
        assert_eq!((later.key(), later.due_at), (first.key(), first.due_at));
        assert_eq!(
            next_due(ny, t(1, 30), utc(2026, 11, 1, 5, 45)),
            utc(2026, 11, 2, 6, 30)
        );
    }
}
