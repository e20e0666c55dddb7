//! PostgreSQL: a claim's commit does not wait for the disk, everything else
//! does. The claim records only a lease (see `claim_due` in
//! store/outbox.rs), and an fsync between an urgent message's commit and its
//! send was the largest part of that wait; the message and the record of
//! its send stay synchronous. A trigger notes the `synchronous_commit` each
//! write to `deliveries` ran under.
use crate::common;
use common::TestDb;
use common::server::TestHub;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_claim_commits_without_waiting_for_the_disk() {
    let db = TestDb::postgres().await;
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(&db.url()).await.unwrap();
    for sql in [
        "CREATE TABLE commit_modes (seq BIGSERIAL, channel TEXT, status TEXT, mode TEXT)",
        "CREATE FUNCTION note_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO commit_modes (channel, status, mode) \
         VALUES (NEW.channel, NEW.status, current_setting('synchronous_commit')); \
         RETURN NEW; END $$",
        "CREATE TRIGGER note_commit_mode AFTER INSERT OR UPDATE ON deliveries \
         FOR EACH ROW EXECUTE FUNCTION note_commit_mode()",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    // The web feed's delivery is written as sent with the message; the
    // console's goes through the outbox.
    let mut hub = TestHub::start(&db, "", vec![]).await;
    let (status, body) = hub
        .post(
            "/api/v1/notifications",
            json!({"to": "ceo", "urgency": "urgent", "text": "prod is down"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let line = tokio::time::timeout(Duration::from_secs(5), hub.console.recv())
        .await
        .expect("the urgent message reaches the console")
        .unwrap();
    assert!(line.contains("prod is down"), "{line}");
    // The record of the send comes after it, in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    let modes = loop {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT status, mode FROM commit_modes WHERE channel = 'console' ORDER BY seq",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        if rows.iter().any(|(s, _)| s == "sent") {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "the send was not recorded: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let modes: Vec<(&str, &str)> = modes
        .iter()
        .map(|(s, m)| (s.as_str(), m.as_str()))
        .collect();
    assert_eq!(
        modes,
        [("pending", "on"), ("sending", "off"), ("sent", "on")],
        "accepted, claimed, sent: each write's synchronous_commit"
    );
    drop(conn);
    hub.stop().await;
    db.finish().await;
}
