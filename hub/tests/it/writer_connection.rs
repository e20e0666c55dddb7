//! The ingest writer's own connection, and batches that fail part-way: a
//! SQLite batch runs BEGIN to COMMIT as one call, so one that stops in the
//! middle must never leave its open transaction on a connection someone
//! uses next.
use crate::common;
use common::{TestDb, stored_notification, texts};
use hub::store::{
    BatchRows, DeliveryOp, DeliveryState, NewDelivery, NewNotification, Store, WriterConnection,
};
use std::time::Duration;

/// `n` notifications tagged `tag`, each with one held delivery; `broken`
/// points the last delivery at a notification that is not there, which
/// fails the batch: a foreign key after its notifications went in (the
/// pool's connections, PostgreSQL), or the SQLite writer's own check
/// before anything is written (its connection leaves the key to it).
fn batch(tag: &str, n: usize, broken: bool) -> (Vec<NewNotification>, Vec<NewDelivery>) {
    let ns: Vec<_> = (0..n)
        .map(|i| stored_notification(format!("n_{tag}_{i}"), format!("{tag} {i}")))
        .collect();
    let mut ds: Vec<_> = ns
        .iter()
        .map(|n| NewDelivery {
            id: format!("d_{}", n.id),
            notification_id: n.id.clone(),
            person_id: Some("ceo".into()),
            channel: "email".into(),
            address: "ceo".into(),
            op: DeliveryOp::Send,
            target_message_id: None,
            status: DeliveryState::Held,
            next_attempt_at: 1,
            fallbacks: String::new(),
            created_at: 1,
        })
        .collect();
    if broken && let Some(last) = ds.last_mut() {
        last.notification_id = "n_missing".into();
    }
    (ns, ds)
}

/// The batch's rows as the ingest writer hands them over.
fn rows(ns: Vec<NewNotification>, ds: Vec<NewDelivery>) -> BatchRows {
    BatchRows {
        notifications: ns,
        deliveries: ds,
        idempotency: Vec::new(),
    }
}

/// One batch on the writer's own connection; a refusal as its message.
async fn write_on(
    store: &Store,
    own: &mut WriterConnection,
    (ns, ds): (Vec<NewNotification>, Vec<NewDelivery>),
) -> Result<(), String> {
    store
        .insert_ingest_batch_on(own, rows(ns, ds), &[])
        .await
        .map_err(|e| e.to_string())
}

/// The store's notification count, failing the test if the pool cannot
/// hand out a connection in time.
async fn count(store: &Store) -> i64 {
    tokio::time::timeout(Duration::from_secs(5), store.notification_count())
        .await
        .expect("a pool connection within 5 s")
        .unwrap()
}

// A pool of one connection: a failed batch that handed its connection back
// inside an open transaction would fail the next one ("cannot start a
// transaction within a transaction") or keep its half-written rows.
both_dbs!(
    a_failed_batch_leaves_no_open_transaction_behind,
    |db: &TestDb| {
        let url = db.url();
        async move {
            let store = Store::open(&url, 1).await.unwrap();
            let (ns, ds) = batch("bad", 3, true);
            assert!(store.insert_batch(&ns, &ds, &[]).await.is_err());
            let (ns, ds) = batch("good", 3, false);
            store.insert_batch(&ns, &ds, &[]).await.unwrap();
            assert_eq!(count(&store).await, 3, "only the good batch is stored");
            store.close().await;
        }
    }
);

// The writer keeps one connection between batches, and the rest of the hub
// still gets one from a pool of one; a failed batch drops it (nothing of
// that batch stored) and the next batch takes a fresh one.
both_dbs!(
    the_writer_keeps_its_connection_and_leaves_the_pool_to_the_rest,
    |db: &TestDb| {
        let url = db.url();
        async move {
            let store = Store::open(&url, 1).await.unwrap();
            let mut own = WriterConnection::default();
            assert!(!own.is_kept());
            let (ns, ds) = batch("first", 2, false);
            store
                .insert_ingest_batch_on(&mut own, rows(ns, ds), &[])
                .await
                .unwrap();
            assert!(own.is_kept(), "kept for the next batch");
            assert_eq!(
                own.is_sqlite_own(),
                store.dialect() == hub::store::Dialect::Sqlite,
                "on a SQLite file the writer's connection is its own, not the pool's"
            );
            assert_eq!(
                own.is_postgres_own(),
                store.dialect() == hub::store::Dialect::Postgres,
                "on PostgreSQL the writer's connection is the driver's own, not the pool's"
            );
            assert_eq!(count(&store).await, 2, "the pool still serves the rest");

            let (ns, ds) = batch("broken", 2, true);
            let refused = store
                .insert_ingest_batch_on(&mut own, rows(ns, ds), &[])
                .await
                .unwrap_err()
                .to_string();
            if store.dialect() == hub::store::Dialect::Sqlite {
                // The writer's own check (its connection leaves foreign
                // keys to it), naming the delivery and its notification.
                assert!(
                    refused.contains("d_n_broken_1")
                        && refused.contains("n_missing")
                        && refused.contains("not in the same ingest batch"),
                    "{refused}"
                );
            } else {
                // The statement-level check of migration 0034, naming them too.
                assert!(
                    refused.contains("d_n_broken_1")
                        && refused.contains("n_missing")
                        && refused.contains("does not exist"),
                    "{refused}"
                );
            }
            assert!(
                !own.is_kept(),
                "a connection whose batch failed is not reused"
            );
            assert_eq!(count(&store).await, 2, "nothing of the failed batch");

            let (ns, ds) = batch("after", 2, false);
            store
                .insert_ingest_batch_on(&mut own, rows(ns, ds), &[])
                .await
                .unwrap();
            assert!(own.is_kept());
            assert_eq!(count(&store).await, 4);
            own.close().await;
            store.close().await;
        }
    }
);

// A batch whose deliveries fail after its notifications went in (a
// delivery ID already taken) writes nothing at all: on SQLite the writer's
// inserts are INSERT OR ROLLBACK, so the violation ends the whole
// transaction, and the next batch starts clean on a fresh connection.
both_dbs!(
    a_batch_refused_part_way_writes_none_of_its_rows,
    |db: &TestDb| {
        let url = db.url();
        async move {
            let store = Store::open(&url, 2).await.unwrap();
            let mut own = WriterConnection::default();
            let first = batch("first", 2, false);
            let taken = first.1[0].id.clone();
            write_on(&store, &mut own, first).await.unwrap();
            let (ns, mut ds) = batch("clash", 70, false);
            // Past the first 64-row insert of deliveries.
            ds[69].id = taken;
            let refused = write_on(&store, &mut own, (ns, ds)).await.unwrap_err();
            assert!(refused.to_lowercase().contains("unique"), "{refused}");
            assert_eq!(count(&store).await, 2, "none of the refused batch's 70");
            write_on(&store, &mut own, batch("after", 3, false))
                .await
                .unwrap();
            assert_eq!(count(&store).await, 5);
            own.close().await;
            store.close().await;
        }
    }
);

// A notification whose urgency is not one of the schema's is refused with
// its whole batch: by the CHECK constraint (PostgreSQL), or by the SQLite
// writer's own check (its connection leaves CHECK constraints to it).
both_dbs!(
    a_value_outside_the_schema_list_refuses_the_batch,
    |db: &TestDb| {
        let url = db.url();
        async move {
            let store = Store::open(&url, 2).await.unwrap();
            let mut own = WriterConnection::default();
            let (mut ns, ds) = batch("odd", 3, false);
            ns[2].urgency = "someday";
            let refused = write_on(&store, &mut own, (ns, ds)).await.unwrap_err();
            if store.dialect() == hub::store::Dialect::Sqlite {
                assert!(
                    refused.contains("n_odd_2") && refused.contains("\"someday\""),
                    "{refused}"
                );
            } else {
                assert!(refused.contains("check constraint"), "{refused}");
            }
            let (mut ns, ds) = batch("nobody", 2, false);
            ns[0].recipient_kind = "team";
            let refused = write_on(&store, &mut own, (ns, ds)).await.unwrap_err();
            if store.dialect() == hub::store::Dialect::Sqlite {
                assert!(refused.contains("\"team\""), "{refused}");
            }
            assert_eq!(count(&store).await, 0, "nothing of either batch");
            write_on(&store, &mut own, batch("after", 2, false))
                .await
                .unwrap();
            assert_eq!(count(&store).await, 2);
            own.close().await;
            store.close().await;
        }
    }
);

/// On SQLite the writer's connection keeps temporary storage in memory: a
/// batch's statement journal past 64 KiB would otherwise be a new file in
/// /var/tmp per batch. The pool's connections keep the default (their
/// GROUP BY sorts are faster with it), also after a failed batch made the
/// writer take a fresh connection.
#[tokio::test]
async fn sqlite_writer_keeps_temporary_storage_in_memory_and_the_pool_does_not() {
    use sqlx::Row;
    let db = TestDb::sqlite().await;
    let store = Store::open(&db.url(), 2).await.unwrap();
    let mut own = WriterConnection::default();
    for (tag, broken) in [("first", false), ("bad", true), ("after", false)] {
        let (ns, ds) = batch(tag, 300, broken);
        let stored = store
            .insert_ingest_batch_on(&mut own, rows(ns, ds), &[])
            .await;
        assert_eq!(stored.is_ok(), !broken, "{tag}: {stored:?}");
        if !broken {
            assert_eq!(own.temp_store_in_memory().await, Some(true), "{tag}");
        }
    }
    let mut conn = store.pool().acquire().await.unwrap();
    let row = sqlx::query("PRAGMA temp_store")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(row.try_get::<i64, _>(0).unwrap(), 0, "the pool's default");
    drop(conn);
    assert_eq!(count(&store).await, 600);
    store.close().await;
    db.finish().await;
}

/// Every column of a table as SQLite's typed literal (`quote`), row by row
/// in insertion order, but `skip`.
async fn dump(store: &Store, table: &str, skip: &[&str]) -> Vec<String> {
    let columns = texts(
        store,
        format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
    )
    .await;
    let quoted: Vec<String> = columns
        .iter()
        .filter(|c| !skip.contains(&c.as_str()))
        .map(|c| format!("quote({c})"))
        .collect();
    texts(
        store,
        format!(
            "SELECT {} FROM {table} ORDER BY rowid",
            quoted.join(" || ',' || ")
        ),
    )
    .await
}

/// A batch with every kind of value: a notification with every optional
/// column set, one with none, a repeat; deliveries published at commit,
/// held and pending; an idempotency record.
fn every_kind_of_row() -> BatchRows {
    let mut full = stored_notification("n_full".into(), "a \"quoted\" body ✓ \\ end".into());
    full.project_id = Some("web".into());
    full.title = Some("Title".into());
    full.fields_json = r#"[{"name":"x","value":"1"}]"#.into();
    full.decision_id = Some(42);
    full.dedupe_key = Some("k".into());
    full.created_at = 1_733_000_000_123;
    let bare = stored_notification("n_bare".into(), String::new());
    let mut repeat = stored_notification("n_repeat".into(), "again".into());
    repeat.duplicate = true;
    let delivery = |id: &str, n: &str, status| NewDelivery {
        id: id.into(),
        notification_id: n.into(),
        person_id: None,
        channel: "web".into(),
        address: "ceo".into(),
        op: DeliveryOp::Edit,
        target_message_id: Some("m1".into()),
        status,
        next_attempt_at: 7,
        fallbacks: "email,slack".into(),
        created_at: 9,
    };
    BatchRows {
        notifications: vec![full, bare, repeat],
        deliveries: vec![
            delivery("d_sent", "n_full", DeliveryState::Sent),
            delivery("d_held", "n_bare", DeliveryState::Held),
            delivery("d_pending", "n_bare", DeliveryState::Pending),
        ],
        idempotency: vec![hub::store::IdempotencyRecord {
            agent_id: "builder".into(),
            key: "retry-1".into(),
            request_hash: "abc".into(),
            status_code: 201,
            response_body: r#"{"id":"n_full"}"#.into(),
        }],
    }
}

/// On a SQLite file the writer binds each value itself (rusqlite) instead
/// of handing SQLite the rows as JSON (the pool's `insert_batch`): the
/// stored rows must be the same to the last type — text stays text,
/// integers integers, an absent value NULL, a delivery published at commit
/// gets its feed ID and send time — and the idempotency record its answer.
#[tokio::test]
async fn sqlite_writer_stores_every_column_as_the_pool_does() {
    let (a, b) = (TestDb::sqlite().await, TestDb::sqlite().await);
    let (own_store, pool_store) = (
        Store::open(&a.url(), 2).await.unwrap(),
        Store::open(&b.url(), 2).await.unwrap(),
    );
    let rows = every_kind_of_row();
    pool_store
        .insert_batch(&rows.notifications, &rows.deliveries, &rows.idempotency)
        .await
        .unwrap();
    let mut own = WriterConnection::default();
    own_store
        .insert_ingest_batch_on(&mut own, rows, &[])
        .await
        .unwrap();
    assert!(own.is_sqlite_own(), "the writer's own rusqlite connection");
    for (table, skip) in [
        ("notifications", &[][..]),
        ("deliveries", &[][..]),
        // Stamped with the time of the write.
        ("idempotency_keys", &["created_at"][..]),
    ] {
        let written = dump(&own_store, table, skip).await;
        assert!(!written.is_empty(), "{table}");
        assert_eq!(written, dump(&pool_store, table, skip).await, "{table}");
    }
    let published: (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT platform_message_id, sent_at FROM deliveries WHERE id = 'd_sent'")
            .fetch_one(own_store.pool())
            .await
            .unwrap();
    assert_eq!(
        published,
        (Some("d_sent".into()), Some(9)),
        "published at commit"
    );
    own.close().await;
    own_store.close().await;
    pool_store.close().await;
    a.finish().await;
    b.finish().await;
}

/// The SQLite writer's inserts are statements of its own, binding text in
/// place (sqlite_statement.rs), and each must be finalized before its
/// connection closes: SQLite refuses to close a connection that still has
/// one (busy), and the file would stay open for the life of the process.
/// Seen by what SQLite does when the last connection to a database closes:
/// it copies the WAL back and removes it. After batches that used every
/// chunk size, whether the writer drops its connection (a failed batch) or
/// closes it (its owner ending).
#[tokio::test]
async fn sqlite_writer_finalizes_its_statements_before_its_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("hub.db-wal");
    let url = format!("sqlite://{}/hub.db", dir.path().display());
    let store = Store::open(&url, 2).await.unwrap();
    let mut own = WriterConnection::default();
    // 127 rows: one statement of each size, 64 down to 1.
    write_on(&store, &mut own, batch("every_size", 127, false))
        .await
        .unwrap();
    assert!(own.is_kept());
    write_on(&store, &mut own, batch("broken", 3, true))
        .await
        .unwrap_err();
    assert!(!own.is_kept(), "a failed batch's connection is dropped");
    assert_eq!(count(&store).await, 127);
    store.close().await;
    assert!(
        !wal.exists(),
        "the dropped connection closed (and then the pool's): the WAL is gone"
    );

    let store = Store::open(&url, 2).await.unwrap();
    write_on(&store, &mut own, batch("again", 127, false))
        .await
        .unwrap();
    store.close().await;
    assert!(wal.exists(), "the writer's connection is open still");
    own.close().await;
    assert!(!wal.exists(), "the writer's connection closed");
}

/// A file name with a space, written percent-encoded in the URL as sqlx
/// reads it: the store creates its folder and the writer's own connection
/// opens that same file (not one named with the `%20`).
#[tokio::test]
async fn sqlite_writer_opens_a_percent_encoded_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/my%20data/hub.db", dir.path().display());
    let store = Store::open(&url, 2).await.unwrap();
    assert!(dir.path().join("my data/hub.db").exists(), "{url}");
    let mut own = WriterConnection::default();
    let (ns, ds) = batch("spaced", 3, false);
    store
        .insert_ingest_batch_on(&mut own, rows(ns, ds), &[])
        .await
        .unwrap();
    assert!(own.is_sqlite_own());
    assert_eq!(count(&store).await, 3);
    assert!(!dir.path().join("my%20data").exists());
    own.close().await;
    store.close().await;
}

/// Every row of a PostgreSQL table as JSON (`row_to_json`: text quoted,
/// numbers bare, NULL as null), in `order`, but `skip`.
async fn dump_postgres(store: &Store, table: &str, order: &str, skip: &[&str]) -> Vec<String> {
    let except: Vec<String> = skip.iter().map(|c| format!(" - '{c}'")).collect();
    texts(
        store,
        format!(
            "SELECT (to_jsonb(t){})::text FROM {table} t ORDER BY {order}",
            except.concat()
        ),
    )
    .await
}

/// On PostgreSQL the writer binds each column as an array (its own
/// connection, sqlx's PostgreSQL driver) instead of each table's rows as
/// JSON (the pool's `insert_ingest_batch`): every stored row must be the
/// same to the last type — notifications, deliveries (a published one with
/// its feed ID and send time), the idempotency record, the feed events,
/// and the `notification.created` webhook events with their bodies, in
/// the batch's order and not for a repeat.
#[tokio::test]
async fn postgres_writer_stores_every_column_as_the_pool_does() {
    let (a, b) = (TestDb::postgres().await, TestDb::postgres().await);
    let (own_store, pool_store) = (a.store(), b.store());
    for store in [own_store, pool_store] {
        store
            .create_webhook(&hub::store::NewSubscription {
                id: "wh_1".into(),
                url: "http://127.0.0.1:9/hook".into(),
                secret: "s".repeat(32),
                events: vec!["notification.*".into()],
                max_attempts: 3,
                base_backoff_ms: 1000,
                max_backoff_ms: 60_000,
                created_by: "test".into(),
            })
            .await
            .unwrap();
    }
    let rows = every_kind_of_row();
    let feed = vec![
        r#"{"type":"delivery","id":"d_sent"}"#.to_string(),
        "plain text, \"quoted\"".to_string(),
    ];
    pool_store
        .insert_ingest_batch(
            &rows.notifications,
            &rows.deliveries,
            &rows.idempotency,
            &feed,
        )
        .await
        .unwrap();
    let mut own = WriterConnection::default();
    own_store
        .insert_ingest_batch_on(&mut own, rows, &feed)
        .await
        .unwrap();
    assert!(
        own.is_postgres_own(),
        "the writer's own PostgreSQL connection"
    );
    for (table, order, skip) in [
        ("notifications", "id", &[][..]),
        ("deliveries", "id", &[][..]),
        // Stamped with the time of the write.
        ("idempotency_keys", "key", &["created_at"][..]),
        // Stamped with the time, and each store's own origin.
        ("feed_events", "seq", &["at", "origin"][..]),
        ("webhook_deliveries", "id", &[][..]),
    ] {
        let written = dump_postgres(own_store, table, order, skip).await;
        assert!(!written.is_empty(), "{table}");
        assert_eq!(
            written,
            dump_postgres(pool_store, table, order, skip).await,
            "{table}"
        );
    }
    let events = dump_postgres(own_store, "webhook_deliveries", "id", &[]).await;
    assert_eq!(
        events.len(),
        2,
        "one event per new notification, none for the repeat: {events:?}"
    );
    assert!(
        events[0].contains("evt_full") && events[0].contains("2024-11-30T20:53:20.123Z"),
        "{}",
        events[0]
    );
    own.close().await;
    a.finish().await;
    b.finish().await;
}
