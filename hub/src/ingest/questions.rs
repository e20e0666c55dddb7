//! What a question sends, planned for the store to write in the
//! question's own transaction (see [`crate::store::QuestionRows`]): its
//! message to the person it was routed to, and what every delivered copy
//! is edited to once it is answered. The decisions' planner holds the same
//! routing policy and directory, so it plans questions too.

use super::decisions::DecisionNotices;
use super::plan;
use crate::dispatch::message::Extras;
use crate::ids::new_id;
use crate::store::{Announcement, NewNotification, QuestionEdit, QuestionRows};
use commands::{Question, QuestionButtons};
use routing::Urgency;

/// The event kind of a question's message to its person.
pub const ASKED: &str = "question.asked";

impl QuestionRows for DecisionNotices {
    /// One notification to the person: urgent while someone has to answer
    /// (human-required, or a supervised draft to approve), `fyi` for an
    /// autonomous question the LLM already answered.
    fn requested(
        &self,
        q: &Question,
        buttons: &QuestionButtons,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Announcement {
        let message = commands::question_message(q, Some(buttons));
        let urgency = if q.answer.is_some() {
            Urgency::Fyi
        } else {
            Urgency::Urgent
        };
        let id = new_id("n");
        let event = routing::Event {
            kind: ASKED,
            urgency: Some(urgency),
            now,
            last_duplicate_at: None,
        };
        let (routed, deliveries) =
            plan::person_deliveries(&self.dir, &self.policy, &q.to, &id, &event);
        let mut out = Announcement::default();
        out.answers.push(super::answer_body(
            &id,
            routed.urgency,
            false,
            &deliveries,
            Some(&q.to),
        ));
        out.notifications.push(NewNotification {
            id,
            source: q.asked_by.clone(),
            kind: ASKED.into(),
            urgency: routed.urgency.as_str(),
            recipient_kind: "person",
            recipient_id: q.to.clone(),
            project_id: None,
            title: message.title.clone(),
            body: message.text.clone(),
            fields_json: Extras::of(&message).to_json(),
            decision_id: None,
            dedupe_key: None,
            duplicate: false,
            created_at: now.timestamp_millis(),
        });
        out.deliveries = deliveries;
        out
    }

    fn answered(&self, q: &Question) -> QuestionEdit {
        answered_edit(q)
    }
}

/// What every copy of an answered question is edited to: the answer, who
/// gave it and how, no buttons.
pub fn answered_edit(q: &Question) -> QuestionEdit {
    let message = commands::question_message(q, None);
    QuestionEdit {
        title: message.title.clone(),
        body: message.text.clone(),
        fields_json: Extras::of(&message).to_json(),
    }
}
