//! The web console over plain HTTP (fast, no browser): login links are
//! single-use, expire and are bound to their person; the session cookie's
//! attributes; CSRF on every POST; no state change on GET; roles as in
//! chat (a viewer's forged approval is 403); a resolution through the
//! console is the chat/API resolution (audit source `web`); the inbox shows
//! `fyi` items and streams new ones to the session's EventSource; logout and
//! removal from the config end sessions.

use crate::common;
use common::TestDb;
use common::server::TestHub;
use serde_json::json;
use std::time::Duration;

/// A viewer, an approver of `deploy`, besides TestHub's ceo (owner) and
/// dana (member).
pub const TEAM: &str = r##"
[approvers]
"deploy" = ["dana"]

[[people]]
id = "vic"
role = "viewer"
push = ["console"]
"##;

/// A browser without cookies of its own: the session cookie is kept here.
pub struct Visitor {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: Option<String>,
}

impl Visitor {
    pub fn new(hub: &TestHub) -> Visitor {
        Visitor {
            base: hub.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// POST a form; returns status, Location and Set-Cookie.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let set_cookie = res
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string());
        (res.status().as_u16(), location, set_cookie)
    }

    /// Sign in with a link (`…/console/login?token=…`).
    pub async fn sign_in(&mut self, link: &str) -> String {
        let token = token_of(link);
        let (s, to, set) = self.post("/console/login", &[("token", &token)]).await;
        assert_eq!(s, 303, "sign in");
        assert_eq!(to, "/console");
        let set = set.expect("a session cookie");
        self.cookie = Some(set.split(';').next().unwrap().to_string());
        set
    }

    /// The CSRF token in a page's forms.
    pub async fn csrf(&self) -> String {
        let (s, html) = self.get("/console").await;
        assert_eq!(s, 200, "{html}");
        let at = html
            .find(r#"name="csrf" value=""#)
            .expect("a form with a csrf field")
            + 19;
        html[at..at + 64].to_string()
    }
}

pub fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("a token in the link")
        .to_string()
}

/// A fresh login link for `person`, as `/login` and `orkhub login-link` make them.
pub async fn link(hub: &TestHub, person: &str) -> String {
    hub.running
        .as_ref()
        .unwrap()
        .state
        .console
        .links
        .mint(person)
        .await
        .unwrap_or_else(|e| panic!("a login link for {person}: {e}"))
}

both_dbs!(
    a_login_link_works_once_for_its_person_and_sets_a_safe_cookie,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, TEAM, vec![]).await;
        let mut v = Visitor::new(&hub);
        let l = link(&hub, "dana").await;
        assert!(
            l.starts_with(&format!("{}/console/login?token=", hub.base)),
            "{l}"
        );
        // Only the token's hash is stored.
        let token = token_of(&l);
        let stored: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM console_login_links")
            .fetch_all(hub.store().pool())
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0].0, token);
        assert_eq!(stored[0].0, hub::console::secret::hash(&token));

        // Opening the link (a mail scanner would) signs nobody in and uses nothing up.
        for _ in 0..2 {
            let (s, html) = v.get(&format!("/console/login?token={token}")).await;
            assert_eq!(s, 200, "{html}");
            assert!(html.contains(r#"action="/console/login""#), "{html}");
        }
        // Not signed in yet.
        let (s, _) = v.get("/console").await;
        assert_eq!(s, 401);

        let set = v.sign_in(&l).await;
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/console", "Max-Age=43200"] {
            assert!(set.contains(attr), "{set}");
        }
        assert!(!set.contains("Secure"), "http public URL: no Secure: {set}");
        let (s, html) = v.get("/console").await;
        assert_eq!(s, 200, "{html}");
        assert!(html.contains("dana (member)"), "{html}");
        // The session ID is stored hashed as well.
        let session = v.cookie.clone().unwrap();
        let id = session.split('=').nth(1).unwrap();
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM console_sessions WHERE id_hash = $1")
                .bind(hub::console::secret::hash(id))
                .fetch_one(hub.store().pool())
                .await
                .unwrap();
        assert_eq!(n, 1);

        // Used: refused, with no new session.
        let other = Visitor::new(&hub);
        let (s, _, set) = other.post("/console/login", &[("token", &token)]).await;
        assert_eq!(s, 403);
        assert!(set.is_none());
        // A token never issued, and a malformed one.
        let (s, _, _) = other
            .post("/console/login", &[("token", &"ab".repeat(32))])
            .await;
        assert_eq!(s, 403);
        let (s, _) = other.get("/console/login?token=nothex").await;
        assert_eq!(s, 403);

        // Expired: refused although never used.
        let old = hub::console::secret::new_secret();
        hub.store()
            .insert_login_link(
                &hub::console::secret::hash(&old),
                "dana",
                hub::store::now_ms() - 1,
            )
            .await
            .unwrap();
        let (s, _, set) = other.post("/console/login", &[("token", &old)]).await;
        assert_eq!(s, 403);
        assert!(set.is_none());
        // A link for someone not in the config cannot be made.
        let e = hub
            .running
            .as_ref()
            .unwrap()
            .state
            .console
            .links
            .mint("mallory")
            .await;
        assert!(e.is_err());

        let audit = hub.store().audit_for("person:dana").await.unwrap();
        assert!(
            audit
                .iter()
                .any(|(_, action, source)| action == "console.login" && source == "web"),
            "{audit:?}"
        );
        hub.stop().await;
    }
);

both_dbs!(
    every_post_needs_the_session_csrf_token_and_logout_ends_the_session,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, TEAM, vec![]).await;
        let mut v = Visitor::new(&hub);
        v.sign_in(&link(&hub, "dana").await).await;
        let csrf = v.csrf().await;
        for (path, form) in [
            ("/console/inbox/read", vec![]),
            ("/console/inbox/read", vec![("csrf", "0".repeat(64))]),
            ("/console/logout", vec![]),
            ("/console/tasks", vec![("title", "Sneaky".to_string())]),
        ] {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (s, _, _) = v.post(path, &form).await;
            assert_eq!(s, 403, "{path} without the token");
        }
        assert!(hub.task_titles().await.is_empty(), "nothing was created");
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM console_reads")
            .fetch_one(hub.store().pool())
            .await
            .unwrap();
        assert_eq!(n, 0, "nothing was marked read");
        // With it: done.
        let (s, to, _) = v.post("/console/inbox/read", &[("csrf", &csrf)]).await;
        assert_eq!((s, to.as_str()), (303, "/console"));

        // A POST without a session at all.
        let stranger = Visitor::new(&hub);
        let (s, _, _) = stranger
            .post("/console/inbox/read", &[("csrf", &csrf)])
            .await;
        assert_eq!(s, 401);

        // Logout revokes the session server-side: the old cookie is dead.
        let (s, to, set) = v.post("/console/logout", &[("csrf", &csrf)]).await;
        assert_eq!((s, to.as_str()), (303, "/console/login"));
        assert!(set.unwrap().contains("Max-Age=0"));
        let (s, _) = v.get("/console").await;
        assert_eq!(s, 401);
        let (s, html) = v.get("/console/login").await;
        assert_eq!(s, 200);
        assert!(html.contains("/login"), "{html}");
        hub.stop().await;
    }
);

both_dbs!(
    a_viewer_sees_no_approve_button_and_a_forged_approval_is_refused,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, TEAM, vec![]).await;
        let (s, created) = hub
            .post(
                "/api/v1/decisions",
                json!({"kind": "deploy", "context": "Ship v2?\nAll checks green."}),
            )
            .await;
        assert_eq!(s, 201, "{created}");
        let id = created["id"].as_i64().unwrap();
        let resolve = format!("/console/decisions/{id}/resolve");

        let mut vic = Visitor::new(&hub);
        vic.sign_in(&link(&hub, "vic").await).await;
        let (s, html) = vic.get("/console/decisions").await;
        assert_eq!(s, 200);
        assert!(html.contains("Ship v2?"), "{html}");
        assert!(
            !html.contains(&resolve),
            "no approve form for a viewer: {html}"
        );
        let csrf = vic.csrf().await;
        let (s, _, _) = vic
            .post(
                &resolve,
                &[("csrf", &csrf), ("outcome", "approve"), ("reason", "lgtm")],
            )
            .await;
        assert_eq!(s, 403);
        let (_, d) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(d["status"], "pending", "{d}");

        // The email's Approve link opens a confirm page: a GET decides nothing.
        let mut dana = Visitor::new(&hub);
        dana.sign_in(&link(&hub, "dana").await).await;
        let (s, html) = dana
            .get(&format!("/console/decisions/{id}?action=approve"))
            .await;
        assert_eq!(s, 200);
        assert!(html.contains("Confirm approve"), "{html}");
        let (_, d) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(d["status"], "pending");
        // A denial needs a reason; an unknown outcome is refused; both write nothing.
        let csrf = dana.csrf().await;
        let (s, _, _) = dana
            .post(&resolve, &[("csrf", &csrf), ("outcome", "deny")])
            .await;
        assert_eq!(s, 400);
        let (s, _, _) = dana
            .post(&resolve, &[("csrf", &csrf), ("outcome", "maybe")])
            .await;
        assert_eq!(s, 400);
        let (_, d) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(d["status"], "pending");

        // The approver decides, with a reason, through the chat/API path.
        let (s, to, _) = dana
            .post(
                &resolve,
                &[
                    ("csrf", &csrf),
                    ("outcome", "approve"),
                    ("reason", "checks are green"),
                ],
            )
            .await;
        assert_eq!(s, 303);
        assert_eq!(
            to,
            format!("/console/decisions?resolved={id}&outcome=approve")
        );
        let (_, d) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(d["status"], "approved", "{d}");
        assert_eq!(d["decided_by"], "dana");
        assert_eq!(d["reasoning"], "checks are green");
        let audit = hub
            .store()
            .audit_for(&format!("decision:{id}"))
            .await
            .unwrap();
        assert_eq!(
            audit[0],
            ("dana".into(), "decision.resolve".into(), "web".into())
        );
        // A second resolution is a conflict, as in chat.
        let (s, _, _) = dana
            .post(
                &resolve,
                &[("csrf", &csrf), ("outcome", "deny"), ("reason", "no")],
            )
            .await;
        assert_eq!(s, 409);
        let (_, html) = dana.get(&to).await;
        assert!(
            html.contains(&format!("You approved decision #{id}.")),
            "{html}"
        );
        hub.stop().await;
    }
);

both_dbs!(
    the_inbox_shows_fyi_items_unread_and_streams_new_ones,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, TEAM, vec![]).await;
        let mut v = Visitor::new(&hub);
        v.sign_in(&link(&hub, "dana").await).await;
        let (s, n) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "dana", "urgency": "fyi", "title": "Nightly <report>", "text": "all fine"}),
            )
            .await;
        assert_eq!(s, 201, "{n}");
        let id = n["id"].as_str().unwrap().to_string();
        hub.settled(&id).await;
        let (s, html) = v.get("/console").await;
        assert_eq!(s, 200);
        assert!(html.contains("Nightly &lt;report&gt;"), "{html}");
        assert!(html.contains("unread"), "{html}");
        assert!(html.contains(r#"id="unread-count">1<"#), "{html}");
        // Someone else's inbox does not have it, nor its detail page.
        let mut vic = Visitor::new(&hub);
        vic.sign_in(&link(&hub, "vic").await).await;
        let (_, html) = vic.get("/console").await;
        assert!(!html.contains("Nightly"), "{html}");
        let (s, _) = vic.get(&format!("/console/notifications/{id}")).await;
        assert_eq!(s, 404);
        // The recipient sees its delivery story.
        let (s, html) = v.get(&format!("/console/notifications/{id}")).await;
        assert_eq!(s, 200);
        assert!(
            html.contains("<td>web</td>") && html.contains("<td>sent</td>"),
            "{html}"
        );

        // Marked read: no longer unread.
        let csrf = v.csrf().await;
        v.post("/console/inbox/read", &[("csrf", &csrf)]).await;
        let (_, html) = v.get("/console").await;
        assert!(!html.contains("unread-count"), "{html}");

        // Live: the session's EventSource gets the next one, without a key.
        let mut stream = v
            .http
            .get(format!("{}/console/events", v.base))
            .header("cookie", v.cookie.clone().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        assert!(
            stream.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        hub.post(
            "/api/v1/notifications",
            json!({"to": "dana", "urgency": "fyi", "title": "Live one", "text": "x"}),
        )
        .await;
        // Someone else's item is not on this stream.
        hub.post(
            "/api/v1/notifications",
            json!({"to": "vic", "urgency": "fyi", "title": "Not for dana", "text": "x"}),
        )
        .await;
        let mut seen = String::new();
        let got = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(chunk) = stream.chunk().await.unwrap() {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains("Live one") {
                    return;
                }
            }
        })
        .await;
        assert!(got.is_ok(), "{seen}");
        assert!(seen.contains("event: message"), "{seen}");
        assert!(!seen.contains("Not for dana"), "{seen}");
        // Without a session: refused.
        let (s, _) = Visitor::new(&hub).get("/console/events").await;
        assert_eq!(s, 401);
        hub.stop().await;
    }
);

both_dbs!(
    a_person_removed_from_the_config_loses_their_sessions_at_start,
    |db: &TestDb| async move {
        let extra = "[[people]]\nid = \"temp\"\nrole = \"admin\"\npush = [\"console\"]\n";
        let hub = TestHub::start(db, &format!("{TEAM}{extra}"), vec![]).await;
        let mut v = Visitor::new(&hub);
        v.sign_in(&link(&hub, "temp").await).await;
        let (s, _) = v.get("/console").await;
        assert_eq!(s, 200);
        hub.stop().await;

        let hub = TestHub::start(db, TEAM, vec![]).await;
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM console_sessions WHERE person_id = 'temp'")
                .fetch_one(hub.store().pool())
                .await
                .unwrap();
        assert_eq!(n, 0);
        v.base = hub.base.clone();
        let (s, _) = v.get("/console").await;
        assert_eq!(s, 401);
        hub.stop().await;
    }
);

both_dbs!(
    pages_follow_the_command_layer_rules,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, TEAM, vec![]).await;
        let mut dana = Visitor::new(&hub);
        dana.sign_in(&link(&hub, "dana").await).await;
        let csrf = dana.csrf().await;
        // Create and assign through the command layer.
        let (s, to, _) = dana
            .post(
                "/console/tasks",
                &[
                    ("csrf", &csrf),
                    ("title", "Write the <docs>"),
                    ("project", "website"),
                    ("assignee", "me"),
                ],
            )
            .await;
        assert_eq!(s, 303, "{to}");
        let (_, tasks) = hub.get("/api/v1/tasks").await;
        let t = &tasks["tasks"][0];
        assert_eq!(t["title"], "Write the <docs>");
        assert_eq!(t["status"], "assigned", "{t}");
        let id = t["id"].as_i64().unwrap();
        let (_, html) = dana.get("/console/tasks?project=website").await;
        assert!(html.contains("Write the &lt;docs&gt;"), "{html}");
        // A move the lifecycle does not allow is refused with its reason.
        let (s, _, _) = dana
            .post(
                &format!("/console/tasks/{id}/move"),
                &[("csrf", &csrf), ("verb", "done")],
            )
            .await;
        assert_eq!(s, 409);
        let (s, _, _) = dana
            .post(
                &format!("/console/tasks/{id}/move"),
                &[("csrf", &csrf), ("verb", "start")],
            )
            .await;
        assert_eq!(s, 303);
        let (_, t) = hub.get(&format!("/api/v1/tasks/{id}")).await;
        assert_eq!(t["task"]["status"], "in_progress", "{t}");
        let audit = hub.store().audit_for(&format!("task:{id}")).await.unwrap();
        assert!(
            audit.iter().all(|(_, _, source)| source == "web"),
            "{audit:?}"
        );

        // A viewer may look but not create.
        let mut vic = Visitor::new(&hub);
        vic.sign_in(&link(&hub, "vic").await).await;
        let (s, html) = vic.get("/console/tasks").await;
        assert_eq!(s, 200);
        assert!(
            !html.contains(r#"method="post" action="/console/tasks""#),
            "{html}"
        );
        let vcsrf = vic.csrf().await;
        let (s, _, _) = vic
            .post("/console/tasks", &[("csrf", &vcsrf), ("title", "nope")])
            .await;
        assert_eq!(s, 403);

        // The read-only pages answer.
        for page in [
            "/console/brief",
            "/console/costs",
            "/console/agents",
            "/console/decisions",
        ] {
            let (s, html) = vic.get(page).await;
            assert_eq!(s, 200, "{page}: {html}");
            assert!(html.contains("<h1>"), "{page}");
        }
        let (s, _) = vic.get("/console/brief?date=yesterday").await;
        assert_eq!(s, 400);
        let (s, css) = vic.get("/console/static/console.css").await;
        assert_eq!(s, 200);
        assert!(css.contains("@media"));
        hub.stop().await;
    }
);
