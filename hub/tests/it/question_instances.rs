//! Two instances on one PostgreSQL: an agent waits on instance A — its SSE
//! feed and a long poll — for a question answered through instance B (the
//! web console there). A's feed gets `question.answered` exactly once and
//! the long poll returns with the answer.
//!
//! PostgreSQL only: SQLite is the single-instance engine.

use crate::common;
use crate::console::{TEAM, Visitor, link};
use common::TestDb;
use common::server::TestHub;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The `question.answered` events of an SSE stream until `quiet` passes
/// without one (after the first), or 15 s without any.
async fn answered_events<B: AsRef<[u8]>>(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<B>> + Unpin),
    quiet: Duration,
) -> Vec<Value> {
    let mut got = Vec::new();
    let mut buf = String::new();
    let started = Instant::now();
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut event = "";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if event == "question.answered" {
                got.push(serde_json::from_str(&data).expect("JSON data"));
            }
        }
        let wait = if got.is_empty() {
            Duration::from_secs(15).saturating_sub(started.elapsed())
        } else {
            quiet
        };
        match tokio::time::timeout(wait, stream.next()).await {
            Ok(Some(Ok(chunk))) => buf.push_str(&String::from_utf8_lossy(chunk.as_ref())),
            _ => return got,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_answered_on_another_instance_reaches_the_agent_once() {
    let db = TestDb::postgres().await;
    let a = TestHub::start(&db, TEAM, vec![]).await;
    let b = TestHub::start(&db, TEAM, vec![]).await;
    let sse = a
        .http
        .get(format!("{}/api/v1/events", a.base))
        .bearer_auth(&a.key)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let mut stream = sse.bytes_stream();
    let (s, q) = a
        .post(
            "/api/v1/questions",
            json!({"text": "Which region?", "options": ["eu", "us"], "to": "dana",
                   "permission_level": "human-required"}),
        )
        .await;
    assert_eq!(s, 201, "{q}");
    let id = q["id"].as_i64().unwrap();
    let poll = {
        let http = a.http.clone();
        let url = format!("{}/api/v1/questions/{id}?wait=30", a.base);
        let key = a.key.clone();
        tokio::spawn(async move {
            let r = http.get(url).bearer_auth(key).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "the long poll waits for the answer");

    // dana answers in the console of instance B.
    let mut dana = Visitor::new(&b);
    dana.sign_in(&link(&b, "dana").await).await;
    let csrf = dana.csrf().await;
    let (s, _, _) = dana
        .post(
            &format!("/console/questions/{id}/answer"),
            &[("csrf", &csrf), ("answer", "eu")],
        )
        .await;
    assert_eq!(s, 303);

    let events = answered_events(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(events.len(), 1, "exactly once: {events:?}");
    assert_eq!(events[0]["id"], json!(id));
    assert_eq!(events[0]["answer"]["text"], "eu");
    assert_eq!(events[0]["answer"]["by"], "dana");
    assert_eq!(events[0]["answer"]["via"], "web");
    let (s, polled) = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the long poll returns")
        .unwrap();
    assert_eq!(s, 200, "{polled}");
    assert_eq!(polled["answer"]["text"], "eu", "{polled}");
    a.stop().await;
    b.stop().await;
    db.finish().await;
}
