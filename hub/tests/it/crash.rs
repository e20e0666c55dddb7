//! Nothing accepted is lost: kill -9 in the middle of a burst, restart, and
//! every notification that was answered 2xx is there and gets delivered.
//! SIGTERM drains: the process exits cleanly with everything accepted stored.
//! These run the real `orkhub` binary.

use crate::common;
use common::TestDb;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    fn new(db: &TestDb) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{}\"\n[outbox]\nlease_secs = 3\n[brief]\nenabled = false\n[[people]]\nid = \"ceo\"\nrole = \"owner\"\npush = [\"console\"]\n[[agents]]\nid = \"builder\"\n",
            db.url()
        );
        std::fs::write(dir.path().join("config.toml"), cfg).unwrap();
        Setup { dir, port }
    }

    fn cmd(&self) -> Command {
        common::binary::orkhub(self.dir.path())
    }

    fn key(&self) -> String {
        common::binary::notifications_key(self.dir.path())
    }

    async fn serve(&self) -> Child {
        let mut child = self
            .cmd()
            .arg("serve")
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

/// Post from `clients` loops until the server stops answering; returns the IDs answered 201.
fn burst(
    port: u16,
    key: String,
    clients: usize,
) -> (Arc<Mutex<Vec<String>>>, Vec<tokio::task::JoinHandle<()>>) {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let http = reqwest::Client::new();
    let handles = (0..clients)
        .map(|c| {
            let (http, key, accepted) = (http.clone(), key.clone(), accepted.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let res = http
                        .post(format!("http://127.0.0.1:{port}/api/v1/notifications"))
                        .bearer_auth(&key)
                        .json(&serde_json::json!({"to": "ceo", "urgency": "urgent", "text": format!("c{c} #{i}")}))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status() == 201 => {
                            let body: serde_json::Value = r.json().await.unwrap_or_default();
                            if let Some(id) = body["id"].as_str() {
                                accepted.lock().unwrap().push(id.to_string());
                            }
                        }
                        _ => break,
                    }
                }
            })
        })
        .collect();
    (accepted, handles)
}

both_dbs!(kill_9_mid_burst_loses_nothing, |db: &TestDb| async move {
    let s = Setup::new(db);
    let key = s.key();
    let mut child = s.serve().await;
    let (accepted, handles) = burst(s.port, key.clone(), 16);
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for h in handles {
        let _ = h.await;
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > 50,
        "burst too small to prove anything: {}",
        accepted.len()
    );

    let mut child = s.serve().await;
    // A crashed instance's claims are released when their lease (3 s here) ends.
    let store = db.store();
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in &accepted {
        loop {
            let got = store.notification(id).await.unwrap();
            let (_, ds) = got.unwrap_or_else(|| panic!("accepted notification {id} was lost"));
            if ds.iter().all(|d| d.status == "sent") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{id} not delivered after restart: {ds:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_cleanly() {
    let db = TestDb::sqlite().await;
    let s = Setup::new(&db);
    let key = s.key();
    let mut child = s.serve().await;
    let (accepted, handles) = burst(s.port, key, 8);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "did not stop within 15 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    for h in handles {
        let _ = h.await;
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(!accepted.is_empty());
    for id in &accepted {
        assert!(
            db.store().notification(id).await.unwrap().is_some(),
            "accepted {id} lost on SIGTERM"
        );
    }
    db.finish().await;
}
