//! The live feed across instances: two hubs share one PostgreSQL database;
//! whichever one dispatches a web delivery, viewers on both see it, once.

use crate::common;
use adapters::web::FeedEvent;
use common::TestDb;
use common::server::TestHub;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

/// Collect `n` events (and then make sure no extra copy follows).
async fn collect(feed: &mut Receiver<FeedEvent>, n: usize) -> Vec<FeedEvent> {
    let mut got = Vec::new();
    while got.len() < n {
        let ev = tokio::time::timeout(Duration::from_secs(10), feed.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} feed events arrived", got.len()))
            .expect("feed open");
        got.push(ev);
    }
    let extra = tokio::time::timeout(Duration::from_millis(1500), feed.recv()).await;
    assert!(extra.is_err(), "an event arrived twice: {extra:?}");
    got
}

async fn post_fyi(hub: &TestHub, texts: &[String]) {
    for t in texts {
        let (status, body) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "urgency": "fyi", "text": t}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_on_every_instance_see_every_event_once() {
    let db = TestDb::postgres().await;
    let a = TestHub::start(&db, "", vec![]).await;
    let b = TestHub::start(&db, "", vec![]).await;
    let mut on_a = a.running.as_ref().unwrap().web.subscribe();
    let mut on_b = b.running.as_ref().unwrap().web.subscribe();

    let first: Vec<String> = (0..20).map(|i| format!("from a #{i}")).collect();
    let second: Vec<String> = (0..10).map(|i| format!("from b #{i}")).collect();
    post_fyi(&a, &first).await;
    post_fyi(&b, &second).await;

    let want: BTreeSet<String> = first.iter().chain(&second).cloned().collect();
    for (name, feed) in [("a", &mut on_a), ("b", &mut on_b)] {
        let got = collect(feed, want.len()).await;
        let texts: BTreeSet<String> = got.iter().map(|e| e.message.text.clone()).collect();
        assert_eq!(texts, want, "viewer on {name}");
        let ids: BTreeSet<&str> = got.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), want.len(), "feed ids repeat on {name}");
        assert!(got.iter().all(|e| e.recipient == "ceo" && !e.edited));
    }
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_later_streams_only_what_comes_after() {
    let db = TestDb::postgres().await;
    let a = TestHub::start(&db, "", vec![]).await;
    let mut on_a = a.running.as_ref().unwrap().web.subscribe();
    post_fyi(&a, &["before b".to_string()]).await;
    assert_eq!(collect(&mut on_a, 1).await[0].message.text, "before b");

    let b = TestHub::start(&db, "", vec![]).await;
    let mut on_b = b.running.as_ref().unwrap().web.subscribe();
    post_fyi(&a, &["after b".to_string()]).await;
    assert_eq!(collect(&mut on_b, 1).await[0].message.text, "after b");
    assert_eq!(collect(&mut on_a, 1).await[0].message.text, "after b");
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_dispatched_by_one_instance_reaches_viewers_on_both() {
    let db = TestDb::postgres().await;
    let reviewer = "[[agents]]\nid = \"reviewer\"\n";
    let a = TestHub::start(&db, reviewer, vec![]).await;
    let b = TestHub::start(&db, reviewer, vec![]).await;
    let mut on_a = a.running.as_ref().unwrap().web.subscribe();
    let mut on_b = b.running.as_ref().unwrap().web.subscribe();
    let (s, created) = a
        .post(
            "/api/v1/decisions",
            json!({"kind": "deploy", "context": "Ship it?", "options": ["ship", "wait"]}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let sent_a = collect(&mut on_a, 1).await;
    let sent_b = collect(&mut on_b, 1).await;
    assert_eq!(sent_a, sent_b, "the same event on both instances");
    assert_eq!(sent_a[0].message.buttons.len(), 2);

    // Resolved through b: the edit of the web copy goes through the outbox,
    // whichever instance's dispatcher takes it.
    let key = b.key_for("reviewer", &["decisions:resolve"]).await;
    let (s, resolved) = b
        .post_with(
            &format!("/api/v1/decisions/{id}/resolve"),
            &key,
            json!({"outcome": "approve", "reasoning": "green"}),
            None,
        )
        .await;
    assert_eq!(s, 200, "{resolved}");
    for feed in [&mut on_a, &mut on_b] {
        let edit = collect(feed, 1).await.remove(0);
        assert!(edit.edited);
        assert_eq!(
            edit.id, sent_a[0].id,
            "the edit names the message it replaces"
        );
        assert!(edit.message.buttons.is_empty(), "no buttons once decided");
    }
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_reads_back_only_what_other_instances_wrote() {
    let db = TestDb::postgres().await;
    let here = db.store().clone();
    // Another instance: its own Store, so its own origin.
    let there = hub::store::Store::open(&db.url(), 2).await.unwrap();
    let mut listener = here.listen_feed().await.unwrap();
    here.relay_feed_event(r#"{"mine":1}"#).await.unwrap();
    there.relay_feed_event(r#"{"theirs":1}"#).await.unwrap();
    here.relay_feed_event(r#"{"mine":2}"#).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.extend(
            listener
                .next_events(Duration::from_millis(300))
                .await
                .unwrap(),
        );
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(got, vec![r#"{"theirs":1}"#.to_string()]);
    // Its own rows still move the reader past them: nothing comes again.
    let later = listener
        .next_events(Duration::from_millis(300))
        .await
        .unwrap();
    assert!(later.is_empty(), "{later:?}");
    there.close().await;
    db.finish().await;
}
