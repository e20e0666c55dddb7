//! Help text, derived from the spec.

use crate::error::ParseError;
use crate::message::RichMessage;
use crate::spec::{self, ArgKind, CommandSpec};

/// `help`: every command with its usage and one line.
pub fn overview() -> RichMessage {
    let mut text = String::new();
    for (path, spec) in spec::leaves() {
        text.push_str(&format!(
            "{}\n    {}\n",
            spec::usage(&path, spec),
            spec.summary
        ));
    }
    text.push_str("\nType `help <command>` for details, e.g. `help task new`.");
    RichMessage::titled("orkhub commands", text)
}

/// `help <topic>`: one command (or a group) in detail, or a did-you-mean.
pub fn topic(topic: &str) -> Result<RichMessage, ParseError> {
    let words: Vec<String> = topic
        .split_whitespace()
        .map(|w| w.trim_start_matches('/').to_lowercase())
        .collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    match spec::find(&refs) {
        Some(spec) => Ok(describe(&refs.join(" "), spec)),
        None => {
            // Reuse the parser's suggestion logic for consistency.
            match crate::parse::parse(&refs.join(" "), None) {
                Err(ParseError::UnknownCommand { suggestion, .. }) => {
                    Err(ParseError::UnknownCommand {
                        given: topic.trim().to_string(),
                        suggestion,
                    })
                }
                _ => Err(ParseError::UnknownCommand {
                    given: topic.trim().to_string(),
                    suggestion: None,
                }),
            }
        }
    }
}

fn describe(path: &str, spec: &CommandSpec) -> RichMessage {
    let mut text = format!("{}\nUsage: {}\n", spec.summary, spec::usage(path, spec));
    if !spec.details.is_empty() {
        text.push_str(&format!("\n{}\n", spec.details));
    }
    if spec.subcommands.is_empty() {
        let mut args = String::new();
        for a in spec.args {
            let name = if a.flag {
                format!("--{}", a.name)
            } else {
                format!("<{}>", a.placeholder)
            };
            let values = match a.kind {
                ArgKind::Choice(c) => format!(" ({})", c.join(", ")),
                _ => String::new(),
            };
            let req = if a.required { "" } else { " (optional)" };
            args.push_str(&format!("  {name}{req}: {}{values}\n", a.help));
        }
        if !args.is_empty() {
            text.push_str(&format!("\nArguments:\n{args}"));
        }
        if !spec.examples.is_empty() {
            text.push_str("\nExamples:\n");
            for e in spec.examples {
                text.push_str(&format!("  {e}\n"));
            }
        }
        text.push_str(&format!(
            "\nWho may use it: {}.",
            spec::access_text(spec.access)
        ));
    } else {
        text.push_str("\nSubcommands:\n");
        for sub in spec.subcommands {
            let p = format!("{path} {}", sub.name);
            text.push_str(&format!(
                "  {}\n      {}\n",
                spec::usage(&p, sub),
                sub.summary
            ));
        }
    }
    RichMessage::titled(format!("help: {path}"), text.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_lists_every_leaf() {
        let text = overview().text;
        for (path, _) in spec::leaves() {
            assert!(text.contains(&path), "{path} missing from help");
        }
        assert!(text.contains("task dep <id> needs <other-id>"));
    }

    #[test]
    fn topic_details_and_suggestions() {
        let Ok(m) = topic("task new") else {
            panic!("known topic")
        };
        assert!(m.text.contains("--priority (optional)"), "{}", m.text);
        assert!(m.text.contains("low, medium, high, urgent"));
        assert!(m.text.contains("member role"));
        let Ok(m) = topic("/task") else {
            panic!("group topic")
        };
        assert!(m.text.contains("task unblock <id> [note]"), "{}", m.text);
        assert_eq!(
            topic("aprove"),
            Err(ParseError::UnknownCommand {
                given: "aprove".into(),
                suggestion: Some("approve".into())
            })
        );
    }
}
