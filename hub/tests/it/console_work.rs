//! The console's work pages over plain HTTP, on SQLite and PostgreSQL: the
//! tasks board shows counts per column and pages on (it never renders every
//! task), dependencies are shown on the cards and added or removed from
//! them with the chat command's rules (cycles refused, audit source `web`),
//! and agents' questions are answered on the Decisions page through the
//! `answer` command's path (the first answer wins, the chat copy is edited,
//! the agent's long poll gets "dana via web").

use crate::common;
use crate::console::{TEAM, Visitor, link};
use commands::{Actor, Backend, TaskDraft};
use common::TestDb;
use common::server::TestHub;
use common::telegram_server::TelegramServer;
use serde_json::{Value, json};

/// POST a form; the status and the page's text (an error page says why).
async fn post_page(v: &Visitor, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let mut req = v.http.post(format!("{}{path}", v.base)).form(form);
    if let Some(c) = &v.cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// `n` tasks made by the owner through the command layer; their IDs.
async fn tasks(hub: &TestHub, n: usize, title: &str) -> Vec<i64> {
    let ceo = hub
        .backend()
        .person("ceo")
        .await
        .expect("people")
        .expect("ceo");
    let actor = Actor::person(ceo, "test");
    let mut ids = Vec::new();
    for i in 0..n {
        let draft = TaskDraft {
            title: format!("{title} {i}"),
            ..Default::default()
        };
        let t = commands::create_task(hub.backend(), &actor, draft)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ids.push(t.id);
    }
    ids
}

both_dbs!(
    the_board_counts_every_task_and_pages_each_column,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, TEAM, vec![]).await;
        let ids = tasks(&hub, 30, "Chore").await;
        let mut dana = Visitor::new(&hub);
        dana.sign_in(&link(&hub, "dana").await).await;
        let (s, html) = dana.get("/console/tasks").await;
        assert_eq!(s, 200, "{html}");
        // All 30 counted, the newest 25 shown, the oldest five not.
        assert!(html.contains("created <small>(30)</small>"), "{html}");
        assert!(html.contains("Chore 29"), "{html}");
        assert!(html.contains("Chore 5<"), "{html}");
        assert!(!html.contains("Chore 4<"), "{html}");
        let more = format!("/console/tasks?status=created&before={}", ids[5]);
        let href = format!("href=\"{}\"", adapters::web::console::escape(&more));
        assert!(html.contains(&href), "a link to the older ones: {html}");
        // The link shows that column alone, from there on.
        let (s, html) = dana.get(&more).await;
        assert_eq!(s, 200, "{html}");
        for i in 0..5 {
            assert!(html.contains(&format!("Chore {i}<")), "{i}: {html}");
        }
        assert!(!html.contains("Chore 5<"), "{html}");
        assert!(
            !html.contains("Older created tasks"),
            "the last page: {html}"
        );
        assert!(html.contains("Back to the whole board"), "{html}");
        // Filters narrow the counts too.
        let (_, html) = dana.get("/console/tasks?project=website").await;
        assert!(html.contains("created <small>(0)</small>"), "{html}");
        let (s, _) = dana.get("/console/tasks?status=someday").await;
        assert_eq!(s, 400);
        hub.stop().await;
    }
);

both_dbs!(
    dependencies_are_shown_added_and_removed_on_the_cards,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, TEAM, vec![]).await;
        let ids = tasks(&hub, 3, "Step").await;
        let (a, b, c) = (ids[0], ids[1], ids[2]);
        let mut dana = Visitor::new(&hub);
        dana.sign_in(&link(&hub, "dana").await).await;
        let csrf = dana.csrf().await;
        let add = |task: i64| format!("/console/tasks/{task}/deps");
        // b needs a, c needs b.
        let (s, to, _) = dana
            .post(&add(b), &[("csrf", &csrf), ("needs", &a.to_string())])
            .await;
        assert_eq!(s, 303, "{to}");
        assert!(to.contains(&format!("now+needs+%23{a}")), "{to}");
        let (s, _, _) = dana
            .post(&add(c), &[("csrf", &csrf), ("needs", &format!("#{b}"))])
            .await;
        assert_eq!(s, 303);
        let (_, html) = dana.get("/console/tasks").await;
        assert!(html.contains("Waits for: <span class=\"dep\">#"), "{html}");
        assert!(html.contains("Blocks: #"), "{html}");
        // a needs c would close a cycle: refused with the command's message.
        let (s, html) = post_page(
            &dana,
            &add(a),
            &[("csrf", &csrf), ("needs", &c.to_string())],
        )
        .await;
        assert_eq!(s, 409, "{html}");
        assert!(html.contains("would make a cycle"), "{html}");
        // Without the CSRF token nothing is written.
        let (s, _, _) = dana.post(&add(a), &[("needs", &c.to_string())]).await;
        assert_eq!(s, 403);
        // A viewer sees the dependencies but cannot change them.
        let mut vic = Visitor::new(&hub);
        vic.sign_in(&link(&hub, "vic").await).await;
        let vcsrf = vic.csrf().await;
        let (_, html) = vic.get("/console/tasks").await;
        assert!(html.contains("Waits for:"), "{html}");
        assert!(!html.contains("Add dependency"), "{html}");
        let (s, _, _) = vic
            .post(
                &format!("/console/tasks/{b}/deps/remove"),
                &[("csrf", &vcsrf), ("needs", &a.to_string())],
            )
            .await;
        assert_eq!(s, 403);
        // Dana removes one; it is gone, and removing it again is a 404.
        // It was b's last open dependency: b, still created, is now ready
        // (as when its last dependency completes); c still waits for b.
        let remove = format!("/console/tasks/{b}/deps/remove");
        let (s, to, _) = dana
            .post(&remove, &[("csrf", &csrf), ("needs", &a.to_string())])
            .await;
        assert_eq!(s, 303);
        assert!(to.contains("is+now+ready"), "{to}");
        for (id, want) in [
            (b, commands::TaskStatus::Ready),
            (c, commands::TaskStatus::Created),
        ] {
            let t = hub.backend().task(id).await.unwrap().unwrap();
            assert_eq!(t.status, want, "#{id}");
        }
        let (s, _, _) = dana
            .post(&remove, &[("csrf", &csrf), ("needs", &a.to_string())])
            .await;
        assert_eq!(s, 404);
        let edges = hub.store().dependency_edges().await.unwrap();
        assert_eq!(edges, vec![(c, b)]);
        let audit = hub.store().audit_for(&format!("task:{b}")).await.unwrap();
        // Newest first.
        let actions: Vec<(&str, &str)> = audit
            .iter()
            .map(|(_, action, source)| (action.as_str(), source.as_str()))
            .filter(|(action, _)| *action == "task.dep" || *action == "task.undep")
            .collect();
        assert_eq!(actions, vec![("task.undep", "web"), ("task.dep", "web")]);
        assert_eq!(
            (audit[0].1.as_str(), audit[0].2.as_str()),
            ("task.move", "system"),
            "the promotion, audited after the removal: {audit:?}"
        );
        hub.stop().await;
    }
);

both_dbs!(
    a_question_is_answered_once_in_the_console,
    |db: &TestDb| async move {
        let tg = TelegramServer::start().await;
        tg.add_chats(&[555]);
        let hub = TestHub::start(db, &format!("{}{TEAM}", tg.config("")), vec![]).await;
        let (s, q) = hub
            .post(
                "/api/v1/questions",
                json!({"text": "Which region first?", "options": ["eu", "us"],
                       "to": "dana", "permission_level": "human-required"}),
            )
            .await;
        assert_eq!(s, 201, "{q}");
        let id = q["id"].as_i64().unwrap();
        // The agent waits for the answer.
        let waiter = {
            let http = hub.http.clone();
            let url = format!("{}/api/v1/questions/{id}?wait=30", hub.base);
            let key = hub.key.clone();
            tokio::spawn(async move {
                let res = http.get(url).bearer_auth(key).send().await.unwrap();
                res.json::<Value>().await.unwrap()
            })
        };
        tg.wait_for("the question reaches Telegram", 10, |t| {
            !t.messages(555).is_empty()
        })
        .await;
        let on_telegram = tg.messages(555).last().unwrap().id;

        let mut dana = Visitor::new(&hub);
        dana.sign_in(&link(&hub, "dana").await).await;
        let (s, html) = dana.get("/console/decisions").await;
        assert_eq!(s, 200, "{html}");
        assert!(html.contains("Which region first?"), "{html}");
        assert!(html.contains(r#"name="answer" value="eu""#), "{html}");
        // It is dana's question: the owner's page does not list it.
        let mut ceo = Visitor::new(&hub);
        ceo.sign_in(&link(&hub, "ceo").await).await;
        let (_, html) = ceo.get("/console/decisions").await;
        assert!(!html.contains("Which region first?"), "{html}");

        let answer = format!("/console/questions/{id}/answer");
        let (s, _, _) = dana.post(&answer, &[("answer", "eu")]).await;
        assert_eq!(s, 403, "no CSRF token, no answer");
        let csrf = dana.csrf().await;
        let (s, to, _) = dana
            .post(&answer, &[("csrf", &csrf), ("answer", "eu")])
            .await;
        assert_eq!(s, 303);
        assert_eq!(to, format!("/console/decisions?answered={id}"));
        let got = tokio::time::timeout(std::time::Duration::from_secs(30), waiter)
            .await
            .expect("the long poll returns")
            .unwrap();
        assert_eq!(got["answer"]["text"], "eu", "{got}");
        assert_eq!(got["answer"]["by"], "dana", "{got}");
        assert_eq!(got["answer"]["via"], "web", "{got}");
        // The chat copy is edited to show it.
        tg.wait_for("the Telegram copy is edited", 10, |t| {
            t.message(555, on_telegram).is_some_and(|m| m.edits > 0)
        })
        .await;
        let edited = tg.message(555, on_telegram).unwrap().text;
        assert!(edited.contains("Answered by dana (web)"), "{edited}");

        // A second answer is refused and changes nothing.
        let (s, html) = post_page(&dana, &answer, &[("csrf", &csrf), ("answer", "us")]).await;
        assert_eq!(s, 409, "{html}");
        assert!(
            html.contains("was already answered by dana (web)"),
            "{html}"
        );
        let (_, got) = hub.get(&format!("/api/v1/questions/{id}")).await;
        assert_eq!(got["answer"]["text"], "eu");
        let (_, html) = dana.get(&to).await;
        assert!(
            html.contains(&format!("You answered question #{id}.")),
            "{html}"
        );
        assert!(!html.contains("Which region first?"), "{html}");
        hub.stop().await;
    }
);

/// The sign-in link in a chat answer's text (Slack may wrap it as
/// `<url|label>`): the hub's address, the path and the token.
pub fn login_link_in(text: &str, hub: &TestHub) -> String {
    let prefix = format!("{}/console/login?token=", hub.base);
    let at = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no sign-in link in {text:?}"))
        + prefix.len();
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() >= 32, "a token in {text:?}");
    format!("{prefix}{token}")
}

/// A link given by `/login` on a platform: kept nowhere in the database,
/// signs its person in once, and is refused the second time.
pub async fn link_signs_in_once_and_is_not_kept(hub: &TestHub, link: &str, person: &str) {
    let token = crate::console::token_of(link);
    let (kept,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM notifications WHERE body LIKE $1 OR fields LIKE $1)
              + (SELECT COUNT(*) FROM inbound_requests WHERE reply LIKE $1)
              + (SELECT COUNT(*) FROM deliveries WHERE last_error LIKE $1)",
    )
    .bind(format!("%{token}%"))
    .fetch_one(hub.store().pool())
    .await
    .unwrap();
    assert_eq!(kept, 0, "the login link was stored");
    let mut v = Visitor::new(hub);
    v.sign_in(link).await;
    let (s, html) = v.get("/console").await;
    assert_eq!(s, 200, "{html}");
    let (s, html) = v.get("/console/decisions").await;
    assert_eq!(s, 200, "{html}");
    let sessions: Vec<(String,)> = sqlx::query_as("SELECT person_id FROM console_sessions")
        .fetch_all(hub.store().pool())
        .await
        .unwrap();
    assert_eq!(sessions, vec![(person.to_string(),)]);
    // Used once: refused the second time, no cookie.
    let again = Visitor::new(hub);
    let (s, _, set) = again.post("/console/login", &[("token", &token)]).await;
    assert_eq!(s, 403);
    assert!(set.is_none(), "{set:?}");
}

/// The board's counts per status stay the plain count of the tasks table
/// whoever writes it: created and moved through the command layer, moved,
/// inserted and deleted by plain SQL (a script, a restore). On SQLite they
/// are kept by triggers (migration 0031), on PostgreSQL counted each time.
async fn board_counts_follow_every_write_body(db: &TestDb) {
    let hub = TestHub::start(db, TEAM, vec![]).await;
    let ids = tasks(&hub, 12, "Count").await;
    let store = hub.store();
    let exact = || async {
        let mut rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM tasks GROUP BY status")
                .fetch_all(store.pool())
                .await
                .unwrap();
        rows.sort();
        rows
    };
    let shown = || async {
        let mut rows: Vec<(String, i64)> = store
            .board_counts(&hub::store::BoardFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|(s, n)| (s.as_str().to_string(), n))
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(shown().await, vec![("created".to_string(), 12)]);
    let run = |sql: String| async move {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(store.pool())
            .await
            .unwrap();
    };
    run(format!(
        "UPDATE tasks SET status = 'ready' WHERE id IN ({}, {})",
        ids[0], ids[1]
    ))
    .await;
    run(format!(
        "UPDATE tasks SET status = 'completed' WHERE id = {}",
        ids[2]
    ))
    .await;
    // Not a change of status: counted once.
    run(format!(
        "UPDATE tasks SET status = 'ready', title = 'x' WHERE id = {}",
        ids[0]
    ))
    .await;
    run(format!("DELETE FROM tasks WHERE id = {}", ids[3])).await;
    assert_eq!(shown().await, exact().await);
    assert_eq!(
        shown().await,
        vec![
            ("completed".to_string(), 1),
            ("created".to_string(), 8),
            ("ready".to_string(), 2)
        ]
    );
    // Every task moved out of a status: the column is absent, not 0.
    run("UPDATE tasks SET status = 'blocked' WHERE status = 'created'".into()).await;
    assert_eq!(shown().await, exact().await);
    assert!(!shown().await.iter().any(|(s, _)| s == "created"));
    hub.stop().await;
}
both_dbs!(board_counts_follow_every_write, |db: &TestDb| {
    board_counts_follow_every_write_body(db)
});
