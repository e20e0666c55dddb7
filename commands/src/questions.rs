//! Questions agents ask people — one answering rule for buttons, chat
//! replies, the `answer` command and the API — and the one way a question
//! is shown everywhere.

use crate::backend::Backend;
use crate::error::{BackendError, ServiceError, format_time};
use crate::message::{Button, ButtonStyle, RichMessage};
use crate::model::{Actor, ActorKind, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::fmt;
use std::str::FromStr;

/// How much the asking agent may decide without a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum PermissionLevel {
    /// The LLM answers at once; the person is told (`fyi`).
    Autonomous,
    /// The LLM drafts; the person approves it or answers otherwise.
    Supervised,
    /// A person answers.
    HumanRequired,
}

impl PermissionLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionLevel::Autonomous => "autonomous",
            PermissionLevel::Supervised => "supervised",
            PermissionLevel::HumanRequired => "human-required",
        }
    }

    /// What a question falls back to when the LLM fails: autonomous becomes
    /// supervised, supervised becomes human-required — never silence.
    pub fn lowered(self) -> PermissionLevel {
        match self {
            PermissionLevel::Autonomous => PermissionLevel::Supervised,
            _ => PermissionLevel::HumanRequired,
        }
    }
}

impl FromStr for PermissionLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "autonomous" => Ok(PermissionLevel::Autonomous),
            "supervised" => Ok(PermissionLevel::Supervised),
            "human-required" => Ok(PermissionLevel::HumanRequired),
            other => Err(format!(
                "unknown permission level {other:?} (expected autonomous, supervised or human-required)"
            )),
        }
    }
}

/// How an answer came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AnswerVia {
    /// An option's button (or a supervised draft's Approve button).
    Button,
    /// A chat reply to the question's message.
    Reply,
    /// `answer <id> <text>` in any chat.
    Command,
    /// The LLM, for an autonomous question.
    Llm,
    /// The web console.
    Web,
}

impl AnswerVia {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerVia::Button => "button",
            AnswerVia::Reply => "reply",
            AnswerVia::Command => "command",
            AnswerVia::Llm => "llm",
            AnswerVia::Web => "web",
        }
    }
}

impl fmt::Display for AnswerVia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AnswerVia {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            AnswerVia::Button,
            AnswerVia::Reply,
            AnswerVia::Command,
            AnswerVia::Llm,
            AnswerVia::Web,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| format!("unknown answer channel {s:?}"))
    }
}

/// The answer a question got: what, who, how and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answer {
    pub text: String,
    /// A person's handle, or `llm`.
    pub by: String,
    pub via: AnswerVia,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum QuestionStatus {
    Pending,
    Answered,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Question {
    pub id: i64,
    pub text: String,
    pub options: Vec<String>,
    pub context: Option<String>,
    pub task_id: Option<i64>,
    /// The asking agent's ID.
    pub asked_by: String,
    /// The person it was routed to.
    pub to: String,
    pub permission_level: PermissionLevel,
    /// How it is handled now: the permission level, lowered when the LLM failed.
    pub mode: PermissionLevel,
    pub status: QuestionStatus,
    /// A supervised question's LLM draft, waiting for the person.
    pub draft: Option<String>,
    pub answer: Option<Answer>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Button tokens for a pending question's message: one per option, in the
/// options' order, and Approve and Edit for a supervised draft.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuestionButtons {
    pub options: Vec<String>,
    pub approve_draft: Option<String>,
    pub edit_draft: Option<String>,
}

/// The question `id`, if `actor` may answer it and nobody has yet.
async fn still_open<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    id: i64,
) -> Result<Question, ServiceError> {
    let question = backend
        .question(id)
        .await?
        .ok_or(ServiceError::QuestionNotFound(id))?;
    may_answer(actor, &question)?;
    if let Some(a) = &question.answer {
        return Err(already_answered(id, a));
    }
    Ok(question)
}

/// Answer a pending question as `actor`. People may answer a question
/// addressed to them, and admins and owners any question; the first answer
/// wins (the store's compare-and-set makes that race-free) and a later one
/// is refused naming the first.
pub async fn answer_question<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    id: i64,
    text: &str,
    via: AnswerVia,
) -> Result<Question, ServiceError> {
    let question = still_open(backend, actor, id).await?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ServiceError::Invalid("An answer must not be empty.".into()));
    }
    let answer = Answer {
        text: text.to_string(),
        by: actor.name(),
        via,
        at: Utc::now(),
    };
    let audit = actor.audit(
        "question.answer",
        format!("question:{id}"),
        json!({ "via": via, "asked_by": question.asked_by }),
    );
    match backend.answer_question(id, &answer, &audit).await {
        Ok(q) => Ok(q),
        Err(BackendError::Conflict(_)) => {
            // Someone answered between our read and our write.
            let now = backend
                .question(id)
                .await?
                .ok_or(ServiceError::QuestionNotFound(id))?;
            match &now.answer {
                Some(a) => Err(already_answered(id, a)),
                None => Err(ServiceError::ChangedMeanwhile(format!("Question #{id}"))),
            }
        }
        Err(BackendError::NotFound(_)) => Err(ServiceError::QuestionNotFound(id)),
        Err(e) => Err(e.into()),
    }
}

/// A supervised question's draft, for the person to change and send: the
/// draft as an `answer <id> <draft>` line to copy, edit and send (or to
/// reply to the question's message with). Only those who may answer see
/// it; an answered question or one without a draft is refused, saying why.
pub async fn draft_to_edit<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    id: i64,
) -> Result<RichMessage, ServiceError> {
    let question = still_open(backend, actor, id).await?;
    let Some(draft) = &question.draft else {
        return Err(ServiceError::Invalid(format!(
            "Question #{id} has no draft to edit: answer it with `answer {id} <text>`."
        )));
    };
    Ok(RichMessage::titled(
        format!("Edit the draft for question #{id}"),
        format!("answer {id} {draft}"),
    )
    .with_footer(
        "Copy the line above, change what you like and send it; or reply to the question's message with your version. The answer you send replaces the draft.",
    ))
}

/// A supervised question's draft as a message to reply to, for platforms
/// that can ask for a reply (Telegram's ForceReply): the whole draft, to
/// copy and change; the reply is the answer. None without a draft or once
/// answered.
pub fn draft_prompt(q: &Question) -> Option<RichMessage> {
    if q.answer.is_some() {
        return None;
    }
    let draft = q.draft.as_ref()?;
    Some(
        RichMessage::titled(
            format!("Draft answer to question #{}", q.id),
            draft.clone(),
        )
        .with_footer(
            "Reply to this message with your answer: copy the draft, change what you like and send it. The answer you send replaces the draft.",
        )
        .with_reply_prompt(format!("Your answer to question #{}", q.id)),
    )
}

/// The notice for the press that sent [`draft_prompt`].
pub fn draft_prompt_notice(id: i64) -> String {
    format!("The draft for question #{id} is below: reply to it with your answer.")
}

/// The addressed person, or an admin or owner.
fn may_answer(actor: &Actor, q: &Question) -> Result<(), ServiceError> {
    match &actor.kind {
        ActorKind::System => Ok(()),
        ActorKind::Person(p) if p.id == q.to || p.role >= Role::Admin => Ok(()),
        ActorKind::Person(p) => Err(ServiceError::Forbidden {
            action: "answer".into(),
            needs: format!("to be the person it was asked ({}) or an admin", q.to),
            have: format!("you are {} ({})", p.id, p.role.with_article()),
        }),
        ActorKind::Agent { id, .. } => Err(ServiceError::Forbidden {
            action: "answer".into(),
            needs: "a person".into(),
            have: format!("you are agent {id}"),
        }),
    }
}

fn already_answered(id: i64, a: &Answer) -> ServiceError {
    ServiceError::AlreadyAnswered {
        id,
        by: a.by.clone(),
        via: a.via,
        at: a.at,
    }
}

/// A question as every platform shows it: pending with its options' buttons
/// (and a supervised draft with Approve), or answered with who answered,
/// how and when.
pub fn question_message(q: &Question, buttons: Option<&QuestionButtons>) -> RichMessage {
    let title = match (&q.answer, q.mode) {
        (Some(_), PermissionLevel::Autonomous) => {
            format!("FYI: question #{} from {} answered", q.id, q.asked_by)
        }
        _ => format!("Question #{} from {}", q.id, q.asked_by),
    };
    let mut m = RichMessage::titled(title, q.text.clone());
    if let Some(c) = &q.context {
        m = m.with_field("Context", c.clone());
    }
    if !q.options.is_empty() {
        m = m.with_field("Options", q.options.join(" · "));
    }
    if let Some(task) = q.task_id {
        m = m.with_field("Task", format!("#{task}"));
    }
    match &q.answer {
        None => {
            if let Some(d) = &q.draft {
                m = m.with_field("Draft answer", d.clone());
            }
            if let Some(b) = buttons {
                for (label, token) in q.options.iter().zip(&b.options) {
                    m = m.with_button(Button {
                        label: label.clone(),
                        token: token.clone(),
                        style: ButtonStyle::Primary,
                    });
                }
                if let Some(t) = &b.approve_draft {
                    m = m.with_button(Button {
                        label: "Approve draft".into(),
                        token: t.clone(),
                        style: ButtonStyle::Primary,
                    });
                }
                if let Some(t) = &b.edit_draft {
                    m = m.with_button(Button {
                        label: "Edit draft".into(),
                        token: t.clone(),
                        style: ButtonStyle::Default,
                    });
                }
            }
            let how = if q.draft.is_some() {
                format!(
                    "Approve the draft, edit it, or answer otherwise: `answer {} <text>` or reply to this message",
                    q.id
                )
            } else {
                format!("Answer: `answer {} <text>` or reply to this message", q.id)
            };
            m.with_footer(how)
        }
        Some(a) => m
            .with_field("Answer", a.text.clone())
            .with_footer(answer_line(a)),
    }
}

/// "Answered by alice (button) at 2026-11-22 10:04 UTC"
pub fn answer_line(a: &Answer) -> String {
    format!("Answered by {} ({}) at {}", a.by, a.via, format_time(&a.at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn question() -> Question {
        Question {
            id: 4,
            text: "Which region?".into(),
            options: vec!["eu".into(), "us".into()],
            context: None,
            task_id: Some(2),
            asked_by: "builder".into(),
            to: "dana".into(),
            permission_level: PermissionLevel::HumanRequired,
            mode: PermissionLevel::HumanRequired,
            status: QuestionStatus::Pending,
            draft: None,
            answer: None,
            deadline_at: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn pending_has_one_button_per_option() {
        let b = QuestionButtons {
            options: vec!["t1".into(), "t2".into()],
            approve_draft: None,
            edit_draft: None,
        };
        let m = question_message(&question(), Some(&b));
        let labels: Vec<_> = m.buttons.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["eu", "us"]);
        assert_eq!(m.buttons[1].token, "t2");
        assert!(m.footer.unwrap().contains("answer 4 <text>"));
    }

    #[test]
    fn answered_shows_who_and_how_without_buttons() {
        let mut q = question();
        q.answer = Some(Answer {
            text: "eu".into(),
            by: "dana".into(),
            via: AnswerVia::Reply,
            at: Utc.with_ymd_and_hms(2026, 11, 22, 10, 4, 0).unwrap(),
        });
        let m = question_message(&q, Some(&QuestionButtons::default()));
        assert!(m.buttons.is_empty());
        assert_eq!(
            m.footer.as_deref(),
            Some("Answered by dana (reply) at 2026-11-22 10:04 UTC")
        );
    }

    #[test]
    fn the_answer_command_takes_an_id_and_free_text() {
        assert_eq!(
            crate::parse("answer #4 use the EU region, please", None),
            Ok(crate::Command::Answer {
                id: 4,
                text: "use the EU region, please".into()
            })
        );
        assert!(
            crate::parse("answer 4", None).is_err(),
            "the text is required"
        );
    }

    #[test]
    fn levels_lower_towards_a_person() {
        assert_eq!(
            PermissionLevel::Autonomous.lowered(),
            PermissionLevel::Supervised
        );
        assert_eq!(
            PermissionLevel::Supervised.lowered(),
            PermissionLevel::HumanRequired
        );
        assert_eq!(
            "human-required".parse::<PermissionLevel>(),
            Ok(PermissionLevel::HumanRequired)
        );
    }
}
