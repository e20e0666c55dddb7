//! Closing the pool's surplus connections once a burst is over.
//!
//! Why: a burst of concurrent reads (a brief runs 14 at once, a console
//! page several) opens every connection the pool may have, and sqlx hands
//! its idle connections out in turn (a queue), so while anything polls —
//! the dispatcher reads every 500 ms — each one is used every few seconds
//! and sqlx's idle timeout (10 minutes idle) never closes any. On SQLite
//! each is a thread of its own with its page cache and parsed schema
//! (about 0.4 MB): an idle hub that had built one brief held 8 for the
//! rest of its life.
//!
//! So the pool keeps as many connections as were in use at once in the
//! last one or two quiet spells (a minute each by default), and at least
//! [`KEEP`]: a connection coming back when more are open is closed. Work
//! that comes back within a spell or two keeps what it uses at once open,
//! so it does not open and close connections each time; a burst with
//! nothing like it after (a brief's; the watchers' reads, five minutes
//! apart by default) is closed within two minutes of it, one connection
//! at a time (at most one a second).

use sqlx::AnyPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Connections kept however quiet the pool is.
pub const KEEP: u32 = 2;

/// The length of one spell over which the pool's peak is remembered.
pub const QUIET: Duration = Duration::from_secs(60);

/// The pool's recent demand, shared by its hooks.
#[derive(Debug)]
pub struct Surplus {
    /// Set once the pool exists (its hooks are built before it).
    pool: OnceLock<AnyPool>,
    started: Instant,
    /// The spell's length in ms (QUIET; tests shorten it).
    quiet_ms: AtomicU64,
    peaks: Mutex<Peaks>,
    /// When a surplus connection was last closed, in ms since `started`.
    closed_at_ms: AtomicU64,
}

/// The least time between two closes (a second with the default spell).
const MIN_CLOSE_GAP_MS: u64 = 50;

/// The most connections in use at once, this spell and the one before.
#[derive(Debug, Default)]
struct Peaks {
    /// When this spell began, in ms since `started`.
    since_ms: u64,
    now: u32,
    before: u32,
}

impl Peaks {
    /// Start a new spell when this one is over (a spell with no use at
    /// all in between leaves no peak behind).
    fn roll(&mut self, now_ms: u64, quiet_ms: u64) {
        let age = now_ms.saturating_sub(self.since_ms);
        if age >= quiet_ms {
            self.before = if age >= 2 * quiet_ms { 0 } else { self.now };
            self.now = 0;
            self.since_ms = now_ms;
        }
    }
}

impl Default for Surplus {
    fn default() -> Self {
        Surplus {
            pool: OnceLock::new(),
            started: Instant::now(),
            quiet_ms: AtomicU64::new(QUIET.as_millis() as u64),
            peaks: Mutex::default(),
            closed_at_ms: AtomicU64::new(0),
        }
    }
}

impl Surplus {
    pub(super) fn attach(&self, pool: &AnyPool) {
        let _ = self.pool.set(pool.clone());
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn peaks(&self) -> std::sync::MutexGuard<'_, Peaks> {
        let mut peaks = self.peaks.lock().unwrap_or_else(|e| e.into_inner());
        peaks.roll(self.elapsed_ms(), self.quiet_ms.load(Ordering::Relaxed));
        peaks
    }

    /// A connection is being handed out, or was opened for a caller: note
    /// how many are in use now.
    pub(super) fn on_acquire(&self) {
        if let Some(pool) = self.pool.get() {
            let in_use = (pool.size() as usize).saturating_sub(pool.num_idle());
            let in_use = u32::try_from(in_use).unwrap_or(u32::MAX);
            let mut peaks = self.peaks();
            peaks.now = peaks.now.max(in_use);
        }
    }

    /// Whether a connection coming back should stay in the pool: not when
    /// more are open than were in use at once lately.
    pub(super) fn keep_on_release(&self) -> bool {
        let Some(pool) = self.pool.get() else {
            return true;
        };
        let want = {
            let peaks = self.peaks();
            KEEP.max(peaks.now).max(peaks.before)
        };
        if pool.size() <= want {
            return true;
        }
        // One close at a time: sqlx closes in the background and counts the
        // connection in `size` until it is closed, so connections coming
        // back together would all see the same surplus and all be closed.
        let now_ms = self.elapsed_ms();
        let gap = (self.quiet_ms.load(Ordering::Relaxed) / 60).max(MIN_CLOSE_GAP_MS);
        let last = self.closed_at_ms.load(Ordering::Relaxed);
        !(now_ms.saturating_sub(last) >= gap
            && self
                .closed_at_ms
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok())
    }

    /// Shorten (or lengthen) the spell (tests).
    pub fn set_quiet(&self, quiet: Duration) {
        self.quiet_ms
            .store(quiet.as_millis() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peak_is_remembered_for_one_more_spell_then_forgotten() {
        let mut p = Peaks {
            now: 8,
            ..Peaks::default()
        };
        p.roll(500, 1000);
        assert_eq!((p.now, p.before), (8, 0), "within the spell");
        p.roll(1000, 1000);
        assert_eq!((p.now, p.before), (0, 8), "the spell before");
        p.now = 3;
        p.roll(2000, 1000);
        assert_eq!((p.now, p.before), (0, 3), "forgotten after two");
        p.roll(4500, 1000);
        assert_eq!((p.now, p.before), (0, 0), "a long silence leaves nothing");
    }
}
