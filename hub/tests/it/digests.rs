//! Digests end to end: `info` items held for a person go out as one digest
//! at their digest time — exactly the held items, once, even when the job
//! runs again (a restart) or twice at once (two instances), none when
//! nothing is held, and on a chat channel for people who prefer one.

use crate::common;
use chrono::{Duration, Utc};
use common::TestDb;
use common::server::TestHub;
use common::smtp_server::SmtpServer;
use hub::digest::{DigestJob, DigestOutcome};
use hub::schedule::DailyJob;
use mail_parser::MessageParser;
use serde_json::json;
use std::sync::Arc;

/// Digest at 00:00 UTC: "tomorrow's" slot is due a day from now, after
/// every item the test posts, whatever the wall clock says.
fn person(id: &str, email: &str, digest_channel: &str) -> String {
    format!(
        "[[people]]\nid = \"{id}\"\nemail = \"{email}\"\npush = [\"console\"]\ndigest_channel = \"{digest_channel}\"\ndigest_time = \"00:00\"\ntime_zone = \"UTC\"\n"
    )
}

fn job() -> Arc<dyn DailyJob> {
    let mut config = hub::config::Config::default();
    config.adapters.email.templates_dir = format!("{}/../templates", env!("CARGO_MANIFEST_DIR"));
    Arc::new(DigestJob::from_config(&config))
}

async fn info(hub: &TestHub, to: &str, project: Option<&str>, kind: &str, text: &str) -> String {
    let mut body = json!({"to": to, "urgency": "info", "kind": kind, "text": text});
    if let Some(p) = project {
        body["project"] = json!(p);
    }
    let (s, b) = hub.post("/api/v1/notifications", body).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap().to_string();
    hub.settled(&id).await;
    id
}

async fn statuses(hub: &TestHub, id: &str) -> Vec<String> {
    let (_, n) = hub.get(&format!("/api/v1/notifications/{id}")).await;
    n["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["channel"] != "web")
        .map(|d| d["status"].as_str().unwrap().to_string())
        .collect()
}

both_dbs!(
    a_digest_holds_exactly_the_held_items_once,
    |db: &TestDb| async move {
        let smtp = SmtpServer::start();
        let extra = format!(
            "{}{}{}",
            smtp.toml(),
            person("dee", "dee@example.com", "email"),
            person("bo", "bo@example.com", "email")
        );
        let hub = TestHub::start(db, &extra, vec![]).await;
        let state = hub.running.as_ref().unwrap().state.clone();
        let a = info(
            &hub,
            "dee",
            Some("website"),
            "report",
            "weekly <numbers> & more",
        )
        .await;
        let b = info(&hub, "dee", Some("website"), "deploy", "deployed v1").await;
        let c = info(&hub, "dee", None, "report", "newest item").await;
        // Someone else's item stays out of dee's digest.
        let other = info(&hub, "bo", None, "report", "bo's own item").await;
        for id in [&a, &b, &c] {
            assert_eq!(statuses(&hub, id).await, vec!["held"]);
        }

        let tomorrow = Utc::now() + Duration::days(1);
        let jobs = vec![job()];
        hub::schedule::tick_at(&state.jobs(), &jobs, tomorrow).await;
        // Again, as after a restart, and from a second "instance" with its own job.
        hub::schedule::tick_at(&state.jobs(), &[job()], tomorrow).await;
        let dee = state.dir.person("dee").unwrap();
        let slot =
            hub::schedule::due_slot("dee", dee.prefs.time_zone, dee.digest_time, tomorrow).unwrap();
        let again = DigestJob::from_config(&hub::config::Config::default())
            .run_slot(&state.jobs(), dee, &slot)
            .await
            .unwrap();
        assert_eq!(again, DigestOutcome::AlreadyDone);

        // Two emails (dee's and bo's), never more.
        let mails = smtp.wait_for(2).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(smtp.received().len(), 2, "one digest per person");
        let parsed: Vec<_> = mails
            .iter()
            .map(|m| MessageParser::default().parse(m).unwrap())
            .collect();
        let mine = parsed
            .iter()
            .find(|m| {
                m.to().and_then(|t| t.first()).and_then(|t| t.address()) == Some("dee@example.com")
            })
            .expect("dee's digest");
        let subject = mine.subject().unwrap();
        assert!(subject.contains("3 items"), "{subject}");
        let text = mine.body_text(0).unwrap();
        let html = mine.body_html(0).unwrap();
        for t in ["weekly <numbers> & more", "deployed v1", "newest item"] {
            assert_eq!(text.matches(t).count(), 1, "{t} once in:\n{text}");
        }
        assert!(!text.contains("bo's own item"));
        assert!(html.contains("weekly &lt;numbers&gt; &amp; more"), "{html}");
        // Grouped by project and kind with counts; the newest group first.
        let newest = text.find("newest item").unwrap();
        let deployed = text.find("deployed v1").unwrap();
        let weekly = text.find("weekly <numbers>").unwrap();
        assert!(newest < deployed && deployed < weekly, "{text}");
        assert!(
            text.contains("(no project) / report (1)")
                && text.contains("website / deploy (1)")
                && text.contains("website / report (1)"),
            "{text}"
        );

        // The record: every held item is digested, under the one digest.
        for id in [&a, &b, &c, &other] {
            assert_eq!(statuses(&hub, id).await, vec!["digested"]);
        }
        let digest_id: String = {
            let row: (Option<String>,) = sqlx::query_as("SELECT digest_id FROM deliveries WHERE notification_id = $1 AND status = 'digested'")
            .bind(&a)
            .fetch_one(hub.store().pool())
            .await
            .unwrap();
            row.0.expect("digest id")
        };
        let mut items = hub.store().digest_items(&digest_id).await.unwrap();
        items.sort();
        let mut expected = vec![a.clone(), b.clone(), c.clone()];
        expected.sort();
        assert_eq!(items, expected);
        let digest = hub.settled(&digest_id).await;
        let ds = digest["deliveries"].as_array().unwrap();
        assert_eq!(ds.len(), 1, "{digest}");
        assert_eq!(
            (ds[0]["channel"].as_str(), ds[0]["status"].as_str()),
            (Some("email"), Some("sent"))
        );

        // Held after the slot's time: waits for the next digest, not this one.
        let late = info(&hub, "dee", None, "report", "after the digest").await;
        hub::schedule::tick_at(&state.jobs(), &jobs, tomorrow).await;
        assert_eq!(statuses(&hub, &late).await, vec!["held"]);
        drop(state);
        hub.stop().await;
    }
);

both_dbs!(
    two_instances_at_once_send_one_digest,
    |db: &TestDb| async move {
        let extra = person("dee", "dee@example.com", "console");
        let mut hub = TestHub::start(db, &extra, vec![]).await;
        let state = hub.running.as_ref().unwrap().state.clone();
        for i in 0..5 {
            info(&hub, "dee", Some("website"), "report", &format!("item {i}")).await;
        }
        while hub.console.try_recv().is_ok() {}
        let dee = state.dir.person("dee").unwrap().clone();
        let slot = hub::schedule::due_slot(
            "dee",
            dee.prefs.time_zone,
            dee.digest_time,
            Utc::now() + Duration::days(1),
        )
        .unwrap();
        let (j1, j2) = (
            DigestJob::from_config(&hub::config::Config::default()),
            DigestJob::from_config(&hub::config::Config::default()),
        );
        let job_hub = state.jobs();
        let (r1, r2) = tokio::join!(
            j1.run_slot(&job_hub, &dee, &slot),
            j2.run_slot(&job_hub, &dee, &slot)
        );
        let outcomes = [r1.unwrap(), r2.unwrap()];
        let queued: Vec<_> = outcomes
            .iter()
            .filter(|o| matches!(o, DigestOutcome::Queued { items: 5, .. }))
            .collect();
        assert_eq!(queued.len(), 1, "{outcomes:?}");
        assert!(
            outcomes.contains(&DigestOutcome::AlreadyDone),
            "{outcomes:?}"
        );
        // One message per digest on the chat channel, holding all five items.
        let line = tokio::time::timeout(std::time::Duration::from_secs(5), hub.console.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(line.contains("to dee"), "{line}");
        for i in 0..5 {
            assert!(line.contains(&format!("item {i}")), "{line}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(hub.console.try_recv().is_err(), "a second digest was sent");
        drop(state);
        hub.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_held_means_no_digest() {
    let smtp = SmtpServer::start();
    let db = TestDb::sqlite().await;
    let extra = format!(
        "{}{}",
        smtp.toml(),
        person("dee", "dee@example.com", "email")
    );
    let hub = TestHub::start(&db, &extra, vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    // fyi and urgent items are not held.
    let (s, _) = hub
        .post(
            "/api/v1/notifications",
            json!({"to": "dee", "urgency": "fyi", "text": "fyi"}),
        )
        .await;
    assert_eq!(s, 201);
    let tomorrow = Utc::now() + Duration::days(1);
    let dee = state.dir.person("dee").unwrap();
    let slot =
        hub::schedule::due_slot("dee", dee.prefs.time_zone, dee.digest_time, tomorrow).unwrap();
    let out = DigestJob::from_config(&hub::config::Config::default())
        .run_slot(&state.jobs(), dee, &slot)
        .await
        .unwrap();
    assert_eq!(out, DigestOutcome::Empty);
    assert!(
        hub.store().slot_done("digest", &slot.key()).await.unwrap(),
        "the empty slot is claimed"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(smtp.received().is_empty(), "an empty digest is not sent");
    drop(state);
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_digest_is_retried_as_the_same_one_digest() {
    let smtp = SmtpServer::start();
    let db = TestDb::sqlite().await;
    let extra = format!(
        "{}{}",
        smtp.toml(),
        person("dee", "tempfail-once@example.com", "email")
    );
    let hub = TestHub::start(&db, &extra, vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    for i in 0..3 {
        info(&hub, "dee", None, "report", &format!("item {i}")).await;
    }
    hub::schedule::tick_at(&state.jobs(), &[job()], Utc::now() + Duration::days(1)).await;
    let mails = smtp.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1);
    let m = MessageParser::default().parse(&mails[0]).unwrap();
    let text = m.body_text(0).unwrap();
    for i in 0..3 {
        assert_eq!(text.matches(&format!("item {i}")).count(), 1, "{text}");
    }
    let row: (i64, String) = sqlx::query_as("SELECT attempts, status FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE n.kind = 'digest'")
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
    assert_eq!(
        row,
        (2, "sent".to_string()),
        "one 451, then the same digest delivered"
    );
    drop(state);
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_days_hold_items_until_the_next_digest_day() {
    use chrono::Datelike;
    let db = TestDb::sqlite().await;
    let tomorrow = Utc::now() + Duration::days(1);
    let day_after = tomorrow + Duration::days(1);
    // Weekly on the day after tomorrow's weekday (UTC, like the person).
    let day = format!("{:?}", day_after.weekday()).to_lowercase();
    let extra = format!(
        "{}digest_days = [\"{day}\"]\n",
        person("wes", "wes@example.com", "console")
    );
    let mut hub = TestHub::start(&db, &extra, vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    let id = info(&hub, "wes", None, "report", "weekly item").await;
    while hub.console.try_recv().is_ok() {}
    hub::schedule::tick_at(&state.jobs(), &[job()], tomorrow).await;
    assert_eq!(statuses(&hub, &id).await, vec!["held"], "not a digest day");
    hub::schedule::tick_at(&state.jobs(), &[job()], day_after).await;
    let line = tokio::time::timeout(std::time::Duration::from_secs(5), hub.console.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(line.contains("weekly item"), "{line}");
    assert_eq!(statuses(&hub, &id).await, vec!["digested"]);
    drop(state);
    hub.stop().await;
    db.finish().await;
}

#[test]
fn a_bad_digest_day_is_refused_naming_it() {
    let err =
        hub::config::Config::from_toml("[[people]]\nid = \"wes\"\ndigest_days = [\"someday\"]\n")
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("people.wes.digest_days") && err.contains("someday"),
        "{err}"
    );
}

async fn created_at(hub: &TestHub, notification: &str) -> i64 {
    let row: (i64,) = sqlx::query_as(
        "SELECT created_at FROM deliveries WHERE notification_id = $1 AND status = 'held'",
    )
    .bind(notification)
    .fetch_one(hub.store().pool())
    .await
    .unwrap();
    row.0
}

both_dbs!(
    an_item_held_after_the_slots_time_waits_for_the_next_digest,
    |db: &TestDb| async move {
        let extra = person("dee", "dee@example.com", "console");
        let mut hub = TestHub::start(db, &extra, vec![]).await;
        let state = hub.running.as_ref().unwrap().state.clone();
        let early = info(&hub, "dee", None, "report", "before the digest time").await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let late = info(&hub, "dee", None, "report", "after the digest time").await;
        while hub.console.try_recv().is_ok() {}
        // The slot fell due between the two, and runs only now (a slow
        // tick, a restart): the later item is not its. (Keyed to a day of
        // its own: the hub's scheduler has run today's and runs tomorrow's.)
        let (a, b) = (
            created_at(&hub, &early).await,
            created_at(&hub, &late).await,
        );
        assert!(b - a >= 2, "{a} {b}");
        let slot = hub::schedule::Slot {
            person: "dee".into(),
            date: Utc::now().date_naive() + Duration::days(5),
            due_at: hub::store::from_ms(a + (b - a) / 2),
        };
        let dee = state.dir.person("dee").unwrap();
        let out = DigestJob::from_config(&hub::config::Config::default())
            .run_slot(&state.jobs(), dee, &slot)
            .await
            .unwrap();
        assert!(
            matches!(out, DigestOutcome::Queued { items: 1, .. }),
            "{out:?}"
        );
        assert_eq!(statuses(&hub, &early).await, vec!["digested"]);
        assert_eq!(statuses(&hub, &late).await, vec!["held"]);
        let line = tokio::time::timeout(std::time::Duration::from_secs(5), hub.console.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(
            line.contains("before the digest time") && !line.contains("after the digest time"),
            "{line}"
        );
        // The next digest has it.
        hub::schedule::tick_at(&state.jobs(), &[job()], Utc::now() + Duration::days(1)).await;
        assert_eq!(statuses(&hub, &late).await, vec!["digested"]);
        drop(state);
        hub.stop().await;
    }
);

both_dbs!(
    items_held_before_a_switch_to_a_web_digest_are_digested_on_the_web,
    |db: &TestDb| async move {
        // Held for an email digest...
        let hub = TestHub::start(db, &person("wen", "wen@example.com", "email"), vec![]).await;
        let a = info(&hub, "wen", None, "report", "held one").await;
        let b = info(&hub, "wen", Some("website"), "deploy", "held two").await;
        assert_eq!(statuses(&hub, &a).await, vec!["held"]);
        hub.stop().await;
        // ...then wen chose the web feed as their digest.
        let hub = TestHub::start(db, &person("wen", "wen@example.com", "web"), vec![]).await;
        let state = hub.running.as_ref().unwrap().state.clone();
        let fresh = info(&hub, "wen", None, "report", "nothing new is held").await;
        assert!(statuses(&hub, &fresh).await.is_empty(), "web only");
        hub::schedule::tick_at(&state.jobs(), &[job()], Utc::now() + Duration::days(1)).await;
        for id in [&a, &b] {
            assert_eq!(statuses(&hub, id).await, vec!["digested"], "{id}");
        }
        let digests = hub.store().notification_ids("wen", "digest").await.unwrap();
        assert_eq!(digests.len(), 1);
        let d = hub.settled(&digests[0]).await;
        let ds = d["deliveries"].as_array().unwrap();
        assert_eq!(ds.len(), 1, "{d}");
        assert_eq!(
            (ds[0]["channel"].as_str(), ds[0]["status"].as_str()),
            (Some("web"), Some("sent"))
        );
        let mut items = hub.store().digest_items(&digests[0]).await.unwrap();
        items.sort();
        let mut expected = vec![a.clone(), b.clone()];
        expected.sort();
        assert_eq!(items, expected);
        drop(state);
        hub.stop().await;
    }
);

both_dbs!(
    items_held_for_someone_no_longer_configured_are_released_at_start,
    |db: &TestDb| async move {
        let config = format!(
            "{}{}",
            person("gus", "gus@example.com", "email"),
            person("dee", "dee@example.com", "email")
        );
        let hub = TestHub::start(db, &config, vec![]).await;
        let gone = info(&hub, "gus", None, "report", "for gus").await;
        let kept = info(&hub, "dee", None, "report", "for dee").await;
        hub.stop().await;
        // gus left the config.
        let hub = TestHub::start(db, &person("dee", "dee@example.com", "email"), vec![]).await;
        let mut released = None;
        for _ in 0..200 {
            let (_, n) = hub.get(&format!("/api/v1/notifications/{gone}")).await;
            let d = n["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["channel"] == "email")
                .cloned()
                .unwrap();
            if d["status"] != "held" {
                released = Some(d);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let d = released.expect("gus's held item was released");
        assert_eq!(d["status"], "skipped");
        let why = d["last_error"].as_str().unwrap();
        assert!(
            why.contains("\"gus\"") && why.contains("no longer in config.toml"),
            "{why}"
        );
        // Still on the web feed, where it went when it was accepted.
        let (_, n) = hub.get(&format!("/api/v1/notifications/{gone}")).await;
        assert!(
            n["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["channel"] == "web" && d["status"] == "sent"),
            "{n}"
        );
        // A configured person's held item is left for their digest.
        assert_eq!(statuses(&hub, &kept).await, vec!["held"]);
        hub.stop().await;
    }
);

both_dbs!(
    an_email_digest_carries_a_sign_in_link_that_works_once,
    |db: &TestDb| async move {
        let smtp = SmtpServer::start();
        let extra = format!(
            "{}{}",
            smtp.toml(),
            person("dee", "dee@example.com", "email")
        );
        let hub = TestHub::start(db, &extra, vec![]).await;
        let state = hub.running.as_ref().unwrap().state.clone();
        info(&hub, "dee", None, "report", "an item").await;
        let tomorrow = Utc::now() + Duration::days(1);
        hub::schedule::tick_at(&state.jobs(), &[job()], tomorrow).await;
        let raw = smtp.wait_for(1).await.remove(0);
        let mail = MessageParser::default().parse(&raw).unwrap();
        let text = mail.body_text(0).unwrap();
        let label = "Open in orkhub: ";
        let at = text
            .find(label)
            .unwrap_or_else(|| panic!("no link in:\n{text}"))
            + label.len();
        let link = text[at..].lines().next().unwrap().trim().to_string();
        assert!(
            link.starts_with(&format!("{}/console/login?token=", hub.base)),
            "{link}"
        );
        assert!(mail.body_html(0).unwrap().contains(">Open in orkhub</a>"));
        // Minted when it was sent: no stored row holds it.
        let token = crate::console::token_of(&link);
        let (held,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM notifications WHERE fields LIKE $1 OR body LIKE $1",
        )
        .bind(format!("%{token}%"))
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
        assert_eq!(held, 0);
        // It signs its reader in, once.
        let mut reader = crate::console::Visitor::new(&hub);
        reader.sign_in(&link).await;
        let (s, page) = reader.get("/console").await;
        assert_eq!(s, 200, "{page}");
        let again = crate::console::Visitor::new(&hub);
        let (s, _, cookie) = again.post("/console/login", &[("token", &token)]).await;
        assert_eq!(s, 403);
        assert!(cookie.is_none());
        drop(state);
        hub.stop().await;
    }
);
