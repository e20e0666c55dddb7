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
    /// Why the HTTP client with `ca_file` could not be built (the file went
    /// away or is not PEM since the start checked it): every summary then
    /// fails with it, and the brief goes out without one.
    setup: Option<String>,
}

/// The HTTP client: reqwest 0.13 as async-openai uses it, whose rustls
/// checks certificates with the system's verifier (rustls-platform-verifier,
/// the system store on Linux); `ca_file` adds roots to it.
fn http_client(cfg: &LlmConfig) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = cfg
        .ca_file
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let bad = |e: &dyn std::fmt::Display| format!("brief.llm.ca_file = {path:?}: {e}");
        let pem = std::fs::read(path).map_err(|e| bad(&e))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(&e))? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

impl Summarizer {
    /// A client for `cfg`. Key and base URL are always set explicitly, so
    /// `OPENAI_API_KEY` / `OPENAI_BASE_URL` in the environment never apply.
    pub fn new(cfg: &LlmConfig) -> Summarizer {
        let config = OpenAIConfig::new()
            .with_api_key(cfg.api_key.clone())
            .with_api_base(cfg.base_url.trim_end_matches('/').to_string());
        let (client, setup) = match http_client(cfg) {
            Ok(http) => (Client::with_config(config).with_http_client(http), None),
            Err(e) => (Client::with_config(config), Some(e)),
        };
        Summarizer {
            client,
            cfg: cfg.clone(),
            setup,
        }
    }

    /// Summarise `brief_text` (the plain-text rendering).
    pub async fn summarize(&self, brief_text: &str) -> Result<Summary, SummaryError> {
        self.complete(INSTRUCTIONS, brief_text).await
    }

    /// One chat completion of `text` under `instructions`, on the same
    /// endpoint, model, limits and timeout (the hub's questions use it to
    /// draft or give answers). async-openai retries 429s and 5xx itself;
    /// `timeout_ms` bounds the whole call.
    pub async fn complete(&self, instructions: &str, text: &str) -> Result<Summary, SummaryError> {
        if let Some(e) = &self.setup {
            return Err(SummaryError::Setup(e.clone()));
        }
        let timeout = Duration::from_millis(self.cfg.timeout_ms);
        match tokio::time::timeout(timeout, self.ask(instructions, text)).await {
            Ok(result) => result,
            Err(_) => Err(SummaryError::Timeout(self.cfg.timeout_ms)),
        }
    }

    async fn ask(&self, instructions: &str, brief_text: &str) -> Result<Summary, SummaryError> {
        let api = |e: async_openai::error::OpenAIError| SummaryError::Api(e.to_string());
        let request = CreateChatCompletionRequestArgs::default()
            .model(self.cfg.model.clone())
            .max_completion_tokens(self.cfg.max_tokens)
            .messages([
                ChatCompletionRequestSystemMessageArgs::default()
                    .content(instructions)
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
