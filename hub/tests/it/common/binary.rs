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
