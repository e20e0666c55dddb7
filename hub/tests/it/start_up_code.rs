//! `orkhub serve` hands back memory it no longer needs (hub/src/memory.rs,
//! hub/src/memory_trim.rs): the code pages only starting needed, once it is
//! up, and every `server.memory_trim_secs` the code rare work ran since.

use crate::common;

use common::binary::{free_port, orkhub};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

/// A hub started in `dir` with `extra` in its `[server]` section, logging
/// the memory module's debug lines to `dir/stderr.log`; waits until it
/// answers.
async fn start(dir: &Path, extra: &str) -> (Child, u16) {
    let port = free_port();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n[[people]]\nid = \"ceo\"\nrole = \"owner\"\n"
        ),
    )
    .unwrap();
    let mut child = orkhub(dir)
        .env("ORKHUB_LOG", "warn,orkhub=debug,hub::memory_trim=debug")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..600 {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (child, port);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("orkhub did not come up:\n{}", log(dir));
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
}

/// The `code_kb` of every log line holding `message`.
fn code_kb(text: &str, message: &str) -> Vec<usize> {
    text.lines()
        .filter(|l| l.contains(message))
        .filter_map(|l| l.split("code_kb=").nth(1))
        .filter_map(|v| v.split_whitespace().next())
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// The `code_kb` of the log lines holding `message`, once there is one
/// (or `secs` have passed: then none).
async fn logged_code_kb(dir: &Path, message: &str, secs: u64) -> Vec<usize> {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let found = code_kb(&log(dir), message);
        if !found.is_empty() || std::time::Instant::now() >= until {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_started_hub_hands_back_its_start_up_code() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _) = start(dir.path(), "").await;
    // The hub answers as soon as it listens, a moment before `serve` hands
    // the start-up code back.
    let released_kb = logged_code_kb(dir.path(), "start-up code pages handed back", 5).await;
    let resident_kb = resident_code_kb(child.id());
    let early = log(dir.path());
    // With the default interval (30 s) the first periodic pass still comes
    // 5 s after start (memory_trim::FIRST_PASS), for the catch-up brief.
    let passes = logged_code_kb(dir.path(), "memory_trim: code pages handed back", 8).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let text = log(dir.path());
    let released_kb = *released_kb
        .first()
        .unwrap_or_else(|| panic!("no release in the log:\n{text}"));
    assert!(released_kb > 1024, "released only {released_kb} kB");
    assert!(
        resident_kb < released_kb,
        "{resident_kb} kB of code resident after {released_kb} kB were released"
    );
    assert!(
        code_kb(&early, "memory_trim: code pages handed back").is_empty(),
        "a periodic pass before its time:\n{early}"
    );
    assert_eq!(passes.len(), 1, "the first pass, once, within 8 s:\n{text}");
}

/// Code that a request ran (the OpenAPI document is built on request) is
/// resident after it, and gone again after the next pass.
#[tokio::test]
async fn a_running_hub_hands_back_the_code_rare_work_ran() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start(dir.path(), "memory_trim_secs = 1").await;
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    // A pass may fall between the requests and the first reading; three
    // tries make that a one-in-a-million event.
    for _ in 0..3 {
        for path in ["/api/v1/openapi.json", "/metrics", "/console/login"] {
            let r = client
                .get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
        }
        let after_requests = resident_code_kb(child.id());
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let after_pass = resident_code_kb(child.id());
        seen.push((after_requests, after_pass));
        if after_pass + 256 < after_requests {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = log(dir.path());
    assert!(
        seen.iter().any(|(req, pass)| pass + 256 < *req),
        "resident code (after the requests, after a pass) in kB: {seen:?}\n{text}"
    );
    let passes = code_kb(&text, "memory_trim: code pages handed back");
    assert!(passes.len() >= 2, "periodic passes: {passes:?}\n{text}");
    assert!(
        passes.iter().any(|kb| *kb > 256),
        "no pass handed back code: {passes:?}"
    );
}

/// Resident kB of the process's executable code (its `r-xp` mappings of
/// its own file).
fn resident_code_kb(pid: u32) -> usize {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut total = 0;
    let mut ours = false;
    for line in smaps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first()
            .is_some_and(|a| a.contains('-') && !a.ends_with(':'))
            && f.len() >= 5
        {
            ours = f[1] == "r-xp" && f.get(5).is_some_and(|p| Path::new(p) == exe);
        } else if ours && f.first() == Some(&"Rss:") {
            total += f[1].parse::<usize>().unwrap_or(0);
        }
    }
    total
}
