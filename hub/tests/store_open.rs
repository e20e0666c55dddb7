//! The store opens, migrates and writes on both engines.
mod common;
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
