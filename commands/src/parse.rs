//! Text → [`Command`], driven by the spec. Accepts `/task new ...`,
//! `/task@botname new ...` and `task new ...` (Slack, after the adapter strips
//! `/ork`). Works on chars only, never byte offsets, so no input can make it
//! slice inside a character; it returns errors instead of panicking.

use crate::error::ParseError;
use crate::spec::{self, ArgKind, ArgSpec, Args, Command, CommandSpec, Value, WhoRef};
use chrono::NaiveDate;

/// Longer input is refused before any work is done.
pub const MAX_INPUT_CHARS: usize = 4000;

/// One word of input. `quoted` words are never flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub text: String,
    pub quoted: bool,
}

/// Closing quotes accepted for an opening quote. Phones turn `"` into `“”`
/// (or `„“` in German), so curly pairs count as quotes too.
fn closing_quotes(open: char) -> Option<&'static [char]> {
    match open {
        '"' => Some(&['"']),
        '\'' => Some(&['\'']),
        '“' => Some(&['”', '“']),
        '„' => Some(&['“', '”']),
        '‘' => Some(&['’']),
        '«' => Some(&['»']),
        _ => None,
    }
}

/// Split into words. A quote opens only at the start of a word (so `Bob's`
/// stays one word) or right after `=` in `--flag="..."`; it closes at a
/// matching quote followed by whitespace or the end (so `'Bob's bug'` works).
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut text = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.get(i) {
            if c.is_whitespace() {
                break;
            }
            let at_value_start = text.is_empty() || (text.ends_with('=') && is_flag_text(&text));
            if let (true, Some(closers)) = (at_value_start, closing_quotes(c)) {
                // Read to the closing quote.
                let mut j = i + 1;
                let mut closed = None;
                while j < chars.len() {
                    let ends_word = chars.get(j + 1).is_none_or(|n| n.is_whitespace());
                    if closers.contains(&chars[j]) && ends_word {
                        closed = Some(j);
                        break;
                    }
                    j += 1;
                }
                let Some(end) = closed else {
                    let start: String = chars[i..chars.len().min(i + 20)].iter().collect();
                    return Err(format!("The quote at `{start}` is never closed."));
                };
                // A fully quoted word is literal text; `--flag="v"` stays a flag.
                quoted = text.is_empty();
                text.extend(&chars[i + 1..end]);
                i = end + 1;
                break;
            }
            text.push(c);
            i += 1;
        }
        tokens.push(Token { text, quoted });
    }
    Ok(tokens)
}

/// `--name`, or `—name`/`–name` (phones autocorrect `--` into a dash).
fn flag_name(text: &str) -> Option<&str> {
    let rest = text
        .strip_prefix("--")
        .or_else(|| text.strip_prefix('—'))
        .or_else(|| text.strip_prefix('–'))?;
    // A lone dash or `-- ` is text, not a flag.
    rest.chars()
        .next()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|_| rest)
}

fn is_flag_text(text: &str) -> bool {
    flag_name(text).is_some()
}

/// Parse one line of input. `bot_username` is this bot's name (without `@`),
/// used to ignore `/cmd@otherbot`.
pub fn parse(input: &str, bot_username: Option<&str>) -> Result<Command, ParseError> {
    let chars = input.chars().count();
    if chars > MAX_INPUT_CHARS {
        return Err(ParseError::TooLong {
            chars,
            max: MAX_INPUT_CHARS,
        });
    }
    let tokens = match tokenize(input) {
        Ok(t) => t,
        Err(problem) => {
            // Still say which command's usage applies when we can tell.
            let first = input.split_whitespace().next().unwrap_or("");
            let name = first.trim_start_matches('/').to_lowercase();
            return Err(match spec::find(&[name.as_str()]) {
                Some(spec) => usage_error(spec.name, spec, problem),
                None => ParseError::UnknownCommand {
                    given: first.to_string(),
                    suggestion: None,
                },
            });
        }
    };
    let mut words = tokens.into_iter();
    let Some(first) = words.next() else {
        return Err(ParseError::Empty);
    };
    let name = command_name(&first.text, bot_username)?;
    if name.is_empty() {
        return Err(ParseError::Empty);
    }
    let Some(top) = spec::COMMANDS.iter().find(|c| c.name == name) else {
        return Err(unknown(&name, None));
    };
    let rest: Vec<Token> = words.collect();
    if top.subcommands.is_empty() {
        return parse_leaf(top.name, top, rest);
    }
    let mut rest = rest.into_iter();
    let Some(sub) = rest.next() else {
        return Err(usage_error(
            top.name,
            top,
            format!("`{}` needs a subcommand.", top.name),
        ));
    };
    let sub_name = sub.text.to_lowercase();
    match top.subcommand(&sub_name) {
        Some(leaf) => parse_leaf(&format!("{} {}", top.name, leaf.name), leaf, rest.collect()),
        None => Err(unknown(&format!("{} {}", top.name, sub.text), Some(top))),
    }
}

/// Strip the leading `/` and an `@botname` suffix; refuse another bot's name.
fn command_name(first: &str, bot_username: Option<&str>) -> Result<String, ParseError> {
    let word = first.strip_prefix('/').unwrap_or(first);
    let (name, bot) = match word.split_once('@') {
        Some((n, b)) => (n, Some(b)),
        None => (word, None),
    };
    if let (Some(bot), Some(ours)) = (bot, bot_username) {
        let ours = ours.trim_start_matches('@');
        if !bot.eq_ignore_ascii_case(ours) {
            return Err(ParseError::NotForUs {
                bot: bot.to_string(),
            });
        }
    }
    Ok(name.to_lowercase())
}

/// Best suggestion for an unknown command: a near top-level name, a near
/// subcommand of `group`, or the group a bare subcommand belongs to
/// (`/new` → `task new`).
fn unknown(given: &str, group: Option<&CommandSpec>) -> ParseError {
    let candidates: Vec<String> = match group {
        Some(g) => g
            .subcommands
            .iter()
            .map(|s| format!("{} {}", g.name, s.name))
            .collect(),
        None => {
            let mut c: Vec<String> = spec::COMMANDS.iter().map(|c| c.name.to_string()).collect();
            c.extend(spec::leaves().into_iter().map(|(p, _)| p));
            c
        }
    };
    let wanted = given.to_lowercase();
    let last_word = |s: &str| s.rsplit(' ').next().unwrap_or(s).to_string();
    let mut best: Option<(f64, String)> = None;
    for cand in candidates {
        // Compare word with word: `tsk` with `task`, `nwe` with `new`.
        let a = last_word(&wanted);
        let b = last_word(&cand);
        let score = if a == b {
            1.0
        } else {
            let lev = strsim::levenshtein(&a, &b);
            let jw = strsim::jaro_winkler(&a, &b);
            if lev <= 2 && lev < b.chars().count() {
                jw.max(0.8)
            } else {
                jw
            }
        };
        if score >= 0.75 && best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, cand));
        }
    }
    ParseError::UnknownCommand {
        given: given.to_string(),
        suggestion: best.map(|(_, c)| c),
    }
}

fn usage_error(path: &str, spec: &CommandSpec, problem: impl Into<String>) -> ParseError {
    ParseError::Usage {
        command: path.to_string(),
        problem: problem.into(),
        usage: spec::usage(path, spec),
    }
}

fn parse_leaf(
    path: &str,
    spec: &'static CommandSpec,
    tokens: Vec<Token>,
) -> Result<Command, ParseError> {
    let err = |problem: String| usage_error(path, spec, problem);
    let mut args = Args::default();
    let mut positionals: Vec<Token> = Vec::new();
    let mut it = tokens.into_iter();
    while let Some(tok) = it.next() {
        let name_and_value = if tok.quoted {
            None
        } else {
            flag_name(&tok.text).map(|n| match n.split_once('=') {
                Some((n, v)) => (n.to_lowercase(), Some(v.to_string())),
                None => (n.to_lowercase(), None),
            })
        };
        let Some((name, inline)) = name_and_value else {
            positionals.push(tok);
            continue;
        };
        let Some(fspec) = spec.flags().find(|f| f.name == name) else {
            return Err(err(unknown_flag(path, spec, &name)));
        };
        if args.has(fspec.name) {
            return Err(err(format!("`--{name}` is given twice.")));
        }
        if fspec.kind == ArgKind::Switch {
            if inline.is_some() {
                return Err(err(format!("`--{name}` takes no value.")));
            }
            args.set(fspec.name, Value::Switch);
            continue;
        }
        let raw = match inline {
            Some(v) => v,
            None => match it.next() {
                Some(v) if v.quoted || !is_flag_text(&v.text) => v.text,
                _ => {
                    return Err(err(format!(
                        "`--{name}` needs a value: --{name} {}.",
                        fspec.placeholder
                    )));
                }
            },
        };
        let value = validate(fspec, &raw).map_err(&err)?;
        args.set(fspec.name, value);
    }

    let mut words = positionals.into_iter().peekable();
    for p in spec.positionals() {
        if let Some(keyword) = p.keyword {
            match words.peek() {
                Some(w) if w.text.eq_ignore_ascii_case(keyword) => {
                    words.next();
                }
                Some(w) => {
                    return Err(err(format!("Expected `{keyword}`, found `{}`.", w.text)));
                }
                None => return Err(err(format!("Missing `{keyword} <{}>`.", p.placeholder))),
            }
        }
        let raw = match p.kind {
            ArgKind::Text { .. } => {
                let rest: Vec<String> = words.by_ref().map(|t| t.text).collect();
                let joined = rest.join(" ");
                let trimmed = joined.trim();
                (!trimmed.is_empty()).then(|| trimmed.to_string())
            }
            _ => words.next().map(|t| t.text),
        };
        match raw {
            Some(raw) => {
                let value = validate(p, &raw).map_err(&err)?;
                args.set(p.name, value);
            }
            None if p.required => {
                return Err(err(format!("Missing <{}>.", p.placeholder)));
            }
            None => {}
        }
    }
    if let Some(extra) = words.next() {
        return Err(err(format!("Unexpected `{}`.", extra.text)));
    }
    let Some(build) = spec.build else {
        return Err(err(format!("`{path}` needs a subcommand.")));
    };
    build(&args).map_err(err)
}

fn unknown_flag(path: &str, spec: &CommandSpec, name: &str) -> String {
    let known: Vec<&str> = spec.flags().map(|f| f.name).collect();
    let near = known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(s, _)| *s >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let mut msg = format!("Unknown option `--{name}` for `{path}`.");
    if let Some((_, k)) = near {
        msg.push_str(&format!(" Did you mean `--{k}`?"));
    } else if known.is_empty() {
        msg.push_str(" It takes no options.");
    }
    msg.push_str(" If it is part of the text, put the text in quotes.");
    msg
}

/// Check one raw value against its argument type.
fn validate(spec: &ArgSpec, raw: &str) -> Result<Value, String> {
    let raw = raw.trim();
    match spec.kind {
        ArgKind::TaskId => parse_id(raw).map(Value::Id),
        ArgKind::Who { allow_auto } => {
            if allow_auto && raw.eq_ignore_ascii_case("auto") {
                Ok(Value::Auto)
            } else {
                parse_who(raw).map(Value::Who)
            }
        }
        ArgKind::Choice(choices) => {
            let wanted = raw.to_lowercase().replace('-', "_");
            choices
                .iter()
                .find(|c| **c == wanted)
                .map(|c| Value::Choice(c))
                .ok_or_else(|| {
                    format!(
                        "`{raw}` is not a valid {}; choose one of: {}.",
                        spec.name,
                        choices.join(", ")
                    )
                })
        }
        ArgKind::Date => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Value::Date)
            .map_err(|_| {
                format!("`{raw}` is not a date; write it as YYYY-MM-DD, e.g. 2026-12-01.")
            }),
        ArgKind::Word => {
            if raw.is_empty() {
                Err(format!("<{}> can't be empty.", spec.placeholder))
            } else if raw.chars().count() > 100 {
                Err(format!(
                    "<{}> is too long (at most 100 characters).",
                    spec.placeholder
                ))
            } else {
                Ok(Value::Text(raw.to_string()))
            }
        }
        ArgKind::List => {
            let items: Vec<String> = raw
                .split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            if items.is_empty() {
                Err(format!("<{}> can't be empty.", spec.placeholder))
            } else {
                Ok(Value::List(items))
            }
        }
        ArgKind::Text { max_chars } => {
            let n = raw.chars().count();
            if raw.is_empty() {
                Err(format!("<{}> can't be empty.", spec.placeholder))
            } else if n > max_chars {
                Err(format!(
                    "<{}> is too long ({n} characters; at most {max_chars}).",
                    spec.placeholder
                ))
            } else {
                Ok(Value::Text(raw.to_string()))
            }
        }
        ArgKind::Switch => Ok(Value::Switch),
    }
}

fn parse_id(raw: &str) -> Result<i64, String> {
    let digits = raw.strip_prefix('#').unwrap_or(raw);
    match digits.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(format!("`{raw}` is not an id; expected a number like 42.")),
    }
}

/// `me`, `@alice`, `alice`, `agent:coder`, or a platform mention: Slack
/// `<@U123>` / `<@U123|alice>`, Discord `<@123>` / `<@!123>`.
pub(crate) fn parse_who(raw: &str) -> Result<WhoRef, String> {
    if let Some(inner) = raw.strip_prefix("<@").and_then(|r| r.strip_suffix('>')) {
        let inner = inner.strip_prefix('!').unwrap_or(inner);
        let id = inner.split('|').next().unwrap_or("");
        if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(WhoRef::Mention(id.to_string()));
        }
    }
    let name = raw.strip_prefix('@').unwrap_or(raw);
    if name.eq_ignore_ascii_case("me") {
        return Ok(WhoRef::Me);
    }
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if ok {
        Ok(WhoRef::Name(name.to_string()))
    } else {
        Err(format!(
            "`{raw}` is not someone I can look up; use @name, a mention, an agent id, or me."
        ))
    }
}

/// Render a command line from named values, quoting where needed, so that
/// [`parse`] reads back the same values. Used to turn structured input (e.g.
/// Discord options) into the one grammar. Unknown names are ignored.
pub fn command_text(path: &str, values: &[(&str, String)]) -> Option<String> {
    let words: Vec<&str> = path.split_whitespace().collect();
    let spec = spec::find(&words)?;
    let mut out = vec![path.to_string()];
    let get = |n: &str| {
        values
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
    };
    for p in spec.positionals() {
        let Some(v) = get(p.name) else { continue };
        if let Some(k) = p.keyword {
            out.push(k.to_string());
        }
        out.push(quote(v)?);
    }
    for f in spec.flags() {
        let Some(v) = get(f.name) else { continue };
        if f.kind == ArgKind::Switch {
            if matches!(v, "true" | "1" | "yes") {
                out.push(format!("--{}", f.name));
            }
        } else {
            out.push(format!("--{}", f.name));
            out.push(quote(v)?);
        }
    }
    Some(out.join(" "))
}

/// Quote a value if it would otherwise be split or read as a flag; `None` if
/// no quote character can enclose it.
fn quote(v: &str) -> Option<String> {
    let needs = v.is_empty()
        || v.chars().any(char::is_whitespace)
        || is_flag_text(v)
        || v.chars()
            .next()
            .is_some_and(|c| closing_quotes(c).is_some());
    if !needs {
        return Some(v.to_string());
    }
    let chars: Vec<char> = v.chars().collect();
    for (open, close) in [('"', '"'), ('\'', '\''), ('“', '”'), ('«', '»')] {
        // The value must not contain a closing quote where it would end the word.
        let closers = closing_quotes(open).unwrap_or(&[]);
        let clash = chars.iter().enumerate().any(|(i, c)| {
            closers.contains(c) && chars.get(i + 1).is_none_or(|n| n.is_whitespace())
        });
        if !clash {
            return Some(format!("{open}{v}{close}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TaskStatus};
    use crate::spec::{AssignTarget, MoveVerb};

    fn words(s: &str) -> Vec<String> {
        match tokenize(s) {
            Ok(t) => t.into_iter().map(|t| t.text).collect(),
            Err(e) => panic!("tokenize {s:?}: {e}"),
        }
    }

    #[test]
    fn tokenizer_quotes() {
        assert_eq!(words(r#"a "b c" d"#), ["a", "b c", "d"]);
        assert_eq!(words("'Bob's bug' x"), ["Bob's bug", "x"]);
        assert_eq!(words("Bob's bug"), ["Bob's", "bug"]);
        assert_eq!(words("“curly title” x"), ["curly title", "x"]);
        assert_eq!(words("«guillemets» x"), ["guillemets", "x"]);
        assert_eq!(
            words(r#"--project="big one" y"#),
            ["--project=big one", "y"]
        );
        assert!(tokenize(r#"a "never closed"#).is_err());
    }

    #[test]
    fn slash_mention_and_slack_forms_parse_alike() {
        let want = Ok(Command::TaskShow { id: 3 });
        assert_eq!(parse("/task show 3", Some("orkbot")), want);
        assert_eq!(parse("/task@orkbot show 3", Some("orkbot")), want);
        assert_eq!(parse("/task@OrkBot show #3", Some("@orkbot")), want);
        assert_eq!(parse("task show 3", None), want);
        assert_eq!(parse("  TASK Show 3  ", None), want);
        assert_eq!(
            parse("/task@otherbot show 3", Some("orkbot")),
            Err(ParseError::NotForUs {
                bot: "otherbot".into()
            })
        );
    }

    #[test]
    fn task_new_with_flags_both_ways() {
        let cmd = parse(
            "/task new “Réparer le ‘login’ 🔐” --priority=high --project web --due 2026-12-01 --caps Rust,sql",
            None,
        );
        let Ok(Command::TaskNew {
            title,
            priority,
            project,
            due,
            capabilities,
            assignee,
        }) = cmd
        else {
            panic!("{cmd:?}")
        };
        assert_eq!(title, "Réparer le ‘login’ 🔐");
        assert_eq!(priority, Priority::High);
        assert_eq!(project.as_deref(), Some("web"));
        assert_eq!(due, NaiveDate::from_ymd_opt(2026, 12, 1));
        assert_eq!(capabilities, ["rust", "sql"]);
        assert_eq!(assignee, None);
    }

    #[test]
    fn unquoted_title_and_flags_anywhere() {
        let cmd = parse("task new Fix the —priority urgent login bug", None);
        let Ok(Command::TaskNew {
            title, priority, ..
        }) = cmd
        else {
            panic!("{cmd:?}")
        };
        assert_eq!(title, "Fix the login bug");
        assert_eq!(priority, Priority::Urgent);
        let cmd = parse(r#"task new "--not a flag" --assignee <@U123|bob>"#, None);
        let Ok(Command::TaskNew {
            title, assignee, ..
        }) = cmd
        else {
            panic!("{cmd:?}")
        };
        assert_eq!(title, "--not a flag");
        assert_eq!(assignee, Some(WhoRef::Mention("U123".into())));
    }

    #[test]
    fn every_command_shape() {
        let p = |s: &str| parse(s, None);
        assert_eq!(
            p("task assign 4 auto"),
            Ok(Command::TaskAssign {
                id: 4,
                to: AssignTarget::Auto
            })
        );
        assert_eq!(
            p("task assign 4 @alice"),
            Ok(Command::TaskAssign {
                id: 4,
                to: AssignTarget::Who(WhoRef::Name("alice".into()))
            })
        );
        assert_eq!(
            p("task block 4 waiting on ops"),
            Ok(Command::TaskMove {
                id: 4,
                verb: MoveVerb::Block,
                note: Some("waiting on ops".into())
            })
        );
        assert_eq!(
            p("task done 4"),
            Ok(Command::TaskMove {
                id: 4,
                verb: MoveVerb::Done,
                note: None
            })
        );
        assert_eq!(
            p("task dep 4 needs 2"),
            Ok(Command::TaskDep { id: 4, needs: 2 })
        );
        assert_eq!(
            p("task list --mine --status in-progress"),
            Ok(Command::TaskList {
                mine: true,
                status: Some(TaskStatus::InProgress),
                project: None
            })
        );
        assert_eq!(p("decisions"), Ok(Command::Decisions));
        assert_eq!(
            p("approve 7"),
            Ok(Command::Approve {
                id: 7,
                reason: None
            })
        );
        assert_eq!(
            p("deny 7 too risky"),
            Ok(Command::Deny {
                id: 7,
                reason: "too risky".into()
            })
        );
        assert_eq!(p("brief"), Ok(Command::Brief));
        assert_eq!(
            p("cost week --by model"),
            Ok(Command::Cost {
                period: crate::model::CostPeriod::Week,
                by: crate::model::CostBy::Model
            })
        );
        assert_eq!(p("whoami"), Ok(Command::Whoami));
        assert_eq!(
            p("help task new"),
            Ok(Command::Help {
                topic: Some("task new".into())
            })
        );
    }

    fn usage_problem(input: &str) -> (String, String) {
        match parse(input, None) {
            Err(ParseError::Usage { problem, usage, .. }) => (problem, usage),
            other => panic!("{input:?} gave {other:?}"),
        }
    }

    #[test]
    fn bad_arguments_show_usage() {
        let (problem, usage) = usage_problem("deny 7");
        assert_eq!(problem, "Missing <reason>.");
        assert_eq!(usage, "deny <id> <reason>");
        let (problem, usage) = usage_problem("task dep 4 2");
        assert!(problem.contains("Expected `needs`"), "{problem}");
        assert_eq!(usage, "task dep <id> needs <other-id>");
        let (problem, _) = usage_problem("task new x --priority soon");
        assert!(problem.contains("low, medium, high, urgent"), "{problem}");
        let (problem, _) = usage_problem("task new x --prio high");
        assert!(problem.contains("Did you mean `--priority`?"), "{problem}");
        let (problem, _) = usage_problem("task show abc");
        assert!(problem.contains("not an id"), "{problem}");
        let (problem, _) = usage_problem("task new x --due tomorrow");
        assert!(problem.contains("YYYY-MM-DD"), "{problem}");
        let (problem, _) = usage_problem("task show 3 4");
        assert_eq!(problem, "Unexpected `4`.");
        let (problem, usage) = usage_problem("task");
        assert!(problem.contains("subcommand"), "{problem}");
        assert!(usage.starts_with("task <new|assign|"), "{usage}");
        let (problem, _) = usage_problem("task new \"unclosed title");
        assert!(problem.contains("never closed"), "{problem}");
        let (problem, _) = usage_problem("task list --mine=yes");
        assert!(problem.contains("takes no value"), "{problem}");
    }

    #[test]
    fn did_you_mean() {
        let sugg = |s: &str| match parse(s, None) {
            Err(ParseError::UnknownCommand { suggestion, .. }) => suggestion,
            other => panic!("{s:?} gave {other:?}"),
        };
        assert_eq!(sugg("/tsk new x").as_deref(), Some("task"));
        assert_eq!(sugg("aprove 3").as_deref(), Some("approve"));
        assert_eq!(sugg("task nwe x").as_deref(), Some("task new"));
        assert_eq!(sugg("/new x").as_deref(), Some("task new"));
        assert_eq!(sugg("xyzzy"), None);
        let msg = ParseError::UnknownCommand {
            given: "tsk".into(),
            suggestion: Some("task".into()),
        };
        assert_eq!(
            msg.to_string(),
            "Unknown command `tsk`. Did you mean `task`?"
        );
    }

    #[test]
    fn too_long_and_empty() {
        let long = format!("task new {}", "é".repeat(MAX_INPUT_CHARS));
        assert!(matches!(
            parse(&long, None),
            Err(ParseError::TooLong { .. })
        ));
        assert_eq!(parse("   ", None), Err(ParseError::Empty));
        assert_eq!(parse("/", None), Err(ParseError::Empty));
        let (problem, _) = usage_problem(&format!("task new {}", "a".repeat(201)));
        assert!(problem.contains("too long"), "{problem}");
    }

    #[test]
    fn command_text_round_trips() {
        let text = command_text(
            "task new",
            &[
                ("title", "--odd \"title\" here".into()),
                ("priority", "high".into()),
                ("mine", "true".into()),
            ],
        );
        let Some(text) = text else { panic!("quotable") };
        let cmd = parse(&text, None);
        let Ok(Command::TaskNew {
            title, priority, ..
        }) = cmd
        else {
            panic!("{text}: {cmd:?}")
        };
        assert_eq!(title, "--odd \"title\" here");
        assert_eq!(priority, Priority::High);
        assert_eq!(
            command_text("task dep", &[("id", "3".into()), ("needs", "5".into())]).as_deref(),
            Some("task dep 3 needs 5")
        );
    }
}
