//! The Brief page's recent results, per person and asked date, for a
//! minute: building a brief reads every table it summarises (28 ms on
//! 100,000 tasks and 1,000,000 costs, README "Brief performance"), more
//! than a page's 20 ms; a person who opens the page again, or switches
//! back to it, gets the one built moments ago. Bounded: at most `max`
//! entries, expired ones dropped first.

use adapters::web::console::model::BriefView;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// (person, the date asked for: `None` is today).
type Key = (String, Option<NaiveDate>);

pub struct BriefCache {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<Key, (Instant, BriefView)>>,
}

impl BriefCache {
    pub fn new(ttl: Duration, max: usize) -> BriefCache {
        BriefCache {
            ttl,
            max,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The view built for this person and date less than `ttl` ago.
    pub fn get(&self, person: &str, date: Option<NaiveDate>) -> Option<BriefView> {
        let entries = self.entries.lock().ok()?;
        let (at, view) = entries.get(&(person.to_string(), date))?;
        (at.elapsed() < self.ttl).then(|| view.clone())
    }

    pub fn put(&self, person: &str, date: Option<NaiveDate>, view: BriefView) {
        // A poisoned lock only loses the cache: the page builds afresh.
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.max {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        if entries.len() >= self.max {
            entries.clear();
        }
        entries.insert((person.to_string(), date), (Instant::now(), view));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(title: &str) -> BriefView {
        BriefView {
            date: "2026-12-04".into(),
            title: title.into(),
            sections: Vec::new(),
            error: String::new(),
        }
    }

    #[test]
    fn kept_per_person_and_date_for_the_ttl_and_bounded() {
        let c = BriefCache::new(Duration::from_secs(60), 2);
        assert!(c.get("ana", None).is_none());
        c.put("ana", None, view("today"));
        assert_eq!(c.get("ana", None).map(|v| v.title), Some("today".into()));
        assert!(c.get("bo", None).is_none(), "another person's");
        let past = NaiveDate::from_ymd_opt(2026, 12, 1);
        assert!(c.get("ana", past).is_none(), "another date's");
        c.put("ana", past, view("past"));
        // Full: a third entry clears room (none expired, so all go).
        c.put("bo", None, view("bo"));
        assert!(c.get("ana", None).is_none());
        assert_eq!(c.get("bo", None).map(|v| v.title), Some("bo".into()));

        let expired = BriefCache::new(Duration::ZERO, 2);
        expired.put("ana", None, view("today"));
        assert!(expired.get("ana", None).is_none());
    }
}
