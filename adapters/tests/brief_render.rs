//! The daily brief in every platform's formats, each with its adapter's
//! templates and one escaper. Every template against hostile text: markup
//! in task titles, decision context, agent ids and the LLM's summary must
//! come out inert. (Moved from briefs/src/render/tests.rs with the
//! rendering; assertions unchanged.)

use adapters::brief::{Format, Renderer};
use briefs::input::*;
use briefs::{Brief, BriefConfig, Window};
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
        days_late: None,
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
        reader: ReaderScope {
            all_kinds: true,
            kinds: vec![],
        },
        repeated_failures: vec![FailureRow {
            agent_id: "a".into(),
            reason: HOSTILE.into(),
            count: 2,
            last_at: w.until,
        }],
        ..Default::default()
    };
    let mut b = briefs::build(&w, HOSTILE, &input, &BriefConfig::default());
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
        texts.iter().any(|t| t.starts_with("*Needs you* (")),
        "{all}"
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
        out.contains(&format!(
            "- #7 {HOSTILE} (due 2026-07-01, 9 days late, {HOSTILE})"
        )),
        "{out}"
    );
    assert!(!out.contains("&lt;"));
}

#[test]
fn an_edited_template_is_used_without_a_rebuild_and_a_missing_one_falls_back() {
    let dir = std::env::temp_dir().join(format!("orkhub-brief-tpl-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("telegram")).unwrap();
    std::fs::write(
        dir.join("telegram/brief.html.hbs"),
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
    std::fs::write(dir.join("telegram/brief.html.hbs"), "{{no_such_field}}").unwrap();
    let e = r.render(&b, Format::TelegramHtml).unwrap_err().to_string();
    // The template moved from brief/telegram.html.hbs: the error names the new path.
    assert!(e.contains("telegram/brief.html.hbs"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Text far past every platform limit, full of markup for every format.
fn long_hostile(n: usize) -> String {
    "<b>&</b> *_~`|> @everyone <!channel> \\ \"q\" ".repeat(n)
}

/// A brief whose every free-text field is thousands of characters of
/// markup, with as many list rows as the list limit allows and many
/// agents and projects.
fn long_brief() -> Brief {
    let mut b = hostile_brief();
    let long = long_hostile(200);
    b.person_name = long.clone();
    b.summary = Some(long.clone());
    let task = b.overdue.tasks[0].clone();
    b.overdue.tasks = (0..10)
        .map(|i| TaskRow {
            id: 1_000_000 + i,
            title: long.clone(),
            assignee: Some(long.clone()),
            ..task.clone()
        })
        .collect();
    b.overdue.total = 123_456;
    b.sla_breaches.tasks = b.overdue.tasks.clone();
    b.needs_you.sla_breaches = b.sla_breaches.clone();
    let d = b.pending_decisions.decisions[0].clone();
    b.pending_decisions.decisions = (0..10)
        .map(|i| briefs::model::PendingDecision {
            id: 2_000_000 + i,
            kind: long.clone(),
            context: long.clone(),
            requested_by: long.clone(),
            ..d.clone()
        })
        .collect();
    b.needs_you.decisions.decisions = b.pending_decisions.decisions.clone();
    let a = b.budget.agents[0].clone();
    b.budget.agents = (0..60)
        .map(|i| briefs::model::AgentSpend {
            agent_id: format!("{i}{long}"),
            ..a.clone()
        })
        .collect();
    b.budget.top_spenders = b.budget.agents[..5].to_vec();
    b.budget.over_daily_budget = b.budget.agents.iter().map(|a| a.agent_id.clone()).collect();
    b.needs_you.over_budget_agents = b.budget.agents.clone();
    let p = b.budget.projects[0].clone();
    b.budget.projects = (0..60)
        .map(|i| briefs::model::ProjectSpend {
            name: format!("{i}{long}"),
            ..p.clone()
        })
        .collect();
    let an = b.anomalies[0].clone();
    b.anomalies = (0..30)
        .map(|_| briefs::model::Anomaly {
            message: long.clone(),
            ..an.clone()
        })
        .collect();
    b
}

#[test]
fn long_hostile_text_stays_within_every_platforms_limits() {
    let b = long_brief();
    let r = Renderer::new(None);
    for format in Format::ALL {
        let out = r.render(&b, format).unwrap();
        // Numbers are never cut.
        assert!(out.contains("1000009"), "{format:?}: a task id was cut");
        assert!(out.contains("2000009"), "{format:?}: a decision id was cut");
        assert!(out.contains("123456"), "{format:?}: a total was cut");
        assert!(out.contains('…'), "{format:?}: nothing was cut");
        // No line grows with the text (every free-text field is cut);
        // Block Kit is one line of JSON, checked per block below.
        let longest = out.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(
            format == Format::SlackBlocks || longest < 2500,
            "{format:?}: a line of {longest} characters"
        );
        match format {
            Format::SlackBlocks => {
                let blocks: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
                for block in &blocks {
                    let text = block["text"]["text"].as_str().unwrap();
                    let limit = if block["type"] == "header" { 150 } else { 3000 };
                    assert!(text.chars().count() <= limit, "{block}");
                    assert!(!text.contains("<!channel>") && !text.contains("<b>"));
                }
            }
            Format::TelegramHtml | Format::EmailHtml => {
                assert!(!out.contains("<!channel>") && !out.contains("<b>&"));
                // Every '&' starts a whole entity: none was cut in half.
                for (i, _) in out.match_indices('&') {
                    let rest = &out[i..];
                    let end = rest.find(';').unwrap_or(usize::MAX);
                    assert!(
                        end <= 6,
                        "{format:?}: a split entity at {}",
                        &rest[..20.min(rest.len())]
                    );
                }
            }
            Format::SlackMrkdwn => assert!(!out.contains("<!channel>") && !out.contains("<b>")),
            Format::DiscordMarkdown => {
                assert!(!out.contains("@everyone"));
                assert!(out.contains("\\<b\\>&\\</b\\> \\*\\_\\~\\`\\|\\>"));
                // No escape was cut from what it escapes: an odd run of
                // backslashes before a cut would escape the ellipsis.
                for (i, _) in out.match_indices('…') {
                    let run = out[..i].chars().rev().take_while(|c| *c == '\\').count();
                    assert!(run % 2 == 0, "a dangling backslash before a cut");
                }
            }
            Format::PlainText => assert!(out.contains("<b>&</b>")),
        }
    }
}

#[test]
fn a_broken_template_falls_back_when_sending_and_fails_a_preview() {
    let dir = std::env::temp_dir().join(format!("orkhub-brief-broken-{}", std::process::id()));
    for platform in ["discord", "slack", "telegram"] {
        std::fs::create_dir_all(dir.join(platform)).unwrap();
    }
    std::fs::write(dir.join("discord/brief.md.hbs"), "{{no_such_field}}").unwrap();
    std::fs::write(dir.join("slack/brief.blocks.json.hbs"), "not json").unwrap();
    std::fs::write(
        dir.join("telegram/brief.html.hbs"),
        "<i>{{person_name}}</i>",
    )
    .unwrap();
    let r = Renderer::new(Some(dir.clone()));
    let b = hostile_brief();
    // A preview shows the error, naming the file.
    let e = r
        .render(&b, Format::DiscordMarkdown)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("discord/brief.md.hbs") && e.contains("no_such_field"),
        "{e}"
    );
    assert!(r.render(&b, Format::SlackBlocks).is_err());
    // Sending: the built-in for the broken ones, the edited one where it works.
    let send = |f| r.render_for_send(&b, f).unwrap();
    assert!(send(Format::DiscordMarkdown).contains("**Overdue** (1)"));
    assert!(send(Format::SlackBlocks).starts_with('['));
    assert_eq!(
        send(Format::TelegramHtml),
        "<i>&lt;b&gt;bold&lt;/b&gt; &amp; *_~ &lt;!channel&gt; @everyone</i>"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_figure_is_a_dash_not_an_error() {
    // A negative budget (config refuses one; a database may still hold
    // one) is truthy in {{#if budget_usd}} while used_pct is null.
    let mut b = hostile_brief();
    b.budget.projects[0].budget_usd = Some(-5.0);
    b.budget.projects[0].used_pct = None;
    b.budget.month_budget_usd = Some(-5.0);
    b.budget.month_used_pct = None;
    b.budget.top_spenders[0].daily_budget_usd = Some(-1.0);
    b.budget.top_spenders[0].today_pct = None;
    for format in Format::ALL {
        let out = Renderer::new(None).render(&b, format).unwrap();
        assert!(out.contains("(—)"), "{format:?}: {out}");
    }
}

#[test]
fn a_template_edited_at_its_old_path_is_still_read_until_one_exists_at_the_new_path() {
    // Before the brief's templates moved to <platform>/brief.*.hbs they
    // were read from brief/<platform>.*.hbs; an installation's edited copy
    // there keeps working.
    let dir = std::env::temp_dir().join(format!("orkhub-brief-legacy-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("brief")).unwrap();
    std::fs::write(dir.join("brief/discord.md.hbs"), "old {{overdue.total}}").unwrap();
    std::fs::write(
        dir.join("brief/email.txt.hbs"),
        "old text {{overdue.total}}",
    )
    .unwrap();
    let r = Renderer::new(Some(dir.clone()));
    let b = hostile_brief();
    assert_eq!(r.render(&b, Format::DiscordMarkdown).unwrap(), "old 1");
    assert_eq!(r.render(&b, Format::PlainText).unwrap(), "old text 1");
    // The new path wins once it exists.
    std::fs::create_dir_all(dir.join("discord")).unwrap();
    std::fs::write(dir.join("discord/brief.md.hbs"), "new {{overdue.total}}").unwrap();
    assert_eq!(r.render(&b, Format::DiscordMarkdown).unwrap(), "new 1");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The brief's text goes through each platform's one escaper, the same one
/// its messages use: where the briefs crate's own escapers had drifted from
/// the adapters', the adapter's (documented) rule now holds for briefs too.
#[test]
fn briefs_use_each_adapters_one_escaper() {
    let mut b = hostile_brief();
    b.person_name = "say \"hi\" - (now) & <b>".into();
    // Telegram's HTML parse mode: "All <, > and & symbols that are not a
    // part of a tag or an HTML entity must be replaced with the
    // corresponding HTML entities" — nothing else. A quote in text is
    // shown as it is, so it is no longer written as &quot;.
    let out = render_brief(&b, Format::TelegramHtml);
    assert!(
        out.contains("Brief for say \"hi\" - (now) &amp; &lt;b&gt;</b>"),
        "{out}"
    );
    assert_eq!(
        adapters::telegram::render::escape(&b.person_name),
        "say \"hi\" - (now) &amp; &lt;b&gt;"
    );
    // Discord markdown: `-` starts a list item and `(`/`)` close a masked
    // link (`[text](url)`), so the adapter escapes them with a backslash —
    // in briefs too now (the briefs' escaper left them alone).
    let out = render_brief(&b, Format::DiscordMarkdown);
    assert!(out.contains("say \"hi\" \\- \\(now\\) & \\<b\\>"), "{out}");
    // Slack mrkdwn: only & < > are control characters.
    let out = render_brief(&b, Format::SlackMrkdwn);
    assert!(out.contains("say \"hi\" - (now) &amp; &lt;b&gt;"), "{out}");
    // Email HTML: the email adapter's escaper (handlebars' HTML escape),
    // as in its messages.
    let out = render_brief(&b, Format::EmailHtml);
    assert!(
        out.contains(&adapters::email::render::escape(&b.person_name)),
        "{out}"
    );
    assert!(
        out.contains("say &quot;hi&quot; - (now) &amp; &lt;b&gt;"),
        "{out}"
    );
}

fn render_brief(b: &Brief, format: Format) -> String {
    Renderer::new(None).render(b, format).unwrap()
}

/// A brief with one of everything, to read the order and the plurals.
fn ordered_brief(n: i64) -> Brief {
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
    let input = BriefInput {
        activity: ActivityCounts {
            tasks_created: n,
            tasks_completed: n,
            tasks_moved: 0,
            decisions_made: n,
        },
        mine: MyTasks {
            open: n,
            overdue: 0,
        },
        completed: vec![NamedTask {
            id: 41,
            title: "Ship it".into(),
        }],
        decided: vec![MadeDecision {
            id: 5,
            kind: "deploy".into(),
            status: "approved".into(),
            decided_by: Some("ceo".into()),
        }],
        overdue: vec![TaskRow {
            id: 9,
            title: "Late report".into(),
            status: "ready".into(),
            priority: "high".into(),
            project_id: None,
            assignee: None,
            due_at: Some(Utc.with_ymd_and_hms(2026, 7, 9, 0, 0, 0).unwrap()),
            created_at: Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap(),
            days_late: None,
        }],
        overdue_total: 1,
        agents: vec![
            AgentRow {
                id: "builder".into(),
                status: "active".into(),
                daily_budget_usd: Some(1.0),
                last_heartbeat_at: None,
                heartbeat_note: None,
                active_tasks: n,
            },
            AgentRow {
                id: "writer".into(),
                status: "idle".into(),
                daily_budget_usd: None,
                last_heartbeat_at: Some(w.until),
                heartbeat_note: Some("drafting".into()),
                active_tasks: 0,
            },
        ],
        projects: vec![ProjectRow {
            id: "p".into(),
            name: "Website".into(),
            budget_usd: Some(10.0),
            deadline: None,
        }],
        spend: vec![
            SpendRow {
                agent_id: "builder".into(),
                project_id: Some("p".into()),
                today_usd: 2.0,
                month_usd: 2.0,
                week_usd: 0.0,
            },
            SpendRow {
                agent_id: "builder".into(),
                project_id: None,
                today_usd: 0.5,
                month_usd: 5.0,
                week_usd: 0.0,
            },
        ],
        pending_decisions: vec![DecisionRow {
            id: 3,
            kind: "deploy".into(),
            context: "Ship v2?".into(),
            requested_by: "agent:builder".into(),
            task_id: None,
            created_at: w.until - chrono::Duration::hours(n),
        }],
        pending_total: 1,
        reader: ReaderScope {
            all_kinds: true,
            kinds: vec![],
        },
        ..Default::default()
    };
    briefs::build(&w, "CEO", &input, &BriefConfig::default())
}

/// Each format's section headings, in the order the brief must have them.
fn headings(format: Format) -> [&'static str; 5] {
    match format {
        Format::TelegramHtml => [
            "<b>Needs you</b>",
            "<b>Activity</b>",
            "<b>Budget</b>",
            "<b>Agents</b>",
            "<b>Overdue</b>",
        ],
        Format::SlackMrkdwn | Format::SlackBlocks => [
            "*Needs you*",
            "*Activity*",
            "*Budget*",
            "*Agents*",
            "*Overdue*",
        ],
        Format::DiscordMarkdown => [
            "**Needs you**",
            "**Activity**",
            "**Budget**",
            "**Agents**",
            "**Overdue**",
        ],
        Format::EmailHtml => [
            ">Needs you",
            ">Activity since",
            ">Budget<",
            ">Agents<",
            ">Overdue",
        ],
        Format::PlainText => ["NEEDS YOU", "ACTIVITY", "BUDGET", "AGENTS", "OVERDUE"],
    }
}

#[test]
fn every_format_leads_with_needs_you_then_activity_budget_agents_overdue() {
    let b = ordered_brief(1);
    for format in Format::ALL {
        let out = render_brief(&b, format);
        let at: Vec<usize> = headings(format)
            .iter()
            .map(|h| {
                out.find(h)
                    .unwrap_or_else(|| panic!("{format:?}: no {h:?} in {out}"))
            })
            .collect();
        assert!(
            at.windows(2).all(|p| p[0] < p[1]),
            "{format:?}: {at:?}\n{out}"
        );
        let needs = &out[at[0]..at[1]];
        // What needs the reader: the decision, the agent over budget; the
        // project is within its budget.
        assert!(
            needs.contains("Decision #3 deploy: Ship v2?"),
            "{format:?}: {needs}"
        );
        assert!(
            needs.contains("is over its daily budget: $2.50 of $1.00"),
            "{format:?}: {needs}"
        );
        assert!(!needs.contains("Website"), "{format:?}: {needs}");
        let activity = &out[at[1]..at[2]];
        assert!(
            activity.contains("completed #41 Ship it"),
            "{format:?}: {activity}"
        );
        assert!(
            activity.contains("decision #5 deploy: approved by ceo"),
            "{format:?}: {activity}"
        );
        let budget = &out[at[2]..at[3]];
        assert!(
            budget.contains("no project: $0.50 today, $5.00 this month"),
            "{format:?}: {budget}"
        );
        assert!(
            budget.contains("(over the total budget)"),
            "{format:?}: {budget}"
        );
        let agents = &out[at[3]..at[4]];
        // Every agent, with status, heartbeat and note.
        assert!(
            agents.contains("builder") && agents.contains("never sent a heartbeat"),
            "{format:?}: {agents}"
        );
        assert!(
            agents.contains("writer")
                && agents.contains("idle, last heartbeat 2026-07-10 09:00 (drafting)"),
            "{format:?}: {agents}"
        );
        assert!(out[at[4]..].contains("1 day late"), "{format:?}");
    }
}

#[test]
fn counts_read_with_correct_plurals_in_every_format() {
    for format in Format::ALL {
        let one = render_brief(&ordered_brief(1), format);
        for phrase in [
            "1 task created",
            "1 decision made",
            "You have 1 open task (",
            "waiting 1 hour)",
            "with 1 active task",
        ] {
            assert!(one.contains(phrase), "{format:?}: no {phrase:?} in {one}");
        }
        let two = render_brief(&ordered_brief(2), format);
        for phrase in [
            "2 tasks created",
            "2 decisions made",
            "You have 2 open tasks (",
            "waiting 2 hours)",
            "with 2 active tasks",
        ] {
            assert!(two.contains(phrase), "{format:?}: no {phrase:?} in {two}");
        }
    }
}

/// A message carrying the brief is rendered by each adapter when it is
/// sent, from the templates as they are then: built-in, then edited, then
/// (a broken edit) built-in again.
#[test]
fn each_adapter_renders_a_carried_brief_from_the_templates_as_they_are_when_sent() {
    use adapters::template::Templates;
    use neutral::{Document, RichMessage};
    let dir = std::env::temp_dir().join(format!("orkhub-brief-send-{}", std::process::id()));
    let templates = Templates::new(Some(dir.clone()));
    let m = RichMessage::titled("Brief", "as composed")
        .with_document(Document::Brief(Box::new(hostile_brief())));
    let telegram = || adapters::telegram::render::parts(&m, &templates).unwrap();
    let slack = || adapters::slack::render::render(&m, &templates).unwrap();
    let discord = || {
        adapters::discord::render::render(&m, &templates)
            .unwrap()
            .parts
            .concat()
    };
    let email = || {
        adapters::email::Templates::embedded()
            .email(&m, &templates, None)
            .unwrap()
    };
    assert!(
        telegram()[0].starts_with("<b>Brief for "),
        "{:?}",
        telegram()
    );
    assert!(slack().text.starts_with("*Brief for "), "{}", slack().text);
    assert!(discord().starts_with("**Brief for "), "{}", discord());
    assert!(email().text.starts_with("Brief for "), "{}", email().text);
    assert_eq!(email().subject, "Brief");
    for (file, text) in [
        ("telegram/brief.html.hbs", "<i>T {{date}}</i>"),
        ("slack/brief.mrkdwn.hbs", "S {{date}}"),
        ("discord/brief.md.hbs", "D {{date}}"),
        ("email/brief.txt.hbs", "E {{date}}"),
    ] {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    assert_eq!(telegram(), ["<i>T 2026-07-10</i>"]);
    assert_eq!(slack().text, "S 2026-07-10");
    // Discord's escaper writes `-` as `\-`.
    assert_eq!(discord(), "D 2026\\-07\\-10");
    assert_eq!(email().text, "E 2026-07-10");
    // A broken edit gives way to the built-in template.
    std::fs::write(dir.join("telegram/brief.html.hbs"), "{{#if}} broken").unwrap();
    assert!(
        telegram()[0].starts_with("<b>Brief for "),
        "{:?}",
        telegram()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The web feed carries no document to browsers: a brief goes out as its
/// plain text, rendered when it is sent.
#[tokio::test]
async fn the_web_feed_shows_a_carried_brief_as_plain_text() {
    use adapters::Adapter;
    let web = adapters::web::WebAdapter::new(16);
    let mut feed = web.subscribe();
    let m = neutral::RichMessage::titled("Brief", "as composed")
        .with_document(neutral::Document::Brief(Box::new(hostile_brief())));
    web.send(&adapters::Destination::person("ceo"), &m)
        .await
        .unwrap();
    let shown = feed.recv().await.unwrap().message;
    assert_eq!(shown.document, None);
    assert_eq!(shown.title.as_deref(), Some("Brief"));
    assert!(shown.text.starts_with("Brief for "), "{}", shown.text);
    assert!(shown.text.contains(HOSTILE), "{}", shown.text);
}
