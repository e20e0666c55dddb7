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
        !(table.is_empty() && ["people", "agents", "projects", "channels"].contains(&key.as_str()))
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
