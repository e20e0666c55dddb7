//! Time-ordered, collision-resistant IDs for notifications and deliveries:
//! milliseconds, then a per-process sequence, then randomness. IDs made by one
//! process sort in the order they were made — the outbox relies on that for
//! per-chat order — and IDs from different instances do not collide.

use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

pub fn new_id(prefix: &str) -> String {
    let ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let r: u32 = rand::random();
    format!("{prefix}_{ms:012x}{seq:08x}{r:08x}")
}

/// The smallest ID [`new_id`] can make with `prefix` at `ms` or later: the
/// lower bound of a range of IDs by time.
pub fn first_id_at(prefix: &str, ms: i64) -> String {
    format!("{prefix}_{:012x}", ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_and_ordered_even_within_one_millisecond() {
        let ids: Vec<String> = (0..10_000).map(|_| super::new_id("n")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids, "made in order, all distinct");
        assert!(ids[0].starts_with("n_") && ids[0].len() == 30);
    }

    #[test]
    fn first_id_at_bounds_the_ids_made_from_then_on() {
        let before = chrono::Utc::now().timestamp_millis();
        let id = super::new_id("d");
        assert!(super::first_id_at("d", before) <= id);
        assert!(super::first_id_at("d", before + 1000) > id);
    }
}
