//! The README's command grammar and roles table are generated from the one
//! command spec: this test fails when they differ. Regenerate them with
//! `ORKHUB_BLESS=1 cargo test -p commands --test readme`.

use commands::spec::{self, Access};
use commands::{Role, help};

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");

/// The grammar exactly as `/help` (and `help` in any chat) prints it.
fn grammar() -> String {
    format!("```text\n{}\n```\n", help::overview().text.trim_end())
}

/// Command × role: who may run each command in chat.
fn roles_table() -> String {
    let mut out =
        String::from("| command | viewer | member | admin | owner |\n|---|---|---|---|---|\n");
    for (path, spec) in spec::leaves() {
        let cells: Vec<&str> = Role::ALL
            .iter()
            .map(|r| match spec.access {
                Access::Role(need) if *r >= need => "yes",
                Access::Role(_) => "—",
                Access::Approver if *r >= Role::Admin => "yes",
                Access::Approver => "if an approver of the kind",
                Access::Addressee if *r >= Role::Admin => "yes",
                Access::Addressee => "if the person asked",
            })
            .collect();
        out.push_str(&format!("| `{path}` | {} |\n", cells.join(" | ")));
    }
    out
}

/// Replace what stands between `<!-- generated: NAME -->` and
/// `<!-- end: NAME -->` in `text`; None when the markers are missing.
fn splice(text: &str, name: &str, body: &str) -> Option<String> {
    let open = format!("<!-- generated: {name} -->\n");
    let close = format!("<!-- end: {name} -->");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    Some(format!("{}{body}{}", &text[..start], &text[end..]))
}

#[test]
fn readme_grammar_and_roles_are_the_specs() {
    let text = std::fs::read_to_string(README).expect("README.md");
    let mut want = text.clone();
    for (name, body) in [("command grammar", grammar()), ("roles", roles_table())] {
        want = splice(&want, name, &body)
            .unwrap_or_else(|| panic!("README.md lacks the markers of {name:?}"));
    }
    if want != text {
        if std::env::var_os("ORKHUB_BLESS").is_some() {
            std::fs::write(README, &want).expect("write README.md");
            return;
        }
        panic!(
            "README.md's generated sections differ from the command spec; run \
             `ORKHUB_BLESS=1 cargo test -p commands --test readme`.\n\ngrammar:\n{}\nroles:\n{}",
            grammar(),
            roles_table()
        );
    }
    // The grammar names every command.
    for (path, _) in spec::leaves() {
        assert!(want.contains(&format!("\n{path}")), "{path}");
    }
}
