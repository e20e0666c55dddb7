//! Command lists that platforms register up front, derived from the spec:
//! Telegram's `setMyCommands` list and Discord's application commands (and
//! the way back from a Discord interaction to the one text grammar).

use crate::parse::command_text;
use crate::spec::{self, ArgKind, ArgSpec, CommandSpec};
use serde_json::{Value, json};

/// Telegram `setMyCommands` entries: top-level names only (Telegram has no
/// subcommands), lowercase, ≤ 32 characters, descriptions ≤ 256.
pub fn telegram_commands() -> Vec<(String, String)> {
    spec::COMMANDS
        .iter()
        .map(|c| {
            let description: String = c.summary.chars().take(256).collect();
            (c.name.to_string(), description)
        })
        .collect()
}

// Discord application-command and option types.
const CHAT_INPUT: u8 = 1;
const SUB_COMMAND: u8 = 1;
const STRING: u8 = 3;
const INTEGER: u8 = 4;
const BOOLEAN: u8 = 5;

/// Discord's limit for command and option descriptions.
const DISCORD_DESCRIPTION_MAX: usize = 100;

fn discord_description(s: &str) -> String {
    s.chars().take(DISCORD_DESCRIPTION_MAX).collect()
}

/// Global application commands in Discord's API shape (for a bulk overwrite
/// `PUT /applications/{id}/commands`): type 1 CHAT_INPUT, groups as
/// SUB_COMMAND options, typed options with `required` and `choices`.
pub fn discord_application_commands() -> Vec<Value> {
    spec::COMMANDS
        .iter()
        .map(|c| {
            let options: Vec<Value> = if c.subcommands.is_empty() {
                discord_options(c)
            } else {
                c.subcommands
                    .iter()
                    .map(|sub| {
                        json!({
                            "type": SUB_COMMAND,
                            "name": sub.name,
                            "description": discord_description(sub.summary),
                            "options": discord_options(sub),
                        })
                    })
                    .collect()
            };
            json!({
                "type": CHAT_INPUT,
                "name": c.name,
                "description": discord_description(c.summary),
                "options": options,
            })
        })
        .collect()
}

fn discord_options(spec: &CommandSpec) -> Vec<Value> {
    // Discord requires the required options first.
    let (required, optional): (Vec<&ArgSpec>, Vec<&ArgSpec>) =
        spec.args.iter().partition(|a| a.required);
    required
        .into_iter()
        .chain(optional)
        .map(discord_option)
        .collect()
}

fn discord_option(a: &ArgSpec) -> Value {
    let mut o = json!({
        "name": a.name,
        "description": discord_description(a.help),
        "required": a.required,
    });
    let kind = match a.kind {
        ArgKind::TaskId => {
            o["min_value"] = json!(1);
            INTEGER
        }
        ArgKind::Switch => BOOLEAN,
        ArgKind::Choice(choices) => {
            o["choices"] = choices
                .iter()
                .map(|c| json!({ "name": c, "value": c }))
                .collect();
            STRING
        }
        ArgKind::Text { max_chars } => {
            o["max_length"] = json!(max_chars);
            STRING
        }
        ArgKind::Word => {
            o["max_length"] = json!(100);
            STRING
        }
        // Who is a STRING, not USER: it may name an agent or `auto`, which
        // Discord's user picker can't offer. The Discord adapter passes user
        // picks through as `<@id>` mentions, which the parser understands.
        ArgKind::Who { .. } | ArgKind::Date | ArgKind::List => STRING,
    };
    o["type"] = json!(kind);
    o
}

/// Turn a Discord interaction's `data` (`{name, options: [...]}`) back into
/// a command line for [`crate::execute`]. `None` if it names no command of ours.
pub fn discord_interaction_text(data: &Value) -> Option<String> {
    let name = data.get("name")?.as_str()?;
    let mut path = vec![name.to_string()];
    let mut options = data
        .get("options")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(first) = options.first()
        && first.get("type").and_then(Value::as_u64) == Some(u64::from(SUB_COMMAND))
    {
        path.push(first.get("name")?.as_str()?.to_string());
        options = first
            .get("options")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
    }
    let values: Vec<(String, String)> = options
        .iter()
        .filter_map(|o| {
            let n = o.get("name")?.as_str()?.to_string();
            let v = match o.get("value")? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((n, v))
        })
        .collect();
    let refs: Vec<(&str, String)> = values
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    command_text(&path.join(" "), &refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_name(s: &str) -> bool {
        !s.is_empty()
            && s.chars().count() <= 32
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    }

    #[test]
    fn telegram_list_fits_limits() {
        let list = telegram_commands();
        let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "task",
                "decisions",
                "approve",
                "deny",
                "brief",
                "cost",
                "whoami",
                "login",
                "help"
            ]
        );
        for (name, desc) in &list {
            assert!(valid_name(name) && !name.contains('-'), "{name}");
            assert!(!desc.is_empty() && desc.chars().count() <= 256, "{desc}");
        }
    }

    #[test]
    fn discord_commands_match_the_api_shape() {
        let cmds = discord_application_commands();
        assert_eq!(cmds.len(), spec::COMMANDS.len());
        let task = &cmds[0];
        assert_eq!(task["type"], 1);
        assert_eq!(task["name"], "task");
        let new = &task["options"][0];
        assert_eq!(new["type"], 1);
        assert_eq!(new["name"], "new");
        assert_eq!(
            new["options"][0],
            json!({
                "type": 3, "name": "title", "description": "What needs doing",
                "required": true, "max_length": 200
            })
        );
        let priority = &new["options"][1];
        assert_eq!(priority["type"], 3);
        assert_eq!(
            priority["choices"][3],
            json!({"name": "urgent", "value": "urgent"})
        );
        let show = task["options"]
            .as_array()
            .and_then(|o| o.iter().find(|s| s["name"] == "show"));
        let Some(show) = show else {
            panic!("task show")
        };
        assert_eq!(show["options"][0]["type"], 4);
        let list = task["options"]
            .as_array()
            .and_then(|o| o.iter().find(|s| s["name"] == "list"));
        let Some(list) = list else {
            panic!("task list")
        };
        assert_eq!(list["options"][0]["type"], 5);
        assert_eq!(
            list["options"][1]["choices"].as_array().map(Vec::len),
            Some(8)
        );

        // Limits Discord enforces on registration.
        fn check(v: &Value) {
            if let Some(n) = v.get("name").and_then(Value::as_str) {
                assert!(valid_name(n), "{n}");
            }
            if let Some(d) = v.get("description").and_then(Value::as_str) {
                assert!(!d.is_empty() && d.chars().count() <= 100, "{d}");
            }
            if let Some(opts) = v.get("options").and_then(Value::as_array) {
                assert!(opts.len() <= 25);
                let mut seen_optional = false;
                for o in opts {
                    let req = o.get("required").and_then(Value::as_bool).unwrap_or(false);
                    assert!(!(req && seen_optional), "required after optional in {v}");
                    seen_optional |= !req && o["type"] != 1;
                    check(o);
                }
            }
        }
        cmds.iter().for_each(check);
    }

    #[test]
    fn discord_interaction_back_to_text() {
        let data = json!({
            "name": "task", "type": 1,
            "options": [{"type": 1, "name": "new", "options": [
                {"name": "title", "type": 3, "value": "Ship it — now"},
                {"name": "priority", "type": 3, "value": "high"}
            ]}]
        });
        assert_eq!(
            discord_interaction_text(&data).as_deref(),
            Some("task new \"Ship it — now\" --priority high")
        );
        let data = json!({"name": "task", "options": [{"type": 1, "name": "list", "options": [
            {"name": "mine", "type": 5, "value": true}]}]});
        assert_eq!(
            discord_interaction_text(&data).as_deref(),
            Some("task list --mine")
        );
        let data = json!({"name": "approve", "options": [{"name": "id", "type": 4, "value": 7}]});
        assert_eq!(
            discord_interaction_text(&data).as_deref(),
            Some("approve 7")
        );
        assert_eq!(discord_interaction_text(&json!({"name": "nope"})), None);
    }
}
