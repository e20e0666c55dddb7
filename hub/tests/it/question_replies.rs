//! Questions answered by replying on Slack (a thread reply: an Events API
//! `message` event over the Events endpoint and over Socket Mode) and on
//! Discord (a reply: MESSAGE_CREATE with `message_reference`, over the
//! Gateway), against the platforms' test servers; the answer reaches the
//! agent by long poll and the question's message is edited to show it.

use crate::common;
use adapters::slack::inbound::sign;
use common::TestDb;
use common::discord_server::{BOT_USER_ID, DiscordServer, shown};
use common::server::TestHub;
use common::slack_server::{BOT_TOKEN, SlackServer};
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "test-signing-secret";

/// boss answers on Slack (U777); sam is a member who was not asked.
const SLACK_PEOPLE: &str = r#"
[[people]]
id = "boss"
role = "member"
push = ["slack"]
identities = { slack = "U777" }

[[people]]
id = "sam"
role = "member"
push = ["slack"]
identities = { slack = "U555" }
"#;

async fn start_slack(db: &TestDb, server: &SlackServer, extra: &str) -> TestHub {
    let toml = format!(
        "[adapters.slack]\nenabled = true\nbot_token = \"{BOT_TOKEN}\"\nsigning_secret = \"{SECRET}\"\napi_url = \"{}\"\n{extra}\n{SLACK_PEOPLE}",
        server.api_url()
    );
    TestHub::start(db, &toml, vec![]).await
}

/// Ask boss; the 201 answer once its message is sent, and that message's
/// (conversation, ts).
async fn ask_boss(hub: &TestHub, server: &SlackServer, text: &str) -> (Value, String, String) {
    let (s, q) = hub
        .post(
            "/api/v1/questions",
            json!({"text": text, "to": "boss", "permission_level": "human-required"}),
        )
        .await;
    assert_eq!(s, 201, "{q}");
    hub.settled_all(&q).await;
    let (conversation, ts) = server
        .first_post_to("U777")
        .expect("the question was posted to boss");
    (q, conversation, ts)
}

/// An Events API `message` event in the thread of `ts`.
fn thread_reply(event_id: &str, user: &str, channel: &str, thread: &str, text: &str) -> Value {
    json!({
        "token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id, "event_time": 1,
        "event": {"type": "message", "channel": channel, "user": user, "text": text,
                  "ts": format!("{thread}9"), "thread_ts": thread, "channel_type": "im"}
    })
}

async fn post_event(hub: &TestHub, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let res = hub
        .http
        .post(format!("{}/slack/events", hub.base))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", sign(SECRET, &ts, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn answer_of(hub: &TestHub, q: &Value) -> Value {
    let (s, got) = hub
        .get(&format!("/api/v1/questions/{}?wait=10", q["id"]))
        .await;
    assert_eq!(s, 200, "{got}");
    got["answer"].clone()
}

both_dbs!(
    a_slack_thread_reply_answers_the_question,
    |db: &TestDb| async move {
        let server = SlackServer::start(&["D777"]).await;
        let hub = start_slack(db, &server, "").await;
        // Slack checks the Request URL first.
        let (s, body) = post_event(
            &hub,
            &json!({"type": "url_verification", "challenge": "ch-1", "token": "x"}),
        )
        .await;
        assert_eq!((s, body.as_str()), (200, r#"{"challenge":"ch-1"}"#));
        let (q, conversation, ts) = ask_boss(&hub, &server, "Which region?").await;

        // A reply outside any thread, and sam's reply in the thread: no answer.
        let mut stray = thread_reply("Ev0", "U777", &conversation, &ts, "hello");
        stray["event"]["thread_ts"] = Value::Null;
        assert_eq!(post_event(&hub, &stray).await.0, 200);
        let sam = thread_reply("Ev1", "U555", &conversation, &ts, "us");
        assert_eq!(post_event(&hub, &sam).await.0, 200);

        // boss replies in the question's thread: the answer.
        let reply = thread_reply("Ev2", "U777", &conversation, &ts, "eu, please");
        let (s, _) = post_event(&hub, &reply).await;
        assert_eq!(s, 200);
        let answer = answer_of(&hub, &q).await;
        assert_eq!(
            (&answer["text"], &answer["by"], &answer["via"]),
            (&json!("eu, please"), &json!("boss"), &json!("reply")),
            "{answer}"
        );
        // Slack's retry of the same event is not run again; the question's
        // message shows the answer.
        assert_eq!(post_event(&hub, &reply).await.0, 200);
        server
            .wait_for("the question's message shows the answer", |s| {
                s.message(&conversation, &ts)
                    .is_some_and(|m| m.to_string().contains("Answered by boss (reply)"))
            })
            .await;
        // boss is told in the thread that it counted.
        let id = q["id"].as_i64().unwrap();
        let confirmed = |s: &SlackServer| {
            s.posted().iter().any(|c| {
                c.body["thread_ts"] == json!(ts)
                    && c.body
                        .to_string()
                        .contains(&format!("You answered question #{id}"))
            })
        };
        for _ in 0..200 {
            if confirmed(&server) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            confirmed(&server),
            "{:?}",
            server
                .calls("chat.postMessage")
                .iter()
                .map(|c| c.body.to_string())
                .collect::<Vec<_>>()
        );
        hub.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_thread_reply_over_socket_mode_answers_the_question() {
    let db = TestDb::sqlite().await;
    let server = SlackServer::start(&["D777"]).await;
    server.serve_socket_mode().await;
    let hub = start_slack(&db, &server, "mode = \"socket\"\napp_token = \"xapp-test\"").await;
    server
        .wait_for("a Socket Mode connection", |s| s.socket_count() >= 1)
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (q, conversation, ts) = ask_boss(&hub, &server, "Ship tonight?").await;
    server.push_envelope(json!({
        "envelope_id": "env-reply",
        "type": "events_api",
        "accepts_response_payload": false,
        "payload": thread_reply("Ev9", "U777", &conversation, &ts, "yes")
    }));
    server
        .wait_for("the envelope's ack", |s| s.ack_of("env-reply").is_some())
        .await;
    let answer = answer_of(&hub, &q).await;
    assert_eq!(
        (&answer["text"], &answer["via"]),
        (&json!("yes"), &json!("reply"))
    );
    hub.stop().await;
    db.finish().await;
}

const DEE: u64 = 810_000_000_000_000_007;

/// dee answers on Discord; the Gateway is on.
const DISCORD_PEOPLE: &str = r#"
[[people]]
id = "dee"
role = "member"
push = ["discord"]
identities = { discord = "810000000000000007" }
"#;

/// A MESSAGE_CREATE replying to `parent` in `channel`.
fn discord_reply(id: u64, author: u64, channel: u64, parent: u64, text: &str) -> Value {
    json!({
        "id": id.to_string(), "channel_id": channel.to_string(), "content": text,
        "author": {"id": author.to_string(), "username": "dee", "bot": false},
        "message_reference": {"message_id": parent.to_string(), "channel_id": channel.to_string()},
        "referenced_message": {"id": parent.to_string(), "author": {"id": BOT_USER_ID, "bot": true}},
        "type": 19
    })
}

both_dbs!(
    a_discord_reply_answers_the_question_over_the_gateway,
    |db: &TestDb| async move {
        let server = DiscordServer::start(&[]).await;
        server.serve_gateway().await;
        let hub = TestHub::start(
            db,
            &format!("{}{DISCORD_PEOPLE}", server.config("gateway = true")),
            vec![],
        )
        .await;
        // The hub identifies with the intents replies need.
        for _ in 0..200 {
            if !server.identified().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let identify = server.identified().first().cloned().expect("identified");
        assert_eq!(identify["intents"], json!(37_376), "{identify}");
        // READY reaches the hub before the reply does.
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
        let asked = server
            .messages(dm)
            .last()
            .cloned()
            .expect("the question was sent");
        assert!(
            shown(&asked.content).contains("Which region?"),
            "{}",
            asked.content
        );

        // A bot's reply is not an answer; dee's is.
        let mut bot = discord_reply(900, 5, dm, asked.id, "us");
        bot["author"]["bot"] = json!(true);
        server.dispatch("MESSAGE_CREATE", bot);
        server.dispatch(
            "MESSAGE_CREATE",
            discord_reply(901, DEE, dm, asked.id, "eu, please"),
        );
        let answer = answer_of(&hub, &q).await;
        assert_eq!(
            (&answer["text"], &answer["by"], &answer["via"]),
            (&json!("eu, please"), &json!("dee"), &json!("reply")),
            "{answer}"
        );
        // The same message again (a reconnect's replay) is not run twice;
        // dee is answered with a reply to their message, and the question's
        // message shows the answer.
        server.dispatch(
            "MESSAGE_CREATE",
            discord_reply(901, DEE, dm, asked.id, "eu, please"),
        );
        for _ in 0..200 {
            let edited = server.message(dm, asked.id).is_some_and(|m| m.edits > 0);
            let confirmed = server.messages(dm).iter().any(|m| {
                m.reply_to == Some(901) && shown(&m.content).contains("You answered question")
            });
            if edited && confirmed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let m = server
            .message(dm, asked.id)
            .expect("the question's message");
        assert!(
            shown(&m.content).contains("Answered by dee (reply)"),
            "{}",
            m.content
        );
        let confirmations = server
            .messages(dm)
            .iter()
            .filter(|m| m.reply_to == Some(901))
            .count();
        assert_eq!(confirmations, 1, "{:?}", server.messages(dm));
        hub.stop().await;
    }
);

/// Without the Message Content Intent Discord closes the Gateway with
/// 4014, after which it forbids reconnecting: the hub takes it as a setting
/// to change, not an outage — it does not connect again, and the rest of
/// the hub runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_intent_is_not_retried_every_few_seconds() {
    let db = TestDb::sqlite().await;
    let server = DiscordServer::start(&[]).await;
    server.serve_gateway().await;
    server.refuse_intents();
    let hub = TestHub::start(
        &db,
        &format!("{}{DISCORD_PEOPLE}", server.config("gateway = true")),
        vec![],
    )
    .await;
    for _ in 0..200 {
        if !server.identified().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.identified().len(), 1);
    // A dropped connection is tried again within 5 s; a refusal never.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(server.identified().len(), 1, "no reconnect loop");
    let (s, _) = hub.get("/healthz").await;
    assert_eq!(s, 200);
    hub.stop().await;
    db.finish().await;
}
