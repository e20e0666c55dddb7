//! Where in the config file a key is written, so an error about it can say
//! `config.toml:12:` — figment names the file and the key, not the line.
//! A small line scanner for the TOML this config uses: `[table]`,
//! `[[array.of.tables]]` (addressed by index, or by their `id = "…"` as the
//! validation messages do), `key = value` and dotted keys.

use std::collections::HashMap;

/// The 1-based line where the key at `path` is written (`["adapters",
/// "email", "host"]`, `["people", "1", "role"]` or `["people", "ceo",
/// "role"]`); the line of the closest enclosing key or table when the key
/// itself is not in the file; `None` when nothing of it is.
pub fn line_of(text: &str, path: &[String]) -> Option<usize> {
    let ids = array_ids(text);
    // An array-of-tables entry named by its id: "people.ceo" → "people.0".
    let mut path = path.to_vec();
    if path.len() >= 2
        && path[1].parse::<usize>().is_err()
        && let Some(i) = ids.get(&(path[0].clone(), path[1].clone()))
    {
        path[1] = i.to_string();
    }
    let mut best: Option<(usize, usize)> = None; // (matched segments, line)
    let mut consider = |full: &[String], line: usize| {
        let n = full.len();
        if n <= path.len() && full == &path[..n] && best.is_none_or(|(m, _)| n > m) {
            best = Some((n, line));
        }
    };
    for (table, key, line) in entries(text) {
        match key {
            None => consider(&table, line),
            Some(key) => {
                let mut full = table.clone();
                full.extend(key);
                consider(&full, line);
            }
        }
    }
    best.map(|(_, line)| line)
}

/// Every table header (key `None`) and every `key = value` line, with the
/// table it is in and its 1-based line number.
fn entries(text: &str) -> Vec<(Vec<String>, Option<Vec<String>>, usize)> {
    let mut out = Vec::new();
    let mut table: Vec<String> = Vec::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = name.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            table = split_key(&name);
            table.push(n.to_string());
            *n += 1;
            out.push((table.clone(), None, i + 1));
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            table = split_key(name);
            out.push((table.clone(), None, i + 1));
        } else if let Some((key, _)) = line.split_once('=') {
            out.push((table.clone(), Some(split_key(key)), i + 1));
        }
    }
    out
}

/// `(array, id) → index` for every `[[array]]` entry with an `id = "…"`.
fn array_ids(text: &str) -> HashMap<(String, String), usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = HashMap::new();
    for (table, key, line) in entries(text) {
        let (Some(key), [name, index]) = (key, table.as_slice()) else {
            continue;
        };
        if key != ["id"] {
            continue;
        }
        let (Ok(index), Some((_, value))) =
            (index.parse::<usize>(), lines[line - 1].split_once('='))
        else {
            continue;
        };
        out.insert(
            (name.clone(), value.trim().trim_matches('"').to_string()),
            index,
        );
    }
    out
}

fn split_key(key: &str) -> Vec<String> {
    key.split('.')
        .map(|k| k.trim().trim_matches('"').to_string())
        .collect()
}

/// The config key a message is about: its first word that reads like a
/// dotted key under one of the config's tables ("adapters.email.host = …").
pub fn key_in_message(message: &str, tables: &[&str]) -> Option<Vec<String>> {
    message
        .split(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == '=' || c == '(')
        .map(|w| w.trim_matches(|c: char| c == '"' || c == '`' || c == '\''))
        .find(|w| {
            w.contains('.')
                && w.split('.').all(|s| !s.is_empty())
                && tables.iter().any(|t| w.split('.').next() == Some(*t))
        })
        .map(split_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# comment
[server]
listen = "127.0.0.1:8080"

[adapters.email]
enabled = true
host = "smtp example.com"

[[people]]
id = "ceo"
role = "owner"

[[people]]
id = "dana"
rol = "member"
identities = { telegram = "555" }
"#;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn keys_tables_and_array_entries_are_found() {
        assert_eq!(line_of(TEXT, &path("server.listen")), Some(3));
        assert_eq!(line_of(TEXT, &path("adapters.email.host")), Some(7));
        assert_eq!(line_of(TEXT, &path("people.1.rol")), Some(15));
        assert_eq!(line_of(TEXT, &path("people.dana.rol")), Some(15));
        assert_eq!(line_of(TEXT, &path("people.ceo.role")), Some(11));
        // Not written: the enclosing key or table.
        assert_eq!(
            line_of(TEXT, &path("people.1.identities.telegram")),
            Some(16)
        );
        assert_eq!(line_of(TEXT, &path("server.max_connections")), Some(2));
        assert_eq!(line_of(TEXT, &path("outbox.max_attempts")), None);
    }

    #[test]
    fn the_key_a_message_is_about() {
        let tables = ["adapters", "server"];
        assert_eq!(
            key_in_message(
                "email: adapters.email.host = \"smtp example.com\" has whitespace",
                &tables
            ),
            Some(path("adapters.email.host"))
        );
        assert_eq!(key_in_message("see example.com for more", &tables), None);
    }
}
