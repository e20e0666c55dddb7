//! Tests that need the process to themselves, kept out of the shared `it`
//! binary: one reads the process-wide metrics recorder (any other test
//! running beside it would add to its counters), one changes the process
//! environment (setting a variable while other threads read it is
//! undefined behaviour on glibc). Each test holds [`ALONE`] throughout, so
//! they do not disturb each other either.

// The `it` binary's helpers; this binary uses only a few of them.
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../it/common/mod.rs"]
mod common;

mod delivery_metrics;
mod environment;

/// Held by each test of this binary for its whole run: one at a time.
pub static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
