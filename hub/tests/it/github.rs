//! Inbound GitHub end to end: payloads shaped like GitHub's documented
//! examples, signed as GitHub signs them (`X-Hub-Signature-256`), posted to
//! a real hub on 127.0.0.1.

use crate::common;
use common::TestDb;
use common::server::TestHub;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SECRET: &str = "It's a Secret to Everybody";
const SECRET_ENV: &str = "ORKHUB_TEST_GITHUB_SECRET";

fn config() -> String {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: set once, to the same value, before the first hub of this
    // process starts; nothing else writes this variable.
    ONCE.call_once(|| unsafe { std::env::set_var(SECRET_ENV, SECRET) });
    format!(
        "[github]\nenabled = true\nsecret_env = \"{SECRET_ENV}\"\n\
         [[github.repos]]\nrepo = \"acme/website\"\nproject = \"website\"\n\
         [[github.repos]]\nrepo = \"acme/infra\"\nproject = \"website\"\nlabels = [\"ops\"]\n\
         [[people]]\nid = \"rita\"\nrole = \"member\"\ngithub = \"Octo-Rita\"\npush = [\"console\"]\n"
    )
}

fn sign(body: &[u8]) -> String {
    hub::github::verify::sign(SECRET.as_bytes(), body)
}

async fn deliver(
    hub: &TestHub,
    event: &str,
    delivery: &str,
    payload: &Value,
    signature: Option<String>,
) -> (u16, Value) {
    let body = serde_json::to_vec(payload).unwrap();
    let mut req = hub
        .http
        .post(format!("{}/integrations/github", hub.base))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("user-agent", "GitHub-Hookshot/abc123");
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    let res = req.body(body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn signed(hub: &TestHub, event: &str, delivery: &str, payload: &Value) -> (u16, Value) {
    let sig = sign(&serde_json::to_vec(payload).unwrap());
    deliver(hub, event, delivery, payload, Some(sig)).await
}

fn repository(name: &str) -> Value {
    json!({"id": 1296269, "name": name.split('/').nth(1).unwrap(), "full_name": name,
           "private": false, "html_url": format!("https://github.com/{name}"), "default_branch": "main"})
}

fn issue(action: &str, repo: &str, number: i64, title: &str, labels: &[&str]) -> Value {
    json!({
        "action": action,
        "issue": {
            "url": format!("https://api.github.com/repos/{repo}/issues/{number}"),
            "html_url": format!("https://github.com/{repo}/issues/{number}"),
            "id": 1, "number": number, "title": title, "state": if action == "closed" { "closed" } else { "open" },
            "user": {"login": "octocat", "id": 1},
            "labels": labels.iter().map(|l| json!({"id": 208045946, "name": l, "color": "f29513"})).collect::<Vec<_>>(),
            "body": "I'm having a problem with this."
        },
        "repository": repository(repo),
        "sender": {"login": "octocat", "id": 1}
    })
}

async fn task(hub: &TestHub, id: i64) -> Value {
    let (status, t) = hub.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(status, 200, "{t}");
    t["task"].clone()
}

both_dbs!(
    issues_become_tasks_and_closing_completes_them,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, &config(), vec![]).await;
        let (status, answer) = signed(
            &hub,
            "issues",
            "d-1",
            &issue("opened", "acme/website", 1347, "Found a bug", &["bug"]),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let id = answer["task"].as_i64().expect("a task");
        let t = task(&hub, id).await;
        assert_eq!(t["project"], "website");
        assert_eq!(t["status"], "created");
        let title = t["title"].as_str().unwrap();
        assert!(
            title.starts_with("acme/website#1347: Found a bug"),
            "{title}"
        );
        assert!(
            title.ends_with("https://github.com/acme/website/issues/1347"),
            "links back: {title}"
        );

        // GitHub redelivers the same delivery: it runs once.
        let (status, again) = signed(
            &hub,
            "issues",
            "d-1",
            &issue("opened", "acme/website", 1347, "Found a bug", &["bug"]),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(again["duplicate"], true);
        assert_eq!(hub.task_titles().await.len(), 1);

        let (status, closed) = signed(
            &hub,
            "issues",
            "d-2",
            &issue("closed", "acme/website", 1347, "Found a bug", &[]),
        )
        .await;
        assert_eq!(status, 200, "{closed}");
        assert_eq!(closed["task"], id);
        assert_eq!(task(&hub, id).await["status"], "completed");
        hub.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_or_wrongly_signed_delivery_is_refused_and_writes_nothing() {
    let db = TestDb::sqlite().await;
    let hub = TestHub::start(&db, &config(), vec![]).await;
    let payload = issue("opened", "acme/website", 1, "Sneaky", &[]);
    let body = serde_json::to_vec(&payload).unwrap();
    let wrong = hub::github::verify::sign(b"not the secret", &body);
    for sig in [None, Some(wrong), Some("sha256=zz".to_string())] {
        let (status, answer) = deliver(&hub, "issues", "d-x", &payload, sig).await;
        assert_eq!(status, 401, "{answer}");
        assert_eq!(answer["error"]["code"], "unauthorized");
    }
    assert!(hub.task_titles().await.is_empty());
    assert_eq!(hub.count("SELECT COUNT(*) FROM github_deliveries").await, 0);
    // The same delivery ID, now signed, still runs: the refusals left no trace.
    let (status, answer) = signed(&hub, "issues", "d-x", &payload).await;
    assert_eq!(status, 200);
    assert!(answer["task"].is_i64(), "{answer}");
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_reviews_pings_and_unknown_events() {
    let db = TestDb::sqlite().await;
    let hub = TestHub::start(&db, &config(), vec![]).await;
    // acme/infra takes only issues labeled "ops".
    let (_, a) = signed(
        &hub,
        "issues",
        "l-1",
        &issue("opened", "acme/infra", 5, "No label", &["bug"]),
    )
    .await;
    assert_eq!(a["task"], Value::Null, "{a}");
    let (_, a) = signed(
        &hub,
        "issues",
        "l-2",
        &issue("labeled", "acme/infra", 5, "No label", &["bug", "ops"]),
    )
    .await;
    assert!(a["task"].is_i64(), "{a}");
    // An unmapped repository is acknowledged and ignored.
    let (status, a) = signed(
        &hub,
        "issues",
        "l-3",
        &issue("opened", "someone/else", 9, "Theirs", &[]),
    )
    .await;
    assert_eq!((status, a["task"].clone()), (200, Value::Null));

    let pr = json!({
        "action": "review_requested", "number": 42,
        "pull_request": {"number": 42, "title": "Add the widget", "html_url": "https://github.com/acme/website/pull/42", "state": "open",
                         "head": {"ref": "widget"}, "base": {"ref": "main"}},
        "requested_reviewer": {"login": "octo-rita", "id": 2},
        "repository": repository("acme/website"), "sender": {"login": "octocat"}
    });
    let (status, a) = signed(&hub, "pull_request", "r-1", &pr).await;
    assert_eq!(status, 200, "{a}");
    let t = task(&hub, a["task"].as_i64().expect("a review task")).await;
    assert_eq!(
        t["assignee"],
        json!({"kind": "person", "id": "rita"}),
        "{t}"
    );
    assert!(
        t["title"]
            .as_str()
            .unwrap()
            .starts_with("Review acme/website#42")
    );
    // A reviewer who is nobody here: acknowledged, no task.
    let mut other = pr.clone();
    other["requested_reviewer"]["login"] = json!("stranger");
    let (_, a) = signed(&hub, "pull_request", "r-2", &other).await;
    assert_eq!(a["task"], Value::Null);

    let (status, a) = signed(&hub, "ping", "p-1", &json!({"zen": "Design for failure.", "hook_id": 1, "repository": repository("acme/website")})).await;
    assert_eq!((status, a["note"].as_str()), (200, Some("pong")));
    let (status, a) = signed(
        &hub,
        "star",
        "s-1",
        &json!({"action": "created", "repository": repository("acme/website")}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(a["note"].as_str().unwrap().starts_with("ignored"), "{a}");
    assert_eq!(hub.task_titles().await.len(), 2);
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deploy_is_urgent_to_the_projects_channel_and_owners() {
    let db = TestDb::sqlite().await;
    let mut hub = TestHub::start(&db, &config(), vec![]).await;
    let payload = json!({
        "action": "created",
        "deployment_status": {"state": "failure", "environment": "production",
                              "target_url": "https://example.com/deployments/1", "description": "Deployment failed"},
        "deployment": {"environment": "production", "ref": "main", "sha": "a1b2c3"},
        "repository": repository("acme/website"), "sender": {"login": "octocat"}
    });
    let (status, a) = signed(&hub, "deployment_status", "dep-1", &payload).await;
    assert_eq!(status, 200, "{a}");
    // The channel eng (console #eng) and the owner ceo (console), now.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 2 {
        assert!(Instant::now() < deadline, "console got {seen:?}");
        seen.push(hub.next_console().await);
    }
    assert!(
        seen.iter()
            .all(|l| l.contains("Deploy failed: acme/website")),
        "{seen:?}"
    );
    assert_eq!(
        hub.count(
            "SELECT COUNT(*) FROM notifications WHERE kind = 'deploy.failed' AND urgency = 'urgent'"
        )
        .await,
        2
    );
    // A check suite on the default branch that passed: fyi.
    let suite = json!({
        "action": "completed",
        "check_suite": {"head_branch": "main", "head_sha": "d6fde92930d4715a2b49857d24b940956b26d2d3", "status": "completed", "conclusion": "success",
                        "url": "https://api.github.com/repos/acme/website/check-suites/5"},
        "repository": repository("acme/website"), "sender": {"login": "octocat"}
    });
    let (status, _) = signed(&hub, "check_suite", "cs-1", &suite).await;
    assert_eq!(status, 200);
    assert_eq!(
        hub.count(
            "SELECT COUNT(*) FROM notifications WHERE kind = 'build.succeeded' AND urgency = 'fyi'"
        )
        .await,
        2
    );
    hub.stop().await;
    db.finish().await;
}
