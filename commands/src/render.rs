//! How tasks, lists and costs look in a reply. Plain text only; adapters
//! escape and format for their platform.

use crate::assign::AgentScore;
use crate::message::RichMessage;
use crate::model::{CostBy, CostLine, CostPeriod, Decision, Task};

/// `#3 [in_progress] Fix login — @alice, high, due 2026-12-01`
pub fn task_line(t: &Task) -> String {
    let mut extras = Vec::new();
    if let Some(a) = &t.assignee {
        extras.push(a.to_string());
    }
    extras.push(t.priority.to_string());
    if let Some(p) = &t.project {
        extras.push(format!("project {p}"));
    }
    if let Some(d) = t.due {
        extras.push(format!("due {d}"));
    }
    format!(
        "#{} [{}] {} — {}",
        t.id,
        t.status,
        t.title,
        extras.join(", ")
    )
}

pub fn task_message(title: impl Into<String>, t: &Task) -> RichMessage {
    let mut m = RichMessage::titled(title, format!("#{} {}", t.id, t.title))
        .with_field("Status", t.status.to_string())
        .with_field("Priority", t.priority.to_string());
    if let Some(a) = &t.assignee {
        m = m.with_field("Assignee", a.to_string());
    }
    if let Some(p) = &t.project {
        m = m.with_field("Project", p.clone());
    }
    if let Some(d) = t.due {
        m = m.with_field("Due", d.to_string());
    }
    if !t.capabilities.is_empty() {
        m = m.with_field("Needs capabilities", t.capabilities.join(", "));
    }
    m
}

pub fn task_list(tasks: &[Task], shown_max: usize) -> RichMessage {
    if tasks.is_empty() {
        return RichMessage::titled("Tasks", "No tasks match.");
    }
    let mut text: Vec<String> = tasks.iter().take(shown_max).map(task_line).collect();
    if tasks.len() > shown_max {
        text.push("… and more. Narrow it with --mine, --status or --project.".to_string());
    }
    RichMessage::titled("Tasks", text.join("\n"))
}

pub fn scores_text(scores: &[AgentScore]) -> String {
    if scores.is_empty() {
        return "No agent is available (active or idle).".to_string();
    }
    scores
        .iter()
        .map(AgentScore::explain)
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn pending_decisions(decisions: &[Decision]) -> RichMessage {
    if decisions.is_empty() {
        return RichMessage::titled("Pending decisions", "Nothing is waiting for a decision.");
    }
    let lines: Vec<String> = decisions
        .iter()
        .map(|d| {
            format!(
                "#{} {} — {} (asked by {})",
                d.id, d.kind, d.context, d.requested_by
            )
        })
        .collect();
    RichMessage::titled("Pending decisions", lines.join("\n"))
        .with_footer("Answer with `approve <id> [reason]` or `deny <id> <reason>`.")
}

pub fn cost(period: CostPeriod, by: CostBy, lines: &[CostLine]) -> RichMessage {
    let when = match period {
        CostPeriod::Today => "today",
        CostPeriod::Week => "this week",
        CostPeriod::Month => "this month",
    };
    let title = format!("Cost {when} by {}", by.as_str());
    if lines.is_empty() {
        return RichMessage::titled(title, "No cost recorded.");
    }
    let total: f64 = lines.iter().map(|l| l.cost_usd).sum();
    let mut m = RichMessage::titled(title, format!("Total ${total:.2}"));
    for l in lines {
        let key = if l.key.is_empty() { "(none)" } else { &l.key };
        m = m.with_field(key, format!("${:.2} ({} records)", l.cost_usd, l.records));
    }
    m
}
