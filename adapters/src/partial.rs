//! Multi-part messages whose later part failed. The dispatcher retries the
//! whole delivery; remembering which parts already arrived lets the retry
//! continue after them instead of sending them twice. Kept in memory only:
//! after a restart (or past [`MAX_PARTIAL`] entries) a retry may repeat
//! parts — never lose them.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// Partly delivered messages remembered at most.
const MAX_PARTIAL: usize = 1024;

/// The IDs of the parts already delivered, per (destination, content).
pub(crate) struct PartialSends<T> {
    done: Mutex<HashMap<u64, Vec<T>>>,
}

/// A key for one message to one destination: the same retry of the same
/// content finds its progress, anything else starts afresh.
pub(crate) fn key(destination: &str, content: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    destination.hash(&mut h);
    content.hash(&mut h);
    h.finish()
}

impl<T> PartialSends<T> {
    pub(crate) fn new() -> Self {
        PartialSends {
            done: Mutex::new(HashMap::new()),
        }
    }

    /// What was delivered of `key` before (and forget it: the caller keeps
    /// it again if this attempt also stops part-way).
    pub(crate) fn take(&self, key: u64) -> Vec<T> {
        self.done
            .lock()
            .map(|mut m| m.remove(&key).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Remember the parts delivered of `key` (nothing, if none were).
    pub(crate) fn keep(&self, key: u64, done: Vec<T>) {
        if done.is_empty() {
            return;
        }
        if let Ok(mut m) = self.done.lock() {
            if m.len() >= MAX_PARTIAL {
                m.clear();
            }
            m.insert(key, done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_handed_back_once() {
        let p: PartialSends<u32> = PartialSends::new();
        let k = key("chat", &vec!["a", "b"]);
        assert_ne!(k, key("other", &vec!["a", "b"]));
        p.keep(k, vec![1]);
        assert_eq!(p.take(k), vec![1]);
        assert!(p.take(k).is_empty());
    }
}
