//! Once `orkhub serve` is up it hands back the code pages only starting
//! needed (hub/src/memory.rs): the log says how much, and the process's
//! resident code is then below that.

use crate::common;

use common::binary::{free_port, orkhub};

#[tokio::test]
async fn a_started_hub_hands_back_its_start_up_code() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[[people]]\nid = \"ceo\"\nrole = \"owner\"\n"
        ),
    )
    .unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = orkhub(dir.path())
        .env("ORKHUB_LOG", "warn,orkhub=debug")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut up = false;
    for _ in 0..600 {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let released_kb: Option<usize> = text
        .lines()
        .find(|l| l.contains("start-up code pages handed back"))
        .and_then(|l| l.split("kb=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    let resident_kb = resident_code_kb(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(up, "orkhub did not come up:\n{text}");
    let released_kb = released_kb.unwrap_or_else(|| panic!("no release in the log:\n{text}"));
    assert!(released_kb > 1024, "released only {released_kb} kB");
    assert!(
        resident_kb < released_kb,
        "{resident_kb} kB of code resident after {released_kb} kB were released"
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
            ours = f[1] == "r-xp" && f.get(5).is_some_and(|p| std::path::Path::new(p) == exe);
        } else if ours && f.first() == Some(&"Rss:") {
            total += f[1].parse::<usize>().unwrap_or(0);
        }
    }
    total
}
