//! A real SMTP server for the tests: Python's aiosmtpd running
//! tests/smtp/server.py on a free 127.0.0.1 port, saving every message it
//! accepts as raw MIME and answering per recipient from a script (see the
//! script's header). aiosmtpd is installed on first use if missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct SmtpServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// Install aiosmtpd once per test process; a file lock keeps parallel test
/// binaries from running pip at the same time.
fn ensure_aiosmtpd() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let lock = std::fs::File::create(std::env::temp_dir().join("orkhub-aiosmtpd.lock"))
            .expect("lock file");
        lock.lock().expect("lock");
        let present = |_: ()| {
            Command::new("python3")
                .args(["-c", "import aiosmtpd"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !present(()) {
            let ok = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok && present(()),
                "the email tests need Python's aiosmtpd: python3 -m pip install aiosmtpd"
            );
        }
        let _ = lock.unlock();
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// How the test server secures its connections.
pub enum Tls<'a> {
    /// Plain SMTP.
    None,
    /// STARTTLS offered and required, with this certificate chain and key (PEM files).
    Starttls { cert: &'a Path, key: &'a Path },
    /// TLS from the first byte ("SMTPS").
    Implicit { cert: &'a Path, key: &'a Path },
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        Self::start_with(Tls::None)
    }

    pub fn start_with(tls: Tls<'_>) -> SmtpServer {
        ensure_aiosmtpd();
        let tls_args: Vec<std::ffi::OsString> = match tls {
            Tls::None => vec![],
            Tls::Starttls { cert, key } => {
                vec!["starttls".into(), cert.into(), key.into()]
            }
            Tls::Implicit { cert, key } => vec!["tls".into(), cert.into(), key.into()],
        };
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("smtp/server.py");
        let dir = tempfile::tempdir().expect("tempdir");
        // A port freed a moment ago can be taken by someone else: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("python3")
                .arg(&script)
                .arg(port.to_string())
                .arg(dir.path())
                .args(&tls_args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start python3");
            let mut line = String::new();
            let out = child.stdout.take().expect("stdout");
            let _ = BufReader::new(out).read_line(&mut line);
            if line.trim() == "READY" && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return SmtpServer { port, dir, child };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the test SMTP server did not start");
    }

    /// Config for an email adapter pointed at this server (plain SMTP).
    pub fn toml(&self) -> String {
        format!(
            "[adapters.email]\nenabled = true\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"orkhub <hub@orkhub.test>\"\ntimeout_secs = 5\ntemplates_dir = \"{}/../templates\"\n",
            self.port,
            env!("CARGO_MANIFEST_DIR")
        )
    }

    /// Raw messages received so far, in arrival order.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read(p).expect("read message"))
            .collect()
    }

    /// Wait until `n` messages have arrived (and return them all).
    pub async fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "expected {n} emails, got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
