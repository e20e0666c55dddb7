//! A delivery belongs to a stored notification, on both engines: SQLite
//! through its foreign key (on every connection but the ingest writer's,
//! which checks its batches itself), PostgreSQL through one trigger per
//! statement (migration 0034; the per-row foreign-key check was a fifth of
//! the server's ingest CPU). A delivery for a missing notification is
//! refused and nothing of its statement is written; deleting a
//! notification takes its deliveries with it.
use crate::common;
use common::{TestDb, stored_notification, texts};
use hub::store::{DeliveryOp, DeliveryState, NewDelivery, Store};
use sqlx::Row;

fn delivery(id: &str, notification_id: &str) -> NewDelivery {
    NewDelivery {
        id: id.into(),
        notification_id: notification_id.into(),
        person_id: Some("ceo".into()),
        channel: "email".into(),
        address: "ceo".into(),
        op: DeliveryOp::Send,
        target_message_id: None,
        status: DeliveryState::Held,
        next_attempt_at: 1,
        fallbacks: String::new(),
        created_at: 1,
    }
}

async fn deliveries(store: &Store) -> Vec<String> {
    ids_in(store, "deliveries").await
}

/// Every ID in `table`, in the database's order.
async fn ids_in(store: &Store, table: &str) -> Vec<String> {
    texts(store, format!("SELECT id FROM {table} ORDER BY id")).await
}

both_dbs!(
    a_delivery_for_a_missing_notification_is_refused_and_writes_nothing,
    |db: &TestDb| {
        let store = db.store().clone();
        let postgres = store.dialect() == hub::store::Dialect::Postgres;
        async move {
            let n = stored_notification("n1".into(), "one".into());
            store
                .insert_batch(&[n], &[delivery("d1", "n1")], &[])
                .await
                .unwrap();
            // Several deliveries in one statement, one of them an orphan:
            // none of them is kept.
            let refused = store
                .insert_batch(
                    &[],
                    &[
                        delivery("d2", "n1"),
                        delivery("d3", "n_missing"),
                        delivery("d4", "n1"),
                    ],
                    &[],
                )
                .await
                .unwrap_err()
                .to_string();
            assert!(
                refused.to_lowercase().contains("foreign key") || refused.contains("n_missing"),
                "{refused}"
            );
            if postgres {
                assert!(
                    refused.contains("d3") && refused.contains("n_missing"),
                    "the error names the delivery and its notification: {refused}"
                );
            }
            assert_eq!(deliveries(&store).await, ["d1"]);

            // The refusal is a foreign-key violation to every caller that
            // tells kinds of errors apart.
            let kind = sqlx::query(
                "INSERT INTO deliveries (id, notification_id, channel, address, status, next_attempt_at, created_at, updated_at) \
                 VALUES ('d5', 'n_missing', 'email', 'ceo', 'held', 1, 1, 1)",
            )
            .execute(store.pool())
            .await
            .unwrap_err();
            assert!(
                matches!(&kind, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation),
                "{kind:?}"
            );

            // Nor can a delivery be moved to a missing notification.
            let moved =
                sqlx::query("UPDATE deliveries SET notification_id = 'n_missing' WHERE id = 'd1'")
                    .execute(store.pool())
                    .await;
            assert!(moved.is_err(), "{moved:?}");
            let row = sqlx::query("SELECT notification_id FROM deliveries WHERE id = 'd1'")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(row.try_get::<String, _>(0).unwrap(), "n1");
            // Other changes to a delivery are not checked against anything.
            sqlx::query("UPDATE deliveries SET status = 'dead' WHERE id = 'd1'")
                .execute(store.pool())
                .await
                .unwrap();
        }
    }
);

both_dbs!(
    a_notification_inserted_by_the_same_batch_counts,
    |db: &TestDb| {
        let store = db.store().clone();
        async move {
            // 300 notifications with two deliveries each: one statement
            // per table on PostgreSQL, checked after both went in.
            let ns: Vec<_> = (0..300)
                .map(|i| stored_notification(format!("n{i:03}"), format!("body {i}")))
                .collect();
            let ds: Vec<_> = ns
                .iter()
                .flat_map(|n| {
                    [
                        delivery(&format!("a_{}", n.id), &n.id),
                        delivery(&format!("b_{}", n.id), &n.id),
                    ]
                })
                .collect();
            store.insert_batch(&ns, &ds, &[]).await.unwrap();
            assert_eq!(deliveries(&store).await.len(), 600);
        }
    }
);

both_dbs!(
    deleting_a_notification_takes_its_deliveries,
    |db: &TestDb| {
        let store = db.store().clone();
        async move {
            let ns = [
                stored_notification("n1".into(), "one".into()),
                stored_notification("n2".into(), "two".into()),
            ];
            let ds = [
                delivery("d1a", "n1"),
                delivery("d1b", "n1"),
                delivery("d2", "n2"),
            ];
            store.insert_batch(&ns, &ds, &[]).await.unwrap();
            sqlx::query("DELETE FROM notifications WHERE id = 'n1'")
                .execute(store.pool())
                .await
                .unwrap();
            assert_eq!(deliveries(&store).await, ["d2"]);
        }
    }
);

both_dbs!(
    notification_and_delivery_ids_compare_as_bytes,
    |db: &TestDb| {
        let store = db.store().clone();
        let postgres = store.dialect() == hub::store::Dialect::Postgres;
        async move {
            // In bytes '-' < 'B' < '_' < 'a'; a locale's collation (en_US,
            // say) orders them otherwise. SQLite compares bytes (BINARY);
            // PostgreSQL's ID columns do too, whatever the database's
            // collation (migration 0036), so the B-trees every ingest
            // writes skip strcoll.
            let ids = ["n_a", "n_B", "n__", "n_-"];
            let ns: Vec<_> = ids
                .iter()
                .map(|id| stored_notification(id.to_string(), "x".into()))
                .collect();
            let ds: Vec<_> = ids
                .iter()
                .map(|id| delivery(&id.replacen('n', "d", 1), id))
                .collect();
            store.insert_batch(&ns, &ds, &[]).await.unwrap();
            assert_eq!(
                ids_in(&store, "notifications").await,
                ["n_-", "n_B", "n__", "n_a"]
            );
            assert_eq!(deliveries(&store).await, ["d_-", "d_B", "d__", "d_a"]);
            if postgres {
                let columns = texts(
                    &store,
                    "SELECT table_name::text || '.' || column_name::text || ' ' || coalesce(collation_name::text, 'default') \
                     FROM information_schema.columns \
                     WHERE table_schema = current_schema() \
                       AND (table_name, column_name) IN (('notifications', 'id'), ('deliveries', 'id'), \
                            ('deliveries', 'notification_id'), ('question_copies', 'notification_id')) \
                     ORDER BY 1",
                )
                .await;
                assert_eq!(
                    columns,
                    [
                        "deliveries.id C",
                        "deliveries.notification_id C",
                        "notifications.id C",
                        "question_copies.notification_id C"
                    ]
                );
            }
        }
    }
);
