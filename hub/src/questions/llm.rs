//! The LLM's part in a question, by permission level: a supervised
//! question gets a draft for the person to approve, an autonomous one an
//! answer at once. It uses the `[brief.llm]` endpoint (async-openai, the
//! brief's model, limits and timeout). Its token use is recorded as a cost
//! of the asking agent (on the question's task and project). A failure —
//! no LLM configured, an error, a timeout, an empty answer — lowers the
//! level one step and is logged here: autonomous becomes supervised (the
//! person answers, told the LLM could not), supervised becomes
//! human-required. A question is never left unanswered and unasked.

use crate::store::{NewCost, Store};
use briefs::{LlmConfig, Summarizer};
use commands::{Answer, AnswerVia, PermissionLevel, Task};

/// Who the LLM's answers are by.
pub const LLM: &str = "llm";

const DRAFT: &str = "An AI agent working for a small team asks one of its people the \
question below. Draft the answer the person would most likely give, in at most three \
plain sentences. When options are listed, answer with exactly one of them. No markup.";

const ANSWER: &str = "You answer, on behalf of the team, a question an AI agent asks \
while working on a task. Answer in at most three plain sentences using the context given. \
When options are listed, answer with exactly one of them. No markup.";

/// What the question needs from a person after the LLM's turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Answered by a person (human-required, or a lowered level).
    Person,
    /// A person approves or replaces this draft (supervised). `None`: the
    /// LLM failed on an autonomous question, which is then supervised
    /// without a draft.
    Draft(Option<String>),
    /// The LLM answered (autonomous).
    Answered(Answer),
}

/// What the LLM is told about a question.
pub struct Asked<'a> {
    pub agent: &'a str,
    pub text: &'a str,
    pub options: &'a [String],
    pub context: Option<&'a str>,
    pub task: Option<&'a Task>,
}

impl Asked<'_> {
    fn prompt(&self) -> String {
        let mut p = format!("Agent: {}\nQuestion: {}\n", self.agent, self.text);
        if !self.options.is_empty() {
            p.push_str(&format!("Options: {}\n", self.options.join(" | ")));
        }
        if let Some(t) = self.task {
            p.push_str(&format!(
                "Task #{}: {} (status {}, priority {})\n",
                t.id, t.title, t.status, t.priority
            ));
        }
        if let Some(c) = self.context {
            p.push_str(&format!("Context: {c}\n"));
        }
        p
    }
}

pub struct QuestionLlm {
    summarizer: Option<Summarizer>,
}

impl QuestionLlm {
    /// The LLM of `[brief.llm]`, when it is enabled.
    pub fn new(cfg: &LlmConfig) -> QuestionLlm {
        QuestionLlm {
            summarizer: cfg.enabled.then(|| Summarizer::new(cfg)),
        }
    }

    /// The LLM's turn for a question asked at `level`.
    pub async fn handle(&self, store: &Store, level: PermissionLevel, q: &Asked<'_>) -> Outcome {
        let instructions = match level {
            PermissionLevel::HumanRequired => return Outcome::Person,
            PermissionLevel::Supervised => DRAFT,
            PermissionLevel::Autonomous => ANSWER,
        };
        let lowered = || match level.lowered() {
            PermissionLevel::Supervised => Outcome::Draft(None),
            _ => Outcome::Person,
        };
        let Some(llm) = &self.summarizer else {
            tracing::warn!(
                agent = q.agent,
                level = level.as_str(),
                "no LLM is configured ([brief.llm]): the question goes to a person"
            );
            return lowered();
        };
        let reply = match llm.complete(instructions, &q.prompt()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(agent = q.agent, level = level.as_str(), error = %e,
                    "the LLM failed: the question goes to a person");
                return lowered();
            }
        };
        let cost = NewCost {
            agent_id: q.agent.to_string(),
            project_id: q.task.and_then(|t| t.project.clone()),
            task_id: q.task.map(|t| t.id),
            model: reply.model.clone(),
            tokens_in: reply.tokens_in,
            tokens_out: reply.tokens_out,
            usd: reply.usd,
            at: crate::store::now_ms(),
        };
        if let Err(e) = store.insert_cost(&cost).await {
            tracing::error!(agent = q.agent, error = %e, "recording a question's LLM cost failed");
        }
        match level {
            PermissionLevel::Autonomous => Outcome::Answered(Answer {
                text: reply.text,
                by: LLM.into(),
                via: AnswerVia::Llm,
                at: chrono::Utc::now(),
            }),
            _ => Outcome::Draft(Some(reply.text)),
        }
    }
}
