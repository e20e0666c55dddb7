//! The Telegram adapter end to end: the real teloxide client in the hub
//! against a Bot API test server on 127.0.0.1 that answers like Telegram
//! (HTML entity parsing, the 4096 limit, 429 with retry_after, 403 blocked,
//! "message is not modified", getUpdates long polling).

use crate::common;
use common::TestDb;
use common::server::{TestHub, delivery};
use common::telegram_server::{BOT_USERNAME, TelegramServer};
use serde_json::{Value, json};
use std::time::Duration;

const CHIEF: i64 = 9001;
const DANA: i64 = 555;
const OPS_GROUP: i64 = -100777;

/// The test's people and channels besides TestHub's: an owner reachable on
/// Telegram, and a project channel bound to a Telegram group.
const CHIEF_TOML: &str = r#"
[[people]]
id = "chief"
role = "owner"
push = ["telegram", "console"]
identities = { telegram = "9001" }

[[channels]]
id = "ops"
bindings = { telegram = "-100777" }
"#;

/// Raised limits for tests that must reach the test server's own 429s
/// instead of being slowed by the adapter's throttle.
const FAST: &str = "[adapters.telegram.limits]\nper_second = 100\nper_chat_per_second = 100\nper_group_per_minute = 1000\n";

/// A Bot API server that knows the tests' chats (the bot may write to them).
async fn server() -> TelegramServer {
    let tg = TelegramServer::start().await;
    tg.add_chats(&[CHIEF, DANA, OPS_GROUP]);
    tg
}

async fn start(db: &TestDb, adapter_extra: &str) -> (TelegramServer, TestHub) {
    let tg = server().await;
    let hub = TestHub::start(
        db,
        &format!("{}{CHIEF_TOML}", tg.config(adapter_extra)),
        vec![],
    )
    .await;
    (tg, hub)
}

both_dbs!(
    urgent_notification_reaches_the_ceo_on_telegram,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, "").await;
        // On start: the username from getMe, the command list from the spec.
        assert_eq!(tg.calls("getMe").len(), 1);
        let registered = tg.calls("setMyCommands");
        assert_eq!(registered.len(), 1);
        let names: Vec<&str> = registered[0]["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["command"].as_str().unwrap())
            .collect();
        for n in ["task", "approve", "deny", "help"] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }

        let (s, n) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "chief", "urgency": "urgent", "title": "Deploy <prod> failed",
                       "text": "exit 1 & </b><script>", "fields": [{"name": "host", "value": "a<b>"}]}),
            )
            .await;
        assert_eq!(s, 201, "{n}");
        let status = hub.settled(n["id"].as_str().unwrap()).await;
        let d = delivery(&status, "telegram");
        assert_eq!(d["status"], "sent", "{status}");
        assert_eq!(d["platform_message_id"], "9001:1", "{status}");
        let msgs = tg.messages(CHIEF);
        assert_eq!(msgs.len(), 1);
        assert_eq!(
            msgs[0].text,
            "Deploy <prod> failed\n\nexit 1 & </b><script>\n\nhost: a<b>"
        );
        assert!(
            msgs[0]
                .html
                .starts_with("<b>Deploy &lt;prod&gt; failed</b>"),
            "{}",
            msgs[0].html
        );
        assert!(tg.rejections().is_empty(), "{:?}", tg.rejections());
        hub.stop().await;
    }
);

both_dbs!(
    decision_approved_with_the_button,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, "").await;
        let (s, d) = hub
            .post(
                "/api/v1/decisions",
                json!({"kind": "deploy", "context": "Ship <v2> & migrate?"}),
            )
            .await;
        assert_eq!(s, 201, "{d}");
        let id = d["id"].as_i64().unwrap();
        hub.settled_all(&d).await;
        let sent = tg.messages(CHIEF);
        assert_eq!(sent.len(), 1, "{sent:?}");
        let m = sent[0].clone();
        assert!(m.text.contains("Ship <v2> & migrate?"), "{}", m.text);
        let row = m.reply_markup.as_ref().expect("inline keyboard")["inline_keyboard"][0].clone();
        let approve = row
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["text"] == "Approve")
            .expect("Approve button")["callback_data"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!approve.is_empty() && approve.len() <= 64);

        // A member without approver rights (in a shared chat) is refused with
        // an alert; nothing changes.
        tg.push_callback(DANA, CHIEF, m.id, &approve);
        tg.wait_for("the refusal is answered", 10, |t| !t.answered().is_empty())
            .await;
        let (_, refused) = tg.answered()[0].clone();
        assert_eq!(refused["show_alert"], true, "{refused}");
        let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(g["status"], "pending", "{g}");
        assert_eq!(tg.message(CHIEF, m.id).unwrap().edits, 0);

        // The chief presses Approve: the update arrives by long polling.
        tg.push_callback(CHIEF, CHIEF, m.id, &approve);
        tg.wait_for("the press is answered", 10, |t| t.answered().len() == 2)
            .await;
        let (_, answer) = tg.answered()[1].clone();
        assert!(
            answer["text"]
                .as_str()
                .unwrap()
                .contains(&format!("approved decision #{id}")),
            "{answer}"
        );
        assert_ne!(answer["show_alert"], true);
        // The pressed message is edited to show the outcome, buttons gone.
        tg.wait_for("the message is edited", 10, |t| {
            t.message(CHIEF, m.id).is_some_and(|x| x.edits > 0)
        })
        .await;
        let edited = tg.message(CHIEF, m.id).unwrap();
        assert!(edited.reply_markup.is_none(), "{edited:?}");
        assert!(
            edited.text.contains("Approved by") && edited.text.contains("Ship <v2> & migrate?"),
            "{}",
            edited.text
        );
        // Edited once, through the outbox: the resolution queued the edit
        // of this recorded copy, so the press queued none of its own.
        let edits = hub
            .count("SELECT COUNT(*) FROM deliveries WHERE op = 'edit' AND channel = 'telegram'")
            .await;
        assert_eq!(edits, 1);
        tg.wait_for("one editMessageText call", 10, |_| {
            tg.calls("editMessageText").len() == 1
        })
        .await;
        assert_eq!(tg.message(CHIEF, m.id).unwrap().edits, 1);
        assert!(tg.rejections().is_empty(), "{:?}", tg.rejections());
        // The agent sees the outcome.
        let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(g["status"], "approved", "{g}");
        assert!(g["decided_by"].as_str().unwrap().contains("chief"), "{g}");

        // A second press is answered with an alert and changes nothing.
        tg.push_callback(CHIEF, CHIEF, m.id, &approve);
        tg.wait_for("the second press is answered", 10, |t| {
            t.answered().len() == 3
        })
        .await;
        let (_, again) = tg.answered()[2].clone();
        assert_eq!(again["show_alert"], true, "{again}");
        assert!(!tg.calls("getUpdates").is_empty());
        hub.stop().await;
    }
);

both_dbs!(
    commands_from_telegram_and_unknown_users,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, "").await;
        // A stranger is refused politely, threaded under their message, audited.
        let u = tg.push_message(31337, 31337, "/task new steal the roadmap");
        tg.wait_for("the refusal", 10, |t| !t.messages(31337).is_empty())
            .await;
        let refusal = &tg.messages(31337)[0];
        assert!(
            refusal.text.contains("I don't know you"),
            "{}",
            refusal.text
        );
        assert!(refusal.text.contains("31337"), "{}", refusal.text);
        assert_eq!(refusal.reply_to, u["message"]["message_id"].as_i64());
        let audit = hub.store().audit_for("telegram:31337").await.unwrap();
        assert!(
            audit
                .iter()
                .any(|(_, action, _)| action == "command.unknown_user"),
            "{audit:?}"
        );

        // `/start` shows help; a command for another bot is ignored; a group
        // command with our @username runs and is answered in the group.
        tg.push_message(CHIEF, CHIEF, "/start");
        tg.push_message(CHIEF, OPS_GROUP, "/help@some_other_bot");
        let cmd = tg.push_message(
            CHIEF,
            OPS_GROUP,
            &format!("/task@{BOT_USERNAME} new Fix <login> & logout"),
        );
        // Two chats are answered independently: wait for both replies (the
        // group's could come first, and the help was then not there yet).
        tg.wait_for("the help and the group reply", 10, |t| {
            !t.messages(CHIEF).is_empty() && !t.messages(OPS_GROUP).is_empty()
        })
        .await;
        let help = tg.messages(CHIEF);
        assert_eq!(help.len(), 1);
        assert!(help[0].text.contains("help [command]"), "{}", help[0].text);
        let group = tg.messages(OPS_GROUP);
        assert_eq!(group.len(), 1, "only our command is answered: {group:?}");
        assert_eq!(group[0].reply_to, cmd["message"]["message_id"].as_i64());
        let (_, tasks) = hub.get("/api/v1/tasks").await;
        let titles: Vec<&str> = tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, vec!["Fix <login> & logout"], "{tasks}");
        hub.stop().await;
    }
);

both_dbs!(
    webhook_without_the_right_secret_does_nothing,
    |db: &TestDb| async move {
        let secret = "a-very-secret-token_123";
        let (tg, hub) = start(
            db,
            &format!(
                "mode = \"webhook\"\nwebhook_path = \"/tg/hook\"\nwebhook_url = \"https://hub.example.com/tg/hook\"\nwebhook_secret = \"{secret}\"\n"
            ),
        )
        .await;
        let (_, d) = hub
            .post(
                "/api/v1/decisions",
                json!({"kind": "deploy", "context": "ship?"}),
            )
            .await;
        let id = d["id"].as_i64().unwrap();
        hub.settled_all(&d).await;
        let m = tg.messages(CHIEF)[0].clone();
        let approve = m.reply_markup.as_ref().unwrap()["inline_keyboard"][0][0]["callback_data"]
            .as_str()
            .unwrap()
            .to_string();
        let update = tg.callback_update(CHIEF, CHIEF, m.id, &approve);
        let url = format!("{}/tg/hook", hub.base);
        for header in [None, Some("wrong"), Some("a-very-secret-token_12")] {
            let mut req = hub.http.post(&url).json(&update);
            if let Some(h) = header {
                req = req.header("X-Telegram-Bot-Api-Secret-Token", h);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status().as_u16(), 401, "header {header:?}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(g["status"], "pending", "{g}");
        assert!(tg.answered().is_empty());
        assert_eq!(tg.message(CHIEF, m.id).unwrap().edits, 0);
        assert!(
            tg.calls("getUpdates").is_empty(),
            "webhook mode does not poll"
        );

        // The same update with the right secret is acted on.
        let res = hub
            .http
            .post(&url)
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .json(&update)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(g["status"], "approved", "{g}");
        assert_eq!(tg.answered().len(), 1);
        hub.stop().await;
    }
);

both_dbs!(
    rate_limited_burst_arrives_complete_and_in_order,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, FAST).await;
        // Telegram allows these chats 3 and 2 messages a second here.
        tg.limit(CHIEF, 3, Duration::from_secs(1), 1);
        tg.limit(DANA, 2, Duration::from_secs(1), 1);
        let mut ids = Vec::new();
        for i in 0..8 {
            for (to, n) in [("chief", i), ("dana", i)] {
                if to == "dana" && n >= 5 {
                    continue;
                }
                let (s, b) = hub
                    .post(
                        "/api/v1/notifications",
                        json!({"to": to, "urgency": "urgent", "text": format!("{to} #{n}")}),
                    )
                    .await;
                assert_eq!(s, 201, "{b}");
                ids.push(b["id"].as_str().unwrap().to_string());
            }
        }
        for id in &ids {
            let status = hub.settled(id).await;
            assert_eq!(delivery(&status, "telegram")["status"], "sent", "{status}");
        }
        for (chat, who, count) in [(CHIEF, "chief", 8), (DANA, "dana", 5)] {
            let texts: Vec<String> = tg.messages(chat).into_iter().map(|m| m.text).collect();
            let expected: Vec<String> = (0..count).map(|n| format!("{who} #{n}")).collect();
            assert_eq!(texts, expected, "complete, once each, in order");
            let limited: Vec<_> = tg
                .rejections()
                .into_iter()
                .filter(|r| r.chat == Some(chat))
                .collect();
            assert!(!limited.is_empty(), "the burst provoked 429s for {who}");
            assert!(limited.iter().all(|r| r.code == 429), "{limited:?}");
            // Nothing reached the chat while Telegram said to wait.
            for r in &limited {
                for m in tg.messages(chat) {
                    let early = m.sent_at > r.at && m.sent_at < r.at + Duration::from_millis(950);
                    assert!(
                        !early,
                        "{who}: {:?} sent {:?} after a 429",
                        m.text,
                        m.sent_at - r.at
                    );
                }
            }
        }
        hub.stop().await;
    }
);

both_dbs!(
    long_agent_message_with_markup_arrives_intact,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, FAST).await;
        let pieces = [
            "<b>",
            "&amp;",
            "</i>",
            " < ",
            "&",
            ">>",
            "\n",
            "ok ",
            "<a href='x'>",
            "é😀",
        ];
        let mut text = String::new();
        let mut i = 0;
        while text.chars().count() < 10_000 {
            text.push_str(pieces[i % pieces.len()]);
            i += 1;
        }
        let text: String = text.chars().take(10_000).collect();
        let (s, b) = hub
            .post(
                "/api/v1/messages",
                json!({"channel": "ops", "title": "Log <dump>", "text": text}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let status = hub.settled(b["id"].as_str().unwrap()).await;
        assert_eq!(delivery(&status, "telegram")["status"], "sent", "{status}");
        let parts = tg.messages(OPS_GROUP);
        assert!(parts.len() >= 3, "{} parts", parts.len());
        for p in &parts {
            assert!(p.text.encode_utf16().count() <= 4096);
        }
        let joined: String = parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined, format!("Log <dump>\n\n{text}"));
        assert!(tg.rejections().is_empty(), "{:?}", tg.rejections());
        // The message ID kept for edits is the last part's.
        let last = parts.last().unwrap().id;
        assert_eq!(
            delivery(&status, "telegram")["platform_message_id"],
            format!("{OPS_GROUP}:{last}")
        );
        hub.stop().await;
    }
);

both_dbs!(
    blocked_bot_falls_back_to_the_next_channel,
    |db: &TestDb| async move {
        let (tg, mut hub) = start(db, "").await;
        tg.block(CHIEF);
        let status = hub.urgent_settled("chief", "server on fire").await;
        let t = delivery(&status, "telegram");
        assert_eq!(t["status"], "dead", "{status}");
        assert!(
            t["last_error"]
                .as_str()
                .unwrap_or_default()
                .contains("blocked"),
            "{status}"
        );
        assert_eq!(delivery(&status, "console")["status"], "sent", "{status}");
        let line = hub.next_console().await;
        assert!(line.contains("server on fire"), "{line}");
        // One attempt only: a block is not retried.
        assert_eq!(tg.calls("sendMessage").len(), 1);
        hub.stop().await;
    }
);

/// The adapter alone against the test server (no hub, no database).
fn adapter(tg: &TelegramServer) -> adapters::telegram::TelegramAdapter {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config: adapters::telegram::TelegramConfig = toml_config(tg);
    adapters::telegram::TelegramAdapter::new(&config).expect("adapter")
}

fn toml_config(tg: &TelegramServer) -> adapters::telegram::TelegramConfig {
    let mut c = adapters::telegram::TelegramConfig {
        enabled: true,
        token: common::telegram_server::TOKEN.into(),
        api_url: tg.url.clone(),
        ..Default::default()
    };
    c.limits.per_chat_per_second = 100;
    c.limits.per_group_per_minute = 1000;
    c.limits.per_second = 100;
    c
}

#[tokio::test]
async fn edit_that_changes_nothing_is_success() {
    use adapters::{Adapter, Destination};
    use commands::RichMessage;
    let tg = server().await;
    let a = adapter(&tg);
    let to = Destination::to(CHIEF.to_string());
    let sent = a.send(&to, &RichMessage::text("before")).await.unwrap();
    let id = sent.platform_message_id.unwrap();
    let after = RichMessage::text("after <&>");
    a.edit(&to, &id, &after).await.unwrap();
    // The same edit again: Telegram says "message is not modified" — done.
    a.edit(&to, &id, &after).await.unwrap();
    let m = tg.message(CHIEF, 1).unwrap();
    assert_eq!((m.text.as_str(), m.edits), ("after <&>", 1));
    let r = tg.rejections();
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].description.contains("message is not modified"));
    // Editing a message that is not there is a permanent failure with Telegram's words.
    let e = a.edit(&to, "9001:77", &after).await.unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("message to edit not found"),
        "{e}"
    );
}

#[tokio::test]
async fn over_long_callback_data_is_refused_before_sending() {
    use adapters::{Adapter, Destination};
    use commands::{Button, ButtonStyle, RichMessage};
    let tg = server().await;
    let a = adapter(&tg);
    let m = RichMessage::text("pick").with_button(Button {
        label: "Go".into(),
        token: "t".repeat(65),
        style: ButtonStyle::Primary,
    });
    let e = a.send(&Destination::to("9001"), &m).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("64-byte"), "{e}");
    assert!(tg.calls("sendMessage").is_empty());
}

#[tokio::test]
async fn a_split_message_interrupted_by_429_resumes_without_repeating_parts() {
    use adapters::{Adapter, Destination};
    use commands::RichMessage;
    let tg = server().await;
    let a = adapter(&tg);
    tg.limit(CHIEF, 1, Duration::from_secs(1), 1);
    let text = "word ".repeat(2000); // 10,000 characters: three parts
    let m = RichMessage::text(text.clone());
    let to = Destination::to(CHIEF.to_string());
    let mut tries = 0;
    let sent = loop {
        tries += 1;
        match a.send(&to, &m).await {
            Ok(s) => break s,
            Err(e) => {
                // What the dispatcher would do: wait as told, send again.
                let wait = e.retry_after().expect("429 carries retry_after");
                tokio::time::sleep(wait + Duration::from_millis(50)).await;
            }
        }
        assert!(tries < 10, "never completed");
    };
    let parts = tg.messages(CHIEF);
    assert_eq!(parts.len(), 3, "each part exactly once");
    assert!(
        tries >= 3,
        "the 429s interrupted the message ({tries} tries)"
    );
    let joined: String = parts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(joined, text);
    assert_eq!(sent.platform_message_id.unwrap(), "9001:3");
}

#[tokio::test]
async fn unreachable_bot_api_is_a_transient_failure() {
    use adapters::{Adapter, Destination};
    use commands::RichMessage;
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = adapters::telegram::TelegramConfig {
        enabled: true,
        token: common::telegram_server::TOKEN.into(),
        api_url: url,
        ..Default::default()
    };
    let a = adapters::telegram::TelegramAdapter::new(&config).unwrap();
    let e = a
        .send(&Destination::to("9001"), &RichMessage::text("hi"))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("network"), "{e}");
}

/// A quick press can beat the dispatcher's record of the message it is on;
/// the pressed message is still edited (the press queues the edit in the
/// outbox). Here the copy is one the outbox never recorded at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressed_message_is_edited_even_without_an_outbox_record() {
    use adapters::{Adapter, Destination};
    use commands::{Button, ButtonStyle, RichMessage};
    let db = TestDb::sqlite().await;
    let (tg, hub) = start(&db, "").await;
    let (_, d) = hub
        .post(
            "/api/v1/decisions",
            json!({"kind": "deploy", "context": "roll back?"}),
        )
        .await;
    let id = d["id"].as_i64().unwrap();
    hub.settled_all(&d).await;
    let chief_copy = tg.messages(CHIEF)[0].clone();
    let approve =
        chief_copy.reply_markup.as_ref().unwrap()["inline_keyboard"][0][0]["callback_data"]
            .as_str()
            .unwrap()
            .to_string();
    let copy = RichMessage::text("Decision: roll back?").with_button(Button {
        label: "Approve".into(),
        token: approve.clone(),
        style: ButtonStyle::Primary,
    });
    adapter(&tg)
        .send(&Destination::to(OPS_GROUP.to_string()), &copy)
        .await
        .unwrap();
    tg.push_callback(CHIEF, OPS_GROUP, 1, &approve);
    tg.wait_for("the pressed message is edited", 10, |t| {
        t.message(OPS_GROUP, 1).is_some_and(|m| m.edits > 0)
    })
    .await;
    let edited = tg.message(OPS_GROUP, 1).unwrap();
    assert!(edited.reply_markup.is_none(), "{edited:?}");
    assert!(edited.text.contains("Approved by"), "{}", edited.text);
    assert!(edited.text.contains("roll back?"), "{}", edited.text);
    let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
    assert_eq!(g["status"], "approved", "{g}");
    hub.stop().await;
    db.finish().await;
}

/// The pressed message's edit leaves through the outbox: one that meets
/// two server errors from Telegram still arrives (after the outbox's
/// backoff) and is recorded as sent; before, it was one direct call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pressed_message_edit_that_meets_server_errors_still_arrives() {
    use adapters::{Adapter, Destination};
    use commands::{Button, ButtonStyle, RichMessage};
    let db = TestDb::sqlite().await;
    let (tg, hub) = start(&db, "").await;
    let (_, d) = hub
        .post(
            "/api/v1/decisions",
            json!({"kind": "deploy", "context": "roll forward?"}),
        )
        .await;
    hub.settled_all(&d).await;
    let chief_copy = tg.messages(CHIEF)[0].clone();
    let approve =
        chief_copy.reply_markup.as_ref().unwrap()["inline_keyboard"][0][0]["callback_data"]
            .as_str()
            .unwrap()
            .to_string();
    // A copy the outbox has no record of: only the press can edit it.
    let copy = RichMessage::text("Decision: roll forward?").with_button(Button {
        label: "Approve".into(),
        token: approve.clone(),
        style: ButtonStyle::Primary,
    });
    adapter(&tg)
        .send(&Destination::to(OPS_GROUP.to_string()), &copy)
        .await
        .unwrap();
    tg.fail_next_in("editMessageText", OPS_GROUP, &[500, 502]);
    tg.push_callback(CHIEF, OPS_GROUP, 1, &approve);
    tg.wait_for("the press is answered", 10, |t| !t.answered().is_empty())
        .await;
    // The edit is queued after the press is answered (the toast first):
    // wait for its row rather than read the count once.
    let edited = hub
        .count_reaches(
            "SELECT COUNT(*) FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE n.kind = 'button.outcome' AND d.op = 'edit' AND d.target_message_id = '-100777:1'",
            1,
        )
        .await;
    assert_eq!(edited, 1);
    tg.wait_for("the pressed message is edited", 15, |t| {
        t.message(OPS_GROUP, 1).is_some_and(|m| m.edits > 0)
    })
    .await;
    let m = tg.message(OPS_GROUP, 1).unwrap();
    assert!(m.text.contains("Approved by"), "{}", m.text);
    assert!(m.reply_markup.is_none(), "{m:?}");
    let refused: Vec<u16> = tg
        .rejections()
        .iter()
        .filter(|r| r.chat == Some(OPS_GROUP))
        .map(|r| r.code)
        .collect();
    assert_eq!(refused, [500, 502], "{:?}", tg.rejections());
    let sent = hub
        .count_reaches(
            "SELECT COUNT(*) FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE n.kind = 'button.outcome' AND d.status = 'sent' AND d.attempts = 3",
            1,
        )
        .await;
    assert_eq!(sent, 1);
    hub.stop().await;
    db.finish().await;
}

const SECRET: &str = "a-very-secret-token_123";
const HOOK_URL: &str = "https://hub.example.com/tg/hook";

fn webhook_mode() -> String {
    format!(
        "mode = \"webhook\"\nwebhook_path = \"/tg/hook\"\nwebhook_url = \"{HOOK_URL}\"\nwebhook_secret = \"{SECRET}\"\n"
    )
}

/// POST an update to the hub's webhook as Telegram does; the status.
async fn deliver(hub: &TestHub, update: &Value) -> u16 {
    hub.http
        .post(format!("{}/tg/hook", hub.base))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(update)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_dbs!(
    ordinary_talk_in_a_group_is_not_a_command,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, "").await;
        // A stranger and a member talk in the group; neither is a command.
        tg.push_message(31337, OPS_GROUP, "thanks");
        tg.push_message(DANA, OPS_GROUP, "task new looks like a command");
        tg.push_message(31337, OPS_GROUP, "help");
        // Then a real command, answered: everything before it was read.
        let cmd = tg.push_message(CHIEF, OPS_GROUP, "  /whoami");
        tg.wait_for("the command's reply", 10, |t| {
            !t.messages(OPS_GROUP).is_empty()
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let group = tg.messages(OPS_GROUP);
        assert_eq!(group.len(), 1, "only the command is answered: {group:?}");
        assert_eq!(group[0].reply_to, cmd["message"]["message_id"].as_i64());
        let audit = hub.store().audit_for("telegram:31337").await.unwrap();
        assert!(audit.is_empty(), "no refusal audited: {audit:?}");
        assert!(hub.task_titles().await.is_empty());
        hub.stop().await;
    }
);

both_dbs!(
    webhook_mode_registers_the_webhook_at_start,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, &webhook_mode()).await;
        let set = tg.calls("setWebhook");
        assert_eq!(set.len(), 1, "{set:?}");
        assert_eq!(set[0]["url"], HOOK_URL);
        assert_eq!(set[0]["secret_token"], SECRET);
        assert_eq!(
            set[0]["allowed_updates"],
            json!(["message", "callback_query"])
        );
        assert!(tg.webhook().is_some());
        assert!(tg.calls("deleteWebhook").is_empty());
        // Updates come to the hub's route; nothing polls.
        let update = tg.message_update(CHIEF, CHIEF, "/whoami");
        assert_eq!(deliver(&hub, &update).await, 200);
        // The reply leaves through the outbox.
        tg.wait_for("the reply", 10, |t| t.messages(CHIEF).len() == 1)
            .await;
        assert!(tg.calls("getUpdates").is_empty());
        hub.stop().await;
    }
);

both_dbs!(
    polling_clears_a_webhook_left_from_an_earlier_run,
    |db: &TestDb| async move {
        let tg = server().await;
        tg.set_webhook("https://old.example.com/hook");
        // As the real API: no getUpdates while a webhook is set.
        let res = reqwest::Client::new()
            .post(format!(
                "{}/bot{}/getUpdates",
                tg.url,
                common::telegram_server::TOKEN
            ))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 409);
        let body: Value = res.json().await.unwrap();
        assert!(
            body["description"]
                .as_str()
                .unwrap()
                .contains("use deleteWebhook to delete the webhook first"),
            "{body}"
        );
        let hub = TestHub::start(db, &format!("{}{CHIEF_TOML}", tg.config("")), vec![]).await;
        assert_eq!(tg.calls("deleteWebhook").len(), 1);
        assert!(tg.webhook().is_none());
        tg.push_message(CHIEF, CHIEF, "/whoami");
        tg.wait_for("the polled command's reply", 10, |t| {
            !t.messages(CHIEF).is_empty()
        })
        .await;
        let refused: Vec<_> = tg
            .rejections()
            .into_iter()
            .filter(|r| r.method.eq_ignore_ascii_case("getUpdates"))
            .collect();
        assert_eq!(refused.len(), 1, "only the test's own call: {refused:?}");
        hub.stop().await;
    }
);

both_dbs!(
    an_update_delivered_twice_runs_once,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, &webhook_mode()).await;
        let update = tg.message_update(CHIEF, CHIEF, "/task new Only once");
        // Telegram re-delivers while the first delivery is still running,
        // and again after it finished.
        let (a, b) = tokio::join!(deliver(&hub, &update), deliver(&hub, &update));
        assert_eq!((a, b), (200, 200));
        assert_eq!(deliver(&hub, &update).await, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(hub.task_titles().await, vec!["Only once".to_string()]);
        let replies = tg.messages(CHIEF);
        assert_eq!(replies.len(), 1, "{replies:?}");
        // Another update with the same text is another command.
        let again = tg.message_update(CHIEF, CHIEF, "/task new Only once");
        assert_eq!(deliver(&hub, &again).await, 200);
        assert_eq!(hub.task_titles().await.len(), 2);
        hub.stop().await;
    }
);

both_dbs!(
    a_press_without_its_message_is_answered,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, "").await;
        let update = tg.push_inline_callback(CHIEF, "sometoken");
        tg.wait_for("the press is answered", 10, |t| !t.answered().is_empty())
            .await;
        let (id, answer) = tg.answered()[0].clone();
        assert_eq!(id, update["callback_query"]["id"].as_str().unwrap());
        assert_eq!(answer["text"], "This button has expired.", "{answer}");
        assert!(tg.calls("editMessageText").is_empty());
        hub.stop().await;
    }
);

/// The default pacing (1 message a second per chat) against a server that
/// answers 429 to a second message in the same second, as Telegram may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_limits_provoke_no_429() {
    let db = TestDb::sqlite().await;
    let (tg, hub) = start(&db, "").await;
    tg.limit(CHIEF, 1, Duration::from_secs(1), 1);
    let mut ids = Vec::new();
    for n in 0..4 {
        let (s, b) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "chief", "urgency": "urgent", "text": format!("paced #{n}")}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let status = hub.settled(id).await;
        assert_eq!(delivery(&status, "telegram")["status"], "sent", "{status}");
    }
    let texts: Vec<String> = tg.messages(CHIEF).into_iter().map(|m| m.text).collect();
    assert_eq!(
        texts,
        (0..4).map(|n| format!("paced #{n}")).collect::<Vec<_>>()
    );
    assert!(tg.rejections().is_empty(), "{:?}", tg.rejections());
    assert_eq!(tg.calls("sendMessage").len(), 4, "no send was repeated");
    hub.stop().await;
    db.finish().await;
}

both_dbs!(
    a_bot_api_outage_at_start_does_not_stop_the_hub,
    |db: &TestDb| async move {
        let tg = server().await;
        tg.fail_next("getMe", &[502]);
        tg.fail_next("setMyCommands", &[500]);
        let hub = TestHub::start(db, &format!("{}{CHIEF_TOML}", tg.config("")), vec![]).await;
        // Outbound works at once.
        let status = hub.urgent_settled("chief", "during the outage").await;
        assert_eq!(delivery(&status, "telegram")["status"], "sent", "{status}");
        // Registration is retried in the background until it succeeds, and
        // commands are read once the bot knows its name.
        tg.wait_for("setMyCommands succeeds", 15, |t| {
            t.calls("setMyCommands").len() == 2
        })
        .await;
        assert_eq!(tg.calls("getMe").len(), 2);
        tg.push_message(CHIEF, OPS_GROUP, &format!("/whoami@{BOT_USERNAME}"));
        tg.wait_for("the command's reply", 10, |t| {
            !t.messages(OPS_GROUP).is_empty()
        })
        .await;
        hub.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_fails_the_start() {
    let db = TestDb::sqlite().await;
    let tg = server().await;
    let config = tg
        .config("")
        .replace(common::telegram_server::TOKEN, "999:not-the-token");
    let e = common::server::start_error(&db, &config).await;
    let shown = format!("{e:#}");
    assert!(
        shown.contains("Unauthorized") && shown.contains("telegram"),
        "{shown}"
    );
    db.finish().await;
}

both_dbs!(
    a_chat_telegram_does_not_know_is_dead_and_falls_back,
    |db: &TestDb| async move {
        let tg = server().await;
        let ghost = r#"
[[people]]
id = "ghost"
role = "member"
push = ["telegram", "console"]
identities = { telegram = "424242" }
"#;
        let mut hub =
            TestHub::start(db, &format!("{}{CHIEF_TOML}{ghost}", tg.config("")), vec![]).await;
        let status = hub.urgent_settled("ghost", "are you there?").await;
        let t = delivery(&status, "telegram");
        assert_eq!(t["status"], "dead", "{status}");
        assert!(
            t["last_error"]
                .as_str()
                .unwrap_or_default()
                .contains("Bad Request: chat not found"),
            "{status}"
        );
        assert_eq!(t["attempts"], 1, "not retried: {status}");
        assert_eq!(delivery(&status, "console")["status"], "sent", "{status}");
        let line = hub.next_console().await;
        assert!(line.contains("are you there?"), "{line}");
        hub.stop().await;
    }
);

both_dbs!(
    a_follow_up_is_sent_as_a_reply_to_the_message_it_answers,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, FAST).await;
        let (s, first) = hub
            .post(
                "/api/v1/messages",
                json!({"channel": "ops", "text": "Deploy started"}),
            )
            .await;
        assert_eq!(s, 201, "{first}");
        let first_id = first["id"].as_str().unwrap();
        hub.settled(first_id).await;
        let (s, reply) = hub
            .post(
                "/api/v1/messages",
                json!({"channel": "ops", "text": "Deploy finished", "reply_to": first_id}),
            )
            .await;
        assert_eq!(s, 201, "{reply}");
        hub.settled(reply["id"].as_str().unwrap()).await;
        let msgs = tg.messages(OPS_GROUP);
        let started = msgs
            .iter()
            .find(|m| m.text.contains("Deploy started"))
            .unwrap();
        let finished = msgs
            .iter()
            .find(|m| m.text.contains("Deploy finished"))
            .unwrap();
        assert_eq!(started.reply_to, None);
        assert_eq!(finished.reply_to, Some(started.id));
        hub.stop().await;
    }
);
