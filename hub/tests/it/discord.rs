//! The Discord adapter end to end: the real serenity client in the hub
//! against a Discord API stand-in on 127.0.0.1 (tests/src/discord_server.rs)
//! that answers like discord.com — Message objects, 400 Invalid Form Body,
//! 403 Missing Access / Cannot send messages to this user, 404 Unknown
//! Channel, 429 with retry_after — and signed interactions posted to the
//! hub's Interactions Endpoint the way Discord posts them.

use crate::common;
use adapters::discord::{DiscordAdapter, DiscordConfig};
use adapters::{Adapter, Destination};
use common::TestDb;
use common::discord_server::{APPLICATION_ID, DiscordServer, TOKEN, shown};
use common::server::{TestHub, delivery};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CHIEF: u64 = 810_000_000_000_000_001;
const PAT: u64 = 810_000_000_000_000_002;
const OPS: u64 = 820_000_000_000_000_001;
const GUILD: &str = "830000000000000001";

/// People and a channel reachable on Discord, besides TestHub's.
const DISCORD_TOML: &str = r#"
[[people]]
id = "chief"
role = "owner"
push = ["discord", "console"]
identities = { discord = "810000000000000001" }

[[people]]
id = "pat"
role = "member"
push = ["console"]
identities = { discord = "810000000000000002" }

[[agents]]
id = "reviewer"

[[channels]]
id = "ops"
bindings = { discord = "820000000000000001" }
"#;

/// Pacing raised so tests reach the stand-in's own 429s.
const FAST: &str = "channel_burst = 100\nchannel_window_ms = 1\n";

async fn start(db: &TestDb, extra: &str) -> (DiscordServer, TestHub) {
    let server = DiscordServer::start(&[OPS]).await;
    let hub = TestHub::start(
        db,
        &format!("{}{DISCORD_TOML}", server.config(extra)),
        vec![],
    )
    .await;
    (server, hub)
}

fn command(id: &str, user: u64, channel: u64, data: Value) -> String {
    json!({
        "type": 2, "id": id, "application_id": APPLICATION_ID, "token": format!("tok-{id}"),
        "version": 1, "locale": "en-US", "app_permissions": "0",
        "guild_id": GUILD, "channel_id": channel.to_string(),
        "member": {"user": {"id": user.to_string(), "username": format!("u{user}"), "discriminator": "0"}, "roles": []},
        "data": data,
    })
    .to_string()
}

fn task_new(title: &str) -> Value {
    json!({"id": "1", "name": "task", "type": 1, "options": [
        {"type": 1, "name": "new", "options": [{"name": "title", "type": 3, "value": title}]}
    ]})
}

fn press(id: &str, user: u64, channel: u64, message: u64, custom_id: &str) -> String {
    json!({
        "type": 3, "id": id, "application_id": APPLICATION_ID, "token": format!("tok-{id}"),
        "version": 1, "channel_id": channel.to_string(),
        "user": {"id": user.to_string(), "username": format!("u{user}"), "discriminator": "0"},
        "message": {"id": message.to_string(), "channel_id": channel.to_string()},
        "data": {"custom_id": custom_id, "component_type": 2},
    })
    .to_string()
}

/// Post an interaction signed at `timestamp` (None: unsigned).
async fn post_at(
    hub: &TestHub,
    server: &DiscordServer,
    body: &str,
    timestamp: Option<i64>,
) -> (u16, Value) {
    let mut req = hub
        .http
        .post(format!("{}/discord/interactions", hub.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(ts) = timestamp {
        let (sig, ts) = server.sign(body, ts);
        req = req
            .header("X-Signature-Ed25519", sig)
            .header("X-Signature-Timestamp", ts);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn interact(hub: &TestHub, server: &DiscordServer, body: &str) -> (u16, Value) {
    post_at(hub, server, body, Some(DiscordServer::now())).await
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

both_dbs!(
    urgent_notification_reaches_the_ceo_by_dm,
    |db: &TestDb| async move {
        let (server, hub) = start(db, "").await;
        // On start: the slash commands from the one spec, registered globally.
        let regs = server.registrations();
        assert_eq!(regs.len(), 1, "{regs:?}");
        assert_eq!(regs[0].0, "global");
        let names: Vec<&str> = regs[0]
            .1
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "task",
                "decisions",
                "approve",
                "deny",
                "answer",
                "brief",
                "cost",
                "whoami",
                "login",
                "help"
            ]
        );

        let text = "prod is down: **check** <@&1> @everyone [logs](https://evil)";
        let mut ids = Vec::new();
        for title in ["Deploy failed", "Still down"] {
            let (s, b) = hub
                .post(
                    "/api/v1/notifications",
                    json!({"to": "chief", "urgency": "urgent", "title": title, "text": text}),
                )
                .await;
            assert_eq!(s, 201, "{b}");
            ids.push(b["id"].as_str().unwrap().to_string());
        }
        let mut statuses = Vec::new();
        for id in &ids {
            statuses.push(hub.settled(id).await);
        }
        let dm = server.dm_channel(CHIEF).expect("a DM channel was opened");
        for status in &statuses {
            let d = delivery(status, "discord");
            assert_eq!(d["status"], "sent", "{status}");
            assert!(
                d["platform_message_id"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{dm}:")),
                "{status}"
            );
        }
        let sent = server.messages(dm);
        assert_eq!(sent.len(), 2);
        assert_eq!(
            shown(&sent[0].content),
            format!("**Deploy failed**\n\n{text}")
        );
        for bad in ["<@&1>", "@everyone", "[logs](", "**check**"] {
            assert!(
                !sent[0].content.contains(bad),
                "{bad} unescaped: {}",
                sent[0].content
            );
        }
        assert_eq!(
            sent[0].allowed_mentions["parse"],
            json!([]),
            "mentions are off"
        );
        // The DM channel is opened once and reused.
        assert_eq!(server.dm_requests(), vec![CHIEF]);
        hub.stop().await;
    }
);

/// A decision request in the chief's DM, with its Approve token.
async fn decision_in_discord(hub: &TestHub, server: &DiscordServer) -> (i64, u64, u64, String) {
    let (s, d) = hub
        .post(
            "/api/v1/decisions",
            json!({"kind": "deploy", "context": "Ship <v2> & *migrate*?"}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    hub.settled_all(&d).await;
    let dm = server.dm_channel(CHIEF).expect("DM opened");
    let sent = server.messages(dm);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        shown(&sent[0].content).contains("Ship <v2> & *migrate*?"),
        "{}",
        sent[0].content
    );
    let buttons = sent[0].components[0]["components"]
        .as_array()
        .unwrap()
        .clone();
    let approve = buttons
        .iter()
        .find(|b| b["label"] == "Approve")
        .expect("Approve button")["custom_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!approve.is_empty() && approve.len() <= 100);
    assert!(buttons.iter().any(|b| b["label"] == "Deny"));
    (d["id"].as_i64().unwrap(), dm, sent[0].id, approve)
}

both_dbs!(
    decision_approved_with_the_button,
    |db: &TestDb| async move {
        let (server, hub) = start(db, "").await;
        let (id, dm, message, approve) = decision_in_discord(&hub, &server).await;

        // A member without approver rights is refused, privately; nothing changes.
        let (s, b) = interact(&hub, &server, &press("p1", PAT, dm, message, &approve)).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["type"], 4, "{b}");
        assert_eq!(b["data"]["flags"], 64, "ephemeral: {b}");
        let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(g["status"], "pending", "{g}");

        // The chief presses Approve: the pressed message is replaced at once
        // (type 7) with the outcome and no buttons.
        let (s, b) = interact(&hub, &server, &press("p2", CHIEF, dm, message, &approve)).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["type"], 7, "{b}");
        let content = b["data"]["content"].as_str().unwrap();
        assert!(shown(content).contains("Approved by"), "{b}");
        assert!(shown(content).contains("Ship <v2> & *migrate*?"), "{b}");
        assert_eq!(b["data"]["components"], json!([]), "{b}");
        assert_eq!(b["data"]["allowed_mentions"]["parse"], json!([]));
        // The agent sees the outcome.
        let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(g["status"], "approved", "{g}");
        assert!(g["decided_by"].as_str().unwrap().contains("chief"), "{g}");
        // The outbox edits the copy as well (every copy, on every platform).
        wait_for("the outbox's edit", || {
            server.message(dm, message).is_some_and(|m| m.edits > 0)
        })
        .await;
        let edited = server.message(dm, message).unwrap();
        assert!(
            shown(&edited.content).contains("Approved by"),
            "{}",
            edited.content
        );
        assert_eq!(edited.components, json!([]));

        // A second press is refused, privately, and changes nothing.
        let (_, again) = interact(&hub, &server, &press("p3", CHIEF, dm, message, &approve)).await;
        assert_eq!(again["type"], 4, "{again}");
        assert_eq!(again["data"]["flags"], 64, "{again}");
        hub.stop().await;
    }
);

both_dbs!(
    resolution_through_the_api_edits_the_discord_copy,
    |db: &TestDb| async move {
        let (server, hub) = start(db, "").await;
        let (id, dm, message, _) = decision_in_discord(&hub, &server).await;
        let key = hub.key_for("reviewer", &["decisions:resolve"]).await;
        let (s, b) = hub
            .post_with(
                &format!("/api/v1/decisions/{id}/resolve"),
                &key,
                json!({"outcome": "deny", "reasoning": "not @here **today**"}),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        wait_for("the edit", || {
            server.message(dm, message).is_some_and(|m| m.edits > 0)
        })
        .await;
        let edited = server.message(dm, message).unwrap();
        let text = shown(&edited.content);
        assert!(text.contains("Denied by agent:reviewer"), "{text}");
        assert!(text.contains("not @here **today**"), "{text}");
        assert!(!edited.content.contains("@here"), "{}", edited.content);
        assert_eq!(edited.components, json!([]), "buttons removed");
        hub.stop().await;
    }
);

both_dbs!(
    commands_from_discord_and_unknown_users,
    |db: &TestDb| async move {
        let (server, hub) = start(db, "").await;
        // Discord checks the endpoint with a PING.
        let (s, b) = interact(&hub, &server, r#"{"type":1,"id":"0","token":"t"}"#).await;
        assert_eq!((s, b.clone()), (200, json!({"type": 1})), "{b}");

        // A slash command: run through the one grammar, answered in place.
        let body = command("c1", CHIEF, OPS, task_new("Fix <login> **now** @everyone"));
        let (s, b) = interact(&hub, &server, &body).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["type"], 4, "{b}");
        assert_ne!(b["data"]["flags"], 64, "{b}");
        let content = b["data"]["content"].as_str().unwrap();
        assert!(shown(content).contains("Created task #"), "{b}");
        assert!(
            !content.contains("@everyone") && !content.contains("**now**"),
            "{content}"
        );
        assert_eq!(
            hub.task_titles().await,
            vec!["Fix <login> **now** @everyone".to_string()]
        );
        // The same interaction again is not run twice: the first answer.
        let (_, again) = interact(&hub, &server, &body).await;
        assert_eq!(again, b);
        assert_eq!(hub.task_titles().await.len(), 1);

        // A mistyped command gets the grammar's suggestion, privately.
        let (_, b) = interact(
            &hub,
            &server,
            &command("c2", CHIEF, OPS, json!({"name": "decision", "type": 1})),
        )
        .await;
        assert_eq!(b["data"]["flags"], 64, "{b}");
        assert!(
            b["data"]["content"].as_str().unwrap().contains("decisions"),
            "{b}"
        );

        // A stranger is refused politely, privately, and audited.
        let (_, b) = interact(
            &hub,
            &server,
            &command("c3", 31337, OPS, task_new("steal the roadmap")),
        )
        .await;
        assert_eq!(b["data"]["flags"], 64, "{b}");
        assert!(
            b["data"]["content"].as_str().unwrap().contains("know you"),
            "{b}"
        );
        assert_eq!(hub.task_titles().await.len(), 1);
        let audit = hub.store().audit_for("discord:31337").await.unwrap();
        assert!(
            audit
                .iter()
                .any(|(_, action, _)| action == "command.unknown_user"),
            "{audit:?}"
        );
        hub.stop().await;
    }
);

both_dbs!(
    unsigned_altered_or_stale_interactions_do_nothing,
    |db: &TestDb| async move {
        let (server, hub) = start(db, "").await;
        let body = command("c9", CHIEF, OPS, task_new("Should not exist"));
        let (s, _) = post_at(&hub, &server, &body, None).await;
        assert_eq!(s, 401, "unsigned");
        // Signed, then changed on the way.
        let (sig, ts) = server.sign(&body, DiscordServer::now());
        let altered = body.replace("Should not exist", "Should not exist!");
        let res = hub
            .http
            .post(format!("{}/discord/interactions", hub.base))
            .header("X-Signature-Ed25519", sig)
            .header("X-Signature-Timestamp", ts)
            .body(altered)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);
        // Signed properly, but six minutes old (a replay).
        let (s, b) = post_at(&hub, &server, &body, Some(DiscordServer::now() - 360)).await;
        assert_eq!(s, 401, "{b}");
        assert!(b.as_str().unwrap().contains("300"), "{b}");
        assert!(hub.task_titles().await.is_empty());
        // The valid PING still works: the endpoint is healthy.
        let (s, _) = interact(&hub, &server, r#"{"type":1}"#).await;
        assert_eq!(s, 200);
        hub.stop().await;
    }
);

both_dbs!(
    slow_command_is_deferred_and_finished_by_editing_the_answer,
    |db: &TestDb| async move {
        let (server, hub) = start(db, "ack_deadline_ms = 300\n").await;
        let mut lock = common::hold_write_lock(db).await;
        let started = Instant::now();
        let (s, b) = interact(
            &hub,
            &server,
            &command("slow", CHIEF, OPS, task_new("Slow one")),
        )
        .await;
        assert_eq!(s, 200);
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(b["type"], 5, "deferred: {b}");
        assert!(server.webhook_calls().is_empty());
        tokio::time::sleep(Duration::from_millis(500)).await;
        sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
        drop(lock);
        wait_for("the edited answer", || !server.webhook_calls().is_empty()).await;
        let calls = server.webhook_calls();
        assert_eq!(calls[0].token, "tok-slow");
        assert_eq!(calls[0].kind, "edit_original");
        assert!(
            shown(calls[0].body["content"].as_str().unwrap()).contains("Created task #"),
            "{:?}",
            calls[0]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(server.webhook_calls().len(), 1);
        assert_eq!(hub.task_titles().await, vec!["Slow one".to_string()]);
        hub.stop().await;
    }
);

both_dbs!(
    a_deferred_answer_that_meets_a_429_and_a_500_is_still_finished,
    |db: &TestDb| async move {
        let (server, hub) = start(db, "ack_deadline_ms = 300\n").await;
        // Finishing the deferred answer goes through the outbox: the first
        // edit is rate limited (retry_after 1.5 s), the second meets an
        // outage, the third arrives.
        server.rate_limit_webhooks_next(&[1.5]);
        server.fail_webhooks_next(1);
        let mut lock = common::hold_write_lock(db).await;
        let (s, b) = interact(
            &hub,
            &server,
            &command("slow429", CHIEF, OPS, task_new("Slow one")),
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(b["type"], 5, "deferred: {b}");
        // Held past the deadline, then let go.
        tokio::time::sleep(Duration::from_millis(500)).await;
        sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
        drop(lock);
        wait_for("the edited answer", || !server.webhook_calls().is_empty()).await;
        let calls = server.webhook_calls();
        assert_eq!(calls[0].token, "tok-slow429");
        assert_eq!(calls[0].kind, "edit_original");
        assert!(
            shown(calls[0].body["content"].as_str().unwrap()).contains("Created task #"),
            "{:?}",
            calls[0]
        );
        let refused: Vec<(u16, Instant)> = server
            .rejections()
            .iter()
            .filter(|r| r.route == "webhooks/edit_original")
            .map(|r| (r.status, r.at))
            .collect();
        assert_eq!(refused.iter().map(|r| r.0).collect::<Vec<_>>(), [429, 500]);
        // Discord's retry_after was waited out before the next try.
        let waited = refused[1].1 - refused[0].1;
        assert!(waited >= Duration::from_millis(1450), "{waited:?}");
        // Recorded like every other message: sent at the third attempt.
        let sent = hub
            .count_reaches(
                "SELECT COUNT(*) FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
                 WHERE n.kind = 'command.reply' AND d.channel = 'discord' AND d.status = 'sent' AND d.attempts = 3",
                1,
            )
            .await;
        assert_eq!(sent, 1);
        assert_eq!(server.webhook_calls().len(), 1);
        hub.stop().await;
    }
);

both_dbs!(
    burst_past_discords_limit_is_delivered_completely_in_order,
    |db: &TestDb| async move {
        let (server, hub) = start(db, FAST).await;
        // Discord lets this channel take 3 messages a second here.
        server.limit(OPS, 3, Duration::from_secs(1), 1.0);
        let mut ids = Vec::new();
        for n in 0..6 {
            let (s, b) = hub
                .post(
                    "/api/v1/messages",
                    json!({"channel": "ops", "text": format!("ops #{n}")}),
                )
                .await;
            assert_eq!(s, 201, "{b}");
            ids.push(b["id"].as_str().unwrap().to_string());
        }
        for id in &ids {
            let status = hub.settled(id).await;
            assert_eq!(delivery(&status, "discord")["status"], "sent", "{status}");
        }
        let texts: Vec<String> = server
            .messages(OPS)
            .iter()
            .map(|m| shown(&m.content))
            .collect();
        let expected: Vec<String> = (0..6).map(|n| format!("ops #{n}")).collect();
        assert_eq!(texts, expected, "complete, once each, in order");
        let limited = server.rejections();
        assert!(!limited.is_empty(), "the burst provoked 429s");
        assert!(limited.iter().all(|r| r.status == 429), "{limited:?}");
        // Nothing reached the channel while Discord said to wait.
        for r in &limited {
            for m in server.messages(OPS) {
                assert!(
                    !(m.at > r.at && m.at < r.at + Duration::from_millis(950)),
                    "{:?} sent {:?} after a 429",
                    m.content,
                    m.at - r.at
                );
            }
        }
        hub.stop().await;
    }
);

both_dbs!(
    long_agent_message_with_markup_arrives_intact,
    |db: &TestDb| async move {
        let (server, hub) = start(db, "").await;
        let pieces = [
            "**",
            "__",
            "<@1>",
            " ",
            "@everyone",
            "\n",
            "[x](y) ",
            "`",
            "é😀",
            "\\",
            "> ",
            "# ",
        ];
        let mut text = String::new();
        let mut i = 0;
        while text.chars().count() < 5_000 {
            text.push_str(pieces[i % pieces.len()]);
            i += 1;
        }
        let (s, b) = hub
            .post(
                "/api/v1/messages",
                json!({"channel": "ops", "title": "Log <dump>", "text": text}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let status = hub.settled(b["id"].as_str().unwrap()).await;
        assert_eq!(delivery(&status, "discord")["status"], "sent", "{status}");
        let parts = server.messages(OPS);
        assert!(parts.len() >= 3, "{} parts", parts.len());
        for p in &parts {
            assert!(p.content.chars().count() <= 2000);
            assert!(!p.content.contains("@everyone") && !p.content.contains("<@1>"));
        }
        let joined: String = parts.iter().map(|p| shown(&p.content)).collect();
        assert_eq!(joined, format!("**Log <dump>**\n\n{text}"));
        assert!(server.rejections().is_empty(), "{:?}", server.rejections());
        let last = parts.last().unwrap().id;
        assert_eq!(
            delivery(&status, "discord")["platform_message_id"],
            format!("{OPS}:{last}")
        );
        hub.stop().await;
    }
);

both_dbs!(
    closed_dms_fall_back_to_the_next_channel,
    |db: &TestDb| async move {
        let (server, mut hub) = start(db, "").await;
        server.close_dms(CHIEF);
        let status = hub.urgent_settled("chief", "server on fire").await;
        let d = delivery(&status, "discord");
        assert_eq!(d["status"], "dead", "{status}");
        assert!(
            d["last_error"].as_str().unwrap().contains("50007"),
            "{status}"
        );
        assert_eq!(delivery(&status, "console")["status"], "sent", "{status}");
        let line = hub.next_console().await;
        assert!(line.contains("server on fire"), "{line}");
        // One attempt only: a refusal is not retried.
        assert_eq!(server.rejections().len(), 1);
        hub.stop().await;
    }
);

/// The adapter alone against the stand-in (no hub, no database).
fn adapter(server: &DiscordServer, extra: impl FnOnce(&mut DiscordConfig)) -> DiscordAdapter {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = DiscordConfig {
        enabled: true,
        token: TOKEN.into(),
        application_id: APPLICATION_ID.into(),
        public_key: server.public_key(),
        api_url: server.url.clone(),
        channel_burst: 100,
        channel_window_ms: 1,
        ..Default::default()
    };
    extra(&mut config);
    DiscordAdapter::new(&config).unwrap()
}

#[tokio::test]
async fn a_split_message_interrupted_by_429_resumes_without_repeating_parts() {
    let server = DiscordServer::start(&[OPS]).await;
    let discord = adapter(&server, |_| {});
    server.limit(OPS, 2, Duration::from_millis(400), 0.4);
    let message = commands::RichMessage::text("word ".repeat(1000)); // 5000 chars: 3 parts
    let to = Destination::to(OPS.to_string());
    let err = discord.send(&to, &message).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.retry_after()
            .is_some_and(|d| d >= Duration::from_millis(400)),
        "{err:?}"
    );
    assert_eq!(server.messages(OPS).len(), 2);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let sent = discord.send(&to, &message).await.unwrap();
    let parts = server.messages(OPS);
    assert_eq!(parts.len(), 3, "the retry sent only the missing part");
    let joined: String = parts.iter().map(|p| p.content.as_str()).collect();
    assert_eq!(joined.trim_end(), "word ".repeat(1000).trim_end());
    assert_eq!(
        sent.platform_message_id,
        Some(format!("{OPS}:{}", parts[2].id))
    );
}

#[tokio::test]
async fn unknown_channels_and_bad_tokens_are_permanent_and_outages_transient() {
    let server = DiscordServer::start(&[OPS]).await;
    let discord = adapter(&server, |_| {});
    let msg = commands::RichMessage::text("hi");
    let e = discord
        .send(&Destination::to("999"), &msg)
        .await
        .unwrap_err();
    assert!(!e.is_retryable() && e.to_string().contains("10003"), "{e}");
    server.forbid(OPS);
    let e = discord
        .send(&Destination::to(OPS.to_string()), &msg)
        .await
        .unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("Missing Access"),
        "{e}"
    );
    let e = discord
        .send(&Destination::to("not-a-channel"), &msg)
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    let wrong = adapter(&server, |c| c.token = "wrong".into());
    let e = wrong
        .send(&Destination::to(OPS.to_string()), &msg)
        .await
        .unwrap_err();
    assert!(!e.is_retryable() && e.to_string().contains("token"), "{e}");
    // Nobody listening: a transient failure.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = adapter(&server, |c| c.api_url = format!("http://127.0.0.1:{port}"));
    let e = gone
        .send(&Destination::to(OPS.to_string()), &msg)
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
}

#[tokio::test]
async fn commands_go_to_the_guild_when_one_is_configured() {
    let server = DiscordServer::start(&[]).await;
    let discord = adapter(&server, |c| c.guild_id = Some(GUILD.into()));
    let n = discord
        .register_commands(
            &adapters::discord::command_list::discord_application_commands(&commands::catalogue()),
        )
        .await
        .unwrap();
    assert_eq!(n, 10);
    let regs = server.registrations();
    assert_eq!(regs[0].0, format!("guild:{GUILD}"));
    // Every option and subcommand passed Discord's registration checks.
    assert_eq!(
        regs[0].1,
        json!(
            adapters::discord::command_list::discord_application_commands(&commands::catalogue())
        )
    );
}

#[tokio::test]
async fn a_bad_discord_setting_fails_the_start_naming_the_key() {
    let db = TestDb::sqlite().await;
    let toml = format!(
        "[database]\nurl = \"{}\"\n[server]\nlisten = \"127.0.0.1:0\"\n[adapters.discord]\nenabled = true\ntoken = \"t\"\napplication_id = \"1\"\npublic_key = \"not-hex\"\n",
        db.url()
    );
    let config = hub::config::Config::from_toml(&toml).unwrap();
    let err = match hub::app::start(config, Default::default()).await {
        Ok(_) => panic!("started with a bad public key"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("public_key"), "{err}");
    db.finish().await;
}

#[tokio::test]
async fn a_follow_up_replies_to_the_message_it_answers_in_the_same_channel() {
    let server = DiscordServer::start(&[OPS]).await;
    let discord = adapter(&server, |_| {});
    let to = Destination::to(OPS.to_string());
    let first = discord
        .send(&to, &commands::RichMessage::text("Deploy started"))
        .await
        .unwrap();
    let reply = Destination {
        thread: first.platform_message_id.clone(),
        ..to.clone()
    };
    discord
        .send(&reply, &commands::RichMessage::text("Deploy finished"))
        .await
        .unwrap();
    // A message in another channel is not replied to (Discord refuses it).
    let elsewhere = Destination {
        thread: Some(format!("{}:1", OPS + 1)),
        ..to.clone()
    };
    discord
        .send(&elsewhere, &commands::RichMessage::text("unrelated"))
        .await
        .unwrap();
    let msgs = server.messages(OPS);
    assert_eq!(msgs[0].reply_to, None);
    assert_eq!(msgs[1].reply_to, Some(msgs[0].id));
    assert_eq!(msgs[2].reply_to, None);
}

both_dbs!(
    login_answers_ephemerally_with_a_link_that_signs_in_once,
    |db: &TestDb| async move {
        let (server, hub) = start(db, "").await;
        let login = json!({"id": "9", "name": "login", "type": 1});
        let (s, b) = interact(&hub, &server, &command("l1", PAT, OPS, login)).await;
        assert_eq!(s, 200, "{b}");
        // Answered in the interaction itself, seen by pat alone.
        assert_eq!(b["type"], 4, "{b}");
        assert_eq!(b["data"]["flags"], 64, "ephemeral: {b}");
        let content = b["data"]["content"].as_str().unwrap();
        let link = crate::console_work::login_link_in(content, &hub);
        // Nothing was posted to the channel.
        assert!(
            server
                .messages(OPS)
                .iter()
                .all(|m| !m.content.contains("token=")),
            "the link was posted to the channel"
        );
        crate::console_work::link_signs_in_once_and_is_not_kept(&hub, &link, "pat").await;
        hub.stop().await;
    }
);
