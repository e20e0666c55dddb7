//! The parser never panics, whatever it is given, and quoting round-trips.

use commands::{Command, ParseError, command_text, parse};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::time::{Duration, Instant};

/// Fragments that steer random input into the parser's deeper paths.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/task".to_string()),
        Just("task".to_string()),
        Just("/task@orkbot".to_string()),
        Just("/task@other".to_string()),
        Just("new".to_string()),
        Just("assign".to_string()),
        Just("dep".to_string()),
        Just("needs".to_string()),
        Just("auto".to_string()),
        Just("--priority".to_string()),
        Just("--project=".to_string()),
        Just("—due".to_string()),
        Just("--".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("“".to_string()),
        Just("”".to_string()),
        Just("«".to_string()),
        Just("<@".to_string()),
        Just("#".to_string()),
        Just("@".to_string()),
        Just("=".to_string()),
        Just("approve".to_string()),
        Just("deny".to_string()),
        Just("cost".to_string()),
        Just("help".to_string()),
        "[0-9]{1,20}",
        "-?[0-9]{1,25}",
        "\\PC{0,12}",
        any::<String>(),
    ]
}

fn shaped_input() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(fragment(), 0..12),
        prop::collection::vec(
            prop_oneof![Just(" "), Just(""), Just("\n"), Just("\u{3000}")],
            12,
        ),
    )
        .prop_map(|(parts, seps)| {
            parts
                .iter()
                .zip(seps.iter().cycle())
                .map(|(p, s)| format!("{p}{s}"))
                .collect()
        })
}

fn check(input: &str) {
    let bot = Some("orkbot");
    let result = parse(input, bot);
    // Every error renders to a message; usage errors carry a usage line.
    match &result {
        Err(ParseError::Usage { usage, .. }) => assert!(!usage.is_empty()),
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(_) => {}
    }
    if input.chars().count() > commands::MAX_INPUT_CHARS {
        assert!(matches!(result, Err(ParseError::TooLong { .. })));
    }
}

proptest! {
    #[test]
    fn never_panics_on_any_string(s in any::<String>()) {
        check(&s);
    }

    #[test]
    fn never_panics_on_command_shaped_input(s in shaped_input()) {
        check(&s);
    }

    #[test]
    fn never_panics_on_long_input(s in "\\PC{3990,4010}") {
        check(&s);
        check(&format!("task new {s}"));
    }

    /// Any title that can be quoted comes back exactly (trimmed, one line).
    #[test]
    fn titles_round_trip(title in "[^\\p{C}]{1,200}") {
        let trimmed = title.trim();
        prop_assume!(!trimmed.is_empty());
        let Some(text) = command_text("task new", &[("title", trimmed.to_string())]) else {
            return Ok(());
        };
        match parse(&text, None) {
            Ok(Command::TaskNew { title: parsed, .. }) => prop_assert_eq!(parsed, trimmed),
            other => prop_assert!(false, "{text:?} gave {other:?}"),
        }
    }
}

/// A fuzz-like run: random input for a fixed time (default 60 s; set
/// `ORKHUB_FUZZ_SECS`). Ignored in normal runs; run with
/// `cargo test -p commands --test parser_props -- --ignored`.
#[test]
#[ignore]
fn fuzz_parser_for_a_minute() {
    let secs = std::env::var("ORKHUB_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut runner = TestRunner::new(Config::default());
    let strategy = prop_oneof![any::<String>(), shaped_input()];
    let mut cases = 0u64;
    while Instant::now() < deadline {
        let tree = match strategy.new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("strategy: {e}"),
        };
        let input = proptest::strategy::ValueTree::current(&tree);
        check(&input);
        cases += 1;
    }
    println!("fuzzed the parser with {cases} inputs");
}
