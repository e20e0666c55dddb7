//! Nothing recorded is lost to a crash: the real `orkhub` binary is killed
//! with SIGKILL in the middle of a burst of task creations while its
//! webhook sender is working through the backlog; after a restart every
//! answered task's `task.created` event reaches the receiver, in the order
//! the tasks were recorded (a call the killed instance had in flight may
//! come twice: delivery is at least once).

use crate::common;
use common::TestDb;
use common::receiver::{Receiver, Reply};
use std::collections::HashSet;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET_ENV: &str = "ORKHUB_WEBHOOK_CRASH_SECRET";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Setup {
    dir: tempfile::TempDir,
    port: u16,
}

impl Setup {
    fn new(db: &TestDb, hook: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{}\"\n[brief]\nenabled = false\n\
             [webhook_sender]\ntimeout_secs = 1\nlease_secs = 3\npoll_interval_ms = 20\n\
             [[webhooks]]\nid = \"crash\"\nurl = \"{hook}\"\nevents = [\"task.created\"]\nsecret_env = \"{SECRET_ENV}\"\nbase_backoff_ms = 20\nmax_backoff_ms = 100\n\
             [[people]]\nid = \"ceo\"\nrole = \"owner\"\npush = [\"console\"]\n[[agents]]\nid = \"builder\"\n",
            db.url()
        );
        std::fs::write(dir.path().join("config.toml"), cfg).unwrap();
        Setup { dir, port }
    }

    fn key(&self) -> String {
        let out = common::binary::orkhub(self.dir.path())
            .args([
                "key",
                "create",
                "--agent",
                "builder",
                "--scopes",
                "tasks:write",
            ])
            .env(SECRET_ENV, "s")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    async fn serve(&self) -> Child {
        let mut child = common::binary::orkhub(self.dir.path())
            .arg("serve")
            .env(SECRET_ENV, "s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return child;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("orkhub did not come up");
    }
}

both_dbs!(
    kill_9_mid_burst_loses_no_webhook_event,
    |db: &TestDb| async move {
        let rx = Receiver::start().await;
        // A receiver slower than the burst: a backlog is queued at the kill.
        rx.script("/crash", vec![], Reply::Slow(Duration::from_millis(5)));
        let s = Setup::new(db, &rx.url("/crash"));
        let key = s.key();
        let mut child = s.serve().await;
        let accepted = Arc::new(Mutex::new(Vec::<i64>::new()));
        let http = reqwest::Client::new();
        let handles: Vec<_> = (0..8)
            .map(|c| {
                let (http, key, accepted, port) =
                    (http.clone(), key.clone(), accepted.clone(), s.port);
                tokio::spawn(async move {
                    for i in 0.. {
                        let res = http
                            .post(format!("http://127.0.0.1:{port}/api/v1/tasks"))
                            .bearer_auth(&key)
                            .json(&serde_json::json!({"title": format!("c{c} #{i}")}))
                            .send()
                            .await;
                        match res {
                            Ok(r) if r.status() == 201 => {
                                let t: serde_json::Value = r.json().await.unwrap_or_default();
                                if let Some(id) = t["id"].as_i64() {
                                    accepted.lock().unwrap().push(id);
                                }
                            }
                            _ => break,
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(700)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for h in handles {
            let _ = h.await;
        }
        let accepted: HashSet<i64> = accepted.lock().unwrap().iter().copied().collect();
        let before_restart = rx.calls("/crash").len();
        assert!(
            accepted.len() > 50,
            "burst too small to prove anything: {}",
            accepted.len()
        );
        assert!(
            before_restart < accepted.len(),
            "no backlog at the kill ({before_restart} sent of {})",
            accepted.len()
        );

        let mut child = s.serve().await;
        let deadline = Instant::now() + Duration::from_secs(60);
        let received = loop {
            let got: Vec<i64> = rx
                .calls("/crash")
                .iter()
                .map(|c| c.json()["data"]["task"]["id"].as_i64().unwrap())
                .collect();
            let seen: HashSet<i64> = got.iter().copied().collect();
            if accepted.is_subset(&seen) {
                break got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {} answered tasks never reached the receiver",
                accepted.difference(&seen).count(),
                accepted.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // In the order recorded: each event's first arrival follows the order
        // of the delivery rows (which is commit order, also on PostgreSQL with
        // many writers at once — see ORDER_LOCK in store/webhooks.rs). Task IDs
        // are not: on PostgreSQL they are taken before their commits line up.
        let calls = rx.calls("/crash");
        let mut firsts = Vec::new();
        let mut seen = HashSet::new();
        for c in &calls {
            if seen.insert(c.event_id.clone()) {
                firsts.push(c.event_id.clone());
            }
        }
        let recorded: Vec<(String,)> =
            sqlx::query_as("SELECT event_id FROM webhook_deliveries ORDER BY id")
                .fetch_all(db.store().pool())
                .await
                .unwrap();
        let recorded: Vec<String> = recorded.into_iter().map(|(e,)| e).collect();
        assert_eq!(firsts, recorded[..firsts.len()], "events out of order");
        let repeats = received.len() - firsts.len();
        assert!(
            repeats <= 1,
            "only the call in flight at the kill may repeat: {repeats}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
);
