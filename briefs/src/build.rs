//! The store's rows → the brief's sections: totals, percentages, the
//! month-end forecast, callouts and anomalies. Pure, so every figure is
//! testable without a database.

use crate::config::BriefConfig;
use crate::cycles::find_cycles;
use crate::input::{BriefInput, TaskRow};
use crate::model::*;
use crate::window::Window;
use std::collections::BTreeMap;

/// Build the brief for `window` from `input`. `person_name` is for display.
pub fn build(window: &Window, person_name: &str, input: &BriefInput, cfg: &BriefConfig) -> Brief {
    let budget = budget(window, input);
    let agents = health(window, input);
    let silent_agents = agents
        .iter()
        .filter(|a| a.silent)
        .map(|a| a.agent_id.clone())
        .collect();
    let mut anomalies = spend_spikes(&budget, cfg.spike_factor, cfg.spike_floor_usd);
    anomalies.extend(input.repeated_failures.iter().map(|f| Anomaly {
        kind: "repeated_failure".into(),
        message: format!(
            "{} failed {} times in 7 days: {}",
            f.agent_id, f.count, f.reason
        ),
        agent_id: Some(f.agent_id.clone()),
        task_ids: Vec::new(),
        today_usd: None,
        avg_7d_usd: None,
        count: Some(f.count),
    }));
    anomalies.extend(find_cycles(&input.open_edges).into_iter().map(|cycle| {
        let mut path: Vec<String> = cycle.iter().map(|t| format!("#{t}")).collect();
        path.push(format!("#{}", cycle[0]));
        Anomaly {
            kind: "dependency_cycle".into(),
            message: format!("Dependency cycle: {}", path.join(" → ")),
            agent_id: None,
            task_ids: cycle,
            today_usd: None,
            avg_7d_usd: None,
            count: None,
        }
    }));
    let pending: Vec<PendingDecision> = input
        .pending_decisions
        .iter()
        .map(|d| PendingDecision {
            id: d.id,
            kind: d.kind.clone(),
            context: d.context.clone(),
            requested_by: d.requested_by.clone(),
            task_id: d.task_id,
            created_at: d.created_at,
            waiting_hours: (window.until - d.created_at).num_hours().max(0),
        })
        .collect();
    let sla_breaches = TaskList {
        total: input.sla_total,
        tasks: input.sla_breaches.clone(),
    };
    let needs_you = needs_you(window, input, &pending, &budget, &sla_breaches);
    Brief {
        person: window.person.clone(),
        person_name: person_name.to_string(),
        date: window.date,
        time_zone: window.tz.name().to_string(),
        generated_at: window.generated_at,
        period: Period {
            since: window.since,
            until: window.until,
        },
        needs_you,
        activity: input.activity,
        activity_names: ActivityNames {
            completed: input.completed.clone(),
            decided: input.decided.clone(),
        },
        mine: input.mine,
        overdue: TaskList {
            total: input.overdue_total,
            tasks: input
                .overdue
                .iter()
                .map(|t| TaskRow {
                    days_late: t
                        .due_at
                        .map(|due| (window.date - due.date_naive()).num_days().max(0)),
                    ..t.clone()
                })
                .collect(),
        },
        sla_breaches,
        budget,
        agents,
        silent_agents,
        pending_decisions: DecisionList {
            total: input.pending_total,
            decisions: pending,
        },
        anomalies,
        summary: None,
    }
}

/// What needs the reader: the decisions they may decide, the questions
/// asked of them, agents and projects over budget, SLA breaches.
fn needs_you(
    window: &Window,
    input: &BriefInput,
    pending: &[PendingDecision],
    budget: &Budget,
    sla_breaches: &TaskList,
) -> NeedsYou {
    let decisions: Vec<PendingDecision> = pending
        .iter()
        .filter(|d| input.reader.may_decide(&d.kind))
        .cloned()
        .collect();
    // Every pending decision is the reader's when they decide all kinds
    // (the total is exact); otherwise those listed.
    let decisions_total = if input.reader.all_kinds {
        input.pending_total
    } else {
        decisions.len() as i64
    };
    let over_budget_agents: Vec<AgentSpend> = budget
        .agents
        .iter()
        .filter(|a| a.over_budget)
        .cloned()
        .collect();
    let over_budget_projects: Vec<ProjectSpend> = budget
        .projects
        .iter()
        .filter(|p| {
            p.budget_usd
                .is_some_and(|b| micros(p.month_usd) > micros(b))
        })
        .cloned()
        .collect();
    let questions = QuestionList {
        total: input.waiting_questions_total,
        questions: input
            .waiting_questions
            .iter()
            .map(|q| {
                let waited = (window.until - q.created_at).max(chrono::Duration::zero());
                WaitingQuestion {
                    id: q.id,
                    text: q.text.clone(),
                    asked_by: q.asked_by.clone(),
                    task_id: q.task_id,
                    created_at: q.created_at,
                    waiting_hours: waited.num_hours(),
                    waiting_minutes: waited.num_minutes(),
                }
            })
            .collect(),
    };
    NeedsYou {
        total: decisions_total
            + questions.total
            + over_budget_agents.len() as i64
            + over_budget_projects.len() as i64
            + sla_breaches.total,
        decisions: DecisionList {
            total: decisions_total,
            decisions,
        },
        questions,
        over_budget_agents,
        over_budget_projects,
        sla_breaches: sla_breaches.clone(),
    }
}

/// Spend summed in whole micro-dollars, so that sums and budget checks are
/// exact: the hub stores money as micro-dollars and hands each figure over
/// as the double nearest it, which rounds back to the same integer.
#[derive(Default)]
struct Sums {
    today: i64,
    month: i64,
    week: i64,
}

fn micros(usd: f64) -> i64 {
    (usd * 1_000_000.0).round() as i64
}

fn dollars(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

fn budget(window: &Window, input: &BriefInput) -> Budget {
    let mut by_agent: BTreeMap<&str, Sums> = BTreeMap::new();
    let mut by_project: BTreeMap<&str, Sums> = BTreeMap::new();
    let mut total = Sums::default();
    for r in &input.spend {
        for s in [
            by_agent.entry(r.agent_id.as_str()).or_default(),
            by_project
                .entry(r.project_id.as_deref().unwrap_or(""))
                .or_default(),
            &mut total,
        ] {
            s.today += micros(r.today_usd);
            s.month += micros(r.month_usd);
            s.week += micros(r.week_usd);
        }
    }
    let elapsed = window.month_elapsed();
    let forecast = |month: f64| usd(month / elapsed);
    let budgets: BTreeMap<&str, Option<f64>> = input
        .agents
        .iter()
        .map(|a| (a.id.as_str(), a.daily_budget_usd))
        .collect();
    // Every known agent is listed (spend 0 if none), plus any agent that
    // posted costs without being configured.
    let mut agent_ids: Vec<&str> = input.agents.iter().map(|a| a.id.as_str()).collect();
    agent_ids.extend(by_agent.keys().filter(|k| !budgets.contains_key(*k)));
    let agents: Vec<AgentSpend> = agent_ids
        .into_iter()
        .map(|id| {
            let s = by_agent.get(id);
            let today_micros = s.map_or(0, |s| s.today);
            let today = dollars(today_micros);
            let daily = budgets.get(id).copied().flatten();
            AgentSpend {
                agent_id: id.to_string(),
                today_usd: usd(today),
                month_usd: usd(dollars(s.map_or(0, |s| s.month))),
                daily_budget_usd: daily,
                today_pct: daily.filter(|b| *b > 0.0).map(|b| pct(today / b * 100.0)),
                avg_7d_usd: usd(dollars(s.map_or(0, |s| s.week)) / 7.0),
                // Exact: both sides in whole micro-dollars.
                over_budget: daily.is_some_and(|b| today_micros > micros(b)),
            }
        })
        .collect();
    let projects: Vec<ProjectSpend> = input
        .projects
        .iter()
        .map(|p| {
            let s = by_project.get(p.id.as_str());
            let month = dollars(s.map_or(0, |s| s.month));
            let f = forecast(month);
            ProjectSpend {
                project_id: p.id.clone(),
                name: p.name.clone(),
                today_usd: usd(dollars(s.map_or(0, |s| s.today))),
                month_usd: usd(month),
                budget_usd: p.budget_usd,
                used_pct: p
                    .budget_usd
                    .filter(|b| *b > 0.0)
                    .map(|b| pct(month / b * 100.0)),
                forecast_usd: f,
                forecast_over: p.budget_usd.is_some_and(|b| f > b),
            }
        })
        .collect();
    let budgeted: Vec<f64> = input.projects.iter().filter_map(|p| p.budget_usd).collect();
    let month_budget =
        (!budgeted.is_empty()).then(|| dollars(budgeted.iter().map(|b| micros(*b)).sum::<i64>()));
    let mut top_spenders: Vec<AgentSpend> = agents
        .iter()
        .filter(|a| a.today_usd > 0.0)
        .cloned()
        .collect();
    top_spenders.sort_by(|a, b| {
        b.today_usd
            .total_cmp(&a.today_usd)
            .then(a.agent_id.cmp(&b.agent_id))
    });
    top_spenders.truncate(5);
    let total_month = dollars(total.month);
    let unassigned = by_project.get("");
    Budget {
        month_forecast_over: month_budget.is_some_and(|b| forecast(total_month) > b),
        unassigned_today_usd: usd(dollars(unassigned.map_or(0, |s| s.today))),
        unassigned_month_usd: usd(dollars(unassigned.map_or(0, |s| s.month))),
        today_usd: usd(dollars(total.today)),
        top_spenders,
        month_usd: usd(total_month),
        month_forecast_usd: forecast(total_month),
        month_budget_usd: month_budget,
        month_used_pct: month_budget
            .filter(|b| *b > 0.0)
            .map(|b| pct(total_month / b * 100.0)),
        over_daily_budget: agents
            .iter()
            .filter(|a| a.over_budget)
            .map(|a| a.agent_id.clone())
            .collect(),
        agents,
        projects,
    }
}

fn health(window: &Window, input: &BriefInput) -> Vec<AgentHealth> {
    input
        .agents
        .iter()
        .map(|a| {
            let quiet = a.last_heartbeat_at.is_none_or(|t| t < window.silent_before);
            AgentHealth {
                agent_id: a.id.clone(),
                status: a.status.clone(),
                last_heartbeat_at: a.last_heartbeat_at,
                minutes_since_heartbeat: a
                    .last_heartbeat_at
                    .map(|t| (window.until - t).num_minutes().max(0)),
                note: a.heartbeat_note.clone(),
                active_tasks: a.active_tasks,
                silent: quiet && a.active_tasks > 0 && a.status != "disabled",
            }
        })
        .collect()
}

/// Today's spend above `factor` × the 7-day daily average. An agent with no
/// spend in the last seven days has no average to compare with: its spend
/// today is called out when it is above `floor` USD (a new or woken agent
/// spending heavily at once is exactly what this section is for).
fn spend_spikes(budget: &Budget, factor: f64, floor: f64) -> Vec<Anomaly> {
    budget
        .agents
        .iter()
        .filter_map(|a| {
            let message = if a.avg_7d_usd > 0.0 {
                (a.today_usd > factor * a.avg_7d_usd).then(|| {
                    format!(
                        "{} spent ${:.2} today, {:.1}× its 7-day daily average of ${:.2}",
                        a.agent_id,
                        a.today_usd,
                        a.today_usd / a.avg_7d_usd,
                        a.avg_7d_usd
                    )
                })
            } else {
                (a.today_usd > floor).then(|| {
                    format!(
                        "{} spent ${:.2} today with no spend in the 7 days before (flagged above ${:.2})",
                        a.agent_id, a.today_usd, floor
                    )
                })
            }?;
            Some(Anomaly {
                kind: "spend_spike".into(),
                message,
                agent_id: Some(a.agent_id.clone()),
                task_ids: Vec::new(),
                today_usd: Some(a.today_usd),
                avg_7d_usd: Some(a.avg_7d_usd),
                count: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::*;
    use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};

    fn window() -> Window {
        // 10 July 2026, 09:00 UTC: 9 days and 9 hours of a 31-day month.
        Window::new(
            "ceo",
            chrono_tz::Tz::UTC,
            NaiveDate::from_ymd_opt(2026, 7, 10).unwrap(),
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 7, 10, 9, 0, 0).unwrap(),
            None,
            &BriefConfig::default(),
        )
        .unwrap()
    }

    fn agent(id: &str, budget: Option<f64>, hb_min_ago: Option<i64>, active: i64) -> AgentRow {
        let w = window();
        AgentRow {
            id: id.into(),
            status: "active".into(),
            daily_budget_usd: budget,
            last_heartbeat_at: hb_min_ago.map(|m| w.until - chrono::Duration::minutes(m)),
            heartbeat_note: None,
            active_tasks: active,
        }
    }

    fn spend(agent: &str, project: Option<&str>, today: f64, month: f64, week: f64) -> SpendRow {
        SpendRow {
            agent_id: agent.into(),
            project_id: project.map(Into::into),
            today_usd: today,
            month_usd: month,
            week_usd: week,
        }
    }

    fn decision(id: i64, kind: &str) -> DecisionRow {
        DecisionRow {
            id,
            kind: kind.into(),
            context: "c".into(),
            requested_by: "agent:coder".into(),
            task_id: None,
            created_at: window().until - chrono::Duration::hours(3),
        }
    }

    #[test]
    fn needs_you_lists_what_the_reader_can_act_on() {
        let w = window();
        let input = BriefInput {
            agents: vec![agent("coder", Some(10.0), Some(5), 1)],
            projects: vec![ProjectRow {
                id: "web".into(),
                name: "Website".into(),
                budget_usd: Some(50.0),
                deadline: None,
            }],
            spend: vec![
                spend("coder", Some("web"), 12.0, 60.0, 0.0),
                spend("coder", None, 1.5, 4.0, 0.0),
            ],
            pending_decisions: vec![decision(1, "deploy"), decision(2, "hire")],
            pending_total: 2,
            reader: ReaderScope {
                all_kinds: false,
                kinds: vec!["deploy".into()],
            },
            sla_breaches: vec![],
            sla_total: 0,
            overdue: vec![TaskRow {
                id: 9,
                title: "Late".into(),
                status: "ready".into(),
                priority: "high".into(),
                project_id: None,
                assignee: None,
                due_at: Some(Utc.with_ymd_and_hms(2026, 7, 7, 0, 0, 0).unwrap()),
                created_at: w.since,
                days_late: None,
            }],
            overdue_total: 1,
            ..Default::default()
        };
        let b = build(&w, "CEO", &input, &BriefConfig::default());
        // Only the kind the reader approves; the agent and project over budget.
        let ids: Vec<i64> = b
            .needs_you
            .decisions
            .decisions
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids, [1]);
        assert_eq!(b.needs_you.decisions.total, 1);
        assert_eq!(b.needs_you.over_budget_agents[0].agent_id, "coder");
        assert_eq!(b.needs_you.over_budget_projects[0].project_id, "web");
        assert_eq!(b.needs_you.total, 3);
        // An owner decides every kind.
        let owner = BriefInput {
            reader: ReaderScope {
                all_kinds: true,
                kinds: vec![],
            },
            ..input.clone()
        };
        let b2 = build(&w, "CEO", &owner, &BriefConfig::default());
        assert_eq!(b2.needs_you.decisions.total, 2);
        // Unassigned spend is its own line; the forecast is flagged over the
        // total budget; overdue says how late.
        assert_eq!(b.budget.unassigned_today_usd, 1.5);
        assert_eq!(b.budget.unassigned_month_usd, 4.0);
        assert!(b.budget.month_forecast_over);
        assert_eq!(b.overdue.tasks[0].days_late, Some(3));
    }

    #[test]
    fn questions_waiting_for_the_reader_are_counted_with_how_long() {
        let w = window();
        let input = BriefInput {
            waiting_questions: vec![QuestionRow {
                id: 4,
                text: "Which region?".into(),
                asked_by: "builder".into(),
                task_id: Some(2),
                created_at: w.until - chrono::Duration::minutes(95),
            }],
            waiting_questions_total: 3,
            ..Default::default()
        };
        let b = build(&w, "CEO", &input, &BriefConfig::default());
        let q = &b.needs_you.questions;
        assert_eq!(q.total, 3, "the exact total, beyond the list");
        assert_eq!(
            (q.questions[0].waiting_hours, q.questions[0].waiting_minutes),
            (1, 95)
        );
        assert_eq!(b.needs_you.total, 3);
    }

    #[test]
    fn spend_at_exactly_the_budget_is_not_over_it() {
        // $0.1 + $0.2 on two projects is $0.3 to the cent; summed as doubles
        // it is 0.30000000000000004 and read as over a $0.30 budget.
        let input = BriefInput {
            agents: vec![agent("coder", Some(0.3), Some(5), 1)],
            spend: vec![
                spend("coder", Some("a"), 0.1, 0.1, 0.0),
                spend("coder", Some("b"), 0.2, 0.2, 0.0),
            ],
            ..Default::default()
        };
        let b = build(&window(), "CEO", &input, &BriefConfig::default());
        let coder = &b.budget.agents[0];
        assert_eq!(coder.today_usd, 0.3);
        assert!(!coder.over_budget, "{coder:?}");
        assert!(b.budget.over_daily_budget.is_empty());
        // One micro-dollar more is over.
        let mut input = input;
        input
            .spend
            .push(spend("coder", None, 0.000_001, 0.000_001, 0.0));
        let b = build(&window(), "CEO", &input, &BriefConfig::default());
        assert!(b.budget.agents[0].over_budget);
    }

    #[test]
    fn budget_percentages_forecast_and_callouts() {
        let input = BriefInput {
            agents: vec![
                agent("coder", Some(10.0), Some(5), 1),
                agent("ops", Some(2.0), Some(5), 0),
            ],
            projects: vec![ProjectRow {
                id: "web".into(),
                name: "Website".into(),
                budget_usd: Some(100.0),
                deadline: None,
            }],
            spend: vec![
                spend("coder", Some("web"), 4.0, 45.0, 14.0),
                spend("ops", None, 3.0, 5.0, 0.0),
            ],
            ..Default::default()
        };
        let b = build(&window(), "CEO", &input, &BriefConfig::default());
        assert_eq!(b.budget.today_usd, 7.0);
        assert_eq!(b.budget.month_usd, 50.0);
        // 50 USD in 225 of 744 hours → 165.3333 by month end.
        assert_eq!(b.budget.month_forecast_usd, 165.3333);
        let coder = &b.budget.agents[0];
        assert_eq!(
            (coder.today_pct, coder.avg_7d_usd, coder.over_budget),
            (Some(40.0), 2.0, false)
        );
        assert_eq!(b.budget.over_daily_budget, vec!["ops".to_string()]);
        let web = &b.budget.projects[0];
        assert_eq!(
            (web.used_pct, web.forecast_usd, web.forecast_over),
            (Some(45.0), 148.8, true)
        );
        assert_eq!(b.budget.month_used_pct, Some(50.0));
    }

    #[test]
    fn early_on_the_first_the_forecast_counts_a_whole_day() {
        // 03:00 UTC on 1 July 2026 with $10 spent: as if in one day of 31,
        // $310 — not 10 × 744 / 3 = $2,480.
        let w = Window::new(
            "ceo",
            chrono_tz::Tz::UTC,
            NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
            NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 7, 1, 3, 0, 0).unwrap(),
            None,
            &BriefConfig::default(),
        )
        .unwrap();
        let input = BriefInput {
            projects: vec![ProjectRow {
                id: "web".into(),
                name: "Website".into(),
                budget_usd: Some(300.0),
                deadline: None,
            }],
            spend: vec![spend("coder", Some("web"), 10.0, 10.0, 0.0)],
            ..Default::default()
        };
        let b = build(&w, "CEO", &input, &BriefConfig::default());
        assert_eq!(b.budget.month_forecast_usd, 310.0);
        let web = &b.budget.projects[0];
        assert_eq!((web.forecast_usd, web.forecast_over), (310.0, true));
    }

    #[test]
    fn spend_with_no_history_is_flagged_above_the_floor() {
        let input = BriefInput {
            agents: vec![
                agent("new", None, Some(5), 0),
                agent("small", None, Some(5), 0),
            ],
            spend: vec![
                spend("new", None, 12.5, 12.5, 0.0),
                spend("small", None, 9.99, 9.99, 0.0),
            ],
            ..Default::default()
        };
        let b = build(&window(), "CEO", &input, &BriefConfig::default());
        let spikes: Vec<&Anomaly> = b
            .anomalies
            .iter()
            .filter(|a| a.kind == "spend_spike")
            .collect();
        assert_eq!(spikes.len(), 1, "{spikes:?}");
        assert_eq!(spikes[0].agent_id.as_deref(), Some("new"));
        assert_eq!(
            (spikes[0].today_usd, spikes[0].avg_7d_usd),
            (Some(12.5), Some(0.0))
        );
        assert_eq!(
            spikes[0].message,
            "new spent $12.50 today with no spend in the 7 days before (flagged above $10.00)"
        );
        // The floor is configurable.
        let cfg = BriefConfig {
            spike_floor_usd: 5.0,
            ..BriefConfig::default()
        };
        let b = build(&window(), "CEO", &input, &cfg);
        assert_eq!(
            b.anomalies
                .iter()
                .filter(|a| a.kind == "spend_spike")
                .count(),
            2
        );
    }

    #[test]
    fn anomalies_spike_failure_and_cycle_and_silent_agents() {
        let input = BriefInput {
            agents: vec![
                agent("coder", None, Some(31), 2),
                agent("idle", None, None, 0),
                agent("fresh", None, Some(29), 1),
            ],
            spend: vec![spend("coder", None, 6.01, 6.01, 14.0)],
            repeated_failures: vec![FailureRow {
                agent_id: "coder".into(),
                reason: "tests fail".into(),
                count: 3,
                last_at: window().until,
            }],
            open_edges: vec![(4, 7), (7, 4), (1, 4)],
            ..Default::default()
        };
        let b = build(&window(), "CEO", &input, &BriefConfig::default());
        assert_eq!(b.silent_agents, vec!["coder".to_string()]);
        let kinds: Vec<&str> = b.anomalies.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["spend_spike", "repeated_failure", "dependency_cycle"]
        );
        assert_eq!(b.anomalies[2].task_ids, vec![4, 7]);
        assert_eq!(b.anomalies[2].message, "Dependency cycle: #4 → #7 → #4");
        // Exactly 3× is not above 3×.
        let input = BriefInput {
            spend: vec![spend("coder", None, 6.0, 6.0, 14.0)],
            ..input
        };
        let b = build(&window(), "CEO", &input, &BriefConfig::default());
        assert!(b.anomalies.iter().all(|a| a.kind != "spend_spike"));
    }
}
