//! Automatic assignment: score the available agents for a task.
//!
//! total = 0.40 × capability + 0.20 × workload + 0.30 × performance + 0.10 × cost
//!
//! - capability: the fraction of the task's required capabilities the agent
//!   has (case-insensitive); 1.0 for every agent when the task lists none.
//! - workload: 1 / (1 + active tasks), so an idle agent scores 1.0.
//! - performance: completed / (completed + failed); 0.5 with no history, so
//!   a newcomer is neither favoured nor shut out.
//! - cost: cheapest known average cost per task among the candidates divided
//!   by this agent's; 1.0 when the agent's cost is unknown (or zero).
//!
//! Only agents that are active or idle are candidates, and only candidates
//! with a capability score above zero can win: an agent that can do none of
//! what the task needs must not get it just for being idle and cheap. Ties
//! (compared to six decimals, so float noise can't decide) go to the lowest
//! agent id.

use crate::model::{Agent, AgentStats};
use serde::Serialize;

pub const WEIGHT_CAPABILITY: f64 = 0.40;
pub const WEIGHT_WORKLOAD: f64 = 0.20;
pub const WEIGHT_PERFORMANCE: f64 = 0.30;
pub const WEIGHT_COST: f64 = 0.10;

/// One candidate's component scores; the whole list is the recorded reasoning.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentScore {
    pub agent_id: String,
    pub capability: f64,
    pub workload: f64,
    pub performance: f64,
    pub cost: f64,
    pub total: f64,
}

impl AgentScore {
    /// `coder: 0.850 (capability 1.00, workload 0.50, performance 0.80, cost 1.00)`
    pub fn explain(&self) -> String {
        format!(
            "{}: {:.3} (capability {:.2}, workload {:.2}, performance {:.2}, cost {:.2})",
            self.agent_id, self.total, self.capability, self.workload, self.performance, self.cost
        )
    }
}

/// Scores of every available agent, best first; and the winner, if any
/// candidate matches at least one required capability.
pub fn rank(
    required: &[String],
    agents: &[(Agent, AgentStats)],
) -> (Vec<AgentScore>, Option<String>) {
    let candidates: Vec<&(Agent, AgentStats)> = agents
        .iter()
        .filter(|(a, _)| a.status.is_available())
        .collect();
    let known_cost = |s: &AgentStats| s.avg_cost_usd.filter(|c| c.is_finite() && *c > 0.0);
    let min_cost = candidates
        .iter()
        .filter_map(|(_, s)| known_cost(s))
        .min_by(f64::total_cmp);

    let mut scores: Vec<AgentScore> = candidates
        .iter()
        .map(|(agent, stats)| {
            let capability = capability_match(required, &agent.capabilities);
            let workload = 1.0 / (1.0 + f64::from(stats.active_tasks));
            let finished = u64::from(stats.completed) + u64::from(stats.failed);
            let performance = if finished == 0 {
                0.5
            } else {
                f64::from(stats.completed) / finished as f64
            };
            let cost = match (known_cost(stats), min_cost) {
                (Some(c), Some(min)) => min / c,
                _ => 1.0,
            };
            let total = WEIGHT_CAPABILITY * capability
                + WEIGHT_WORKLOAD * workload
                + WEIGHT_PERFORMANCE * performance
                + WEIGHT_COST * cost;
            AgentScore {
                agent_id: agent.id.clone(),
                capability,
                workload,
                performance,
                cost,
                total,
            }
        })
        .collect();
    let micro = |x: f64| (x * 1_000_000.0).round() as i64;
    scores.sort_by(|a, b| {
        micro(b.total)
            .cmp(&micro(a.total))
            .then_with(|| a.agent_id.cmp(&b.agent_id))
    });
    let winner = scores
        .iter()
        .find(|s| s.capability > 0.0)
        .map(|s| s.agent_id.clone());
    (scores, winner)
}

fn capability_match(required: &[String], has: &[String]) -> f64 {
    if required.is_empty() {
        return 1.0;
    }
    let matched = required
        .iter()
        .filter(|r| has.iter().any(|h| h.eq_ignore_ascii_case(r)))
        .count();
    matched as f64 / required.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AgentStatus;

    fn agent(
        id: &str,
        status: AgentStatus,
        caps: &[&str],
        stats: AgentStats,
    ) -> (Agent, AgentStats) {
        (
            Agent {
                id: id.into(),
                name: id.into(),
                status,
                capabilities: caps.iter().map(|c| c.to_string()).collect(),
            },
            stats,
        )
    }

    fn stats(active: u32, completed: u32, failed: u32, cost: Option<f64>) -> AgentStats {
        AgentStats {
            active_tasks: active,
            completed,
            failed,
            avg_cost_usd: cost,
        }
    }

    #[test]
    fn no_requirements_means_full_capability() {
        let team = [agent("a", AgentStatus::Idle, &[], stats(0, 0, 0, None))];
        let (scores, winner) = rank(&[], &team);
        assert_eq!(winner.as_deref(), Some("a"));
        // 0.4 + 0.2 + 0.3 × 0.5 + 0.1 = 0.85
        assert!((scores[0].total - 0.85).abs() < 1e-9);
    }

    #[test]
    fn unavailable_agents_are_not_candidates_and_ties_go_to_lowest_id() {
        let team = [
            agent("zed", AgentStatus::Active, &["rust"], stats(0, 0, 0, None)),
            agent("amy", AgentStatus::Active, &["rust"], stats(0, 0, 0, None)),
            agent(
                "off",
                AgentStatus::Offline,
                &["rust"],
                stats(0, 9, 0, Some(0.01)),
            ),
        ];
        let (scores, winner) = rank(&["rust".into()], &team);
        assert_eq!(scores.len(), 2);
        assert_eq!(winner.as_deref(), Some("amy"));
    }

    #[test]
    fn nobody_with_the_capability_means_no_winner() {
        let team = [agent(
            "a",
            AgentStatus::Idle,
            &["python"],
            stats(0, 5, 0, Some(1.0)),
        )];
        let (scores, winner) = rank(&["rust".into()], &team);
        assert_eq!(scores.len(), 1);
        assert_eq!(winner, None);
    }
}
