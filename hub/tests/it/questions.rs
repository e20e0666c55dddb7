//! Agents ask people (POST /api/v1/questions), end to end: a human-required
//! question reaches the person on Telegram (the Bot API test server) with
//! its options as buttons; the person answers by button, by replying to the
//! message or with `answer <id> <text>`; the answer reaches the agent by
//! long poll, on its SSE stream and by a signed callback; the first answer
//! stands and every copy shows it. Supervised and autonomous questions use
//! the OpenAI-compatible test server, and its failure lowers the level.

use crate::common;
use common::TestDb;
use common::openai_server::{KEY, Mode, OpenAiServer};
use common::receiver::Receiver;
use common::server::TestHub;
use common::telegram_server::TelegramServer;
use serde_json::{Value, json};
use std::time::Duration;

const CHIEF: i64 = 9001;

/// An owner on Telegram, callbacks to 127.0.0.1 allowed, a fast sender.
const CHIEF_TOML: &str = r#"
[webhook_sender]
poll_interval_ms = 20
timeout_secs = 2
allow_private_targets = true

[[people]]
id = "chief"
role = "owner"
push = ["telegram"]
identities = { telegram = "9001" }
"#;

async fn start(db: &TestDb, extra: &str) -> (TelegramServer, TestHub) {
    let tg = TelegramServer::start().await;
    tg.add_chats(&[CHIEF, 555]);
    let hub = TestHub::start(db, &format!("{}{CHIEF_TOML}{extra}", tg.config("")), vec![]).await;
    (tg, hub)
}

fn llm_toml(base: &str) -> String {
    format!(
        "[brief]\nenabled = false\n[brief.llm]\nenabled = true\nbase_url = \"{base}\"\nmodel = \"gpt-4o-mini\"\napi_key = \"{KEY}\"\ntimeout_ms = 5000\nusd_per_1k_input = 0.15\nusd_per_1k_output = 0.6\n"
    )
}

/// Ask chief a question; the 201 answer.
async fn ask(hub: &TestHub, body: Value) -> Value {
    let (s, q) = hub.post("/api/v1/questions", body).await;
    assert_eq!(s, 201, "{q}");
    q
}

/// The question's message on Telegram, once sent, and the callback data
/// of its button labelled `label`.
async fn message_with_button(
    tg: &TelegramServer,
    hub: &TestHub,
    q: &Value,
    label: &str,
) -> (i64, String) {
    hub.settled_all(q).await;
    let sent = tg.messages(CHIEF);
    let m = sent.last().expect("the question was sent").clone();
    assert!(
        m.text.contains(&format!("Question #{}", q["id"])),
        "{}",
        m.text
    );
    let data = m.reply_markup.as_ref().expect("buttons")["inline_keyboard"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter())
        .find(|b| b["text"] == label)
        .unwrap_or_else(|| panic!("no {label} button on {:?}", m.reply_markup))["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    (m.id, data)
}

/// Wait until the question's message `id` was edited to show an answer.
async fn edited_to_answer(tg: &TelegramServer, id: i64) -> String {
    tg.wait_for("the question's message is edited", 10, |t| {
        t.message(CHIEF, id).is_some_and(|m| m.edits > 0)
    })
    .await;
    let m = tg.message(CHIEF, id).unwrap();
    assert!(m.reply_markup.is_none(), "buttons gone: {m:?}");
    m.text
}

/// Read SSE events until one named `name` arrives; its data.
async fn sse_event<B: AsRef<[u8]>>(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<B>> + Unpin),
    name: &str,
) -> Value {
    use futures::StreamExt;
    let mut buf = String::new();
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
            if event == name {
                return serde_json::from_str(&data).expect("JSON data");
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {name} event within 10 s"))
            .expect("stream open")
            .expect("chunk");
        buf.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
}

both_dbs!(
    answered_by_button_reaches_the_agent_by_long_poll_sse_and_callback,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, "").await;
        let rx = Receiver::start().await;
        let sse = hub
            .http
            .get(format!("{}/api/v1/events", hub.base))
            .bearer_auth(&hub.key)
            .send()
            .await
            .unwrap();
        assert_eq!(sse.status(), 200);
        let mut stream = sse.bytes_stream();
        let q = ask(
            &hub,
            json!({"text": "Which region for the <new> db?", "options": ["eu", "us"],
                   "to": "chief", "permission_level": "human-required",
                   "callback_url": rx.url("/answers"), "deadline_minutes": 30}),
        )
        .await;
        let id = q["id"].as_i64().unwrap();
        assert_eq!(q["status"], "pending");
        assert_eq!(q["to"], "chief");
        assert_eq!(q["asked_by"], "builder");
        assert_eq!(q["notifications"][0]["urgency"], "urgent", "{q}");
        let secret = q["callback_secret"].as_str().expect("secret").to_string();
        // A long poll that is still waiting when the answer comes.
        let poll = {
            let http = hub.http.clone();
            let url = format!("{}/api/v1/questions/{id}?wait=30", hub.base);
            let key = hub.key.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let r = http.get(url).bearer_auth(key).send().await.unwrap();
                (
                    r.status().as_u16(),
                    r.json::<Value>().await.unwrap(),
                    started.elapsed(),
                )
            })
        };
        let (msg, us) = message_with_button(&tg, &hub, &q, "us").await;
        let text = tg.message(CHIEF, msg).unwrap().text;
        assert!(text.contains("Which region for the <new> db?"), "{text}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!poll.is_finished(), "the long poll waits for the answer");

        tg.push_callback(CHIEF, CHIEF, msg, &us);
        let (s, polled, took) = poll.await.unwrap();
        assert_eq!(s, 200, "{polled}");
        assert!(
            took < Duration::from_secs(20),
            "woken by the answer: {took:?}"
        );
        assert_eq!(polled["status"], "answered");
        assert_eq!(polled["answer"]["text"], "us");
        assert_eq!(polled["answer"]["by"], "chief");
        assert_eq!(polled["answer"]["via"], "button");
        // On the agent's SSE stream.
        let ev = sse_event(&mut stream, "question.answered").await;
        assert_eq!(ev["id"], id);
        assert_eq!(ev["answer"]["via"], "button");
        // The signed callback.
        let calls = rx.wait_for("/answers", 1).await;
        let call = &calls[0];
        assert!(adapters::webhook::verify_signature(
            secret.as_bytes(),
            &call.signature,
            call.body.as_bytes(),
            chrono::Utc::now().timestamp(),
            300
        ));
        assert_eq!(call.event_type(), "question.answered");
        assert_eq!(call.json()["data"]["question"]["answer"]["text"], "us");
        // The callback is not one of the hub's listed webhooks.
        let (_, hooks) = hub.get("/api/v1/webhooks").await;
        assert_eq!(
            hooks["webhooks"].as_array().map(Vec::len),
            Some(0),
            "{hooks}"
        );
        // Every copy shows the answer, who gave it and how.
        let edited = edited_to_answer(&tg, msg).await;
        assert!(edited.contains("Answered by chief (button)"), "{edited}");

        // A second answer is refused, naming the first; the first stands.
        tg.push_message(CHIEF, CHIEF, &format!("/answer {id} eu after all"));
        tg.wait_for("the refusal", 10, |t| {
            t.messages(CHIEF)
                .iter()
                .any(|m| m.text.contains("already answered by chief (button)"))
        })
        .await;
        let (_, again) = hub.get(&format!("/api/v1/questions/{id}")).await;
        assert_eq!(again["answer"]["text"], "us", "{again}");
        assert_eq!(rx.calls("/answers").len(), 1, "one callback");
        hub.stop().await;
    }
);

both_dbs!(answered_by_replying_on_telegram, |db: &TestDb| async move {
    let (tg, hub) = start(db, "").await;
    let q = ask(
        &hub,
        json!({"text": "Ship on Friday?", "to": "chief", "permission_level": "human-required"}),
    )
    .await;
    let id = q["id"].as_i64().unwrap();
    hub.settled_all(&q).await;
    let msg = tg.messages(CHIEF).last().unwrap().id;
    // A reply to some other message of the bot answers nothing.
    tg.push_reply(CHIEF, CHIEF, msg + 1000, "unrelated");
    tg.push_reply(CHIEF, CHIEF, msg, "Yes, after the demo");
    let (s, got) = hub.get(&format!("/api/v1/questions/{id}?wait=10")).await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["answer"]["text"], "Yes, after the demo");
    assert_eq!(got["answer"]["via"], "reply");
    assert_eq!(got["answer"]["by"], "chief");
    let edited = edited_to_answer(&tg, msg).await;
    assert!(edited.contains("Answered by chief (reply)"), "{edited}");
    assert!(edited.contains("Yes, after the demo"), "{edited}");
    hub.stop().await;
});

both_dbs!(
    answered_with_the_answer_command_by_the_addressee_only,
    |db: &TestDb| async move {
        let (tg, hub) = start(
            db,
            "\n[[people]]\nid = \"max\"\nrole = \"member\"\npush = [\"telegram\"]\nidentities = { telegram = \"777\" }\n",
        )
        .await;
        tg.add_chats(&[777]);
        let q = ask(
            &hub,
            json!({"text": "Budget for the trial?", "to": "chief", "permission_level": "human-required"}),
        )
        .await;
        let id = q["id"].as_i64().unwrap();
        hub.settled_all(&q).await;
        // A member who was not asked may not answer.
        tg.push_message(777, 777, &format!("/answer {id} lots"));
        tg.wait_for("the refusal", 10, |t| {
            t.messages(777).iter().any(|m| {
                m.text
                    .contains("needs to be the person it was asked (chief)")
            })
        })
        .await;
        tg.push_message(CHIEF, CHIEF, &format!("/answer {id} 200 dollars"));
        let (_, got) = hub.get(&format!("/api/v1/questions/{id}?wait=10")).await;
        assert_eq!(got["answer"]["text"], "200 dollars", "{got}");
        assert_eq!(got["answer"]["via"], "command");
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'question.answer' AND actor = 'chief'",
        )
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
        assert_eq!(n, 1, "the answer is audited");
        hub.stop().await;
    }
);

both_dbs!(
    bad_questions_are_refused_naming_the_field_and_write_nothing,
    |db: &TestDb| async move {
        let (_tg, hub) = start(db, "").await;
        let (s, task) = hub.post("/api/v1/tasks", json!({"title": "t"})).await;
        assert_eq!(s, 201, "{task}");
        let long = "x".repeat(201);
        for (body, status, names) in [
            (json!({"text": "q?"}), 422, "permission_level"),
            (
                json!({"text": "q?", "permission_level": "whenever"}),
                422,
                "permission_level",
            ),
            (
                json!({"text": "  ", "permission_level": "supervised"}),
                422,
                "text",
            ),
            (
                json!({"text": "q?", "permission_level": "autonomous", "options": ["a", ""]}),
                422,
                "options",
            ),
            (
                json!({"text": "q?", "permission_level": "autonomous", "options": [long]}),
                422,
                "options",
            ),
            (
                json!({"text": "q?", "permission_level": "autonomous", "deadline_minutes": 0}),
                422,
                "deadline_minutes",
            ),
            (
                json!({"text": "q?", "permission_level": "autonomous", "callback_url": "ftp://x"}),
                422,
                "callback_url",
            ),
            (
                json!({"text": "q?", "permission_level": "autonomous", "to": "nobody"}),
                404,
                "nobody",
            ),
            (
                json!({"text": "q?", "permission_level": "autonomous", "task_id": 999}),
                404,
                "task_id",
            ),
            (
                json!({"text": "q?", "permission_level": "autonomous", "colour": "red"}),
                422,
                "colour",
            ),
        ] {
            let (s, e) = hub.post("/api/v1/questions", body.clone()).await;
            assert_eq!(s, status, "{body} → {e}");
            let msg = e["error"]["message"].as_str().unwrap_or_default();
            assert!(msg.contains(names), "{body}: {msg}");
        }
        let (s, e) = hub.get("/api/v1/questions/1?wait=61").await;
        assert_eq!(s, 422, "{e}");
        let (s, e) = hub.get("/api/v1/questions/1").await;
        assert_eq!(s, 404, "{e}");
        // The scope is needed.
        let key = hub.key_for("builder", &["decisions:write"]).await;
        let (s, e) = hub
            .post_with(
                "/api/v1/questions",
                &key,
                json!({"text": "q?", "permission_level": "human-required"}),
                None,
            )
            .await;
        assert_eq!(s, 403, "{e}");
        assert_eq!(hub.count("SELECT COUNT(*) FROM questions").await, 0);
        assert_eq!(
            hub.count("SELECT COUNT(*) FROM notifications WHERE kind = 'question.asked'")
                .await,
            0
        );
        hub.stop().await;
    }
);

both_dbs!(
    routed_to_the_tasks_person_else_an_owner,
    |db: &TestDb| async move {
        let (_tg, hub) = start(db, "\n[[projects]]\nid = \"infra\"\nowner = \"dana\"\n").await;
        // The task's project's owner, when the task has no person.
        let (_, t) = hub
            .post("/api/v1/tasks", json!({"title": "t", "project": "infra"}))
            .await;
        let q = ask(
            &hub,
            json!({"text": "q?", "permission_level": "human-required", "task_id": t["id"]}),
        )
        .await;
        assert_eq!(q["to"], "dana", "{q}");
        // The task's person comes first.
        let (_, t) = hub
            .post(
                "/api/v1/tasks",
                json!({"title": "t", "project": "infra", "assignee": "chief"}),
            )
            .await;
        let q = ask(
            &hub,
            json!({"text": "q?", "permission_level": "human-required", "task_id": t["id"]}),
        )
        .await;
        assert_eq!(q["to"], "chief", "{q}");
        let (_, t) = hub
            .post("/api/v1/tasks", json!({"title": "t", "assignee": "dana"}))
            .await;
        let q = ask(
            &hub,
            json!({"text": "q?", "permission_level": "human-required", "task_id": t["id"]}),
        )
        .await;
        assert_eq!(q["to"], "dana", "{q}");
        // No `to`, no task: the first owner by handle (ceo before chief).
        let q = ask(
            &hub,
            json!({"text": "q?", "permission_level": "human-required"}),
        )
        .await;
        assert_eq!(q["to"], "ceo", "{q}");
        hub.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervised_draft_is_approved_with_its_button_and_costs_the_agent() {
    let db = TestDb::sqlite().await;
    let llm = OpenAiServer::start(Mode::Answer("Use eu".into(), 100, 10)).await;
    let (tg, hub) = start(&db, &llm_toml(&llm.base)).await;
    let q = ask(
        &hub,
        json!({"text": "Which region?", "options": ["eu", "us"], "to": "chief",
               "permission_level": "supervised", "context": "users are in Kyiv"}),
    )
    .await;
    let id = q["id"].as_i64().unwrap();
    assert_eq!(q["mode"], "supervised");
    assert_eq!(q["draft"], "Use eu");
    let asked = llm.requests();
    assert_eq!(asked.len(), 1);
    let prompt = asked[0]["messages"][1]["content"].as_str().unwrap();
    assert!(
        prompt.contains("Which region?") && prompt.contains("users are in Kyiv"),
        "{prompt}"
    );
    let (msg, approve) = message_with_button(&tg, &hub, &q, "Approve draft").await;
    let text = tg.message(CHIEF, msg).unwrap().text;
    assert!(text.contains("Draft answer: Use eu"), "{text}");
    tg.push_callback(CHIEF, CHIEF, msg, &approve);
    let (_, got) = hub.get(&format!("/api/v1/questions/{id}?wait=10")).await;
    assert_eq!(got["answer"]["text"], "Use eu", "{got}");
    assert_eq!(got["answer"]["by"], "chief");
    assert_eq!(got["answer"]["via"], "button");
    // The draft's tokens are a cost of the asking agent.
    let (n, model): (i64, String) =
        sqlx::query_as("SELECT tokens_in, model FROM costs WHERE agent_id = 'builder'")
            .fetch_one(hub.store().pool())
            .await
            .unwrap();
    assert_eq!(n, 100);
    assert!(model.starts_with("gpt-4o-mini"), "{model}");
    hub.stop().await;
    db.finish().await;
}

/// The person sees question and draft and may edit it. On Telegram the
/// press's notice holds 200 characters, so the Edit button has the bot
/// send the whole draft as a message that opens a reply (ForceReply, with a
/// placeholder); the person's reply replaces the draft as the answer. (An
/// `answer <id> <text>` line works as well.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervised_draft_is_edited_and_the_edit_is_the_answer() {
    let db = TestDb::sqlite().await;
    let llm = OpenAiServer::start(Mode::Answer("Use eu".into(), 100, 10)).await;
    let (tg, hub) = start(&db, &llm_toml(&llm.base)).await;
    let q = ask(
        &hub,
        json!({"text": "Which region?", "to": "chief", "permission_level": "supervised"}),
    )
    .await;
    let id = q["id"].as_i64().unwrap();
    assert_eq!(q["draft"], "Use eu");
    let (msg, edit) = message_with_button(&tg, &hub, &q, "Edit draft").await;
    let text = tg.message(CHIEF, msg).unwrap().text;
    assert!(text.contains("Approve the draft, edit it"), "{text}");
    tg.push_callback(CHIEF, CHIEF, msg, &edit);
    let prompt = draft_prompt_sent(&tg, msg).await;
    assert_eq!(prompt.len(), 1, "{prompt:?}");
    let toast = tg.answered()[0].1["text"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_eq!(
        toast,
        format!("The draft for question #{id} is below: reply to it with your answer.")
    );
    assert!(prompt[0].text.contains("Use eu"), "{:?}", prompt[0]);
    // Editing answers nothing yet: the question waits, its message unchanged.
    let (_, got) = hub.get(&format!("/api/v1/questions/{id}")).await;
    assert_eq!(got["status"], "pending", "{got}");
    assert_eq!(tg.message(CHIEF, msg).unwrap().edits, 0);
    // The reply to the draft's message replaces the draft.
    tg.push_reply(CHIEF, CHIEF, prompt[0].id, "Use eu-west, not eu-central");
    let (_, got) = hub.get(&format!("/api/v1/questions/{id}?wait=10")).await;
    assert_eq!(
        got["answer"]["text"], "Use eu-west, not eu-central",
        "{got}"
    );
    assert_eq!(got["answer"]["via"], "reply");
    let edited = edited_to_answer(&tg, msg).await;
    assert!(edited.contains("Use eu-west"), "{edited}");
    // The Edit button of an answered question says so, and sends nothing.
    let before = tg.messages(CHIEF).len();
    tg.push_callback(CHIEF, CHIEF, msg, &edit);
    tg.wait_for("the second press is answered", 10, |t| {
        t.answered().len() >= 2
    })
    .await;
    let toast = tg.answered()[1].1["text"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(toast.contains("already answered"), "{toast}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after: Vec<_> = tg.messages(CHIEF).into_iter().skip(before).collect();
    assert!(
        after.iter().all(|m| m.reply_markup.is_none()
            || m.reply_markup
                .as_ref()
                .is_some_and(|k| k.get("force_reply").is_none())),
        "{after:?}"
    );
    hub.stop().await;
    db.finish().await;
}

/// The draft's message once the Edit press on `pressed` sent it: its parts,
/// the first under the pressed message, the last with the ForceReply.
async fn draft_prompt_sent(
    tg: &TelegramServer,
    pressed: i64,
) -> Vec<common::telegram_server::StoredMessage> {
    let forced = |m: &common::telegram_server::StoredMessage| {
        m.reply_markup
            .as_ref()
            .is_some_and(|k| k["force_reply"] == json!(true))
    };
    tg.wait_for("the draft's message", 10, |t| {
        t.messages(CHIEF).iter().any(forced) && !t.answered().is_empty()
    })
    .await;
    let all = tg.messages(CHIEF);
    let first = all
        .iter()
        .position(|m| m.reply_to == Some(pressed))
        .expect("a message under the pressed one");
    let last = all.iter().position(forced).unwrap();
    all[first..=last].to_vec()
}

/// A draft longer than a Telegram message (4096) is sent whole, in parts;
/// the last part opens the reply and a reply to it is the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_longer_than_a_telegram_message_is_sent_whole_to_edit() {
    let db = TestDb::sqlite().await;
    let draft = format!(
        "START {} END",
        "Use eu-central for the EU users. ".repeat(150)
    );
    assert!(draft.chars().count() > 4096);
    let llm = OpenAiServer::start(Mode::Answer(draft.clone(), 100, 10)).await;
    let (tg, hub) = start(&db, &llm_toml(&llm.base)).await;
    let q = ask(
        &hub,
        json!({"text": "Which region?", "to": "chief", "permission_level": "supervised"}),
    )
    .await;
    let id = q["id"].as_i64().unwrap();
    hub.settled_all(&q).await;
    // The question's message is split too; its buttons are on its last part.
    let (msg, edit) = tg
        .messages(CHIEF)
        .iter()
        .find_map(|m| {
            let k = m.reply_markup.as_ref()?;
            let b = k["inline_keyboard"]
                .as_array()?
                .iter()
                .flat_map(|r| r.as_array().into_iter().flatten())
                .find(|b| b["text"] == "Edit draft")?;
            Some((m.id, b["callback_data"].as_str()?.to_string()))
        })
        .expect("the Edit draft button");
    tg.push_callback(CHIEF, CHIEF, msg, &edit);
    let prompt = draft_prompt_sent(&tg, msg).await;
    assert!(prompt.len() >= 2, "{prompt:?}");
    // Parts are cut at a space; Telegram trims each part's outer spaces.
    let shown = prompt
        .iter()
        .map(|m| m.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(shown.contains("START") && shown.contains("END"), "{shown}");
    let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words(&shown).contains(&words(&draft)), "the whole draft");
    let last = prompt.last().unwrap();
    assert_eq!(
        last.reply_markup.as_ref().unwrap()["input_field_placeholder"],
        json!(format!("Your answer to question #{id}"))
    );
    assert!(tg.rejections().is_empty(), "{:?}", tg.rejections());
    tg.push_reply(CHIEF, CHIEF, last.id, "Use eu-west");
    let (_, got) = hub.get(&format!("/api/v1/questions/{id}?wait=10")).await;
    assert_eq!(got["answer"]["text"], "Use eu-west", "{got}");
    assert_eq!(got["answer"]["via"], "reply");
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_failure_lowers_the_level_to_a_person() {
    let db = TestDb::sqlite().await;
    let llm = OpenAiServer::start(Mode::Fail).await;
    let (tg, hub) = start(&db, &llm_toml(&llm.base)).await;
    // Supervised without a draft: a plain human-required question.
    let q = ask(
        &hub,
        json!({"text": "Which region?", "options": ["eu", "us"], "to": "chief", "permission_level": "supervised"}),
    )
    .await;
    assert_eq!(q["mode"], "human-required", "{q}");
    assert_eq!(q["status"], "pending");
    assert!(q["draft"].is_null());
    let (_, _) = message_with_button(&tg, &hub, &q, "eu").await;
    // Autonomous becomes supervised (the person answers), never silence.
    let q = ask(
        &hub,
        json!({"text": "Retry the job?", "to": "chief", "permission_level": "autonomous"}),
    )
    .await;
    assert_eq!(q["mode"], "supervised", "{q}");
    assert_eq!(q["status"], "pending");
    assert_eq!(q["notifications"][0]["urgency"], "urgent");
    assert_eq!(hub.count("SELECT COUNT(*) FROM costs").await, 0);
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autonomous_is_answered_at_once_and_the_person_is_told() {
    let db = TestDb::sqlite().await;
    let llm = OpenAiServer::start(Mode::Answer("Yes, retry once".into(), 50, 5)).await;
    let (tg, hub) = start(&db, &llm_toml(&llm.base)).await;
    let q = ask(
        &hub,
        json!({"text": "Retry the job?", "to": "chief", "permission_level": "autonomous"}),
    )
    .await;
    assert_eq!(q["status"], "answered", "{q}");
    assert_eq!(q["answer"]["text"], "Yes, retry once");
    assert_eq!(q["answer"]["by"], "llm");
    assert_eq!(q["answer"]["via"], "llm");
    assert_eq!(q["notifications"][0]["urgency"], "fyi", "{q}");
    let (_, got) = hub.get(&format!("/api/v1/questions/{}", q["id"])).await;
    assert_eq!(got["answer"]["text"], "Yes, retry once");
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM costs WHERE agent_id = 'builder'")
            .await,
        1
    );
    drop(tg);
    hub.stop().await;
    db.finish().await;
}

/// A question answered while its message was still on its way: that copy
/// is edited to show the answer as soon as it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_sent_after_the_answer_is_edited_too() {
    let db = TestDb::sqlite().await;
    let (tg, hub) = start(&db, "").await;
    tg.delay_next("sendMessage", Duration::from_millis(1500));
    let q = ask(
        &hub,
        json!({"text": "Slow one?", "options": ["yes", "no"], "to": "chief", "permission_level": "human-required"}),
    )
    .await;
    let id = q["id"].as_i64().unwrap();
    // Answered from the API's side of things before Telegram took the message.
    tg.push_message(CHIEF, CHIEF, &format!("/answer {id} yes"));
    let (_, got) = hub.get(&format!("/api/v1/questions/{id}?wait=10")).await;
    assert_eq!(got["answer"]["text"], "yes", "{got}");
    hub.settled_all(&q).await;
    let msg = tg
        .messages(CHIEF)
        .iter()
        .find(|m| m.text.contains("Slow one?"))
        .expect("the question was sent")
        .id;
    let edited = edited_to_answer(&tg, msg).await;
    assert!(edited.contains("Answered by chief (command)"), "{edited}");
    hub.stop().await;
    db.finish().await;
}

#[test]
fn a_project_owner_must_be_a_person() {
    let e = hub::config::Config::from_toml("[[projects]]\nid = \"x\"\nowner = \"ghost\"\n")
        .expect_err("an unknown owner is refused");
    let text = e.to_string();
    assert!(
        text.contains("projects.x.owner = \"ghost\": no such person"),
        "{text}"
    );
}
