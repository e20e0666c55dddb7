//! A pool of its own for work no one waits on (the daily jobs, the
//! watchers), on SQLite: [`Store::background`].
//!
//! Why: a brief runs its fourteen reads at once, and the watchers' spend
//! reads at once; on the shared pool such a burst opened all eight
//! connections, each on SQLite with its thread and page cache (about
//! 0.5 MB), and the pool closed the surplus only a minute or two later
//! (`surplus.rs`): the shipped config's hub held 20–21 MB for minutes after
//! its catch-up brief and after every watchers' pass. Here that work gets
//! at most as many connections as the machine has cores (SQLite runs each
//! read on its connection's thread inside the hub: more at once finish no
//! sooner), opened when it starts and closed once idle for half a minute —
//! no poller keeps them busy, as the dispatcher does on the shared pool.
//! A person's page (the console's Brief and Costs) stays on the shared
//! pool, all reads at once: limited to two, the Costs page took 9.6–10.2
//! ms at the median instead of 6.5 (console benchmark, two cores).
//!
//! A concurrency limit on the shared pool was tried first and did not
//! bound it: sqlx gives a connection back through a task of its own (with a
//! ping), so the next read of a burst, started when the previous one ended,
//! found no idle connection and opened another (seven of eight).
//!
//! On PostgreSQL the reads run in the server and every connection is one
//! more server process: background work shares the pool.

use super::{Dialect, Store};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::time::Duration;

/// How long a background connection stays open unused.
const IDLE: Duration = Duration::from_secs(30);

/// The background pool for `dialect` (none on PostgreSQL). Lazy: it opens
/// nothing until background work asks.
pub(super) fn pool(dialect: Dialect, options: &AnyConnectOptions) -> Option<AnyPool> {
    (dialect == Dialect::Sqlite).then(|| {
        AnyPoolOptions::new()
            .max_connections(connections())
            .min_connections(0)
            .idle_timeout(IDLE)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(super::open::SQLITE_SETUP).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options.clone())
    })
}

/// Connections at most: the machine's cores, at least two.
fn connections() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| u32::try_from(n.get()).unwrap_or(2).max(2))
}

impl Store {
    /// This store for work no one waits on: on SQLite its reads and writes
    /// go through the background pool (see above).
    pub fn background(&self) -> Store {
        match &self.background {
            Some(pool) => Store {
                pool: pool.clone(),
                ..self.clone()
            },
            None => self.clone(),
        }
    }
}
