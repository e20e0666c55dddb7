//! A running hub for tests: real HTTP server on 127.0.0.1, real database,
//! console output captured, optional scripted adapters.

use super::TestDb;
use adapters::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use commands::RichMessage;
use hub::app::{Options, Running};
use hub::config::Config;
use routing::ChannelKind;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedReceiver;

pub const PEOPLE: &str = r##"
[[people]]
id = "ceo"
role = "owner"
time_zone = "Europe/Kyiv"
email = "ceo@example.com"
push = ["console"]

[[people]]
id = "dana"
role = "member"
push = ["telegram", "console"]
identities = { telegram = "555" }

[[agents]]
id = "builder"
capabilities = ["rust"]

[[projects]]
id = "website"

[[channels]]
id = "eng"
project = "website"
bindings = { console = "#eng" }
"##;

pub struct TestHub {
    pub running: Option<Running>,
    pub base: String,
    pub key: String,
    pub console: UnboundedReceiver<String>,
    pub http: reqwest::Client,
}

pub const ALL_SCOPES: &[&str] = hub::api::auth::SCOPES;

impl TestHub {
    pub async fn start(db: &TestDb, extra_toml: &str, adapters: Vec<Arc<dyn Adapter>>) -> TestHub {
        // Scheduled briefs would reach every test's console at 09:00 local;
        // tests of the brief turn them on with their own [brief] table.
        let brief = if extra_toml.contains("[brief") {
            ""
        } else {
            "[brief]\nenabled = false\n"
        };
        // The watchers' cron ticks (every 5 and 15 minutes) would tell the
        // console about budgets and silent agents in the middle of other
        // tests; tests of the watchers write their own [watchers] table.
        let brief = if extra_toml.contains("[watchers") {
            brief.to_string()
        } else {
            format!("{brief}[watchers]\nenabled = false\n")
        };
        // Fast retries; a test's own [outbox] table adds to these.
        let outbox = "[outbox]\nbase_backoff_ms = 20\nmax_backoff_ms = 200\npoll_interval_ms = 50\nmax_attempts = 3\n";
        let (outbox, extra_toml) = match extra_toml.split_once("[outbox]\n") {
            Some((before, after)) => (String::new(), format!("{before}{outbox}{after}")),
            None => (outbox.to_string(), extra_toml.to_string()),
        };
        // The same for [server]: a test's own table adds to these.
        let server = "[server]\nlisten = \"127.0.0.1:0\"\nbody_limit_bytes = 65536\n";
        let (server, extra_toml) = match extra_toml.split_once("[server]\n") {
            Some((before, after)) => (String::new(), format!("{before}{server}{after}")),
            None => (server.to_string(), extra_toml),
        };
        let toml = format!(
            "{server}[database]\nurl = \"{}\"\n{outbox}{brief}{extra_toml}\n{PEOPLE}",
            db.url()
        );
        let config = Config::from_toml(&toml).expect("test config");
        let (tx, console) = tokio::sync::mpsc::unbounded_channel();
        let running = hub::app::start(
            config,
            Options {
                console_output: Some(adapters::console::ConsoleOutput::Channel(tx)),
                extra_adapters: adapters,
            },
        )
        .await
        .expect("hub starts");
        let key = make_key(&running.store, ALL_SCOPES).await;
        TestHub {
            base: format!("http://{}", running.addr),
            running: Some(running),
            key,
            console,
            http: reqwest::Client::new(),
        }
    }

    pub fn store(&self) -> &hub::store::Store {
        &self.running.as_ref().expect("running").store
    }

    /// The chat commands' backend the running hub built.
    pub fn backend(&self) -> &hub::backend::HubBackend {
        &self.running.as_ref().expect("running").state.backend
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.post_with(path, &self.key, body, None).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        key: &str,
        body: serde_json::Value,
        idem: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body);
        if let Some(k) = idem {
            req = req.header("Idempotency-Key", k);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Wait until a notification's deliveries all left the outbox.
    pub async fn settled(&self, id: &str) -> serde_json::Value {
        for _ in 0..200 {
            let (_, body) = self.get(&format!("/api/v1/notifications/{id}")).await;
            let busy = body["deliveries"].as_array().is_some_and(|ds| {
                ds.iter()
                    .any(|d| d["status"] == "pending" || d["status"] == "sending")
            });
            if !busy {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("notification {id} did not settle");
    }

    /// Wait until each notification of a just-requested decision settled,
    /// so every copy (and its platform message ID) is there.
    pub async fn settled_all(&self, decision: &serde_json::Value) {
        for n in decision["notifications"].as_array().unwrap() {
            self.settled(n["id"].as_str().unwrap()).await;
        }
    }

    /// Post an urgent notification (its answer unchecked) and wait until it
    /// settled: the settled notification.
    pub async fn urgent_settled(&self, to: &str, text: &str) -> serde_json::Value {
        let (_, n) = self
            .post(
                "/api/v1/notifications",
                serde_json::json!({"to": to, "urgency": "urgent", "text": text}),
            )
            .await;
        self.settled(n["id"].as_str().unwrap()).await
    }

    /// The next line the console adapter printed.
    pub async fn next_console(&mut self) -> String {
        tokio::time::timeout(std::time::Duration::from_secs(5), self.console.recv())
            .await
            .expect("console line within 5 s")
            .expect("console open")
    }

    /// The Prometheus scrape of /metrics.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The single number a `SELECT COUNT(*) ...` returns.
    pub async fn count(&self, sql: &'static str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(self.store().pool())
            .await
            .expect("count");
        n
    }

    /// Wait (up to 10 s) until `sql`'s count is `n`, as a send's outcome
    /// is recorded a moment after the platform got it; the last count.
    pub async fn count_reaches(&self, sql: &'static str, n: i64) -> i64 {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let got = self.count(sql).await;
            if got == n || std::time::Instant::now() > until {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// The titles of the tasks the API lists.
    pub async fn task_titles(&self) -> Vec<String> {
        let (_, tasks) = self.get("/api/v1/tasks").await;
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_string())
            .collect()
    }

    /// A key for another agent than the test key's `builder` (an agent may
    /// not answer its own decision request).
    pub async fn key_for(&self, agent: &str, scopes: &[&str]) -> String {
        agent_key(self.store(), agent, scopes).await
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// A key for `builder`, the test key's agent, with only `scopes`.
pub async fn make_key(store: &hub::store::Store, scopes: &[&str]) -> String {
    agent_key(store, "builder", scopes).await
}

async fn agent_key(store: &hub::store::Store, agent: &str, scopes: &[&str]) -> String {
    let (id, key, hash) = hub::api::auth::generate_key();
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    store
        .insert_key(&id, agent, &hash, &scopes, None, "test")
        .await
        .expect("key");
    key
}

/// The delivery of a notification on `channel`.
pub fn delivery<'a>(status: &'a serde_json::Value, channel: &str) -> &'a serde_json::Value {
    status["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == channel)
        .unwrap_or_else(|| panic!("no {channel} delivery in {status}"))
}

/// A notification's deliveries as (channel, status), in order.
pub fn channel_statuses(status: &serde_json::Value) -> Vec<(&str, &str)> {
    status["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["channel"].as_str().unwrap(),
                d["status"].as_str().unwrap(),
            )
        })
        .collect()
}

/// An adapter that answers from a script (then succeeds), recording every
/// call in order: (address, text).
pub struct ScriptedAdapter {
    pub kind: ChannelKind,
    pub script: Mutex<VecDeque<Result<(), SendError>>>,
    pub calls: Mutex<Vec<(String, String, bool)>>,
}

impl ScriptedAdapter {
    pub fn new(kind: ChannelKind, script: Vec<Result<(), SendError>>) -> Arc<Self> {
        Arc::new(ScriptedAdapter {
            kind,
            script: Mutex::new(script.into()),
            calls: Mutex::new(Vec::new()),
        })
    }

    /// Texts that were delivered successfully, in order.
    pub fn delivered(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.2)
            .map(|c| c.1.clone())
            .collect()
    }
}

#[async_trait]
impl Adapter for ScriptedAdapter {
    fn kind(&self) -> ChannelKind {
        self.kind
    }
    async fn send(&self, to: &Destination, m: &RichMessage) -> Result<Sent, SendError> {
        let next = self.script.lock().unwrap().pop_front().unwrap_or(Ok(()));
        self.calls
            .lock()
            .unwrap()
            .push((to.address.clone(), m.text.clone(), next.is_ok()));
        next.map(|_| Sent {
            platform_message_id: Some(format!("m{}", self.calls.lock().unwrap().len())),
        })
    }
    async fn edit(&self, _: &Destination, _: &str, _: &RichMessage) -> Result<(), SendError> {
        Ok(())
    }
}

/// Start a hub with the same base config as [`TestHub::start`] and return
/// the start's error, for tests of a start that must fail. Panics when it
/// starts.
pub async fn start_error(db: &TestDb, extra_toml: &str) -> anyhow::Error {
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{}\"\n[brief]\nenabled = false\n{extra_toml}\n{PEOPLE}",
        db.url()
    );
    let config = Config::from_toml(&toml).expect("test config");
    match hub::app::start(
        config,
        Options {
            console_output: None,
            extra_adapters: vec![],
        },
    )
    .await
    {
        Ok(running) => {
            running.shutdown().await;
            panic!("the hub started");
        }
        Err(e) => e,
    }
}
