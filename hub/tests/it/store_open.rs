//! The store opens, migrates and writes on both engines.
use crate::common;
use common::TestDb;
use hub::store::AuditRow;

both_dbs!(opens_migrates_and_audits, |db: &TestDb| {
    let store = db.store().clone();
    async move {
        store
            .audit(&AuditRow {
                actor: "person:alice",
                action: "test.write",
                resource: "thing:1",
                details: serde_json::json!({"k": 1}),
                source: "test",
            })
            .await
            .unwrap();
        let rows = store.audit_for("thing:1").await.unwrap();
        assert_eq!(
            rows,
            vec![("person:alice".into(), "test.write".into(), "test".into())]
        );
    }
});

#[tokio::test]
async fn reopening_an_existing_sqlite_file_keeps_data() {
    let db = TestDb::sqlite().await;
    let url = db.url();
    db.store()
        .audit(&AuditRow {
            actor: "a",
            action: "x",
            resource: "r:1",
            details: serde_json::json!({}),
            source: "t",
        })
        .await
        .unwrap();
    db.store().close().await;
    let again = hub::store::Store::open(&url, 2).await.unwrap();
    assert_eq!(again.audit_for("r:1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn unsupported_url_is_a_clear_error() {
    let err = hub::store::Store::open("mysql://x@y/z", 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unsupported database URL"), "{err}");
}

both_dbs!(
    restarting_with_the_same_config_writes_no_audit_rows,
    |db: &TestDb| async move {
        let config = hub::config::Config::from_toml(
        "[[people]]\nid = \"ceo\"\nrole = \"owner\"\nquiet_hours = { start = \"22:00\", end = \"07:00\" }\n[[projects]]\nid = \"web\"\n[[channels]]\nid = \"eng\"\nproject = \"web\"\nbindings = { console = \"#eng\" }\n",
    )
    .unwrap();
        let store = db.store();
        hub::seed::apply(store, &config).await.unwrap();
        let first = store.audit_for("channel:eng").await.unwrap().len()
            + store.audit_for("person:ceo").await.unwrap().len();
        assert!(first >= 2, "the first start is audited");
        hub::seed::apply(store, &config).await.unwrap();
        let second = store.audit_for("channel:eng").await.unwrap().len()
            + store.audit_for("person:ceo").await.unwrap().len();
        assert_eq!(first, second, "an unchanged config is not audited again");
    }
);

// A batch too big for one PostgreSQL statement (65,535 values) is written in
// chunks inside one transaction; a small one in a single statement. Both
// store every row, on both engines, and a failing batch stores none.
both_dbs!(
    batches_of_any_size_store_every_row_or_none,
    |db: &TestDb| {
        let store = db.store().clone();
        async move {
            use hub::store::{DeliveryOp, DeliveryState, NewDelivery};
            let make = |count: usize, tag: &str| {
                let mut ns = Vec::new();
                let mut ds = Vec::new();
                for i in 0..count {
                    let id = format!("n_{tag}_{i:06}");
                    ns.push(common::stored_notification(id.clone(), format!("item {i}")));
                    for (channel, status) in
                        [("web", DeliveryState::Sent), ("email", DeliveryState::Held)]
                    {
                        ds.push(NewDelivery {
                            id: format!("d_{tag}_{i:06}_{channel}"),
                            notification_id: id.clone(),
                            person_id: Some("ceo".into()),
                            channel: channel.into(),
                            address: "ceo".into(),
                            op: DeliveryOp::Send,
                            target_message_id: None,
                            status,
                            next_attempt_at: 1,
                            fallbacks: String::new(),
                            created_at: 1,
                        });
                    }
                }
                (ns, ds)
            };
            let count = |sql: &'static str| {
                let store = store.clone();
                async move {
                    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(store.pool()).await.unwrap();
                    n
                }
            };
            let (ns, ds) = make(3, "small");
            store.insert_batch(&ns, &ds, &[]).await.unwrap();
            let (ns, ds) = make(2_000, "big");
            store.insert_batch(&ns, &ds, &[]).await.unwrap();
            assert_eq!(count("SELECT COUNT(*) FROM notifications").await, 2_003);
            assert_eq!(count("SELECT COUNT(*) FROM deliveries").await, 4_006);
            // Published at commit: sent, with its own ID as the feed's message ID.
            assert_eq!(
            count("SELECT COUNT(*) FROM deliveries WHERE status = 'sent' AND platform_message_id = id AND sent_at IS NOT NULL").await,
            2_003
        );
            // A delivery pointing at a notification that is not there fails the
            // whole batch: its good rows are not stored either.
            for size in [2, 2_000] {
                let (ns, mut ds) = make(size, &format!("bad{size}"));
                ds[1].notification_id = "n_missing".into();
                assert!(store.insert_batch(&ns, &ds, &[]).await.is_err());
            }
            assert_eq!(count("SELECT COUNT(*) FROM notifications").await, 2_003);
        }
    }
);

/// Whether a database of this name exists on the test server.
async fn pg_database_exists(name: &str) -> bool {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&common::pg_admin_url())
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    n > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_test_leaves_no_database_behind() {
    let name = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = name.clone();
    // A test body that panics before it reaches finish().
    let run = tokio::spawn(async move {
        let db = TestDb::postgres().await;
        let url = db.url();
        *seen.lock().unwrap() = url.rsplit('/').next().unwrap().to_string();
        db.store().notification_count().await.unwrap();
        panic!("a failing assertion");
    })
    .await;
    assert!(run.is_err_and(|e| e.is_panic()));
    let name = name.lock().unwrap().clone();
    assert!(name.starts_with("orkhub_test_"), "{name}");
    assert!(
        !pg_database_exists(&name).await,
        "{name} is still on the server"
    );
}

// SQLite is built without its memory statistics (`.cargo/config.toml`,
// LIBSQLITE3_FLAGS): with them on, every sqlite3_malloc and sqlite3_free
// takes one mutex for the whole process, which the brief's reads on
// several connections at once queued on (futex calls in the console
// benchmark: 175,003 with it, 66,617 without).
#[tokio::test]
async fn sqlite_is_built_without_memory_statistics() {
    let db = TestDb::sqlite().await;
    let options: Vec<(String,)> = sqlx::query_as("PRAGMA compile_options")
        .fetch_all(db.store().pool())
        .await
        .unwrap();
    assert!(
        options.iter().any(|(o,)| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}

// Every index on notifications costs each accepted notification a B-tree
// insert (and, on SQLite, a page rewritten per ingest commit), so each one
// has a reader: the primary key, the dedupe lookup, the decision's copies.
// notifications(created_at) had none and is gone (migration 0035).
both_dbs!(
    notifications_carry_only_the_indexes_their_readers_use,
    |db: &TestDb| {
        let store = db.store().clone();
        async move {
            let sql = match store.dialect() {
                hub::store::Dialect::Sqlite => {
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'notifications' ORDER BY name"
                }
                hub::store::Dialect::Postgres => {
                    "SELECT indexname::text FROM pg_indexes WHERE tablename = 'notifications' \
                 AND schemaname = current_schema() ORDER BY indexname"
                }
            };
            let names: Vec<(String,)> = sqlx::query_as(sql).fetch_all(store.pool()).await.unwrap();
            let names: Vec<&str> = names.iter().map(|(n,)| n.as_str()).collect();
            let key = match store.dialect() {
                hub::store::Dialect::Sqlite => "sqlite_autoindex_notifications_1",
                hub::store::Dialect::Postgres => "notifications_pkey",
            };
            let mut expected = vec!["notifications_decision", "notifications_dedupe", key];
            expected.sort_unstable();
            assert_eq!(names, expected);
        }
    }
);
