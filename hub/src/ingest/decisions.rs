//! What a decision sends, planned for the store to write in the decision's
//! own transaction: its request to every approver when it is created, and
//! the edit of every delivered copy when it is resolved. A decision and the
//! messages that announce it commit together (see
//! [`crate::store::DecisionRows`]); the hub's command backend hands this
//! planner to the store's decision calls. It holds the routing policy and
//! the directory, which the store does not know.

use super::plan;
use crate::directory::Directory;
use crate::dispatch::message::Extras;
use crate::ids::new_id;
use crate::store::{Announcement, DecisionEdit, DecisionRows, NewNotification};
use commands::{Decision, DecisionButtons};
use routing::RoutingPolicy;
use std::sync::Arc;

/// The event kind of a decision's request to an approver.
pub const REQUESTED: &str = "decision.requested";

#[derive(Debug)]
pub struct DecisionNotices {
    pub(super) dir: Arc<Directory>,
    pub(super) policy: RoutingPolicy,
}

impl DecisionNotices {
    pub fn new(dir: Arc<Directory>, policy: RoutingPolicy) -> Self {
        DecisionNotices { dir, policy }
    }
}

impl DecisionRows for DecisionNotices {
    /// One notification per approver, routed by their preferences (urgent
    /// by default: `decision.requested` in `[routing.kind_urgency]`), with
    /// Approve/Deny buttons while the decision is pending. `candidates` are
    /// who may decide by the database (owners, admins, the kind's
    /// approvers); only people in the directory (configured now) get it.
    fn requested(
        &self,
        decision: &Decision,
        buttons: &DecisionButtons,
        candidates: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Announcement {
        let message = commands::decision_message(decision, Some(buttons));
        let fields_json = Extras::of(&message).to_json();
        let now_ms = now.timestamp_millis();
        // An agent's request is that agent's notification; a person's (or
        // the hub's, for an escalation) is the system's.
        let source = decision
            .requested_by
            .strip_prefix("agent:")
            .unwrap_or("system");
        let mut out = Announcement::default();
        for person in candidates.iter().filter(|p| self.dir.person(p).is_some()) {
            let id = new_id("n");
            let event = routing::Event {
                kind: REQUESTED,
                urgency: None,
                now,
                last_duplicate_at: None,
            };
            let (routed, mut ds) =
                plan::person_deliveries(&self.dir, &self.policy, person, &id, &event);
            out.answers.push(super::answer_body(
                &id,
                routed.urgency,
                false,
                &ds,
                Some(person),
            ));
            out.notifications.push(NewNotification {
                id,
                source: source.to_string(),
                kind: REQUESTED.into(),
                urgency: routed.urgency.as_str(),
                recipient_kind: "person",
                recipient_id: person.clone(),
                project_id: None,
                title: message.title.clone(),
                body: message.text.clone(),
                fields_json: fields_json.clone(),
                decision_id: Some(decision.id),
                dedupe_key: None,
                duplicate: false,
                created_at: now_ms,
            });
            out.deliveries.append(&mut ds);
        }
        out
    }

    fn resolved(&self, decision: &Decision) -> DecisionEdit {
        resolution_edit(decision)
    }
}

/// What every copy of a resolved decision is edited to: the outcome, no buttons.
pub fn resolution_edit(decision: &Decision) -> DecisionEdit {
    let message = commands::decision_message(decision, None);
    DecisionEdit {
        decision_id: decision.id,
        source: "system".into(),
        title: message.title.clone(),
        body: message.text.clone(),
        fields_json: Extras::of(&message).to_json(),
    }
}
