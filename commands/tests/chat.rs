//! Chat commands end to end against the in-memory backend: happy paths,
//! refusals, the lifecycle, dependencies, decisions, buttons and audit.

use commands::testing::{CostRecord, MemoryBackend};
use commands::*;
use routing::ChannelKind;

const OWNER: &str = "100";
const MEMBER: &str = "200";
const VIEWER: &str = "300";
const APPROVER: &str = "400";

fn team() -> MemoryBackend {
    let b = MemoryBackend::new();
    b.add_person(ChannelKind::Telegram, OWNER, "alice", Role::Owner);
    b.add_person(ChannelKind::Telegram, MEMBER, "bob", Role::Member);
    b.add_person(ChannelKind::Telegram, VIEWER, "vic", Role::Viewer);
    b.add_person(ChannelKind::Telegram, APPROVER, "dora", Role::Member);
    b.add_person(ChannelKind::Slack, "U777", "bob", Role::Member);
    b.set_approvers("deploy", &["dora"]);
    b.add_agent(
        Agent {
            id: "coder".into(),
            name: "Coder".into(),
            status: AgentStatus::Active,
            capabilities: vec!["rust".into()],
        },
        AgentStats::default(),
    );
    b
}

fn ctx(user: &str) -> Context {
    Context {
        platform: ChannelKind::Telegram,
        user_id: user.into(),
        chat_id: "c1".into(),
        bot_username: Some("orkbot".into()),
    }
}

async fn run(b: &MemoryBackend, user: &str, input: &str) -> Outcome {
    execute(b, &ctx(user), input).await
}

/// Run and expect success; return the reply's plain text.
async fn ok(b: &MemoryBackend, user: &str, input: &str) -> String {
    match run(b, user, input).await {
        Outcome::Done { reply, .. } => {
            assert!(!reply.is_error);
            reply.message.plain_text()
        }
        other => panic!("{input:?} failed: {other:?}"),
    }
}

/// Run and expect a refusal; return the error and its message.
async fn refused(b: &MemoryBackend, user: &str, input: &str) -> (CommandError, String) {
    match run(b, user, input).await {
        Outcome::Rejected { reply, error } => {
            assert!(reply.is_error);
            (error, reply.message.plain_text())
        }
        other => panic!("{input:?} should be refused: {other:?}"),
    }
}

fn status(b: &MemoryBackend, id: i64) -> TaskStatus {
    match b.get_task(id) {
        Some(t) => t.status,
        None => panic!("no task {id}"),
    }
}

#[tokio::test]
async fn task_new_with_quoted_unicode_title_and_flags() {
    let b = team();
    let text = ok(
        &b,
        MEMBER,
        "/task@orkbot new “Réparer l'écran 📱 — vite” --priority urgent --project=mobile --due 2026-12-01 --assignee @coder",
    )
    .await;
    assert!(text.contains("Created task #1"), "{text}");
    let Some(t) = b.get_task(1) else {
        panic!("created")
    };
    assert_eq!(t.title, "Réparer l'écran 📱 — vite");
    assert_eq!(t.priority, Priority::Urgent);
    assert_eq!(t.project.as_deref(), Some("mobile"));
    assert_eq!(t.assignee, Some(Assignee::Agent("coder".into())));
    assert_eq!(t.status, TaskStatus::Assigned);
    assert_eq!(t.created_by, "bob");
    let audit = b.audit();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "task.create");
    assert_eq!(audit[0].resource, "task:1");
    assert_eq!(audit[0].actor, "bob");
    assert_eq!(audit[0].source, "telegram user 200 in chat c1");
}

#[tokio::test]
async fn slack_style_input_without_slash_and_mentions() {
    let b = team();
    let slack = Context {
        platform: ChannelKind::Slack,
        user_id: "U777".into(),
        chat_id: "C1".into(),
        bot_username: None,
    };
    let out = execute(&b, &slack, "task new 'Bob's list' --assignee <@U777|bob>").await;
    assert!(matches!(out, Outcome::Done { .. }), "{out:?}");
    let Some(t) = b.get_task(1) else {
        panic!("created")
    };
    assert_eq!(t.title, "Bob's list");
    assert_eq!(t.assignee, Some(Assignee::Person("bob".into())));
}

#[tokio::test]
async fn another_bots_command_is_ignored() {
    let b = team();
    assert_eq!(
        run(&b, OWNER, "/task@otherbot list").await,
        Outcome::NotForUs
    );
    // Even from an unknown user: silence, not a refusal.
    assert_eq!(run(&b, "999", "/help@otherbot").await, Outcome::NotForUs);
}

#[tokio::test]
async fn unknown_user_is_refused_politely_and_distinguishably() {
    let b = team();
    let out = run(&b, "12345", "/task list").await;
    let Outcome::UnknownUser {
        reply,
        platform,
        user_id,
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(platform, ChannelKind::Telegram);
    assert_eq!(user_id, "12345");
    assert_eq!(
        reply.message.text,
        "I don't know you yet — ask an admin to add your telegram ID 12345 to orkhub."
    );
    assert!(b.audit().is_empty());
}

#[tokio::test]
async fn viewer_reads_but_cannot_change() {
    let b = team();
    ok(&b, MEMBER, "task new First").await;
    ok(&b, VIEWER, "task list").await;
    ok(&b, VIEWER, "task show 1").await;
    let (err, msg) = refused(&b, VIEWER, "task new Sneaky").await;
    assert!(err.is_forbidden());
    assert_eq!(msg, "`task new` needs the member role; you are a viewer.");
    let (err, _) = refused(&b, VIEWER, "task assign 1 @bob").await;
    assert!(err.is_forbidden());
    let (err, _) = refused(&b, VIEWER, "task block 1").await;
    assert!(err.is_forbidden());
    assert_eq!(b.state().tasks.len(), 1);
}

#[tokio::test]
async fn lifecycle_through_chat() {
    let b = team();
    ok(&b, MEMBER, "task new Ship it").await;
    // created → in_progress is not allowed; the refusal lists what is.
    let (_, msg) = refused(&b, MEMBER, "task start 1").await;
    assert!(
        msg.contains("Task #1 is `created`, so it can't move to `in_progress`"),
        "{msg}"
    );
    assert!(
        msg.contains("assigned (`task assign 1 <@who|auto>`)"),
        "{msg}"
    );
    ok(&b, MEMBER, "task assign 1 me").await;
    assert_eq!(status(&b, 1), TaskStatus::Assigned);
    ok(&b, MEMBER, "task start #1").await;
    assert_eq!(status(&b, 1), TaskStatus::InProgress);
    ok(&b, MEMBER, "task block 1 waiting for the API key").await;
    assert_eq!(status(&b, 1), TaskStatus::Blocked);
    let (_, msg) = refused(&b, MEMBER, "task done 1").await;
    assert!(msg.contains("in_progress (`task unblock 1`)"), "{msg}");
    let text = ok(&b, MEMBER, "task unblock 1").await;
    assert!(text.contains("blocked → in_progress"), "{text}");
    ok(&b, MEMBER, "task review 1").await;
    ok(&b, MEMBER, "task done 1").await;
    assert_eq!(status(&b, 1), TaskStatus::Completed);
    let (err, msg) = refused(&b, MEMBER, "task block 1").await;
    assert_eq!(err, CommandError::Service(ServiceError::TaskClosed(1)));
    assert!(msg.contains("completed"));
    let (_, msg) = refused(&b, MEMBER, "task unblock 1").await;
    assert_eq!(msg, "Task #1 is not blocked.");
    // Every change was audited with its note.
    let moves: Vec<_> = b
        .audit()
        .into_iter()
        .filter(|a| a.action == "task.move")
        .collect();
    assert_eq!(moves.len(), 5);
    assert_eq!(moves[1].details["note"], "waiting for the API key");
}

#[tokio::test]
async fn dependencies_gate_start_and_promote_on_completion() {
    let b = team();
    ok(&b, MEMBER, "task new Schema").await; // 1
    ok(&b, MEMBER, "task new API").await; // 2
    ok(&b, MEMBER, "task new UI --assignee @bob").await; // 3
    ok(&b, MEMBER, "task dep 2 needs 1").await;
    ok(&b, MEMBER, "task dep 3 needs 1").await;
    let (_, msg) = refused(&b, MEMBER, "task start 3").await;
    assert_eq!(
        msg,
        "Task #3 can't start yet: it needs #1 \"Schema\" (created) to be completed first."
    );
    ok(&b, MEMBER, "task assign 1 @bob").await;
    ok(&b, MEMBER, "task start 1").await;
    let text = ok(&b, MEMBER, "task done 1").await;
    // #2 was created → ready; #3 was assigned, so it stays assigned.
    assert!(text.contains("#2 \"API\" is now ready."), "{text}");
    assert_eq!(status(&b, 2), TaskStatus::Ready);
    assert_eq!(status(&b, 3), TaskStatus::Assigned);
    ok(&b, MEMBER, "task start 3").await;
    // A dependency on something already done makes a created task ready at once.
    ok(&b, MEMBER, "task new Docs").await; // 4
    let text = ok(&b, MEMBER, "task dep 4 needs 1").await;
    assert!(text.contains("#4 is ready"), "{text}");
    assert_eq!(status(&b, 4), TaskStatus::Ready);
    let shown = ok(&b, MEMBER, "task show 2").await;
    assert!(shown.contains("Needs: #1 Schema (completed)"), "{shown}");
}

#[tokio::test]
async fn cycles_and_self_dependencies_are_refused() {
    let b = team();
    for t in ["a", "b", "c", "d", "e"] {
        ok(&b, MEMBER, &format!("task new {t}")).await;
    }
    ok(&b, MEMBER, "task dep 5 needs 3").await;
    let (_, msg) = refused(&b, MEMBER, "task dep 3 needs 5").await;
    assert_eq!(
        msg,
        "That would make a cycle: #3 → #5 → #3 (→ means \"needs\")."
    );
    let (_, msg) = refused(&b, MEMBER, "task dep 2 needs 2").await;
    assert_eq!(msg, "A task can't depend on itself (#2).");
    let (_, msg) = refused(&b, MEMBER, "task dep 5 needs 3").await;
    assert_eq!(msg, "Task #5 already needs #3.");
    let (_, msg) = refused(&b, MEMBER, "task dep 5 needs 99").await;
    assert_eq!(msg, "There is no task #99.");
    assert_eq!(b.state().deps.len(), 1);
}

#[tokio::test]
async fn assign_to_unknown_or_ambiguous_names() {
    let b = team();
    ok(&b, MEMBER, "task new x").await;
    let (_, msg) = refused(&b, MEMBER, "task assign 1 @nobody").await;
    assert_eq!(
        msg,
        "I don't know `nobody`: it is neither a person in orkhub nor an agent."
    );
    b.add_person(ChannelKind::Telegram, "500", "coder", Role::Member);
    let (err, _) = refused(&b, MEMBER, "task assign 1 coder").await;
    assert!(matches!(
        err,
        CommandError::Service(ServiceError::AmbiguousAssignee(_))
    ));
    ok(&b, MEMBER, "task assign 1 agent:coder").await;
    assert_eq!(
        b.get_task(1).and_then(|t| t.assignee),
        Some(Assignee::Agent("coder".into()))
    );
}

#[tokio::test]
async fn list_filters() {
    let b = team();
    ok(&b, MEMBER, "task new One --project web --assignee me").await;
    ok(&b, MEMBER, "task new Two --project api").await;
    ok(&b, MEMBER, "task new Three --project web").await;
    let mine = ok(&b, MEMBER, "task list --mine").await;
    assert!(
        mine.contains("#1") && !mine.contains("#2") && !mine.contains("#3"),
        "{mine}"
    );
    let web = ok(&b, MEMBER, "task list --project web").await;
    assert!(
        web.contains("#1") && web.contains("#3") && !web.contains("#2"),
        "{web}"
    );
    let assigned = ok(&b, MEMBER, "task list --status assigned").await;
    assert!(
        assigned.contains("#1") && !assigned.contains("#3"),
        "{assigned}"
    );
    let none = ok(&b, MEMBER, "task list --status completed").await;
    assert!(none.contains("No tasks match."), "{none}");
}

#[tokio::test]
async fn approve_and_deny_with_roles_and_approvers() {
    let b = team();
    let d1 = b.add_pending_decision("deploy", "Deploy v2?", "agent:deployer");
    let d2 = b.add_pending_decision("spend", "Buy GPUs?", "agent:planner");
    let pending = ok(&b, VIEWER, "decisions").await;
    assert!(
        pending.contains("#1 deploy") && pending.contains("#2 spend"),
        "{pending}"
    );

    // A plain member may not approve; the message says what is needed.
    let (err, msg) = refused(&b, MEMBER, "approve 1").await;
    assert!(err.is_forbidden());
    assert_eq!(
        msg,
        "`approve` needs the admin role or approver rights for `deploy` decisions; you are a member."
    );
    // Dora is a member but an approver for deploys, not for spending.
    let (err, _) = refused(&b, APPROVER, "approve 2").await;
    assert!(err.is_forbidden());
    let out = run(&b, APPROVER, "approve 1 tests are green").await;
    let Outcome::Done { reply, events } = out else {
        panic!("{out:?}")
    };
    let footer = reply.message.footer.clone().unwrap_or_default();
    assert!(footer.starts_with("Approved by dora at "), "{footer}");
    assert!(footer.ends_with(": tests are green"), "{footer}");
    assert!(matches!(&events[..], [Event::DecisionResolved(d)] if d.id == d1.id));

    // deny needs a reason.
    let (err, msg) = refused(&b, OWNER, "deny 2").await;
    assert!(matches!(err, CommandError::Parse(ParseError::Usage { .. })));
    assert!(
        msg.contains("Missing <reason>.") && msg.contains("Usage: `deny <id> <reason>`"),
        "{msg}"
    );
    ok(&b, OWNER, "deny 2 not this quarter").await;
    let Some(d) = b.get_decision(d2.id) else {
        panic!("d2")
    };
    assert_eq!(d.status, DecisionStatus::Denied);
    assert_eq!(d.reasoning.as_deref(), Some("not this quarter"));
    assert_eq!(d.decided_by.as_deref(), Some("alice"));
    let (_, msg) = refused(&b, OWNER, "approve 42").await;
    assert_eq!(msg, "There is no decision #42.");
}

#[tokio::test]
async fn a_decision_is_never_resolved_twice() {
    let b = team();
    b.add_pending_decision("deploy", "Deploy v2?", "agent:deployer");
    ok(&b, OWNER, "approve 1").await;
    let (err, msg) = refused(&b, APPROVER, "deny 1 too late").await;
    assert!(matches!(
        err,
        CommandError::Service(ServiceError::AlreadyResolved { .. })
    ));
    assert!(
        msg.starts_with("Decision #1 was already approved by alice at "),
        "{msg}"
    );
    let Some(d) = b.get_decision(1) else {
        panic!("d")
    };
    assert_eq!(d.status, DecisionStatus::Approved);
    let resolutions = b
        .audit()
        .iter()
        .filter(|a| a.action == "decision.resolve")
        .count();
    assert_eq!(resolutions, 1);
}

#[tokio::test]
async fn a_lost_race_surfaces_the_stores_conflict() {
    let b = team();
    b.add_pending_decision("deploy", "Deploy v2?", "agent:deployer");
    // Another hub instance resolves it between our read and our write.
    b.state().race_resolution = Some(Resolution {
        outcome: DecisionOutcome::Deny,
        decided_by: "dora".into(),
        reasoning: None,
    });
    let (err, msg) = refused(&b, OWNER, "approve 1").await;
    assert!(matches!(
        err,
        CommandError::Service(ServiceError::AlreadyResolved { .. })
    ));
    assert!(
        msg.starts_with("Decision #1 was already denied by dora at "),
        "{msg}"
    );
    assert_eq!(
        b.get_decision(1).map(|d| d.status),
        Some(DecisionStatus::Denied)
    );
    assert!(b.audit().is_empty());
}

#[tokio::test]
async fn buttons_follow_the_same_rules() {
    let b = team();
    let d = b.add_pending_decision("deploy", "Deploy v2?", "agent:deployer");
    let msg = match decision_message_with_buttons(&b, &d).await {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(msg.buttons.len(), 2);
    let approve = msg.buttons[0].token.clone();
    assert!(approve.len() <= 64);

    let out = press(&b, &ctx(MEMBER), &approve).await;
    let Outcome::Rejected { error, .. } = out else {
        panic!("{out:?}")
    };
    assert!(error.is_forbidden());

    let out = press(&b, &ctx(APPROVER), &approve).await;
    let Outcome::Done { events, .. } = out else {
        panic!("{out:?}")
    };
    let [Event::DecisionResolved(resolved)] = &events[..] else {
        panic!("{events:?}")
    };
    // Every copy gets edited to this: no buttons, the outcome in the footer.
    let edited = decision_message(resolved, None);
    assert!(edited.buttons.is_empty());
    assert!(
        edited
            .footer
            .unwrap_or_default()
            .starts_with("Approved by dora")
    );

    let out = press(&b, &ctx(OWNER), &msg.buttons[1].token).await;
    let Outcome::Rejected { error, .. } = out else {
        panic!("{out:?}")
    };
    assert!(matches!(
        error,
        CommandError::Service(ServiceError::AlreadyResolved { .. })
    ));

    let out = press(&b, &ctx(OWNER), "forged").await;
    assert!(matches!(
        out,
        Outcome::Rejected {
            error: CommandError::UnknownButton,
            ..
        }
    ));
    let out = press(&b, &ctx("999"), &approve).await;
    assert!(matches!(out, Outcome::UnknownUser { .. }));
}

#[tokio::test]
async fn bad_input_gets_suggestions_and_usage() {
    let b = team();
    let (_, msg) = refused(&b, MEMBER, "/tsk list").await;
    assert_eq!(msg, "Unknown command `tsk`. Did you mean `task`?");
    let (_, msg) = refused(&b, MEMBER, "/task lsit").await;
    assert_eq!(
        msg,
        "Unknown command `task lsit`. Did you mean `task list`?"
    );
    let (_, msg) = refused(&b, MEMBER, "/task assign 1").await;
    assert_eq!(
        msg,
        "Missing <@who|auto>.\nUsage: `task assign <id> <@who|auto>`\nSee `help task assign` for details."
    );
    let (err, _) = refused(&b, MEMBER, &"x".repeat(5000)).await;
    assert!(matches!(
        err,
        CommandError::Parse(ParseError::TooLong { .. })
    ));
    assert!(b.state().tasks.is_empty());
}

#[tokio::test]
async fn read_commands() {
    let b = team();
    let now = chrono::Utc::now();
    for (agent, project, usd) in [
        ("coder", "web", 1.5),
        ("coder", "api", 0.5),
        ("writer", "web", 2.0),
    ] {
        b.add_cost(CostRecord {
            at: now,
            agent: agent.into(),
            project: project.into(),
            model: "m".into(),
            usd,
        });
    }
    b.add_cost(CostRecord {
        at: now - chrono::Duration::days(400),
        agent: "old".into(),
        project: "old".into(),
        model: "m".into(),
        usd: 99.0,
    });
    let cost = ok(&b, VIEWER, "cost month --by project").await;
    assert!(cost.contains("Total $4.00"), "{cost}");
    assert!(cost.contains("web: $3.50 (2 records)"), "{cost}");
    assert!(!cost.contains("old"), "{cost}");
    let by_agent = ok(&b, VIEWER, "cost today").await;
    assert!(
        by_agent.contains("Cost today by agent") && by_agent.contains("writer: $2.00"),
        "{by_agent}"
    );

    let me = ok(&b, OWNER, "whoami").await;
    assert!(
        me.contains("You are Alice")
            && me.contains("role owner")
            && me.contains("telegram user 100"),
        "{me}"
    );
    let brief = ok(&b, MEMBER, "brief").await;
    assert!(brief.contains("Brief for Bob"), "{brief}");
    let help = ok(&b, VIEWER, "help").await;
    assert!(help.contains("task new <title>"), "{help}");
    let help = ok(&b, VIEWER, "help deny").await;
    assert!(help.contains("Usage: deny <id> <reason>"), "{help}");
    let (_, msg) = refused(&b, VIEWER, "help tsk").await;
    assert_eq!(msg, "Unknown command `tsk`. Did you mean `task`?");
}

#[tokio::test]
async fn login_is_private_and_never_in_a_telegram_group() {
    let b = team();
    // The memory backend has no web console: a clear refusal, nothing else.
    let private = Context {
        chat_id: VIEWER.into(),
        ..ctx(VIEWER)
    };
    match execute(&b, &private, "login").await {
        Outcome::Rejected { reply, .. } => {
            assert!(
                reply
                    .message
                    .plain_text()
                    .contains("web console is not enabled"),
                "{reply:?}"
            );
        }
        other => panic!("expected a refusal: {other:?}"),
    }
    // In a group chat on Telegram no link is minted or shown.
    match run(&b, VIEWER, "login").await {
        Outcome::Done { reply, .. } => {
            assert_eq!(reply.visibility, Visibility::Ephemeral);
            let text = reply.message.plain_text();
            assert!(text.contains("private chat"), "{text}");
            assert!(!text.contains("http"), "{text}");
        }
        other => panic!("expected the private-chat hint: {other:?}"),
    }
}
