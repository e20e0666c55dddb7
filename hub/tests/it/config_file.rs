//! The shipped `config.toml` is the install's documentation: it must load,
//! and every setting the hub has must appear in it (set, or commented out
//! with its default) under its own table, so a new key cannot be added
//! without documenting it there.

use serde_json::Value;
use std::collections::BTreeMap;

fn shipped() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config.toml");
    std::fs::read_to_string(path).expect("config.toml at the workspace root")
}

/// Keys written under each `[table]` (commented ones too): table → keys.
fn documented(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut table = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line
            .strip_prefix("[[")
            .and_then(|l| l.strip_suffix("]]"))
            .or_else(|| line.strip_prefix('[').and_then(|l| l.strip_suffix(']')))
        {
            table = name.trim().to_string();
            continue;
        }
        let line = line.trim_start_matches('#').trim();
        if let Some((key, _)) = line.split_once('=') {
            let key = key.trim().trim_matches('"');
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.entry(table.clone()).or_default().push(key.to_string());
            }
        }
    }
    out
}

/// Every (table, key) of the settings' defaults, leaves only: nested
/// objects are tables of their own, as in TOML.
fn settings(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let Value::Object(map) = value else { return };
    for (key, v) in map {
        match v {
            Value::Object(inner) if !inner.is_empty() && !is_free_map(prefix, key) => {
                let table = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                settings(&table, v, out);
            }
            _ => out.push((prefix.to_string(), key.clone())),
        }
    }
}

/// Tables whose keys are names the user chooses (event kinds, decision kinds).
fn is_free_map(prefix: &str, key: &str) -> bool {
    matches!(
        (prefix, key),
        ("routing", "kind_urgency") | ("", "approvers")
    )
}

#[test]
fn the_shipped_config_loads() {
    let config = hub::config::Config::from_toml(&shipped()).expect("config.toml is valid");
    assert!(
        config.database.url.starts_with("sqlite://"),
        "the embedded default"
    );
    assert!(!config.adapters.telegram.enabled && !config.adapters.discord.enabled);
}

#[test]
fn every_setting_is_documented_under_its_table() {
    let defaults = serde_json::to_value(hub::config::Config::default()).unwrap();
    let mut all = Vec::new();
    settings("", &defaults, &mut all);
    // A person's settings are written inline (quiet_hours = { ... }), so
    // each of them is one key of [[people]].
    let person =
        serde_json::to_value(hub::config::Config::from_toml(&shipped()).unwrap().people[0].clone())
            .unwrap();
    if let Value::Object(keys) = person {
        all.extend(keys.keys().map(|k| ("people".to_string(), k.clone())));
    }
    // Lists of tables ([[people]], [[agents]] ...) and free maps are
    // documented by example; their own keys are checked above via people.
    all.retain(|(table, key)| {
        !(table.is_empty()
            && ["people", "agents", "projects", "channels", "webhooks"].contains(&key.as_str()))
    });
    let written = documented(&shipped());
    let missing: Vec<String> = all
        .iter()
        .filter(|(table, key)| {
            let as_table = if table.is_empty() {
                key.clone()
            } else {
                format!("{table}.{key}")
            };
            !(written.get(table).is_some_and(|keys| keys.contains(key))
                || written.contains_key(&as_table))
        })
        .map(|(table, key)| format!("[{table}] {key}"))
        .collect();
    assert!(
        missing.is_empty(),
        "config.toml does not mention: {missing:?}"
    );
}

/// Run the orkhub binary in `dir` with `args`: (success, stdout, stderr).
fn orkhub(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_orkhub"));
    cmd.current_dir(dir).args(args).env_remove("ORKHUB_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run orkhub");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_config_file_that_is_not_there_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.toml");
    let err = hub::config::Config::load(&missing).unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    // The binary refuses to start on it, naming the path.
    let (ok, _, stderr) = orkhub(dir.path(), &["--config", "typo.toml", "check-config"], &[]);
    assert!(!ok);
    assert!(
        stderr.contains("typo.toml") && stderr.contains("does not exist"),
        "{stderr}"
    );
    // Through ORKHUB_CONFIG as well.
    let (ok, _, stderr) = orkhub(
        dir.path(),
        &["check-config"],
        &[("ORKHUB_CONFIG", "nope.toml")],
    );
    assert!(!ok);
    assert!(stderr.contains("nope.toml"), "{stderr}");
}

#[test]
fn an_explicit_path_is_read_exactly_and_not_searched_for() {
    // A config.toml in a parent directory is not picked up for a relative
    // path that does not exist in the working directory.
    let parent = tempfile::tempdir().unwrap();
    std::fs::write(
        parent.path().join("config.toml"),
        "[server]\nlisten = \"127.0.0.1:9999\"\n",
    )
    .unwrap();
    let child = parent.path().join("run");
    std::fs::create_dir(&child).unwrap();
    let (ok, _, stderr) = orkhub(&child, &["--config", "config.toml", "check-config"], &[]);
    assert!(!ok, "the parent's file was used");
    assert!(stderr.contains("does not exist"), "{stderr}");
    // Without --config, a missing ./config.toml runs on the defaults, and says so.
    let (ok, stdout, stderr) = orkhub(&child, &["check-config"], &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("127.0.0.1:8080"), "the defaults: {stdout}");
    assert!(stderr.contains("built-in defaults"), "{stderr}");
    let (found, present) =
        hub::config::Config::load_or_defaults(&parent.path().join("config.toml")).unwrap();
    assert!(present);
    assert_eq!(found.server.listen, "127.0.0.1:9999");
}

#[test]
fn check_config_never_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        r#"
[database]
url = "postgres://orkhub:db-pass-123@db.internal:5432/orkhub?password=q-pass-456&application_name=hub"
[adapters.email]
username = "hub"
password = "mail-pass-789"
[adapters.telegram]
token = "123:tg-token"
[brief.llm]
api_key = "sk-llm-key-000"
"#,
    )
    .unwrap();
    let (ok, stdout, stderr) = orkhub(
        dir.path(),
        &["--config", "config.toml", "check-config"],
        &[("ORKHUB_ADAPTERS__SLACK__SIGNING_SECRET", "slack-secret-1")],
    );
    assert!(ok, "{stderr}");
    for secret in [
        "db-pass-123",
        "q-pass-456",
        "mail-pass-789",
        "tg-token",
        "sk-llm-key-000",
        "slack-secret-1",
    ] {
        assert!(!stdout.contains(secret), "{secret} printed: {stdout}");
        assert!(!stderr.contains(secret), "{secret} logged: {stderr}");
    }
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        printed["database"]["url"],
        "postgres://orkhub:<redacted>@db.internal:5432/orkhub?password=<redacted>&application_name=hub",
        "the rest of the URL is still there to check"
    );
    assert_eq!(printed["adapters"]["email"]["password"], "<redacted>");
    assert_eq!(printed["adapters"]["email"]["username"], "hub");
    assert_eq!(printed["brief"]["llm"]["api_key"], "<redacted>");
    // Unset stays visibly unset.
    let defaults = serde_json::to_value(hub::config::Config::default()).unwrap();
    assert!(defaults["adapters"]["email"]["password"].is_null());
    assert_eq!(defaults["brief"]["llm"]["api_key"], "");
}

#[test]
fn a_digest_channel_without_an_address_is_warned_about() {
    let config = hub::config::Config::from_toml(
        r#"
[[people]]
id = "dana"
push = ["web", "telegram", "console"]
identities = { telegram = "555" }

[[people]]
id = "eve"
push = ["web"]
digest_channel = "slack"

[[people]]
id = "ok"
email = "ok@example.com"
"#,
    )
    .unwrap();
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("people.dana:")
            && warnings[0].contains("no email")
            && warnings[0].contains("on telegram"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with("people.eve:")
            && warnings[1].contains("no slack identity")
            && warnings[1].contains("web feed only"),
        "{warnings:?}"
    );
    // check-config prints them; the shipped config has one (dana).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), shipped()).unwrap();
    let (ok, _, stderr) = orkhub(dir.path(), &["check-config"], &[]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("warning: people.dana:"), "{stderr}");
}
