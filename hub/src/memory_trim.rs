//! The background task that hands code pages back while the hub runs.
//! Rare work (the catch-up brief at start, the watchers' pass every few
//! minutes, a digest, a console page) maps the code it runs, and it stayed
//! resident: an idle hub on the shipped config held 14 MB of its binary
//! where one that had only started held 9 (bench/HISTORY.md, "Memory"). Every pass
//! releases the binary's resident code and read-only data
//! (`memory::release_code_pages`); what the hub keeps running is mapped
//! again from the page cache at its next use, a few hundred minor faults per
//! pass.

use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// When the first pass comes at the latest: a hub started after a
/// person's brief time builds the catch-up brief in its first seconds, and
/// that code need not wait a whole interval.
pub const FIRST_PASS: Duration = Duration::from_secs(5);

/// Trim every `every` until `stop` turns true, the first time after
/// [`FIRST_PASS`] (or `every`, if shorter). `every` zero: never; the hub
/// still trims once after start, in `serve`.
pub fn spawn(every: Duration, mut stop: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
    if every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let first = tokio::time::Instant::now() + every.min(FIRST_PASS);
        let mut tick = tokio::time::interval_at(first, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            // Off the async workers: reading /proc/self/smaps and madvise
            // block for a millisecond or two.
            match tokio::task::spawn_blocking(crate::memory::release_code_pages).await {
                Ok(Ok(bytes)) => {
                    failing = false;
                    tracing::debug!(code_kb = bytes / 1024, "code pages handed back");
                }
                // Logged once per run of failures: the next pass retries.
                Ok(Err(e)) if !failing => {
                    tracing::warn!(error = %e, "could not hand back code pages; the next pass retries");
                    failing = true;
                }
                Ok(Err(_)) => {}
                Err(e) => tracing::warn!(error = %e, "a code page pass did not finish"),
            }
        }
    }))
}
