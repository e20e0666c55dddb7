//! Questions agents ask people: who a question goes to, and how its answer
//! reaches the agent at once (long poll, SSE) on this instance. The rows
//! are the store's (`store::commands_backend::questions`), the message the
//! ingest planner's (`ingest::questions`), the durable callback the webhook
//! sender's.

pub mod llm;
pub mod route;

use commands::Question;
use tokio::sync::broadcast;

/// Answered questions, as they are committed on this instance: what wakes
/// a long poll (`GET /questions/{id}?wait=`) and feeds `question.answered`
/// on the agent's SSE stream. A receiver that lags misses nothing durable:
/// the long poll reads the database again, the callback is a webhook.
#[derive(Clone)]
pub struct QuestionBus(broadcast::Sender<Question>);

impl Default for QuestionBus {
    fn default() -> Self {
        QuestionBus(broadcast::channel(256).0)
    }
}

impl QuestionBus {
    /// Tell every waiter that `q` was answered (nobody waiting is fine).
    pub fn answered(&self, q: &Question) {
        let _ = self.0.send(q.clone());
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Question> {
        self.0.subscribe()
    }
}
