//! Time-ordered, collision-resistant IDs for notifications and deliveries:
//! 12 hex digits of milliseconds then 16 of randomness. Sorting by ID sorts by
//! creation time, which keeps per-chat delivery order cheap to query.

pub fn new_id(prefix: &str) -> String {
    let ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let r: u64 = rand::random();
    format!("{prefix}_{ms:012x}{r:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_and_time_ordered() {
        let a = super::new_id("n");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::new_id("n");
        assert_ne!(a, b);
        assert!(a < b, "{a} !< {b}");
        assert!(a.starts_with("n_") && a.len() == 30);
    }
}
