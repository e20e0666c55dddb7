//! Resolving decisions — one implementation for chat commands, buttons and
//! the agent HTTP API — and the one way a decision is shown everywhere.

use crate::backend::Backend;
use crate::error::{BackendError, ServiceError, format_time};
use crate::message::{Button, ButtonStyle, RichMessage};
use crate::model::{Actor, ButtonAction, Decision, DecisionOutcome, DecisionStatus, Resolution};
use crate::roles;
use serde_json::json;

/// Approve or deny a pending decision. Refuses callers without the right
/// (admin/owner, an approver of the kind, or an agent with the scope), and a
/// second resolution: the store's compare-and-set makes that race-free, and a
/// lost race is reported like any other "already resolved".
pub async fn resolve_decision<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    id: i64,
    outcome: DecisionOutcome,
    reasoning: Option<String>,
) -> Result<Decision, ServiceError> {
    let decision = backend
        .decision(id)
        .await?
        .ok_or(ServiceError::DecisionNotFound(id))?;
    let approvers = backend.approvers(&decision.kind).await?;
    roles::may_resolve(actor, &decision, outcome, &approvers)?;
    if decision.status != DecisionStatus::Pending {
        return Err(already_resolved(&decision));
    }
    let reasoning = reasoning
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let resolution = Resolution {
        outcome,
        decided_by: actor.name(),
        reasoning: reasoning.clone(),
    };
    let audit = actor.audit(
        "decision.resolve",
        format!("decision:{id}"),
        json!({ "outcome": outcome, "kind": decision.kind, "reasoning": reasoning }),
    );
    match backend.resolve_decision(id, &resolution, &audit).await {
        Ok(d) => Ok(d),
        Err(BackendError::Conflict(_)) => {
            // Someone resolved it between our read and our write.
            let now = backend
                .decision(id)
                .await?
                .ok_or(ServiceError::DecisionNotFound(id))?;
            Err(already_resolved(&now))
        }
        Err(BackendError::NotFound(_)) => Err(ServiceError::DecisionNotFound(id)),
        Err(e) => Err(e.into()),
    }
}

fn already_resolved(d: &Decision) -> ServiceError {
    ServiceError::AlreadyResolved {
        id: d.id,
        status: d.status,
        decided_by: d.decided_by.clone(),
        decided_at: d.decided_at,
    }
}

/// Button tokens for a pending decision's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionButtons {
    pub approve: String,
    pub deny: String,
}

/// Mint the Approve/Deny tokens for a decision.
pub async fn mint_decision_buttons<B: Backend + ?Sized>(
    backend: &B,
    decision_id: i64,
) -> Result<DecisionButtons, BackendError> {
    Ok(DecisionButtons {
        approve: backend
            .mint_button_token(&ButtonAction::Approve { decision_id })
            .await?,
        deny: backend
            .mint_button_token(&ButtonAction::Deny { decision_id })
            .await?,
    })
}

/// A decision as every platform shows it: pending with Approve/Deny buttons
/// (when `buttons` is given), or resolved with who decided, when and why.
/// Tokens are minted by the store, so they come in as an argument; see
/// [`decision_message_with_buttons`] for the one-call version.
pub fn decision_message(d: &Decision, buttons: Option<&DecisionButtons>) -> RichMessage {
    let mut m = RichMessage::titled(format!("Decision #{}: {}", d.id, d.kind), d.context.clone());
    if !d.options.is_empty() {
        m = m.with_field("Options", d.options.join(" · "));
    }
    m = m.with_field("Requested by", d.requested_by.clone());
    if let Some(task) = d.task_id {
        m = m.with_field("Task", format!("#{task}"));
    }
    match d.status {
        DecisionStatus::Pending => {
            if let Some(b) = buttons {
                m = m
                    .with_button(Button {
                        label: "Approve".into(),
                        token: b.approve.clone(),
                        style: ButtonStyle::Primary,
                    })
                    .with_button(Button {
                        label: "Deny".into(),
                        token: b.deny.clone(),
                        style: ButtonStyle::Danger,
                    });
            }
            m.with_footer("Pending")
        }
        DecisionStatus::Approved | DecisionStatus::Denied => m.with_footer(outcome_line(d)),
    }
}

/// "Approved by alice at 2026-11-22 10:04 UTC: reason"
pub fn outcome_line(d: &Decision) -> String {
    let mut s = match d.status {
        DecisionStatus::Approved => "Approved".to_string(),
        DecisionStatus::Denied => "Denied".to_string(),
        DecisionStatus::Pending => return "Pending".to_string(),
    };
    if let Some(by) = &d.decided_by {
        s.push_str(&format!(" by {by}"));
    }
    if let Some(at) = &d.decided_at {
        s.push_str(&format!(" at {}", format_time(at)));
    }
    if let Some(r) = &d.reasoning {
        s.push_str(&format!(": {r}"));
    }
    s
}

/// [`decision_message`] with freshly minted tokens when the decision is pending.
pub async fn decision_message_with_buttons<B: Backend + ?Sized>(
    backend: &B,
    d: &Decision,
) -> Result<RichMessage, BackendError> {
    let buttons = match d.status {
        DecisionStatus::Pending => Some(mint_decision_buttons(backend, d.id).await?),
        _ => None,
    };
    Ok(decision_message(d, buttons.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn decision(status: DecisionStatus) -> Decision {
        Decision {
            id: 7,
            kind: "deploy".into(),
            context: "Deploy v2 to production?".into(),
            options: vec!["approve".into(), "deny".into()],
            status,
            requested_by: "agent:deployer".into(),
            task_id: Some(3),
            decided_by: None,
            reasoning: None,
            created_at: Utc::now(),
            decided_at: None,
        }
    }

    #[test]
    fn pending_has_buttons() {
        let b = DecisionButtons {
            approve: "tA".into(),
            deny: "tD".into(),
        };
        let m = decision_message(&decision(DecisionStatus::Pending), Some(&b));
        assert_eq!(m.title.as_deref(), Some("Decision #7: deploy"));
        assert_eq!(m.buttons.len(), 2);
        assert_eq!(m.buttons[0].token, "tA");
        assert_eq!(m.buttons[1].style, ButtonStyle::Danger);
    }

    #[test]
    fn resolved_shows_outcome_without_buttons() {
        let mut d = decision(DecisionStatus::Approved);
        d.decided_by = Some("alice".into());
        d.decided_at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 4, 0).single();
        d.reasoning = Some("tests are green".into());
        let b = DecisionButtons {
            approve: "tA".into(),
            deny: "tD".into(),
        };
        let m = decision_message(&d, Some(&b));
        assert!(m.buttons.is_empty());
        assert_eq!(
            m.footer.as_deref(),
            Some("Approved by alice at 2026-11-22 10:04 UTC: tests are green")
        );
    }
}
