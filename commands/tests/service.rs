//! The service layer shared with the agent HTTP API, and automatic
//! assignment on a seeded team with a known winner.

use commands::testing::MemoryBackend;
use commands::*;
use routing::ChannelKind;

fn agent(b: &MemoryBackend, id: &str, status: AgentStatus, caps: &[&str], stats: AgentStats) {
    b.add_agent(
        Agent {
            id: id.into(),
            name: id.into(),
            status,
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
        },
        stats,
    );
}

fn stats(active: u32, completed: u32, failed: u32, cost: Option<f64>) -> AgentStats {
    AgentStats {
        active_tasks: active,
        completed,
        failed,
        avg_cost_usd: cost,
    }
}

/// The seeded team. For a task needing `rust` and `sql`:
///
/// Candidates are the active/idle agents: ada, bob, cyd, eve (dan is
/// offline). The cheapest known average cost among them is eve's $0.50.
///
/// | agent | capability | workload    | performance  | cost          | total |
/// |-------|------------|-------------|--------------|---------------|-------|
/// | ada   | 2/2 = 1.0  | 1/(1+3)=.25 | 8/10 = 0.8   | .5/2.0 = .25  | 0.4 + 0.05 + 0.24 + 0.025 = 0.715 |
/// | bob   | 1/2 = 0.5  | 1/(1+0)=1.0 | 9/10 = 0.9   | .5/1.0 = .5   | 0.2 + 0.20 + 0.27 + 0.050 = 0.720 |
/// | cyd   | 2/2 = 1.0  | 1/(1+1)=.5  | no history .5| unknown = 1.0 | 0.4 + 0.10 + 0.15 + 0.100 = 0.750 |
/// | eve   | 0/2 = 0.0  | 1.0         | 10/10 = 1.0  | .5/.5 = 1.0   | 0.0 + 0.20 + 0.30 + 0.100 = 0.600 |
///
/// Winner: cyd (0.750). Had offline dan (all 1.0, total 1.0) been
/// considered, he would have won — the test would catch that.
fn seeded_team() -> MemoryBackend {
    let b = MemoryBackend::new();
    b.add_person(ChannelKind::Telegram, "1", "alice", Role::Admin);
    b.add_person(ChannelKind::Telegram, "2", "bob", Role::Member);
    agent(
        &b,
        "ada",
        AgentStatus::Active,
        &["rust", "sql"],
        stats(3, 8, 2, Some(2.0)),
    );
    agent(
        &b,
        "bob-bot",
        AgentStatus::Idle,
        &["Rust"],
        stats(0, 9, 1, Some(1.0)),
    );
    agent(
        &b,
        "cyd",
        AgentStatus::Active,
        &["rust", "sql", "python"],
        stats(1, 0, 0, None),
    );
    agent(
        &b,
        "dan",
        AgentStatus::Offline,
        &["rust", "sql"],
        stats(0, 50, 0, Some(0.1)),
    );
    agent(
        &b,
        "eve",
        AgentStatus::Idle,
        &["python"],
        stats(0, 10, 0, Some(0.5)),
    );
    b
}

fn member(b: &MemoryBackend) -> Actor {
    let Some(p) = b.state().people.get("bob").cloned() else {
        panic!("bob")
    };
    Actor::person(p, "telegram user 2 in chat c")
}

async fn new_task(b: &MemoryBackend, title: &str, caps: &[&str]) -> Task {
    let draft = TaskDraft {
        title: title.into(),
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    };
    match create_task(b, &member(b), draft).await {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn auto_assignment_picks_the_expected_winner_and_records_why() {
    let b = seeded_team();
    let task = new_task(&b, "Migrate billing", &["rust", "sql"]).await;
    let result = assign_task(&b, &member(&b), task.id, AssignTo::Auto).await;
    let Ok(AssignResult::Assigned {
        task,
        record,
        scores,
    }) = result
    else {
        panic!("{result:?}")
    };

    let order: Vec<&str> = scores.iter().map(|s| s.agent_id.as_str()).collect();
    assert_eq!(order, ["cyd", "bob-bot", "ada", "eve"]);
    let expected = [0.750, 0.720, 0.715, 0.600];
    for (s, e) in scores.iter().zip(expected) {
        assert!(close(s.total, e), "{}: {} != {e}", s.agent_id, s.total);
    }
    assert!(close(scores[2].cost, 0.25) && close(scores[2].workload, 0.25));
    assert!(
        close(scores[1].capability, 0.5),
        "capabilities match case-insensitively"
    );

    assert_eq!(task.assignee, Some(Assignee::Agent("cyd".into())));
    assert_eq!(task.status, TaskStatus::Assigned);
    let Some(record) = record else {
        panic!("decision recorded")
    };
    assert_eq!(record.kind, "assignment");
    assert_eq!(record.status, DecisionStatus::Approved);
    assert_eq!(record.decided_by.as_deref(), Some("system"));
    assert_eq!(record.task_id, Some(task.id));
    let reasoning = record.reasoning.unwrap_or_default();
    for id in ["cyd: 0.750", "bob-bot: 0.720", "ada: 0.715", "eve: 0.600"] {
        assert!(reasoning.contains(id), "{reasoning}");
    }
    assert!(!reasoning.contains("dan"));
    let actions: Vec<String> = b.audit().into_iter().map(|a| a.action).collect();
    assert_eq!(actions, ["task.create", "task.assign", "decision.create"]);
}

#[tokio::test]
async fn workload_counts_live_tasks() {
    // cyd's lead over bob-bot is 0.03; one more open task (workload .5 → .33)
    // costs cyd 0.2 × 0.1667 = 0.033 and hands the win to bob-bot.
    let b = seeded_team();
    let first = new_task(&b, "One", &["rust", "sql"]).await;
    let r = assign_task(&b, &member(&b), first.id, AssignTo::Auto).await;
    assert!(matches!(r, Ok(AssignResult::Assigned { .. })));
    let second = new_task(&b, "Two", &["rust", "sql"]).await;
    let r = assign_task(&b, &member(&b), second.id, AssignTo::Auto).await;
    let Ok(AssignResult::Assigned { task, .. }) = r else {
        panic!("{r:?}")
    };
    assert_eq!(task.assignee, Some(Assignee::Agent("bob-bot".into())));
}

#[tokio::test]
async fn no_fitting_agent_escalates_to_a_person() {
    let b = seeded_team();
    let task = new_task(&b, "Port the COBOL", &["cobol"]).await;
    let r = assign_task(&b, &member(&b), task.id, AssignTo::Auto).await;
    let Ok(AssignResult::Escalated {
        task,
        decision,
        scores,
    }) = r
    else {
        panic!("{r:?}")
    };
    assert_eq!(scores.len(), 4);
    assert_eq!(task.assignee, None);
    assert_eq!(b.get_task(task.id).and_then(|t| t.assignee), None);
    assert_eq!(decision.kind, "assignment");
    assert_eq!(decision.status, DecisionStatus::Pending);
    assert!(decision.context.contains("cobol"), "{}", decision.context);

    // Through chat, the reply says so and the hub gets the decision to send.
    let ctx = Context {
        platform: ChannelKind::Telegram,
        user_id: "2".into(),
        chat_id: "c".into(),
        bot_username: None,
    };
    let out = execute(&b, &ctx, "task assign 1 auto").await;
    let Outcome::Done { reply, events } = out else {
        panic!("{out:?}")
    };
    assert!(
        reply
            .message
            .text
            .starts_with("No available agent fits task #1"),
        "{}",
        reply.message.text
    );
    assert!(
        matches!(&events[..], [Event::DecisionCreated(d)] if d.status == DecisionStatus::Pending)
    );
}

#[tokio::test]
async fn no_available_agents_escalates() {
    let b = MemoryBackend::new();
    b.add_person(ChannelKind::Telegram, "2", "bob", Role::Member);
    agent(&b, "dan", AgentStatus::Disabled, &[], stats(0, 0, 0, None));
    let task = new_task(&b, "Anything", &[]).await;
    let r = assign_task(&b, &member(&b), task.id, AssignTo::Auto).await;
    assert!(
        matches!(r, Ok(AssignResult::Escalated { ref scores, .. }) if scores.is_empty()),
        "{r:?}"
    );
}

#[tokio::test]
async fn agents_act_through_the_api_with_scopes() {
    let b = seeded_team();
    let writer = Actor::agent("planner", vec![Scope::TasksWrite]);
    let reader = Actor::agent("watcher", vec![Scope::TasksRead]);
    let draft = TaskDraft {
        title: "From the API".into(),
        assignee: Some(Assignee::Agent("ada".into())),
        ..Default::default()
    };
    let task = match create_task(&b, &writer, draft.clone()).await {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(task.created_by, "agent:planner");
    assert_eq!(b.audit()[0].source, "api");
    let Err(e) = create_task(&b, &reader, draft).await else {
        panic!("refused")
    };
    assert_eq!(e.http_status(), 403);
    assert_eq!(
        e.to_string(),
        "`task new` needs the `tasks:write` scope; this API key has: tasks:read."
    );
    assert!(
        list_tasks(
            &b,
            &reader,
            &TaskFilter {
                assignee: None,
                status: None,
                project: None,
                include_completed: true,
                limit: 10
            }
        )
        .await
        .is_ok()
    );

    let r = move_task(&b, &writer, task.id, TaskStatus::InProgress.into(), None).await;
    assert!(r.is_ok(), "{r:?}");
    let r = move_task(&b, &writer, task.id, TaskStatus::Assigned.into(), None).await;
    let Err(e) = r else { panic!("illegal") };
    assert_eq!(e.http_status(), 409);
    assert!(
        matches!(e, ServiceError::IllegalMove { ref allowed, .. } if allowed == &[TaskStatus::Review, TaskStatus::Completed, TaskStatus::Blocked])
    );
    let Err(e) = move_task(&b, &writer, 99, MoveTarget::Unblock, None).await else {
        panic!("404")
    };
    assert_eq!(e.http_status(), 404);
    let Err(e) = add_dependency(&b, &writer, task.id, task.id).await else {
        panic!("self")
    };
    assert_eq!(e.http_status(), 422);
}

#[tokio::test]
async fn a_dependency_is_removed_once_by_a_member_and_audited() {
    let b = seeded_team();
    let viewer = b.add_person(ChannelKind::Telegram, "3", "vic", Role::Viewer);
    let viewer = Actor::person(viewer, "web");
    let a = new_task(&b, "a", &[]).await;
    let needed = new_task(&b, "needed", &[]).await;
    add_dependency(&b, &member(&b), a.id, needed.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Err(e) = remove_dependency(&b, &viewer, a.id, needed.id).await else {
        panic!("a viewer removed a dependency")
    };
    assert_eq!(e.http_status(), 403);
    remove_dependency(&b, &member(&b), a.id, needed.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(b.state().deps.is_empty());
    let audit = b.audit();
    let undep = audit
        .iter()
        .rfind(|r| r.action == "task.undep")
        .unwrap_or_else(|| panic!("no audit row"));
    assert_eq!(undep.resource, format!("task:{}", a.id));
    assert_eq!(undep.details["needs"], needed.id);
    let Err(e) = remove_dependency(&b, &member(&b), a.id, needed.id).await else {
        panic!("removed twice")
    };
    assert!(matches!(e, ServiceError::NoSuchDependency { .. }), "{e:?}");
    assert_eq!(e.http_status(), 404);
    // The graph is as before: the same edge can be added again.
    add_dependency(&b, &member(&b), a.id, needed.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn removing_the_last_open_dependency_makes_a_waiting_task_ready() {
    let b = seeded_team();
    let waiting = new_task(&b, "waiting", &[]).await;
    let first = new_task(&b, "first", &[]).await;
    let second = new_task(&b, "second", &[]).await;
    for needed in [&first, &second] {
        add_dependency(&b, &member(&b), waiting.id, needed.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(waiting.status, TaskStatus::Created);
    // One open dependency left: still waiting.
    let r = remove_dependency(&b, &member(&b), waiting.id, first.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.promoted, None);
    assert_eq!(b.state().tasks[&waiting.id].status, TaskStatus::Created);
    // The last one: ready, as when the last dependency completes, with
    // an audit row of the system's move after the person's removal.
    let r = remove_dependency(&b, &member(&b), waiting.id, second.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let promoted = r.promoted.unwrap_or_else(|| panic!("not promoted"));
    assert_eq!(promoted.status, TaskStatus::Ready);
    assert_eq!(b.state().tasks[&waiting.id].status, TaskStatus::Ready);
    let audit = b.audit();
    let n = audit.len();
    assert_eq!(audit[n - 2].action, "task.undep");
    let moved = &audit[n - 1];
    assert_eq!(moved.action, "task.move");
    assert_eq!(moved.resource, format!("task:{}", waiting.id));
    assert_eq!(moved.details["from"], "created");
    assert_eq!(moved.details["to"], "ready");
    assert_eq!(
        moved.details["because"],
        format!("dependency on #{} removed", second.id)
    );

    // A task someone marked blocked stays blocked: that is lifted by hand.
    let held = new_task(&b, "held", &[]).await;
    add_dependency(&b, &member(&b), held.id, first.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    move_task(
        &b,
        &member(&b),
        held.id,
        MoveTarget::To(TaskStatus::Blocked),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let r = remove_dependency(&b, &member(&b), held.id, first.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.promoted, None);
    assert_eq!(b.state().tasks[&held.id].status, TaskStatus::Blocked);
}

#[tokio::test]
async fn agents_resolve_decisions_with_the_scope_but_not_their_own() {
    let b = seeded_team();
    let d = b.add_pending_decision("deploy", "Deploy?", "agent:deployer");
    let own = Actor::agent("deployer", vec![Scope::DecisionsResolve]);
    let Err(e) = resolve_decision(&b, &own, d.id, DecisionOutcome::Approve, None).await else {
        panic!("own request")
    };
    assert_eq!(e.http_status(), 403);
    let unscoped = Actor::agent("reviewer", vec![Scope::TasksWrite]);
    assert!(
        resolve_decision(&b, &unscoped, d.id, DecisionOutcome::Approve, None)
            .await
            .is_err()
    );
    let reviewer = Actor::agent("reviewer", vec![Scope::DecisionsResolve]);
    let r = resolve_decision(
        &b,
        &reviewer,
        d.id,
        DecisionOutcome::Deny,
        Some("flaky tests".into()),
    )
    .await;
    let Ok(resolved) = r else { panic!("{r:?}") };
    assert_eq!(resolved.decided_by.as_deref(), Some("agent:reviewer"));
    let again = resolve_decision(&b, &reviewer, d.id, DecisionOutcome::Approve, None).await;
    let Err(e) = again else { panic!("twice") };
    assert_eq!(e.http_status(), 409);
    assert!(
        e.to_string()
            .starts_with("Decision #1 was already denied by agent:reviewer at "),
        "{e}"
    );
}

#[tokio::test]
async fn a_lost_task_race_is_reported_not_applied() {
    // The task changes between our read and our compare-and-set: simulate
    // with a backend whose stored status differs from what the service read.
    let b = seeded_team();
    let task = new_task(&b, "Racy", &[]).await;
    let actor = member(&b);
    let change = StatusChange {
        task_id: task.id,
        from: TaskStatus::Ready,
        to: TaskStatus::Assigned,
        blocked_from: None,
    };
    let audit = AuditEntry {
        actor: "x".into(),
        action: "task.move".into(),
        resource: "task:1".into(),
        details: serde_json::Value::Null,
        source: "test".into(),
    };
    let r = b.update_task_status(&change, &audit).await;
    assert!(matches!(r, Err(BackendError::Conflict(_))));
    assert_eq!(
        b.get_task(task.id).map(|t| t.status),
        Some(TaskStatus::Created)
    );
    // And the service still works on the real state.
    let r = move_task(
        &b,
        &actor,
        task.id,
        TaskStatus::Planning.into(),
        Some("scoping".into()),
    )
    .await;
    assert!(r.is_ok(), "{r:?}");
}
