//! The benchmarks' data set (brief and console): 100,000 tasks, 1,000,000
//! cost rows, 200,000 task moves, 20,000 dependency edges, 1,000 decisions
//! and 2,000 failures, spread over the last 365 days across 50 agents and
//! 10 projects. Seeded with the store's bulk insert, around the API.

// Each benchmark seeds what it reads: the brief has no inboxes.
#![allow(dead_code)]

use hub::store::{BulkValue as V, Store};
use rand::Rng;
use rand::rngs::StdRng;

pub const DAY: i64 = 86_400_000;
pub const AGENTS: usize = 50;
pub const PROJECTS: usize = 10;

/// The people (an owner and a member), the agents with daily budgets and
/// the projects with monthly budgets, as config.toml declares them.
pub fn team_toml() -> String {
    let mut toml = String::from(
        "[[people]]\nid = \"ceo\"\nrole = \"owner\"\ntime_zone = \"Europe/Kyiv\"\n\
         [[people]]\nid = \"dana\"\nrole = \"member\"\n",
    );
    for a in 0..AGENTS {
        toml.push_str(&format!(
            "[[agents]]\nid = \"agent-{a:02}\"\ndaily_budget_usd = {}\n",
            20 + a
        ));
    }
    for p in 0..PROJECTS {
        toml.push_str(&format!(
            "[[projects]]\nid = \"p{p}\"\nname = \"Project {p}\"\nbudget_usd = {}\n",
            5000 + 1000 * p
        ));
    }
    toml
}

const STATUSES: [&str; 6] = [
    "created",
    "ready",
    "assigned",
    "in_progress",
    "review",
    "blocked",
];

pub async fn seed_tasks(
    store: &Store,
    rng: &mut StdRng,
    now_ms: i64,
    n: i64,
) -> anyhow::Result<()> {
    // Ids are handed out in creation order.
    let mut created_at: Vec<i64> = (0..n)
        .map(|_| now_ms - rng.random_range(0..365 * DAY))
        .collect();
    created_at.sort_unstable();
    let mut rows = Vec::with_capacity(20_000);
    for id in 1..=n {
        let created = created_at[(id - 1) as usize];
        let completed = rng.random_bool(0.75);
        let status = if completed {
            "completed"
        } else {
            STATUSES[rng.random_range(0..STATUSES.len())]
        };
        let priority = match rng.random_range(0..100) {
            0..30 => "low",
            30..75 => "medium",
            75..95 => "high",
            _ => "urgent",
        };
        let (kind, who) = if rng.random_bool(0.8) {
            ("agent", format!("agent-{:02}", rng.random_range(0..AGENTS)))
        } else {
            ("person", "ceo".to_string())
        };
        let due = if rng.random_bool(0.5) {
            V::Int((created / DAY + rng.random_range(1..30)) * DAY)
        } else {
            V::NullInt
        };
        let done_at = (created + rng.random_range(0..10 * DAY)).min(now_ms);
        rows.push(vec![
            V::Int(id),
            V::Text(format!("Task {id}: do the thing")),
            V::Text(status.into()),
            V::Text(priority.into()),
            V::Text(format!("p{}", rng.random_range(0..PROJECTS))),
            V::Text(kind.into()),
            V::Text(who),
            due,
            V::Text("ceo".into()),
            V::Int(created),
            V::Int(if completed { done_at } else { created }),
            if completed {
                V::Int(done_at)
            } else {
                V::NullInt
            },
        ]);
        if rows.len() == 20_000 || id == n {
            store
                .bulk_insert(
                    "tasks",
                    &[
                        "id",
                        "title",
                        "status",
                        "priority",
                        "project_id",
                        "assignee_kind",
                        "assignee_id",
                        "due_at",
                        "created_by",
                        "created_at",
                        "updated_at",
                        "completed_at",
                    ],
                    &rows,
                )
                .await?;
            rows.clear();
        }
    }
    Ok(())
}

pub async fn seed_costs(
    store: &Store,
    rng: &mut StdRng,
    now_ms: i64,
    n: usize,
) -> anyhow::Result<()> {
    // Costs arrive in time order, as they do from agents: sorted instants.
    let mut ats: Vec<i64> = (0..n)
        .map(|_| now_ms - rng.random_range(0..365 * DAY))
        .collect();
    ats.sort_unstable();
    let mut rows = Vec::with_capacity(50_000);
    for (i, at) in ats.into_iter().enumerate() {
        let project = if rng.random_bool(0.9) {
            V::Text(format!("p{}", rng.random_range(0..PROJECTS)))
        } else {
            V::NullText
        };
        let tokens_in = rng.random_range(100..20_000);
        rows.push(vec![
            V::Text(format!("agent-{:02}", rng.random_range(0..AGENTS))),
            project,
            V::Text("gpt-4o-mini".into()),
            V::Int(tokens_in),
            V::Int(tokens_in / 4),
            // $0.0001 to $0.5 in micro-dollars.
            V::Int(i64::from(rng.random_range(1..5000u32)) * 100),
            V::Int(at),
        ]);
        if rows.len() == 50_000 || i + 1 == n {
            store
                .bulk_insert(
                    "costs",
                    &[
                        "agent_id",
                        "project_id",
                        "model",
                        "tokens_in",
                        "tokens_out",
                        "usd_micros",
                        "at",
                    ],
                    &rows,
                )
                .await?;
            rows.clear();
        }
    }
    // The rows went around the API's insert: build its daily roll-up.
    store.rebuild_cost_rollups().await?;
    Ok(())
}

pub async fn seed_rest(
    store: &Store,
    rng: &mut StdRng,
    now_ms: i64,
    n_tasks: i64,
) -> anyhow::Result<()> {
    // Task moves in the audit log.
    let mut moves: Vec<i64> = (0..200_000)
        .map(|_| now_ms - rng.random_range(0..365 * DAY))
        .collect();
    moves.sort_unstable();
    let mut rows = Vec::with_capacity(50_000);
    for (i, at) in moves.into_iter().enumerate() {
        rows.push(vec![
            V::Int(at),
            V::Text("agent-01".into()),
            V::Text("task.move".into()),
            V::Text(format!("task:{}", rng.random_range(1..=n_tasks))),
            V::Text("{}".into()),
            V::Text("api".into()),
        ]);
        if rows.len() == 50_000 || i + 1 == 200_000 {
            store
                .bulk_insert(
                    "audit_log",
                    &["at", "actor", "action", "resource", "details", "source"],
                    &rows,
                )
                .await?;
            rows.clear();
        }
    }
    // Dependencies: a later task needs an earlier one (acyclic).
    let mut edges = std::collections::BTreeSet::new();
    while edges.len() < 20_000 {
        let a = rng.random_range(2..=n_tasks);
        let b = rng.random_range(1..a);
        edges.insert((a, b));
    }
    let rows: Vec<Vec<V>> = edges
        .into_iter()
        .map(|(a, b)| vec![V::Int(a), V::Int(b), V::Int(now_ms)])
        .collect();
    store
        .bulk_insert(
            "task_dependencies",
            &["task_id", "depends_on", "created_at"],
            &rows,
        )
        .await?;
    let rows: Vec<Vec<V>> = (0..1_000)
        .map(|i| {
            let created = now_ms - rng.random_range(0..90 * DAY);
            let pending = i < 50;
            vec![
                V::Text("deploy".into()),
                V::Text(format!("Deploy build {i}?")),
                V::Text(if pending { "pending" } else { "approved" }.into()),
                V::Text("agent-02".into()),
                if pending {
                    V::NullText
                } else {
                    V::Text("ceo".into())
                },
                if pending {
                    V::NullInt
                } else {
                    V::Int(created + DAY)
                },
                V::Int(created),
            ]
        })
        .collect();
    store
        .bulk_insert(
            "decisions",
            &[
                "kind",
                "context",
                "status",
                "requested_by",
                "decided_by",
                "decided_at",
                "created_at",
            ],
            &rows,
        )
        .await?;
    let rows: Vec<Vec<V>> = (1..=2_000)
        .map(|task| {
            vec![
                V::Text(format!("agent-{:02}", rng.random_range(0..AGENTS))),
                V::Int(task),
                V::Text(format!("reason {}", rng.random_range(0..20))),
                V::Int(now_ms - rng.random_range(0..30 * DAY)),
            ]
        })
        .collect();
    store
        .bulk_insert(
            "agent_task_failures",
            &["agent_id", "task_id", "reason", "at"],
            &rows,
        )
        .await?;
    Ok(())
}

/// People's inboxes: `n` notifications over the last 365 days, each routed
/// to the owner, the member or both (a sent delivery per person, on the
/// console or Telegram). Returns the newest notification routed to "ceo".
pub async fn seed_inbox(
    store: &Store,
    rng: &mut StdRng,
    now_ms: i64,
    n: usize,
) -> anyhow::Result<String> {
    let mut ats: Vec<i64> = (0..n)
        .map(|_| now_ms - rng.random_range(0..365 * DAY))
        .collect();
    ats.sort_unstable();
    let mut notes = Vec::with_capacity(10_000);
    let mut deliveries = Vec::with_capacity(20_000);
    let mut newest_ceo = String::new();
    for (i, at) in ats.into_iter().enumerate() {
        // The hub's IDs: milliseconds, a sequence, randomness (hub/src/ids.rs).
        let id = format!("n_{at:012x}{i:08x}{:08x}", rng.random::<u32>());
        let to: &[&str] = match rng.random_range(0..4) {
            0 => &["ceo", "dana"],
            1 => &["dana"],
            _ => &["ceo"],
        };
        let urgency = ["urgent", "info", "fyi"][rng.random_range(0..3)];
        notes.push(vec![
            V::Text(id.clone()),
            V::Text(format!("agent-{:02}", rng.random_range(0..AGENTS))),
            V::Text("build.finished".into()),
            V::Text(urgency.into()),
            V::Text("person".into()),
            V::Text(to[0].into()),
            V::Text(format!("Build {i} finished")),
            V::Text("All 1,204 tests passed; the artefact is on the shelf.".into()),
            V::Int(at),
        ]);
        for (k, person) in to.iter().enumerate() {
            let channel = if k == 0 { "console" } else { "telegram" };
            deliveries.push(vec![
                V::Text(format!("d_{at:012x}{i:08x}{k:08x}")),
                V::Text(id.clone()),
                V::Text((*person).into()),
                V::Text(channel.into()),
                V::Text((*person).into()),
                V::Text("sent".into()),
                V::Int(1),
                V::Int(at),
                V::Text(format!("m{i}")),
                V::Int(at),
                V::Int(at),
                V::Int(at),
            ]);
            if *person == "ceo" {
                newest_ceo = id.clone();
            }
        }
        if notes.len() == 10_000 || i + 1 == n {
            store
                .bulk_insert(
                    "notifications",
                    &[
                        "id",
                        "source",
                        "kind",
                        "urgency",
                        "recipient_kind",
                        "recipient_id",
                        "title",
                        "body",
                        "created_at",
                    ],
                    &notes,
                )
                .await?;
            store
                .bulk_insert(
                    "deliveries",
                    &[
                        "id",
                        "notification_id",
                        "person_id",
                        "channel",
                        "address",
                        "status",
                        "attempts",
                        "next_attempt_at",
                        "platform_message_id",
                        "created_at",
                        "updated_at",
                        "sent_at",
                    ],
                    &deliveries,
                )
                .await?;
            notes.clear();
            deliveries.clear();
        }
    }
    Ok(newest_ceo)
}
