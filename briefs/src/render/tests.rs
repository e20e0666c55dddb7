//! Every template against hostile text: markup in task titles, decision
//! context, agent ids and the LLM's summary must come out inert.

use super::*;
use crate::config::BriefConfig;
use crate::input::*;
use crate::window::Window;
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};

const HOSTILE: &str = "<b>bold</b> & *_~ <!channel> @everyone";

fn hostile_brief() -> Brief {
    let w = Window::new(
        "ceo",
        chrono_tz::Tz::UTC,
        NaiveDate::from_ymd_opt(2026, 7, 10).unwrap(),
        NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 7, 10, 9, 0, 0).unwrap(),
        None,
        &BriefConfig::default(),
    )
    .unwrap();
    let task = TaskRow {
        id: 7,
        title: HOSTILE.into(),
        status: "in_progress".into(),
        priority: "urgent".into(),
        project_id: None,
        assignee: Some(HOSTILE.into()),
        due_at: Some(Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap()),
        created_at: Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap(),
    };
    let input = BriefInput {
        overdue: vec![task.clone()],
        overdue_total: 1,
        sla_breaches: vec![task],
        sla_total: 1,
        agents: vec![AgentRow {
            id: HOSTILE.into(),
            status: "active".into(),
            daily_budget_usd: Some(1.0),
            last_heartbeat_at: None,
            heartbeat_note: None,
            active_tasks: 1,
        }],
        projects: vec![ProjectRow {
            id: "p".into(),
            name: HOSTILE.into(),
            budget_usd: Some(10.0),
            deadline: None,
        }],
        spend: vec![SpendRow {
            agent_id: HOSTILE.into(),
            project_id: Some("p".into()),
            today_usd: 2.0,
            month_usd: 2.0,
            week_usd: 0.0,
        }],
        pending_decisions: vec![DecisionRow {
            id: 3,
            kind: HOSTILE.into(),
            context: HOSTILE.into(),
            requested_by: HOSTILE.into(),
            task_id: None,
            created_at: w.until,
        }],
        pending_total: 1,
        repeated_failures: vec![FailureRow {
            agent_id: "a".into(),
            reason: HOSTILE.into(),
            count: 2,
            last_at: w.until,
        }],
        ..Default::default()
    };
    let mut b = crate::build(&w, HOSTILE, &input, &BriefConfig::default());
    b.summary = Some(HOSTILE.into());
    b
}

fn render(format: Format) -> String {
    Renderer::new(None)
        .render(&hostile_brief(), format)
        .unwrap()
}

#[test]
fn html_formats_escape_entities_and_keep_their_own_markup() {
    for format in [Format::TelegramHtml, Format::EmailHtml] {
        let out = render(format);
        assert!(!out.contains("<b>bold"), "{format:?}: {out}");
        assert!(!out.contains("<!channel>"), "{format:?}");
        assert!(
            out.contains("&lt;b&gt;bold&lt;/b&gt; &amp; *_~ &lt;!channel&gt; @everyone"),
            "{format:?}: {out}"
        );
        assert!(!out.contains(" & "), "{format:?}: a bare ampersand");
        // The template's own markup survives.
        assert!(out.contains("<b>") || out.contains("<h2"), "{format:?}");
    }
}

#[test]
fn slack_escapes_control_characters() {
    let out = render(Format::SlackMrkdwn);
    assert!(!out.contains("<!channel>") && !out.contains("<b>"), "{out}");
    assert!(
        out.contains("&lt;b&gt;bold&lt;/b&gt; &amp; *_~ &lt;!channel&gt;"),
        "{out}"
    );
    assert!(out.contains("*Budget*"));
}

#[test]
fn slack_blocks_are_valid_json_with_escaped_text() {
    let out = render(Format::SlackBlocks);
    let blocks: serde_json::Value = serde_json::from_str(&out).unwrap();
    let texts: Vec<String> = blocks
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap().to_string())
        .collect();
    let all = texts.join("\n");
    assert!(!all.contains("<!channel>"), "{all}");
    assert!(all.contains("&lt;!channel&gt;"));
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("*Pending decisions* (1)"))
    );
}

#[test]
fn discord_escapes_markdown_and_breaks_mass_mentions() {
    let out = render(Format::DiscordMarkdown);
    assert!(!out.contains("@everyone"), "{out}");
    assert!(out.contains("@\u{200B}everyone"));
    assert!(
        out.contains("\\<b\\>bold\\</b\\> & \\*\\_\\~ \\<!channel\\>"),
        "{out}"
    );
    assert!(out.contains("**Budget**"));
}

#[test]
fn plain_text_is_verbatim() {
    let out = render(Format::PlainText);
    assert!(
        out.contains(&format!("- #7 {HOSTILE} (due 2026-07-01, {HOSTILE})")),
        "{out}"
    );
    assert!(!out.contains("&lt;"));
}

#[test]
fn an_edited_template_is_used_without_a_rebuild_and_a_missing_one_falls_back() {
    let dir = std::env::temp_dir().join(format!("orkhub-brief-tpl-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("brief")).unwrap();
    std::fs::write(
        dir.join("brief/telegram.html.hbs"),
        "<i>{{person_name}}</i> {{overdue.total}}",
    )
    .unwrap();
    let r = Renderer::new(Some(dir.clone()));
    let b = hostile_brief();
    assert_eq!(
        r.render(&b, Format::TelegramHtml).unwrap(),
        "<i>&lt;b&gt;bold&lt;/b&gt; &amp; *_~ &lt;!channel&gt; @everyone</i> 1"
    );
    // No discord file in the directory: the built-in one.
    assert!(
        r.render(&b, Format::DiscordMarkdown)
            .unwrap()
            .contains("**Overdue** (1)")
    );
    // A typo in a field name is an error naming the file, not silence.
    std::fs::write(dir.join("brief/telegram.html.hbs"), "{{no_such_field}}").unwrap();
    let e = r.render(&b, Format::TelegramHtml).unwrap_err().to_string();
    assert!(e.contains("telegram.html.hbs"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}
