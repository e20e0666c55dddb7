//! `orkhub check-config` runs every check `orkhub serve` runs before it
//! connects anywhere (the platforms' settings as their adapters are built,
//! the database URL), connects nowhere itself, and names the file and line
//! of the key at fault.

use std::path::Path;
use std::time::{Duration, Instant};

/// Write `text` as config.toml in a fresh directory and run `orkhub
/// --config config.toml <cmd>` there: (success, stdout, stderr).
fn run(text: &str, cmd: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), text).unwrap();
    run_in(dir.path(), cmd)
}

fn run_in(dir: &Path, cmd: &str) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orkhub"))
        .current_dir(dir)
        .args(["--config", "config.toml", cmd])
        .env_remove("ORKHUB_CONFIG")
        .output()
        .expect("run orkhub");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BASE: &str =
    "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"sqlite://data/hub.db\"\n";

#[test]
fn an_email_host_with_whitespace_fails_check_config_as_it_fails_serve() {
    let text = format!(
        "{BASE}[adapters.email]\nenabled = true\nhost = \"smtp example.com\"\nfrom = \"hub <hub@example.com>\"\n"
    );
    let (ok, stdout, stderr) = run(&text, "check-config");
    assert!(!ok, "check-config passed: {stdout}");
    assert!(
        stderr.contains("config.toml:7:") && stderr.contains("adapters.email.host"),
        "{stderr}"
    );
    // serve refuses the same setting (before listening or connecting).
    let (ok, _, stderr) = run(&text, "serve");
    assert!(!ok);
    assert!(stderr.contains("adapters.email.host"), "{stderr}");
}

#[test]
fn an_unknown_key_is_named_with_its_file_and_line() {
    let text = format!("{BASE}\n[outbox]\nmax_attempts = 3\nmax_atempts = 4\n");
    let (ok, _, stderr) = run(&text, "check-config");
    assert!(!ok);
    assert!(
        stderr.contains("config.toml:8:") && stderr.contains("max_atempts"),
        "{stderr}"
    );
}

#[test]
fn a_wrongly_typed_value_in_an_array_of_tables_is_located() {
    let text = format!(
        "{BASE}\n[[people]]\nid = \"ceo\"\nrole = \"owner\"\n\n[[people]]\nid = \"dana\"\ndigest_time = 8\n"
    );
    let (ok, _, stderr) = run(&text, "check-config");
    assert!(!ok);
    assert!(
        stderr.contains("config.toml:12:") && stderr.contains("digest_time"),
        "{stderr}"
    );
}

#[test]
fn a_validation_error_names_the_line_of_the_person_it_is_about() {
    let text = format!(
        "{BASE}\n[[people]]\nid = \"ceo\"\nrole = \"owner\"\n\n[[people]]\nid = \"dana\"\ntime_zone = \"Mars/Olympus\"\n"
    );
    let (ok, _, stderr) = run(&text, "check-config");
    assert!(!ok);
    assert!(
        stderr.contains("config.toml:12:") && stderr.contains("people.dana.time_zone"),
        "{stderr}"
    );
}

#[test]
fn an_enabled_platform_without_its_token_is_refused_at_its_table() {
    let text = format!("{BASE}[adapters.telegram]\nenabled = true\n");
    let (ok, _, stderr) = run(&text, "check-config");
    assert!(!ok);
    assert!(
        stderr.contains("config.toml:5:") && stderr.contains("token"),
        "{stderr}"
    );
}

#[test]
fn the_database_url_is_checked_without_connecting() {
    let (ok, _, stderr) = run(
        "[database]\nurl = \"mysql://hub@db.internal/hub\"\n",
        "check-config",
    );
    assert!(!ok);
    assert!(
        stderr.contains("config.toml:2:") && stderr.contains("unsupported database URL"),
        "{stderr}"
    );
    // A PostgreSQL server that is not there (a black-holed address) does not
    // hold check-config up: nothing is connected to.
    let t = Instant::now();
    let (ok, _, stderr) = run(
        "[database]\nurl = \"postgres://hub@10.255.255.1:5432/hub?connect_timeout=30\"\n",
        "check-config",
    );
    assert!(ok, "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Nor is a SQLite file created.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), BASE).unwrap();
    let (ok, _, stderr) = run_in(dir.path(), "check-config");
    assert!(ok, "{stderr}");
    assert!(!dir.path().join("data").exists());
}

#[test]
fn a_ca_bundle_that_is_missing_or_not_pem_is_named_with_its_line() {
    let (ok, _, stderr) = run(
        &format!("{BASE}[tls]\nca_file = \"missing.pem\"\n"),
        "check-config",
    );
    assert!(!ok);
    assert!(
        stderr.contains("config.toml:6:")
            && stderr.contains("tls.ca_file")
            && stderr.contains("missing.pem"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.pem"), "not a certificate").unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!("{BASE}[brief.llm]\nenabled = true\nca_file = \"junk.pem\"\n"),
    )
    .unwrap();
    let (ok, _, stderr) = run_in(dir.path(), "check-config");
    assert!(!ok);
    assert!(
        stderr.contains("config.toml:7:") && stderr.contains("brief.llm.ca_file"),
        "{stderr}"
    );
}

#[test]
fn a_webhook_path_over_the_api_is_refused_by_check_config_and_serve() {
    // serve used to panic building the router ("Overlapping method route").
    let text = format!(
        "{BASE}[brief]\nenabled = false\n[adapters.slack]\nenabled = true\nbot_token = \"xoxb-1\"\nsigning_secret = \"s\"\ncommands_path = \"/api/v1/notifications\"\napi_url = \"http://127.0.0.1:9/api\"\n"
    );
    let (ok, _, stderr) = run(&text, "check-config");
    assert!(!ok);
    assert!(
        stderr.contains("config.toml:11:") && stderr.contains("adapters.slack.commands_path"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&text, "serve");
    assert!(!ok);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("adapters.slack.commands_path"), "{stderr}");
}
