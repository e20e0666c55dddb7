//! The optional LLM summary: one paragraph from an OpenAI-compatible
//! chat-completions endpoint, given the brief as plain text. The brief never
//! waits on it past `timeout_ms`; on any failure it goes out without one.

use crate::config::LlmConfig;
use crate::error::SummaryError;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequestArgs,
};
use std::time::Duration;

/// What the model said and what it cost in tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub text: String,
    pub model: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub usd: f64,
}

const INSTRUCTIONS: &str = "You write the opening paragraph of a team's daily brief. \
Summarise the brief below in at most three plain sentences: what needs attention first \
(overdue work, budget overruns, silent agents, pending decisions, anomalies), then what \
went well. No markup, no lists, no greetings.";

pub struct Summarizer {
    client: Client<OpenAIConfig>,
    cfg: LlmConfig,
}

impl Summarizer {
    /// A client for `cfg`. Key and base URL are always set explicitly, so
    /// `OPENAI_API_KEY` / `OPENAI_BASE_URL` in the environment never apply.
    pub fn new(cfg: &LlmConfig) -> Summarizer {
        let config = OpenAIConfig::new()
            .with_api_key(cfg.api_key.clone())
            .with_api_base(cfg.base_url.trim_end_matches('/').to_string());
        Summarizer {
            client: Client::with_config(config),
            cfg: cfg.clone(),
        }
    }

    /// Summarise `brief_text` (the plain-text rendering).
    pub async fn summarize(&self, brief_text: &str) -> Result<Summary, SummaryError> {
        let timeout = Duration::from_millis(self.cfg.timeout_ms);
        match tokio::time::timeout(timeout, self.ask(brief_text)).await {
            Ok(result) => result,
            Err(_) => Err(SummaryError::Timeout(self.cfg.timeout_ms)),
        }
    }

    async fn ask(&self, brief_text: &str) -> Result<Summary, SummaryError> {
        let api = |e: async_openai::error::OpenAIError| SummaryError::Api(e.to_string());
        let request = CreateChatCompletionRequestArgs::default()
            .model(self.cfg.model.clone())
            .max_completion_tokens(self.cfg.max_tokens)
            .messages([
                ChatCompletionRequestSystemMessageArgs::default()
                    .content(INSTRUCTIONS)
                    .build()
                    .map_err(api)?
                    .into(),
                ChatCompletionRequestUserMessageArgs::default()
                    .content(brief_text)
                    .build()
                    .map_err(api)?
                    .into(),
            ])
            .build()
            .map_err(api)?;
        let response = self.client.chat().create(request).await.map_err(api)?;
        let text = response
            .choices
            .first()
            .and_then(|c| c.message.content.as_deref())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(SummaryError::Empty)?
            .to_string();
        let (tokens_in, tokens_out) = response
            .usage
            .map(|u| (i64::from(u.prompt_tokens), i64::from(u.completion_tokens)))
            .unwrap_or((0, 0));
        let usd = tokens_in as f64 / 1000.0 * self.cfg.usd_per_1k_input
            + tokens_out as f64 / 1000.0 * self.cfg.usd_per_1k_output;
        Ok(Summary {
            text,
            model: response.model,
            tokens_in,
            tokens_out,
            usd,
        })
    }
}
