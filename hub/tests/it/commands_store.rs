//! The chat commands against the real store, on SQLite and on PostgreSQL.
//!
//! Every test drives the real command layer (`commands::execute`,
//! `commands::press` and the service functions) over `hub::store::Store`
//! and then checks what was stored (rows, statuses, audit log), not only
//! what was replied.
use crate::common;

use chrono::{Duration, NaiveDate, Utc};
use commands::{
    AgentStats, AgentStatus, Assignee, AuditEntry, Backend, BackendError, CommandError, Context,
    CostBy, CostPeriod, DecisionOutcome, DecisionStatus, MoveTarget, NewDecision, NewTask, Outcome,
    Priority, Resolution, Role, ServiceError, TaskDraft, TaskFilter, TaskStatus,
};
use common::TestDb;
use hub::backend::HubBackend;
use hub::store::Store;
use hub::store::commands_backend::{AgentSeed, PersonSeed};
use routing::ChannelKind;

// ----- the team ------------------------------------------------------------------

const CHAT: &str = "-100200";
const OLGA: &str = "100"; // owner
const ALICE: &str = "200"; // member
const BOB: &str = "300"; // member, approver of `deploy` decisions
const VIC: &str = "400"; // viewer

fn person(id: &str, role: Role, identities: &[(ChannelKind, &str)]) -> PersonSeed {
    let mut name = id.to_string();
    name[..1].make_ascii_uppercase();
    PersonSeed {
        id: id.into(),
        display_name: name,
        role,
        time_zone: "Europe/Kyiv".into(),
        email: Some(format!("{id}@example.com")),
        identities: identities
            .iter()
            .map(|(p, u)| (*p, u.to_string()))
            .collect(),
    }
}

/// People, one project and the `deploy` approvers, through the seed helpers.
async fn seed_team(store: &Store) {
    use ChannelKind::{Slack, Telegram};
    for seed in [
        person("olga", Role::Owner, &[(Telegram, OLGA)]),
        person("alice", Role::Member, &[(Telegram, ALICE), (Slack, "U200")]),
        person("bob", Role::Member, &[(Telegram, BOB)]),
        person("vic", Role::Viewer, &[(Telegram, VIC)]),
    ] {
        assert!(store.upsert_person(&seed).await.unwrap());
    }
    assert!(
        store
            .upsert_project("web", "Website", Some(500.0))
            .await
            .unwrap()
    );
    assert!(store.set_approvers("deploy", &["bob"]).await.unwrap());
}

fn agent_seed(id: &str, caps: &[&str]) -> AgentSeed {
    AgentSeed {
        id: id.into(),
        description: format!("The {id} agent"),
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        daily_budget_usd: None,
    }
}

fn ctx_on(platform: ChannelKind, user: &str) -> Context {
    Context {
        platform,
        user_id: user.into(),
        chat_id: CHAT.into(),
        bot_username: Some("orkhub_bot".into()),
    }
}

fn source(user: &str) -> String {
    format!("telegram user {user} in chat {CHAT}")
}

/// Run one line of chat as a Telegram user.
async fn say(store: &Store, user: &str, line: &str) -> Outcome {
    commands::execute(
        &common::backend(store),
        &ctx_on(ChannelKind::Telegram, user),
        line,
    )
    .await
}

/// The reply of a command that must have run.
fn done(o: &Outcome) -> String {
    match o {
        Outcome::Done { reply, .. } => reply.message.plain_text(),
        other => panic!("expected Done, got {other:#?}"),
    }
}

/// The error and reply of a command that must have been refused.
fn refused(o: &Outcome) -> (CommandError, String) {
    match o {
        Outcome::Rejected { reply, error } => (error.clone(), reply.message.plain_text()),
        other => panic!("expected Rejected, got {other:#?}"),
    }
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(store.pool()).await.unwrap();
    n
}

/// Audit rows of a resource as (actor, action, source), oldest first.
async fn audit(store: &Store, resource: &str) -> Vec<(String, String, String)> {
    let mut rows = store.audit_for(resource).await.unwrap();
    rows.reverse();
    rows
}

fn row(actor: &str, action: &str, source: &str) -> (String, String, String) {
    (actor.into(), action.into(), source.into())
}

async fn task(store: &Store, id: i64) -> commands::Task {
    store.task(id).await.unwrap().expect("task exists")
}

async fn decision(store: &Store, id: i64) -> commands::Decision {
    store.decision(id).await.unwrap().expect("decision exists")
}

/// A pending decision as an agent's API request would create it.
async fn request_decision(backend: &HubBackend, kind: &str, context: &str) -> commands::Decision {
    let new = NewDecision {
        kind: kind.into(),
        context: context.into(),
        options: vec!["approve".into(), "deny".into()],
        requested_by: "agent:deployer".into(),
        task_id: None,
        resolved: None,
    };
    let audit = AuditEntry {
        actor: "agent:deployer".into(),
        action: "decision.create".into(),
        resource: "decision".into(),
        details: serde_json::json!({ "kind": kind }),
        source: "api".into(),
    };
    backend.create_decision(&new, &audit).await.unwrap()
}

// ----- tasks -------------------------------------------------------------------------

async fn task_lifecycle_happy_path(store: Store) {
    seed_team(&store).await;
    let title = "Fix «login» — Ünïcödé 🚀 page --soon";
    let o = say(
        &store,
        ALICE,
        &format!("/task@orkhub_bot new \"{title}\" --priority high --project web --due 2030-01-15"),
    )
    .await;
    assert!(done(&o).contains("Created task #1"), "{}", done(&o));
    let t = task(&store, 1).await;
    assert_eq!(t.title, title);
    assert_eq!(t.status, TaskStatus::Created);
    assert_eq!(t.priority, Priority::High);
    assert_eq!(t.project.as_deref(), Some("web"));
    assert_eq!(t.due, NaiveDate::from_ymd_opt(2030, 1, 15));
    assert_eq!(t.assignee, None);
    assert_eq!(t.created_by, "alice");

    let o = say(&store, ALICE, "/task assign 1 @bob").await;
    assert!(done(&o).contains("assigned to @bob"), "{}", done(&o));
    let t = task(&store, 1).await;
    assert_eq!(t.assignee, Some(Assignee::Person("bob".into())));
    assert_eq!(t.status, TaskStatus::Assigned);

    for (line, status) in [
        ("/task start 1", TaskStatus::InProgress),
        ("/task review 1 ready for a look", TaskStatus::Review),
        ("/task done 1", TaskStatus::Completed),
    ] {
        let o = say(&store, ALICE, line).await;
        assert!(done(&o).contains(&format!("→ {status}")), "{}", done(&o));
        assert_eq!(task(&store, 1).await.status, status);
    }
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM tasks WHERE id = 1 AND completed_at IS NOT NULL"
        )
        .await,
        1
    );
    let src = source(ALICE);
    assert_eq!(
        audit(&store, "task:1").await,
        vec![
            row("alice", "task.create", &src),
            row("alice", "task.assign", &src),
            row("alice", "task.move", &src),
            row("alice", "task.move", &src),
            row("alice", "task.move", &src),
        ]
    );
    // A completed task is closed.
    let (e, text) = refused(&say(&store, ALICE, "/task block 1").await);
    assert_eq!(e, CommandError::Service(ServiceError::TaskClosed(1)));
    assert!(text.contains("completed"), "{text}");
}
both_dbs!(task_lifecycle, |db: &TestDb| task_lifecycle_happy_path(
    db.store().clone()
));

async fn list_and_show_body(store: Store) {
    seed_team(&store).await;
    done(&say(&store, ALICE, "task new Mine --assignee me").await);
    done(&say(&store, ALICE, "task new \"Web thing\" --project web").await);
    done(&say(&store, ALICE, "task new Plain").await);
    done(&say(&store, ALICE, "task start 1").await);
    done(&say(&store, ALICE, "task done 1").await);

    // Viewers read.
    let all = done(&say(&store, VIC, "task list").await);
    assert!(
        !all.contains("#1 "),
        "completed tasks are not listed: {all}"
    );
    assert!(
        all.contains("#2 [created] Web thing") && all.contains("#3 [created] Plain"),
        "{all}"
    );
    let mine = done(&say(&store, ALICE, "task list --mine --status completed").await);
    assert!(mine.contains("#1 [completed] Mine — @alice"), "{mine}");
    let web = done(&say(&store, VIC, "task list --project web").await);
    assert!(web.contains("#2") && !web.contains("#3"), "{web}");
    assert!(done(&say(&store, VIC, "task list --mine").await).contains("No tasks match."));

    let shown = done(&say(&store, VIC, "task show 2").await);
    assert!(
        shown.contains("Web thing") && shown.contains("Project: web"),
        "{shown}"
    );
    let (e, _) = refused(&say(&store, VIC, "task show 99").await);
    assert_eq!(e, CommandError::Service(ServiceError::TaskNotFound(99)));

    // The filter as the store applies it.
    let ids = |ts: Vec<commands::Task>| ts.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let mut f = TaskFilter {
        assignee: None,
        status: None,
        project: None,
        include_completed: true,
        limit: 2,
    };
    assert_eq!(ids(store.list_tasks(&f).await.unwrap()), vec![1, 2]);
    f.limit = 10;
    f.include_completed = false;
    assert_eq!(ids(store.list_tasks(&f).await.unwrap()), vec![2, 3]);
    f.assignee = Some(Assignee::Person("alice".into()));
    f.status = Some(TaskStatus::Completed);
    assert_eq!(ids(store.list_tasks(&f).await.unwrap()), vec![1]);
}
both_dbs!(list_and_show, |db: &TestDb| list_and_show_body(
    db.store().clone()
));

async fn illegal_transition_body(store: Store) {
    seed_team(&store).await;
    done(&say(&store, ALICE, "task new Draft").await);
    let (e, text) = refused(&say(&store, ALICE, "task review 1").await);
    assert_eq!(
        e,
        CommandError::Service(ServiceError::IllegalMove {
            task: 1,
            from: TaskStatus::Created,
            to: TaskStatus::Review,
            allowed: vec![
                TaskStatus::Planning,
                TaskStatus::Ready,
                TaskStatus::Assigned,
                TaskStatus::Blocked
            ],
        })
    );
    assert!(
        text.contains(
            "From `created` it can go to: planning, ready, assigned (`task assign 1 <@who|auto>`), blocked (`task block 1`)."
        ),
        "{text}"
    );
    assert_eq!(task(&store, 1).await.status, TaskStatus::Created);
    assert_eq!(
        audit(&store, "task:1").await.len(),
        1,
        "a refused move writes nothing"
    );

    // Blocked remembers where it came from; the only way out is back.
    done(&say(&store, ALICE, "task block 1 waiting for the keys").await);
    let t = task(&store, 1).await;
    assert_eq!(
        (t.status, t.blocked_from),
        (TaskStatus::Blocked, Some(TaskStatus::Created))
    );
    let (_, text) = refused(&say(&store, ALICE, "task start 1").await);
    assert!(text.contains("created (`task unblock 1`)"), "{text}");
    done(&say(&store, ALICE, "task unblock 1").await);
    let t = task(&store, 1).await;
    assert_eq!((t.status, t.blocked_from), (TaskStatus::Created, None));
}
both_dbs!(illegal_transition, |db: &TestDb| illegal_transition_body(
    db.store().clone()
));

async fn dependencies_body(store: Store) {
    seed_team(&store).await;
    for title in ["Design", "Build", "Docs"] {
        done(&say(&store, ALICE, &format!("task new {title}")).await);
    }
    done(&say(&store, ALICE, "task new Ship --assignee @alice").await); // #4, assigned
    let o = say(&store, ALICE, "task dep 2 needs 1").await;
    assert!(done(&o).contains("Task #2 \"Build\" now needs #1 \"Design\" (created)."));
    done(&say(&store, ALICE, "task dep 3 needs 2").await);
    done(&say(&store, ALICE, "task dep 4 needs 1").await);

    // A cycle is refused, showing it, and not stored.
    let (e, text) = refused(&say(&store, ALICE, "task dep 1 needs 3").await);
    assert_eq!(
        e,
        CommandError::Service(ServiceError::Cycle {
            path: vec![1, 3, 2, 1]
        })
    );
    assert!(text.contains("#1 → #3 → #2 → #1"), "{text}");
    let (e, _) = refused(&say(&store, ALICE, "task dep 2 needs 1").await);
    assert_eq!(
        e,
        CommandError::Service(ServiceError::AlreadyDepends { task: 2, needs: 1 })
    );
    assert_eq!(
        store.dependency_edges().await.unwrap(),
        vec![(2, 1), (3, 2), (4, 1)]
    );
    assert_eq!(audit(&store, "task:2").await.len(), 2, "create + one dep");

    // Starting with an open dependency is refused.
    let (e, text) = refused(&say(&store, ALICE, "task start 4").await);
    assert!(matches!(
        e,
        CommandError::Service(ServiceError::OpenDependencies { task: 4, .. })
    ));
    assert!(text.contains("#1 \"Design\" (created)"), "{text}");
    assert_eq!(task(&store, 4).await.status, TaskStatus::Assigned);
    let deps = store.dependencies(4).await.unwrap();
    assert_eq!(deps.iter().map(|t| t.id).collect::<Vec<_>>(), vec![1]);
    let dependents = store.dependents(1).await.unwrap();
    assert_eq!(
        dependents.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![2, 4]
    );

    // Completing #1 promotes #2 (created, everything done) but not #3
    // (still needs #2) nor #4 (already assigned).
    done(&say(&store, ALICE, "task assign 1 me").await);
    done(&say(&store, ALICE, "task start 1").await);
    let text = done(&say(&store, ALICE, "task done 1").await);
    assert!(text.contains("#2 \"Build\" is now ready."), "{text}");
    assert_eq!(task(&store, 2).await.status, TaskStatus::Ready);
    assert_eq!(task(&store, 3).await.status, TaskStatus::Created);
    assert_eq!(task(&store, 4).await.status, TaskStatus::Assigned);
    assert_eq!(
        audit(&store, "task:2").await.last(),
        Some(&row("system", "task.move", "system"))
    );
    done(&say(&store, ALICE, "task start 4").await);
    assert_eq!(task(&store, 4).await.status, TaskStatus::InProgress);

    // A dependency on something already completed makes the task ready at once.
    done(&say(&store, ALICE, "task new Later").await);
    let text = done(&say(&store, ALICE, "task dep 5 needs 1").await);
    assert!(text.contains("so #5 is ready"), "{text}");
    assert_eq!(task(&store, 5).await.status, TaskStatus::Ready);
}
both_dbs!(dependencies, |db: &TestDb| dependencies_body(
    db.store().clone()
));

// ----- decisions -----------------------------------------------------------------------

async fn decisions_body(store: Store) {
    seed_team(&store).await;
    let d = request_decision(
        &common::backend(&store),
        "deploy",
        "Deploy v2 to production?",
    )
    .await;
    assert_eq!((d.id, d.status), (1, DecisionStatus::Pending));
    let listed = done(&say(&store, VIC, "decisions").await);
    assert!(
        listed.contains("#1 deploy — Deploy v2 to production? (asked by agent:deployer)"),
        "{listed}"
    );

    // A member who is not an approver is refused; nothing changes.
    let (e, text) = refused(&say(&store, ALICE, "approve 1").await);
    assert!(e.is_forbidden());
    assert_eq!(
        text,
        "`approve` needs the admin role or approver rights for `deploy` decisions; you are a member."
    );
    assert_eq!(decision(&store, 1).await.status, DecisionStatus::Pending);

    // The configured approver can.
    let text = done(&say(&store, BOB, "approve 1 tests are green").await);
    assert!(text.contains("Approved by bob"), "{text}");
    let d = decision(&store, 1).await;
    assert_eq!(d.status, DecisionStatus::Approved);
    assert_eq!(d.decided_by.as_deref(), Some("bob"));
    assert_eq!(d.reasoning.as_deref(), Some("tests are green"));
    assert!(d.decided_at.is_some());

    // A second resolution is refused and the first outcome stays.
    let (e, text) = refused(&say(&store, OLGA, "deny 1 too late").await);
    assert!(matches!(
        e,
        CommandError::Service(ServiceError::AlreadyResolved {
            id: 1,
            status: DecisionStatus::Approved,
            ..
        })
    ));
    assert!(
        text.starts_with("Decision #1 was already approved by bob at "),
        "{text}"
    );
    assert_eq!(decision(&store, 1).await, d);
    assert_eq!(
        audit(&store, "decision:1").await,
        vec![
            row("agent:deployer", "decision.create", "api"),
            row("bob", "decision.resolve", &source(BOB)),
        ]
    );

    // An owner may deny any kind.
    request_decision(&common::backend(&store), "spend", "Buy a bigger GPU?").await;
    let (e, _) = refused(&say(&store, BOB, "approve 2").await);
    assert!(e.is_forbidden(), "bob approves deploys only");
    done(&say(&store, OLGA, "deny 2 over budget").await);
    let d2 = decision(&store, 2).await;
    assert_eq!(d2.status, DecisionStatus::Denied);
    assert_eq!(d2.decided_by.as_deref(), Some("olga"));
    assert!(done(&say(&store, VIC, "decisions").await).contains("Nothing is waiting"));
    assert!(store.pending_decisions().await.unwrap().is_empty());
}
both_dbs!(decisions, |db: &TestDb| decisions_body(db.store().clone()));

async fn buttons_body(store: Store) {
    seed_team(&store).await;
    let d = request_decision(&common::backend(&store), "deploy", "Roll back?").await;
    let b = commands::mint_decision_buttons(&common::backend(&store), d.id)
        .await
        .unwrap();
    for token in [&b.approve, &b.deny] {
        assert_eq!(token.len(), 32);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    }
    assert_ne!(b.approve, b.deny);
    // Two for the decision's own requests (minted with it, as in a running
    // hub), two minted here.
    assert_eq!(count(&store, "SELECT COUNT(*) FROM button_tokens").await, 4);
    assert_eq!(
        store.button_action(&b.approve).await.unwrap(),
        Some(commands::ButtonAction::Approve { decision_id: d.id })
    );
    assert_eq!(store.button_action("nope").await.unwrap(), None);

    let press = |user: &'static str, token: String| {
        let store = store.clone();
        async move {
            commands::press(
                &common::backend(&store),
                &ctx_on(ChannelKind::Telegram, user),
                &token,
            )
            .await
        }
    };
    let (e, _) = refused(&press(ALICE, b.approve.clone()).await);
    assert!(e.is_forbidden());
    assert_eq!(
        done(&press(BOB, b.deny.clone()).await),
        "You denied decision #1."
    );
    let stored = decision(&store, 1).await;
    assert_eq!(stored.status, DecisionStatus::Denied);
    assert_eq!(stored.decided_by.as_deref(), Some("bob"));
    assert_eq!(stored.reasoning, None);
    let (e, _) = refused(&press(OLGA, b.approve.clone()).await);
    assert!(matches!(
        e,
        CommandError::Service(ServiceError::AlreadyResolved { .. })
    ));
    assert_eq!(decision(&store, 1).await, stored);
    let (e, _) = refused(&press(OLGA, "nope".into()).await);
    assert_eq!(e, CommandError::UnknownButton);
    assert_eq!(
        audit(&store, "decision:1").await.last(),
        Some(&row("bob", "decision.resolve", &source(BOB)))
    );
}
both_dbs!(buttons, |db: &TestDb| buttons_body(db.store().clone()));

async fn concurrent_resolution_body(store: Store) {
    seed_team(&store).await;
    // Through the whole command layer: bob approves while olga denies.
    for _ in 0..5 {
        let d = request_decision(&common::backend(&store), "deploy", "Race me").await;
        let approve = format!("approve {}", d.id);
        let deny = format!("deny {} no", d.id);
        let (a, b) = tokio::join!(say(&store, BOB, &approve), say(&store, OLGA, &deny));
        let winners = [&a, &b]
            .iter()
            .filter(|o| matches!(o, Outcome::Done { .. }))
            .count();
        assert_eq!(winners, 1, "exactly one wins: {a:#?} {b:#?}");
        let stored = decision(&store, d.id).await;
        let (winner, loser) = if matches!(a, Outcome::Done { .. }) {
            (("bob", DecisionStatus::Approved), &b)
        } else {
            (("olga", DecisionStatus::Denied), &a)
        };
        assert_eq!(
            (stored.decided_by.as_deref(), stored.status),
            (Some(winner.0), winner.1)
        );
        let (e, _) = refused(loser);
        assert!(
            matches!(e, CommandError::Service(ServiceError::AlreadyResolved { status, .. }) if status == winner.1),
            "{e:?}"
        );
        let resolves = audit(&store, &format!("decision:{}", d.id))
            .await
            .into_iter()
            .filter(|r| r.1 == "decision.resolve")
            .count();
        assert_eq!(resolves, 1);
    }

    // Straight at the store's compare-and-set: both reach the UPDATE.
    let backend = common::backend(&store);
    let d = request_decision(&backend, "deploy", "Race the store").await;
    let resolution = |who: &str, outcome| Resolution {
        outcome,
        decided_by: who.into(),
        reasoning: None,
    };
    let entry = |who: &str| AuditEntry {
        actor: who.into(),
        action: "decision.resolve".into(),
        resource: format!("decision:{}", d.id),
        details: serde_json::json!({}),
        source: "test".into(),
    };
    let (ra, rb) = (
        resolution("bob", DecisionOutcome::Approve),
        resolution("olga", DecisionOutcome::Deny),
    );
    let (ea, eb) = (entry("bob"), entry("olga"));
    let (x, y) = tokio::join!(
        backend.resolve_decision(d.id, &ra, &ea),
        backend.resolve_decision(d.id, &rb, &eb)
    );
    let oks = [&x, &y].iter().filter(|r| r.is_ok()).count();
    assert_eq!(oks, 1, "{x:?} {y:?}");
    let lost = if x.is_ok() { &y } else { &x };
    assert!(matches!(lost, Err(BackendError::Conflict(_))), "{lost:?}");
    assert_eq!(audit(&store, &format!("decision:{}", d.id)).await.len(), 2);
    // And a decision that does not exist is NotFound, not Conflict.
    assert!(matches!(
        backend.resolve_decision(999, &ra, &ea).await,
        Err(BackendError::NotFound(_))
    ));
}
both_dbs!(concurrent_resolution, |db: &TestDb| {
    concurrent_resolution_body(db.store().clone())
});

// ----- who may do what ------------------------------------------------------------------

async fn permissions_body(store: Store) {
    seed_team(&store).await;
    let (e, text) = refused(&say(&store, VIC, "task new \"Sneaky\"").await);
    assert!(e.is_forbidden());
    assert_eq!(text, "`task new` needs the member role; you are a viewer.");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM tasks").await, 0);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'task.%'"
        )
        .await,
        0
    );
    done(&say(&store, VIC, "task list").await);

    // Unknown platform users are refused politely; the platform matters.
    match say(&store, "999", "task new Hello").await {
        Outcome::UnknownUser {
            reply,
            platform,
            user_id,
        } => {
            assert_eq!((platform, user_id.as_str()), (ChannelKind::Telegram, "999"));
            assert!(reply.message.plain_text().contains("telegram ID 999"));
        }
        other => panic!("{other:#?}"),
    }
    let slack = |user: &str| ctx_on(ChannelKind::Slack, user);
    assert!(matches!(
        commands::execute(&common::backend(&store), &slack(ALICE), "whoami").await,
        Outcome::UnknownUser { .. }
    ));
    assert_eq!(count(&store, "SELECT COUNT(*) FROM tasks").await, 0);

    // The store's view of identities.
    let alice = store
        .person_by_platform(ChannelKind::Slack, "U200")
        .await
        .unwrap();
    assert_eq!(
        alice.map(|p| (p.id, p.role)),
        Some(("alice".to_string(), Role::Member))
    );
    assert_eq!(
        store
            .person_by_platform(ChannelKind::Discord, "U200")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.approvers("deploy").await.unwrap(),
        vec!["bob".to_string()]
    );
    assert!(store.approvers("spend").await.unwrap().is_empty());
}
both_dbs!(permissions, |db: &TestDb| permissions_body(
    db.store().clone()
));

async fn unknown_project_body(store: Store) {
    seed_team(&store).await;
    let new = NewTask {
        title: "Orphan".into(),
        status: TaskStatus::Created,
        priority: Priority::Medium,
        project: Some("nope".into()),
        assignee: None,
        due: None,
        capabilities: vec![],
        created_by: "alice".into(),
    };
    let entry = AuditEntry {
        actor: "alice".into(),
        action: "task.create".into(),
        resource: "task".into(),
        details: serde_json::json!({}),
        source: "test".into(),
    };
    match store.create_task(&new, &entry).await {
        Err(BackendError::Invalid(m)) => assert!(m.contains("no project `nope`"), "{m}"),
        other => panic!("{other:?}"),
    }
    refused(&say(&store, ALICE, "task new Orphan --project nope").await);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM tasks").await, 0);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'task.create'"
        )
        .await,
        0
    );
}
both_dbs!(unknown_project, |db: &TestDb| unknown_project_body(
    db.store().clone()
));

// ----- reports and the rest -------------------------------------------------------------------

async fn whoami_help_cost_brief_body(store: Store) {
    seed_team(&store).await;
    let o = commands::execute(
        &common::backend(&store),
        &ctx_on(ChannelKind::Slack, "U200"),
        "whoami",
    )
    .await;
    let text = done(&o);
    assert!(text.contains("You are Alice"), "{text}");
    assert!(text.contains("Handle `alice`, role member."), "{text}");
    assert!(text.contains("slack user U200"), "{text}");

    let help = done(&say(&store, VIC, "help").await);
    assert!(
        help.contains("task new") && help.contains("approve"),
        "{help}"
    );
    assert!(done(&say(&store, VIC, "help task dep").await).contains("task dep"));
    refused(&say(&store, VIC, "help nosuchthing").await);

    // Costs: three today, one long before this month.
    let now = Utc::now().timestamp_millis();
    let old = (Utc::now() - Duration::days(40)).timestamp_millis();
    common::add_cost(&store, "coder", Some("web"), "gpt", 1.25, now).await;
    common::add_cost(&store, "coder", None, "gpt", 0.75, now).await;
    common::add_cost(&store, "writer", Some("web"), "claude", 3.0, now).await;
    common::add_cost(&store, "coder", Some("web"), "gpt", 100.0, old).await;
    let today = CostPeriod::Today.since(Utc::now());
    let lines = |ls: Vec<commands::CostLine>| {
        ls.into_iter()
            .map(|l| (l.key, l.cost_usd, l.records))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        lines(store.cost_summary(today, CostBy::Agent).await.unwrap()),
        vec![("writer".into(), 3.0, 1), ("coder".into(), 2.0, 2)]
    );
    assert_eq!(
        lines(store.cost_summary(today, CostBy::Project).await.unwrap()),
        vec![("web".into(), 4.25, 2), (String::new(), 0.75, 1)]
    );
    assert_eq!(
        lines(store.cost_summary(today, CostBy::Model).await.unwrap()),
        vec![("claude".into(), 3.0, 1), ("gpt".into(), 2.0, 2)]
    );
    let since_ever = Utc::now() - Duration::days(365);
    assert_eq!(
        lines(store.cost_summary(since_ever, CostBy::Agent).await.unwrap()),
        vec![("coder".into(), 102.0, 3), ("writer".into(), 3.0, 1)]
    );
    let text = done(&say(&store, VIC, "cost today --by project").await);
    assert!(text.contains("Total $5.00"), "{text}");
    assert!(
        text.contains("web: $4.25 (2 records)") && text.contains("(none): $0.75 (1 records)"),
        "{text}"
    );
    let text = done(&say(&store, VIC, "cost month").await);
    assert!(
        text.contains("Total $5.00"),
        "the 40-day-old record is not this month: {text}"
    );

    // The brief (built by the briefs crate) counts what is stored.
    done(
        &say(
            &store,
            ALICE,
            "task new \"Old promise\" --assignee me --due 2020-01-01",
        )
        .await,
    );
    done(&say(&store, ALICE, "task new Fresh --assignee me").await);
    done(
        &say(
            &store,
            ALICE,
            "task new \"Bob's overdue\" --assignee @bob --due 2021-06-01",
        )
        .await,
    );
    done(
        &say(
            &store,
            ALICE,
            "task new Finished --assignee me --due 2020-01-01",
        )
        .await,
    );
    done(&say(&store, ALICE, "task start 4").await);
    done(&say(&store, ALICE, "task done 4").await);
    request_decision(&common::backend(&store), "deploy", "Ship?").await;
    let text = done(&say(&store, ALICE, "brief").await);
    assert!(text.starts_with("Brief for Alice"), "{text}");
    assert!(
        text.contains("You have 2 open tasks (1 overdue)."),
        "{text}"
    );
    assert!(text.contains("OVERDUE (2)"), "{text}");
    // A deploy decision is pending, but Alice may not decide deploys: it
    // does not need her.
    assert!(text.contains("NEEDS YOU\nNothing needs you."), "{text}");
    assert!(text.contains("Today $5.00."), "{text}");
}
both_dbs!(whoami_help_cost_brief, |db: &TestDb| {
    whoami_help_cost_brief_body(db.store().clone())
});

// ----- automatic assignment -----------------------------------------------------------------

/// A task that `agent` worked on as the system would record it: created
/// assigned to it, started, then completed (`true`) or blocked (`false`).
async fn history(store: &Store, agent: &str, completed: bool) -> i64 {
    let sys = commands::Actor::system();
    let draft = TaskDraft {
        title: format!("Earlier work of {agent}"),
        assignee: Some(Assignee::Agent(agent.into())),
        ..TaskDraft::default()
    };
    let t = commands::create_task(&common::backend(store), &sys, draft)
        .await
        .unwrap();
    let to = |s| MoveTarget::To(s);
    commands::move_task(
        &common::backend(store),
        &sys,
        t.id,
        to(TaskStatus::InProgress),
        None,
    )
    .await
    .unwrap();
    let end = if completed {
        TaskStatus::Completed
    } else {
        TaskStatus::Blocked
    };
    commands::move_task(&common::backend(store), &sys, t.id, to(end), None)
        .await
        .unwrap();
    t.id
}

async fn auto_assignment_body(store: Store) {
    seed_team(&store).await;
    for (id, caps) in [
        ("alpha", &["rust", "sql"][..]),
        ("beta", &["rust"][..]),
        ("gamma", &["rust", "sql"][..]),
        ("delta", &["docs"][..]),
    ] {
        assert!(store.upsert_agent(&agent_seed(id, caps)).await.unwrap());
    }
    sqlx::query("UPDATE agents SET status = 'offline' WHERE id = 'gamma'")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE agents SET status = 'idle' WHERE id = 'beta'")
        .execute(store.pool())
        .await
        .unwrap();

    // alpha: 4 completed, 1 blocked (still open: active 1, failed 1), $4 spent.
    for _ in 0..4 {
        history(&store, "alpha", true).await;
    }
    let stuck = history(&store, "alpha", false).await;
    // Blocked again after an unblock: still one failure for that task.
    let sys = commands::Actor::system();
    commands::move_task(
        &common::backend(&store),
        &sys,
        stuck,
        MoveTarget::Unblock,
        None,
    )
    .await
    .unwrap();
    commands::move_task(
        &common::backend(&store),
        &sys,
        stuck,
        MoveTarget::To(TaskStatus::Blocked),
        None,
    )
    .await
    .unwrap();
    // beta: 1 completed, $0.50. gamma (offline) would be best, but can't be picked.
    history(&store, "beta", true).await;
    for _ in 0..2 {
        history(&store, "gamma", true).await;
    }
    let now = Utc::now().timestamp_millis();
    common::add_cost(&store, "alpha", None, "gpt", 2.5, now).await;
    common::add_cost(&store, "alpha", None, "gpt", 1.5, now).await;
    common::add_cost(&store, "beta", None, "gpt", 0.5, now).await;
    common::add_cost(&store, "gamma", None, "gpt", 0.5, now).await;

    let stats: Vec<(String, AgentStatus, AgentStats)> = store
        .agents_with_stats()
        .await
        .unwrap()
        .into_iter()
        .map(|(a, s)| (a.id, a.status, s))
        .collect();
    let st = |active, completed, failed, avg| AgentStats {
        active_tasks: active,
        completed,
        failed,
        avg_cost_usd: avg,
    };
    assert_eq!(
        stats,
        vec![
            ("alpha".into(), AgentStatus::Active, st(1, 4, 1, Some(1.0))),
            ("beta".into(), AgentStatus::Idle, st(0, 1, 0, Some(0.5))),
            ("delta".into(), AgentStatus::Active, st(0, 0, 0, None)),
            (
                "gamma".into(),
                AgentStatus::Offline,
                st(0, 2, 0, Some(0.25))
            ),
        ]
    );

    // The task needs rust and sql. Scores (0.4 capability, 0.2 workload,
    // 0.3 performance, 0.1 cost; cost = cheapest avg / own avg):
    //   alpha: 0.4×1.0 + 0.2×(1/2) + 0.3×(4/5) + 0.1×(0.5/1.0) = 0.790
    //   beta:  0.4×0.5 + 0.2×1.0   + 0.3×1.0   + 0.1×1.0       = 0.800
    //   delta: no capability match, can't win;  gamma: offline, not a candidate.
    // beta wins, and only because the stored workload, failure and cost
    // figures are all right: get any one wrong and alpha wins.
    done(&say(&store, ALICE, "task new \"Nightly report\" --caps rust,sql").await);
    let id = store
        .list_tasks(&TaskFilter {
            assignee: None,
            status: Some(TaskStatus::Created),
            project: None,
            include_completed: false,
            limit: 10,
        })
        .await
        .unwrap()[0]
        .id;
    let text = done(&say(&store, ALICE, &format!("task assign {id} auto")).await);
    assert!(text.contains("is assigned to agent beta"), "{text}");
    assert!(
        text.contains("beta: 0.800 (capability 0.50, workload 1.00, performance 1.00, cost 1.00)"),
        "{text}"
    );
    assert!(
        text.contains("alpha: 0.790 (capability 1.00, workload 0.50, performance 0.80, cost 0.50)"),
        "{text}"
    );
    assert!(!text.contains("gamma"), "{text}");
    let t = task(&store, id).await;
    assert_eq!(t.assignee, Some(Assignee::Agent("beta".into())));
    assert_eq!(t.status, TaskStatus::Assigned);
    let (record_id,): (i64,) = sqlx::query_as("SELECT id FROM decisions WHERE task_id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    let record = decision(&store, record_id).await;
    assert_eq!(record.kind, "assignment");
    assert_eq!(record.status, DecisionStatus::Approved);
    assert_eq!(record.decided_by.as_deref(), Some("system"));
    assert!(record.decided_at.is_some());
    assert!(
        record
            .reasoning
            .unwrap_or_default()
            .starts_with("beta: 0.800")
    );
    assert_eq!(record.options, vec!["beta", "alpha", "delta"]);
    assert_eq!(
        audit(&store, &format!("task:{id}")).await,
        vec![
            row("alice", "task.create", &source(ALICE)),
            row("alice", "task.assign", &source(ALICE)),
        ]
    );
    assert_eq!(
        audit(&store, &format!("decision:{record_id}")).await,
        vec![row("alice", "decision.create", &source(ALICE))]
    );

    // Nobody can do COBOL: the task stays unassigned and a person is asked.
    done(&say(&store, ALICE, "task new \"Port the ledger\" --caps cobol").await);
    let cobol = id + 1;
    let text = done(&say(&store, ALICE, &format!("task assign {cobol} auto")).await);
    assert!(text.contains("No available agent fits"), "{text}");
    let t = task(&store, cobol).await;
    assert_eq!((t.status, t.assignee), (TaskStatus::Created, None));
    let pending = store.pending_decisions().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].kind, "assignment");
    assert_eq!(pending[0].task_id, Some(cobol));
    assert_eq!(pending[0].requested_by, "alice");
    assert!(
        pending[0].context.contains("needs cobol"),
        "{}",
        pending[0].context
    );
    assert!(done(&say(&store, OLGA, "decisions").await).contains("Port the ledger"));
}
both_dbs!(auto_assignment, |db: &TestDb| auto_assignment_body(
    db.store().clone()
));

// ----- seeding from config -----------------------------------------------------------------

async fn seed_helpers_body(store: Store) {
    use ChannelKind::{Slack, Telegram};
    let mut zoe = person("zoe", Role::Member, &[(Telegram, "500")]);
    assert!(store.upsert_person(&zoe).await.unwrap());
    assert!(!store.upsert_person(&zoe).await.unwrap(), "unchanged");
    zoe.role = Role::Admin;
    assert!(store.upsert_person(&zoe).await.unwrap());
    zoe.identities = vec![(Slack, "U500".into())];
    assert!(store.upsert_person(&zoe).await.unwrap());
    zoe.email = None;
    assert!(store.upsert_person(&zoe).await.unwrap());
    assert!(!store.upsert_person(&zoe).await.unwrap());
    assert_eq!(
        store.person_by_platform(Telegram, "500").await.unwrap(),
        None
    );
    let p = store
        .person_by_platform(Slack, "U500")
        .await
        .unwrap()
        .expect("zoe");
    assert_eq!(
        (p.id.as_str(), p.display_name.as_str(), p.role),
        ("zoe", "Zoe", Role::Admin)
    );
    assert_eq!(
        audit(&store, "person:zoe").await,
        vec![
            row("system", "person.create", "config"),
            row("system", "person.update", "config"),
            row("system", "person.update", "config"),
            row("system", "person.update", "config"),
        ]
    );
    // An identity configured for someone else moves to them.
    let ann = person("ann", Role::Viewer, &[(Slack, "U500")]);
    assert!(store.upsert_person(&ann).await.unwrap());
    let p = store
        .person_by_platform(Slack, "U500")
        .await
        .unwrap()
        .expect("ann");
    assert_eq!(p.id, "ann");

    let mut coder = agent_seed("coder", &["rust"]);
    assert!(store.upsert_agent(&coder).await.unwrap());
    assert!(!store.upsert_agent(&coder).await.unwrap());
    coder.capabilities.push("sql".into());
    coder.daily_budget_usd = Some(12.5);
    assert!(store.upsert_agent(&coder).await.unwrap());
    assert!(!store.upsert_agent(&coder).await.unwrap());
    coder.daily_budget_usd = None;
    assert!(store.upsert_agent(&coder).await.unwrap());
    let a = store.agent("coder").await.unwrap().expect("coder");
    assert_eq!(a.capabilities, vec!["rust", "sql"]);
    assert_eq!(a.status, AgentStatus::Active);
    assert_eq!(audit(&store, "agent:coder").await.len(), 3);

    assert!(store.upsert_project("web", "Website", None).await.unwrap());
    assert!(!store.upsert_project("web", "Website", None).await.unwrap());
    assert!(
        store
            .upsert_project("web", "Website", Some(100.0))
            .await
            .unwrap()
    );
    assert!(
        store
            .upsert_project("web", "The website", Some(100.0))
            .await
            .unwrap()
    );
    assert!(
        !store
            .upsert_project("web", "The website", Some(100.0))
            .await
            .unwrap()
    );
    assert_eq!(audit(&store, "project:web").await.len(), 3);

    assert!(store.set_approvers("deploy", &["zoe"]).await.unwrap());
    assert!(!store.set_approvers("deploy", &["zoe"]).await.unwrap());
    assert!(
        store
            .set_approvers("deploy", &["ann", "zoe"])
            .await
            .unwrap()
    );
    assert_eq!(store.approvers("deploy").await.unwrap(), vec!["ann", "zoe"]);
    assert!(store.set_approvers("deploy", &["ann"]).await.unwrap());
    assert_eq!(store.approvers("deploy").await.unwrap(), vec!["ann"]);
    assert!(store.set_approvers::<&str>("deploy", &[]).await.unwrap());
    assert!(store.approvers("deploy").await.unwrap().is_empty());
    let err = store
        .set_approvers("deploy", &["ann", "ghost"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");
    assert!(
        store.approvers("deploy").await.unwrap().is_empty(),
        "nothing applied"
    );
    assert_eq!(
        audit(&store, "approvers:deploy").await,
        vec![row("system", "approvers.set", "config"); 4]
    );
}
both_dbs!(seed_helpers, |db: &TestDb| seed_helpers_body(
    db.store().clone()
));

// ----- what a decision sends commits with it ---------------------------------------

/// The backend a running hub builds: olga and bob in the directory, pushed
/// on the console.
fn plan_decisions(store: &Store) -> hub::backend::HubBackend {
    common::backend_with(
        store,
        "[[people]]\nid = \"olga\"\nrole = \"owner\"\npush = [\"console\"]\n\
         [[people]]\nid = \"bob\"\npush = [\"console\"]\n",
    )
}

async fn decisions_commit_with_their_messages_body(db: &TestDb) {
    let store = db.store().clone();
    seed_team(&store).await;
    let backend = plan_decisions(&store);
    // Created through the commands' Backend, the path chat and the API share:
    // when it returns, its requests are stored with it.
    let d = request_decision(&backend, "deploy", "Ship v2?").await;
    let recipients: Vec<(String, String)> = sqlx::query_as(
        "SELECT recipient_id, kind FROM notifications WHERE decision_id = $1 ORDER BY recipient_id",
    )
    .bind(d.id)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        recipients,
        [
            ("bob".to_string(), "decision.requested".to_string()),
            ("olga".to_string(), "decision.requested".to_string())
        ],
        "the deploy approver and the owner"
    );
    let copies: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT d.person_id, d.channel, d.status FROM deliveries d \
         JOIN notifications n ON n.id = d.notification_id WHERE n.decision_id = $1 \
         ORDER BY d.person_id, d.channel",
    )
    .bind(d.id)
    .fetch_all(store.pool())
    .await
    .unwrap();
    let want: Vec<(String, String, String)> = [
        ("bob", "console"),
        ("bob", "web"),
        ("olga", "console"),
        ("olga", "web"),
    ]
    .iter()
    .map(|(p, c)| (p.to_string(), c.to_string(), "pending".to_string()))
    .collect();
    assert_eq!(copies, want);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM button_tokens").await, 2);
    let fields: (String,) =
        sqlx::query_as("SELECT fields FROM notifications WHERE recipient_id = 'bob'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(
        fields.0.contains("Approve") && fields.0.contains("Deny"),
        "{}",
        fields.0
    );

    // bob's web copy went out; the resolution (here: bob in chat) queues
    // its edit in the resolution's own commit.
    sqlx::query(
        "UPDATE deliveries SET status = 'sent', platform_message_id = 'w-7', sent_at = 1 \
         WHERE person_id = 'bob' AND channel = 'web'",
    )
    .execute(store.pool())
    .await
    .unwrap();
    done(&say(&store, BOB, "approve 1 looks good").await);
    let edits: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT d.person_id, d.channel, d.target_message_id, d.status FROM deliveries d \
         WHERE d.op = 'edit'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        edits,
        [(
            "bob".to_string(),
            "web".to_string(),
            "w-7".to_string(),
            "pending".to_string()
        )]
    );
    let (body,): (String,) = sqlx::query_as(
        "SELECT fields FROM notifications WHERE kind = 'decision.resolved' AND recipient_id = 'bob'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(
        body.contains("Approved by bob") && !body.contains("Approve\""),
        "{body}"
    );
}
both_dbs!(decisions_commit_with_their_messages, |db: &TestDb| {
    decisions_commit_with_their_messages_body(db)
});

async fn a_failed_message_write_undoes_the_decision_body(db: &TestDb) {
    let store = db.store().clone();
    seed_team(&store).await;
    let backend = plan_decisions(&store);
    // The requests cannot be written: the decision is not created either.
    common::break_deliveries(db, "1 = 1").await;
    let new = NewDecision {
        kind: "deploy".into(),
        context: "Ship?".into(),
        options: vec![],
        requested_by: "agent:deployer".into(),
        task_id: None,
        resolved: None,
    };
    let audit_entry = AuditEntry {
        actor: "agent:deployer".into(),
        action: "decision.create".into(),
        resource: "decision".into(),
        details: serde_json::json!({}),
        source: "api".into(),
    };
    let err = backend
        .create_decision(&new, &audit_entry)
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("injected failure"), "{err}");
    for table in [
        "SELECT COUNT(*) FROM decisions",
        "SELECT COUNT(*) FROM notifications",
        "SELECT COUNT(*) FROM button_tokens",
        "SELECT COUNT(*) FROM audit_log WHERE action = 'decision.create'",
    ] {
        assert_eq!(count(&store, table).await, 0, "{table}");
    }
    common::heal_deliveries(db).await;

    // The edits cannot be written: the resolution does not happen either,
    // so no copy is left showing buttons for a decision already made.
    let d = request_decision(&backend, "deploy", "Ship?").await;
    sqlx::query("UPDATE deliveries SET status = 'sent', platform_message_id = 'w-1', sent_at = 1")
        .execute(store.pool())
        .await
        .unwrap();
    common::break_deliveries(db, "NEW.op = 'edit'").await;
    let o = say(&store, BOB, &format!("approve {}", d.id)).await;
    assert!(matches!(o, Outcome::Rejected { .. }), "{o:#?}");
    assert_eq!(decision(&store, d.id).await.status, DecisionStatus::Pending);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'decision.resolve'"
        )
        .await,
        0
    );
    common::heal_deliveries(db).await;
    done(&say(&store, BOB, &format!("approve {}", d.id)).await);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM deliveries WHERE op = 'edit'").await,
        4,
        "every copy (web and console, for bob and olga) is edited"
    );
}
both_dbs!(a_failed_message_write_undoes_the_decision, |db: &TestDb| {
    a_failed_message_write_undoes_the_decision_body(db)
});

// ----- people and agents removed from the config -----------------------------------

async fn removal_takes_access_away_body(store: Store) {
    use ChannelKind::Telegram;
    seed_team(&store).await;
    for a in ["coder", "tester"] {
        store.upsert_agent(&agent_seed(a, &["rust"])).await.unwrap();
    }
    let d = request_decision(&common::backend(&store), "deploy", "Ship?").await;
    assert_eq!(
        store.decision_recipients("deploy").await.unwrap(),
        ["bob", "olga"]
    );

    // The config now lists alice and vic only.
    let removed = store.remove_people_not_in(&["alice", "vic"]).await.unwrap();
    assert_eq!(removed, ["bob", "olga"]);
    assert_eq!(store.person_by_platform(Telegram, BOB).await.unwrap(), None);
    assert_eq!(
        store.person_by_platform(Telegram, OLGA).await.unwrap(),
        None
    );
    assert!(store.approvers("deploy").await.unwrap().is_empty());
    assert!(
        store
            .decision_recipients("deploy")
            .await
            .unwrap()
            .is_empty(),
        "an owner removed from the config is not asked either"
    );
    assert!(
        store.person("olga").await.unwrap().is_some(),
        "the row stays for history"
    );
    assert!(matches!(
        say(&store, BOB, &format!("approve {}", d.id)).await,
        Outcome::UnknownUser { .. }
    ));
    assert_eq!(decision(&store, d.id).await.status, DecisionStatus::Pending);
    assert_eq!(
        audit(&store, "person:bob").await.last(),
        Some(&row("system", "person.remove", "config"))
    );
    let details: (String,) = sqlx::query_as(
        "SELECT details FROM audit_log WHERE resource = 'person:bob' AND action = 'person.remove'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(
        details.0.contains(&format!("telegram:{BOB}")) && details.0.contains("deploy"),
        "{}",
        details.0
    );
    // Nothing more to take: no second audit row.
    assert!(
        store
            .remove_people_not_in(&["alice", "vic"])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'person.remove'"
        )
        .await,
        2
    );
    // Back in the config: known again.
    store
        .upsert_person(&person("olga", Role::Owner, &[(Telegram, OLGA)]))
        .await
        .unwrap();
    assert!(
        store
            .person_by_platform(Telegram, OLGA)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.decision_recipients("deploy").await.unwrap(), ["olga"]);

    // Agents: the one left out is disabled (its keys are refused), audited once.
    assert_eq!(
        store.disable_agents_not_in(&["coder"]).await.unwrap(),
        ["tester"]
    );
    assert_eq!(
        store.agent("tester").await.unwrap().unwrap().status,
        AgentStatus::Disabled
    );
    assert_eq!(
        store.agent("coder").await.unwrap().unwrap().status,
        AgentStatus::Active
    );
    assert!(
        store
            .disable_agents_not_in(&["coder"])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        audit(&store, "agent:tester").await.last(),
        Some(&row("system", "agent.disable", "config"))
    );
    assert!(
        store
            .upsert_agent(&agent_seed("tester", &["rust"]))
            .await
            .unwrap()
    );
    assert_eq!(
        store.agent("tester").await.unwrap().unwrap().status,
        AgentStatus::Active,
        "back in the config: enabled again"
    );
}
both_dbs!(removal_takes_access_away, |db: &TestDb| {
    removal_takes_access_away_body(db.store().clone())
});
