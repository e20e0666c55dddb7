//! Test databases: a fresh SQLite file, or a fresh PostgreSQL database created
//! on the machine's server and dropped afterwards. Every store test runs on both.

pub mod binary;
pub mod receiver;
pub mod server;
pub mod tcp_proxy;

// The platform stand-ins live in the workspace's `tests/` crate; each test
// file uses some of them.
#[allow(unused_imports)]
pub use test_servers::{discord_server, openai_server, slack_server, smtp_server, telegram_server};

use hub::store::{NewNotification, Store};

/// Where the PostgreSQL server for tests is; override with ORKHUB_TEST_PG.
pub fn pg_admin_url() -> String {
    std::env::var("ORKHUB_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub enum TestDb {
    Sqlite {
        store: Store,
        _dir: tempfile::TempDir,
    },
    Postgres {
        store: Store,
        name: String,
        /// Drops the database if the test panics before [`TestDb::finish`].
        guard: DropDatabase,
    },
}

/// Drops a test database when dropped (a panicking test never reaches
/// [`TestDb::finish`], and its database would stay on the server). The drop
/// runs on a thread of its own with its own runtime: `Drop` cannot await,
/// and the test's runtime may be unwinding.
pub struct DropDatabase {
    name: Option<String>,
}

impl DropDatabase {
    /// The database was dropped already; nothing left to do.
    fn disarm(&mut self) {
        self.name = None;
    }
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else { return };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(drop_database(&name))
        })
        .join();
        if !matches!(dropped, Ok(true)) {
            eprintln!("a test database was left behind; .ci/run drops leftovers");
        }
    }
}

/// DROP DATABASE ... WITH (FORCE): the test's pool may still hold
/// connections. Tried a few times (a busy server may refuse the admin
/// connection); false, and said on stderr, if it could not be dropped.
async fn drop_database(name: &str) -> bool {
    sqlx::any::install_default_drivers();
    let mut last = String::new();
    for attempt in 1..=3u64 {
        match <sqlx::AnyConnection as sqlx::Connection>::connect(&pg_admin_url()).await {
            Ok(mut conn) => {
                match sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                {
                    Ok(_) => return true,
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
    }
    eprintln!("could not drop test database {name}: {last}");
    false
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/hub.db", dir.path().display());
        let store = Store::open(&url, 4).await.expect("open sqlite");
        TestDb::Sqlite { store, _dir: dir }
    }

    /// A fresh database on the test PostgreSQL server. Fails loudly when the
    /// server is not there: the PostgreSQL half of the suite must not be skipped.
    pub async fn postgres() -> TestDb {
        let _ = rustls::crypto::ring::default_provider().install_default();
        sqlx::any::install_default_drivers();
        let admin = pg_admin_url();
        let name = format!("orkhub_test_{}", rand::random::<u64>());
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is required for the tests ({admin}): {e}. Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        let store = Store::open(&format!("{base}/{name}"), 4)
            .await
            .expect("open postgres");
        TestDb::Postgres {
            store,
            guard: DropDatabase {
                name: Some(name.clone()),
            },
            name,
        }
    }

    pub fn store(&self) -> &Store {
        match self {
            TestDb::Sqlite { store, .. } | TestDb::Postgres { store, .. } => store,
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite { _dir, .. } => format!("sqlite://{}/hub.db", _dir.path().display()),
            TestDb::Postgres { name, .. } => {
                let admin = pg_admin_url();
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or(admin);
                format!("{base}/{name}")
            }
        }
    }

    /// Close the pool and drop the PostgreSQL database.
    pub async fn finish(self) {
        match self {
            TestDb::Sqlite { store, .. } => store.close().await,
            TestDb::Postgres {
                store,
                name,
                mut guard,
            } => {
                store.close().await;
                // Not dropped: the guard tries once more when it goes.
                if drop_database(&name).await {
                    guard.disarm();
                }
            }
        }
    }
}

/// Run one async test body against SQLite and against PostgreSQL:
/// `both_dbs!(name, |db: &TestDb| async move { ... })` defines `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_dbs {
    ($name:ident, |$db:ident: &TestDb| $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let owned = $crate::common::TestDb::sqlite().await;
                {
                    let $db: &TestDb = &owned;
                    $body.await;
                }
                owned.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let owned = $crate::common::TestDb::postgres().await;
                {
                    let $db: &TestDb = &owned;
                    $body.await;
                }
                owned.finish().await;
            }
        }
    };
}

/// An info notification to "ceo" with the given ID and body, for tests that
/// write notifications straight through the store.
pub fn stored_notification(id: String, body: String) -> NewNotification {
    NewNotification {
        id,
        source: "test".into(),
        kind: "bulk".into(),
        urgency: "info",
        recipient_kind: "person",
        recipient_id: "ceo".into(),
        project_id: None,
        title: None,
        body,
        fields_json: "{}".into(),
        decision_id: None,
        dedupe_key: None,
        duplicate: false,
        created_at: 1,
    }
}

/// Hold the database's write lock (SQLite) or the tasks table (PostgreSQL)
/// in an open transaction, so commands stall until it is rolled back: for
/// tests of what a platform gets while a command is slow.
pub async fn hold_write_lock(db: &TestDb) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url()).await.unwrap();
    match db {
        TestDb::Sqlite { .. } => {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .unwrap();
        }
        TestDb::Postgres { .. } => {
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("LOCK TABLE tasks IN EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    conn
}

/// Make every insert into `deliveries` matching `when` (SQL over `NEW`,
/// e.g. `NEW.op = 'edit'`) fail, as a full disk or a lost connection
/// would, until [`heal_deliveries`]: for tests that a failed write takes
/// everything in its transaction with it.
pub async fn break_deliveries(db: &TestDb, when: &str) {
    // A connection of its own: schema changes through the pool could land
    // on a connection the store left mid-transaction.
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(&db.url()).await.unwrap();
    match db {
        TestDb::Sqlite { .. } => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE TRIGGER orkhub_test_fail BEFORE INSERT ON deliveries WHEN {when} \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        TestDb::Postgres { .. } => {
            sqlx::query(
                "CREATE OR REPLACE FUNCTION orkhub_test_fail() RETURNS trigger LANGUAGE plpgsql \
                 AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE TRIGGER orkhub_test_fail BEFORE INSERT ON deliveries FOR EACH ROW \
                 WHEN ({when}) EXECUTE FUNCTION orkhub_test_fail()"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
}

/// Undo [`break_deliveries`].
pub async fn heal_deliveries(db: &TestDb) {
    let sql = match db {
        TestDb::Sqlite { .. } => "DROP TRIGGER orkhub_test_fail",
        TestDb::Postgres { .. } => "DROP TRIGGER orkhub_test_fail ON deliveries",
    };
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(&db.url()).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

/// The chat commands' backend over `store`, as a running hub builds it,
/// with the people of `config_toml` in its directory (decisions are sent to
/// those of them who may decide; with none, decisions send nothing).
pub fn backend_with(store: &Store, config_toml: &str) -> hub::backend::HubBackend {
    // The test's own config text; a typo is the test's bug.
    let config = hub::config::Config::from_toml(config_toml).expect("test config");
    let dir = std::sync::Arc::new(hub::directory::Directory::from_config(&config));
    hub::backend::HubBackend::new(
        store.clone(),
        std::sync::Arc::new(hub::ingest::decisions::DecisionNotices::new(
            dir,
            config.routing.policy(),
        )),
        std::sync::Arc::new(hub::brief::BriefService::default()),
    )
}

/// [`backend_with`] and no people in the directory.
pub fn backend(store: &Store) -> hub::backend::HubBackend {
    backend_with(store, "")
}

/// A cost recorded through the store's own insert, which keeps the hourly,
/// daily and weekly roll-ups the brief and the budgets read in the same
/// transaction (a raw INSERT into `costs` would be in the cost rows only).
pub async fn add_cost(
    store: &Store,
    agent: &str,
    project: Option<&str>,
    model: &str,
    usd: f64,
    at: i64,
) {
    store
        .insert_cost(&hub::store::NewCost {
            agent_id: agent.into(),
            project_id: project.map(str::to_string),
            task_id: None,
            model: model.into(),
            tokens_in: 0,
            tokens_out: 0,
            usd,
            at,
        })
        .await
        .unwrap();
}

/// The first column of every row `sql` returns, as text.
pub async fn texts(store: &Store, sql: impl Into<String>) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(sql.into()))
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect()
}
