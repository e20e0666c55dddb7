//! The Discord Gateway resumes as Discord documents ("Resuming"): a reply
//! given while the hub's connection is down — dropped, or zombied (no
//! heartbeat ACK) — is replayed on the resume and answers the question
//! once; Reconnect (op 7) resumes without replaying anything twice; an
//! expired session (Invalid Session, `d: false`), or one that two resumes
//! in a row could not reach, is identified afresh.

use crate::common;
use common::TestDb;
use common::discord_server::{BOT_USER_ID, DiscordServer, shown};
use common::server::TestHub;
use serde_json::{Value, json};
use std::time::Duration;

const DEE: u64 = 810_000_000_000_000_007;

const DEE_TOML: &str = r#"
[[people]]
id = "dee"
role = "member"
push = ["discord"]
identities = { discord = "810000000000000007" }
"#;

/// A MESSAGE_CREATE replying to `parent` in `channel`.
fn reply(id: u64, channel: u64, parent: u64, text: &str) -> Value {
    json!({
        "id": id.to_string(), "channel_id": channel.to_string(), "content": text,
        "author": {"id": DEE.to_string(), "username": "dee", "bot": false},
        "message_reference": {"message_id": parent.to_string(), "channel_id": channel.to_string()},
        "referenced_message": {"id": parent.to_string(), "author": {"id": BOT_USER_ID, "bot": true}},
        "type": 19
    })
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..300 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A hub with the Gateway on, connected (READY), and a question to dee:
/// the question, dee's DM channel and the question's message ID.
async fn asked(db: &TestDb, server: &DiscordServer) -> (TestHub, Value, u64, u64) {
    server.serve_gateway().await;
    let hub = TestHub::start(
        db,
        &format!("{}{DEE_TOML}", server.config("gateway = true")),
        vec![],
    )
    .await;
    until("a live Gateway session", || {
        server.gateway.live_sessions() == 1
    })
    .await;
    // READY reaches the hub before anything else does.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (s, q) = hub
        .post(
            "/api/v1/questions",
            json!({"text": "Which region?", "to": "dee", "permission_level": "human-required"}),
        )
        .await;
    assert_eq!(s, 201, "{q}");
    hub.settled_all(&q).await;
    let dm = server.dm_channel(DEE).expect("a DM with dee");
    let message = server.messages(dm).last().expect("the question").id;
    (hub, q, dm, message)
}

async fn answer_of(hub: &TestHub, q: &Value) -> Value {
    let (s, got) = hub
        .get(&format!("/api/v1/questions/{}?wait=20", q["id"]))
        .await;
    assert_eq!(s, 200, "{got}");
    got["answer"].clone()
}

/// dee's confirmations: replies to dee's message `id`.
fn confirmations(server: &DiscordServer, dm: u64, id: u64) -> usize {
    server
        .messages(dm)
        .iter()
        .filter(|m| m.reply_to == Some(id) && shown(&m.content).contains("You answered question"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_given_while_the_gateway_is_down_is_read_after_the_resume_once() {
    let db = TestDb::sqlite().await;
    let server = DiscordServer::start(&[]).await;
    let (hub, q, dm, message) = asked(&db, &server).await;

    // Discord drops the connection; dee replies before the hub is back.
    server.gateway.drop_connections();
    server.dispatch("MESSAGE_CREATE", reply(901, dm, message, "eu, please"));
    let answer = answer_of(&hub, &q).await;
    assert_eq!(
        (&answer["text"], &answer["by"], &answer["via"]),
        (&json!("eu, please"), &json!("dee"), &json!("reply")),
        "{answer}"
    );
    // The hub resumed its session from the last sequence it had (READY's),
    // rather than identifying afresh.
    let resumed = server.gateway.resumed();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0]["session_id"], json!("test-session-1"));
    assert_eq!(resumed[0]["seq"], json!(1), "{resumed:?}");
    assert_eq!(server.identified().len(), 1);
    until("dee's confirmation", || {
        confirmations(&server, dm, 901) == 1
    })
    .await;

    // Discord asks for a reconnect: the hub resumes after the reply's
    // sequence, and nothing is run twice.
    server.gateway.ask_reconnect();
    until("a second resume", || server.gateway.resumed().len() == 2).await;
    until("a live session again", || {
        server.gateway.live_sessions() == 1
    })
    .await;
    let second = &server.gateway.resumed()[1];
    assert!(second["seq"].as_i64() > Some(1), "{second}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        confirmations(&server, dm, 901),
        1,
        "{:?}",
        server.messages(dm)
    );
    assert_eq!(server.identified().len(), 1);
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombied_connection_is_resumed_and_its_missed_reply_read() {
    let db = TestDb::sqlite().await;
    let server = DiscordServer::start(&[]).await;
    let (hub, q, dm, message) = asked(&db, &server).await;

    // The connection stays open but nothing comes down it, heartbeat ACKs
    // included; dee's reply is sent meanwhile.
    server.gateway.zombify();
    server.dispatch("MESSAGE_CREATE", reply(902, dm, message, "us"));
    let answer = answer_of(&hub, &q).await;
    assert_eq!(answer["text"], json!("us"), "{answer}");
    assert_eq!(server.gateway.resumed().len(), 1);
    assert_eq!(server.identified().len(), 1);
    until("dee's confirmation", || {
        confirmations(&server, dm, 902) == 1
    })
    .await;
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_identified_afresh() {
    let db = TestDb::sqlite().await;
    let server = DiscordServer::start(&[]).await;
    let (hub, q, dm, message) = asked(&db, &server).await;

    // Discord has forgotten the session: the Resume gets Invalid Session
    // (d: false), and after 1–5 s the hub identifies again.
    server.gateway.forget_sessions();
    server.gateway.drop_connections();
    until("a resume", || server.gateway.resumed().len() == 1).await;
    let started = std::time::Instant::now();
    until("a new Identify", || server.identified().len() == 2).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    until("a live session", || server.gateway.live_sessions() == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The new session reads replies.
    server.dispatch("MESSAGE_CREATE", reply(903, dm, message, "apac"));
    let answer = answer_of(&hub, &q).await;
    assert_eq!(answer["text"], json!("apac"), "{answer}");
    assert_eq!(server.gateway.resumed().len(), 1, "no resume loop");
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_cannot_be_resumed_is_identified_afresh() {
    let db = TestDb::sqlite().await;
    let server = DiscordServer::start(&[]).await;
    // READY names a resume URL where nothing listens any more.
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("ws://{}", l.local_addr().unwrap())
    };
    server.gateway.resume_at(&dead);
    let (hub, q, dm, message) = asked(&db, &server).await;

    // The connection drops; both resumes at the dead URL fail, and the hub
    // gives the session up for a new Identify (before: it tried the dead
    // URL for ever, and no reply was read again).
    server.gateway.drop_connections();
    for _ in 0..600 {
        if server.identified().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.identified().len(), 2, "a new Identify within 30 s");
    until("a live session", || server.gateway.live_sessions() == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.dispatch("MESSAGE_CREATE", reply(904, dm, message, "emea"));
    let answer = answer_of(&hub, &q).await;
    assert_eq!(answer["text"], json!("emea"), "{answer}");
    assert!(
        server.gateway.resumed().is_empty(),
        "no Resume reached the live Gateway"
    );
    hub.stop().await;
    db.finish().await;
}
