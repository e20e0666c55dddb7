//! The binary sizes its async runtime from the config: `server.worker_threads`
//! when set, else one worker per core on PostgreSQL and one fewer on SQLite
//! (its engine runs on threads of its own inside the hub). /metrics says how
//! many it started.

use crate::common;

use common::TestDb;
use common::binary::Instance;

/// `orkhub_runtime_workers` of a hub started with `server` lines and `db`.
async fn workers(server: &str, db: &TestDb) -> usize {
    let mut hub = Instance::new(&format!(
        "{server}\n[database]\nurl = \"{}\"\n[[people]]\nid = \"ceo\"\nrole = \"owner\"\n",
        db.url()
    ));
    hub.serve().await;
    let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", hub.port))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hub.kill();
    let line = text
        .lines()
        .find(|l| l.starts_with("orkhub_runtime_workers "))
        .unwrap_or_else(|| panic!("no orkhub_runtime_workers in /metrics:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

both_dbs!(
    one_worker_per_core_less_one_on_sqlite_unless_configured,
    |db: &TestDb| async move {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let expected = match db {
            TestDb::Sqlite { .. } => cores.saturating_sub(1).max(1),
            TestDb::Postgres { .. } => cores,
        };
        assert_eq!(workers("", db).await, expected, "{cores} cores");
        assert_eq!(workers("worker_threads = 3", db).await, 3);
    }
);
