//! The built `orkhub` binary, for tests that run it as a user would (kill -9,
//! several instances on one database).

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_orkhub");

/// `orkhub` run in `dir` (where its config.toml is), logging warnings only.
pub fn orkhub(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir).env("ORKHUB_LOG", "warn");
    c
}

/// A new key for the agent `builder` that may post and read notifications,
/// made with `orkhub key create` in `dir`.
pub fn notifications_key(dir: &Path) -> String {
    let out = orkhub(dir)
        .args([
            "key",
            "create",
            "--agent",
            "builder",
            "--scopes",
            "notifications:write,notifications:read",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `orkhub serve` process with a config.toml of its own in a temporary
/// folder (its log in `stderr.log` there), killed with SIGKILL when dropped.
pub struct Instance {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<std::process::Child>,
}

impl Instance {
    /// `config`: everything but `[server]`, which listens on a free port.
    pub fn new(config: &str) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = format!("[server]\nlisten = \"127.0.0.1:{port}\"\n{config}");
        std::fs::write(dir.path().join("config.toml"), cfg).unwrap();
        Instance {
            dir,
            port,
            child: None,
        }
    }

    pub fn cmd(&self) -> Command {
        orkhub(self.dir.path())
    }

    /// A key for `builder` (see [`notifications_key`]).
    pub fn key(&self) -> String {
        notifications_key(self.dir.path())
    }

    /// Start serving and wait until /healthz answers.
    pub async fn serve(&mut self) {
        let child = self
            .cmd()
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(30) {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("orkhub did not come up");
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
        let log: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("digest_channel"))
            .collect();
        log[log.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGKILL, and wait for the process to end.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}
