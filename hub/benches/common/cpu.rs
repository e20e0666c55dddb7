//! CPU time spent by this process, per thread name, from /proc (Linux). The
//! benchmark reports CPU per notification beside the rate: unlike the rate
//! it holds still when something else on the machine competes for the cores,
//! and it says which part (HTTP workers, the SQLite worker) costs what.

use std::collections::BTreeMap;

/// Clock ticks per second for /proc's utime/stime (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// Seconds of CPU (user + system) per thread name, summed over threads.
pub fn by_thread() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "pid (name) state ... utime stime ..." — the name may hold spaces.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
        // Fields 14 and 15 of the whole line; rest starts at field 3.
        let ticks = |i: usize| {
            rest.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        *out.entry(name).or_insert(0.0) += (ticks(11) + ticks(12)) / TICKS_PER_SEC;
    }
    out
}

/// CPU spent between two snapshots, per thread name, in seconds.
pub fn spent(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// How fast this machine is right now: SHA-256 throughput of one core, in
/// MB/s. Shared machines (this project's runs on one) speed up and slow down
/// by a third from one minute to the next; printed beside the figures, it
/// tells a slow run from a slow hub.
pub fn machine_speed() -> f64 {
    use sha2::{Digest, Sha256};
    let block = vec![0x5au8; 1 << 20];
    let started = std::time::Instant::now();
    let mut hasher = Sha256::new();
    for _ in 0..64 {
        hasher.update(&block);
    }
    std::hint::black_box(hasher.finalize());
    64.0 / started.elapsed().as_secs_f64()
}
