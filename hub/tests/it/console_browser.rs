//! The web console in a real browser: headless Chromium driven over
//! WebDriver (chromedriver, Debian packages `chromium` and
//! `chromium-driver`; `.ci/run` installs them). One person's morning:
//! `/login` on the Telegram test server gives a link, the link signs in
//! once, an `fyi` item appears in the inbox without a reload, a decision
//! approved with a reason edits its Telegram and Slack copies on the test
//! servers, forms without the CSRF token are refused, a viewer gets no
//! Approve button and a forged approval is 403, an expired link is
//! refused, and the pages fit a phone. With ORKHUB_SCREENSHOTS=1 the
//! main pages are saved to docs/screenshots/.

use crate::common;
use common::TestDb;
use common::server::TestHub;
use common::slack_server::{BOT_TOKEN, SlackServer};
use common::telegram_server::TelegramServer;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DANA: i64 = 555;
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

const TEAM: &str = r##"
[approvers]
"deploy" = ["dana", "sally"]

[[people]]
id = "sally"
role = "member"
push = ["slack"]
identities = { slack = "U777" }

[[people]]
id = "vic"
role = "viewer"
push = ["console"]
"##;

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        let bin = "/usr/bin/chromedriver";
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: apt-get install -y chromium chromium-driver (see .ci/run)"
        );
        let port = common::binary::free_port();
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver { child, url }
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                // As root Chromium needs --no-sandbox.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"]
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until `check` holds (polling), or fail naming `what`.
async fn eventually<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's text, read in one script (a page that is being replaced
/// gives "", not a stale element).
async fn text(c: &Client) -> String {
    c.execute(
        "return document.body ? document.body.innerText : '';",
        vec![],
    )
    .await
    .ok()
    .and_then(|v| v.as_str().map(str::to_string))
    .unwrap_or_default()
}

/// POST a form from the page with fetch (as a forged request would be
/// sent from a browser holding the session): the status.
async fn fetch_post(c: &Client, path: &str, body: &str) -> u16 {
    let v = c
        .execute_async(
            "const [path, body, done] = arguments; \
             fetch(path, {method: 'POST', body, redirect: 'manual', \
               headers: {'content-type': 'application/x-www-form-urlencoded'}}) \
             .then(r => done(r.status)).catch(e => done(String(e)));",
            vec![json!(path), json!(body)],
        )
        .await
        .unwrap();
    v.as_u64().unwrap_or_else(|| panic!("fetch failed: {v}")) as u16
}

async fn csrf_of(c: &Client) -> String {
    c.find(Locator::Css("input[name=csrf]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap()
}

async fn screenshot(c: &Client, name: &str) {
    if std::env::var_os("ORKHUB_SCREENSHOTS").is_none() {
        return;
    }
    let png = c.screenshot().await.unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshots");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
}

async fn fits_the_window(c: &Client) -> bool {
    c.execute(
        "return document.documentElement.scrollWidth <= window.innerWidth;",
        vec![],
    )
    .await
    .unwrap()
        == json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_morning_in_the_console_in_chromium() {
    let db = TestDb::sqlite().await;
    let tg = TelegramServer::start().await;
    tg.add_chats(&[DANA]);
    let slack = SlackServer::start(&[]).await;
    let toml = format!(
        "{}[adapters.slack]\nenabled = true\nbot_token = \"{BOT_TOKEN}\"\nsigning_secret = \"{SLACK_SECRET}\"\napi_url = \"{}\"\n{TEAM}",
        tg.config(""),
        slack.api_url()
    );
    let hub = TestHub::start(&db, &toml, vec![]).await;
    let driver = Driver::start().await;
    let c = driver.browser().await;

    // /login in the private chat with the bot: a link, privately.
    tg.push_message(DANA, DANA, "/login");
    tg.wait_for("the login link", 10, |t| {
        t.messages(DANA)
            .iter()
            .any(|m| m.text.contains("/console/login?token="))
    })
    .await;
    let link = tg
        .messages(DANA)
        .iter()
        .flat_map(|m| {
            m.text
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .find(|w| w.contains("/console/login?token="))
        .unwrap();
    assert!(link.starts_with(&hub.base), "{link}");
    // The link is a credential: sent directly, never kept by the hub (no
    // outbox row, no reply saved for a redelivered update).
    let token = link.rsplit("token=").next().unwrap_or_default().to_string();
    let (kept,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM notifications WHERE body LIKE $1 OR fields LIKE $1)
              + (SELECT COUNT(*) FROM inbound_requests WHERE reply LIKE $1)",
    )
    .bind(format!("%{token}%"))
    .fetch_one(hub.store().pool())
    .await
    .unwrap();
    assert_eq!(kept, 0, "the login link was stored");

    c.goto(&link).await.unwrap();
    c.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the inbox after signing in", 10, || async {
        c.current_url().await.unwrap().path() == "/console"
    })
    .await;
    assert!(text(&c).await.contains("dana (member)"));

    // The same link again: refused (the session above is unaffected).
    c.goto(&link).await.unwrap();
    c.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the refusal", 10, || async {
        text(&c).await.contains("This login link is not valid")
    })
    .await;

    // An fyi item arrives while the inbox is open: shown without a reload.
    c.goto(&format!("{}/console", hub.base)).await.unwrap();
    eventually("the live feed to connect", 10, || async {
        text(&c).await.contains("Live: new items appear")
    })
    .await;
    let marker = c
        .execute("window.__same_page = 42; return 1;", vec![])
        .await
        .unwrap();
    assert_eq!(marker, json!(1));
    let (s, n) = hub
        .post(
            "/api/v1/notifications",
            json!({"to": "dana", "urgency": "fyi", "title": "Nightly report", "text": "All 14 jobs passed."}),
        )
        .await;
    assert_eq!(s, 201, "{n}");
    eventually("the fyi item in the inbox", 10, || async {
        text(&c).await.contains("Nightly report")
    })
    .await;
    let same = c
        .execute("return window.__same_page === 42;", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the page was not reloaded");
    // Without the CSRF token a form is refused; with it, accepted.
    assert_eq!(fetch_post(&c, "/console/inbox/read", "").await, 403);
    let csrf = csrf_of(&c).await;
    let ok = fetch_post(&c, "/console/inbox/read", &format!("csrf={csrf}")).await;
    assert!(ok == 303 || ok == 0 || ok == 200, "{ok}");
    c.refresh().await.unwrap();
    screenshot(&c, "inbox").await;

    // A decision: to dana on Telegram, sally on Slack, the owner on the console.
    let (s, created) = hub
        .post(
            "/api/v1/decisions",
            json!({"kind": "deploy", "context": "Ship v2.3 to production?\nAll checks are green; the migration is backwards compatible.", "options": ["ship", "wait"]}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    hub.settled_all(&created).await;
    tg.wait_for("the Telegram copy", 10, |t| {
        t.messages(DANA)
            .iter()
            .any(|m| m.text.contains(&format!("Decision #{id}")))
    })
    .await;
    slack
        .wait_for("the Slack copy", |s| s.first_post_to("U777").is_some())
        .await;
    let (slack_channel, slack_ts) = slack.first_post_to("U777").unwrap();

    c.goto(&format!("{}/console/decisions", hub.base))
        .await
        .unwrap();
    screenshot(&c, "decisions").await;
    c.find(Locator::Id(&format!("reason-{id}")))
        .await
        .unwrap()
        .send_keys("Checks are green, ship it")
        .await
        .unwrap();
    c.find(Locator::Css(&format!("#d{id} button.approve")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the confirmation", 10, || async {
        text(&c)
            .await
            .contains(&format!("You approved decision #{id}."))
    })
    .await;
    let (_, d) = hub.get(&format!("/api/v1/decisions/{id}")).await;
    assert_eq!(d["status"], "approved", "{d}");
    assert_eq!(d["reasoning"], "Checks are green, ship it");
    // Every chat copy is edited, as when a chat button decides.
    tg.wait_for("the Telegram copy edited", 10, |t| {
        t.messages(DANA).iter().any(|m| {
            m.text.contains(&format!("Decision #{id}")) && m.edits > 0 && m.text.contains("dana")
        })
    })
    .await;
    slack
        .wait_for("the Slack copy edited", |s| {
            s.calls("chat.update")
                .iter()
                .any(|c| c.outcome == "ok" && c.body["ts"] == slack_ts.as_str())
        })
        .await;
    let shown = serde_json::to_string(&slack.message(&slack_channel, &slack_ts).unwrap()).unwrap();
    assert!(shown.contains("dana"), "{shown}");
    assert!(!shown.contains("\"actions\""), "buttons are gone: {shown}");

    // A phone-sized window: nothing scrolls sideways.
    c.set_window_size(390, 844).await.unwrap();
    for page in [
        "/console",
        "/console/decisions",
        "/console/tasks",
        "/console/costs",
    ] {
        c.goto(&format!("{}{page}", hub.base)).await.unwrap();
        assert!(
            fits_the_window(&c).await,
            "{page} scrolls sideways at 390 px"
        );
    }
    c.goto(&format!("{}/console/decisions", hub.base))
        .await
        .unwrap();
    screenshot(&c, "decisions-phone").await;
    c.set_window_size(1280, 900).await.unwrap();

    // Log out (a button, a POST), then the viewer signs in.
    c.find(Locator::Css("form.logout button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the signed-out page", 10, || async {
        text(&c).await.contains("Signed out")
    })
    .await;
    let (s, pending) = hub
        .post(
            "/api/v1/decisions",
            json!({"kind": "deploy", "context": "Roll back v2.3?"}),
        )
        .await;
    assert_eq!(s, 201, "{pending}");
    let second = pending["id"].as_i64().unwrap();
    let vic_link = hub
        .running
        .as_ref()
        .unwrap()
        .state
        .console
        .links
        .mint("vic")
        .await
        .unwrap();
    c.goto(&vic_link).await.unwrap();
    c.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the viewer's inbox after signing in", 10, || async {
        text(&c).await.contains("vic (viewer)")
    })
    .await;
    c.goto(&format!("{}/console/decisions", hub.base))
        .await
        .unwrap();
    assert!(text(&c).await.contains("Roll back v2.3?"));
    assert!(
        c.find_all(Locator::Css("button.approve"))
            .await
            .unwrap()
            .is_empty(),
        "a viewer sees no Approve button"
    );
    let csrf = csrf_of(&c).await;
    let forged = fetch_post(
        &c,
        &format!("/console/decisions/{second}/resolve"),
        &format!("csrf={csrf}&outcome=approve&reason=sneaky"),
    )
    .await;
    assert_eq!(forged, 403);
    let (_, d) = hub.get(&format!("/api/v1/decisions/{second}")).await;
    assert_eq!(d["status"], "pending", "{d}");

    // An expired link is refused.
    let old = hub::console::secret::new_secret();
    hub.store()
        .insert_login_link(
            &hub::console::secret::hash(&old),
            "dana",
            hub::store::now_ms() - 1,
        )
        .await
        .unwrap();
    c.goto(&format!("{}/console/login?token={old}", hub.base))
        .await
        .unwrap();
    c.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the refusal of an expired link", 10, || async {
        text(&c).await.contains("This login link is not valid")
    })
    .await;

    if std::env::var_os("ORKHUB_SCREENSHOTS").is_some() {
        for (page, name) in [("/console/tasks", "tasks"), ("/console/agents", "agents")] {
            c.goto(&format!("{}{page}", hub.base)).await.unwrap();
            screenshot(&c, name).await;
        }
    }
    c.close().await.unwrap();
    hub.stop().await;
    db.finish().await;
}
