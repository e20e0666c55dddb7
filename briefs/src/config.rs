//! `[brief]` in config.toml. Defaults: built-in templates, no LLM summary.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BriefConfig {
    /// Whether the scheduler sends each person's brief at their `brief_time`.
    pub enabled: bool,
    /// Where `brief/<format>.hbs` templates are read from at render time, so
    /// editing one needs no rebuild. Missing files fall back to built-ins.
    pub templates_dir: String,
    /// An agent with active tasks and no heartbeat for this long is "silent".
    pub silent_after_minutes: i64,
    /// Today's spend above this many times the 7-day daily average is an anomaly.
    pub spike_factor: f64,
    /// An agent with no spend in the seven days before today has no average
    /// to compare with: its spend today above this many USD is an anomaly.
    pub spike_floor_usd: f64,
    /// An open task of priority urgent/high older than this breaches its SLA.
    pub sla_urgent_hours: i64,
    pub sla_high_hours: i64,
    /// At most this many tasks / decisions listed per section (totals are exact).
    pub list_limit: i64,
    /// A brief whose time passed while the hub was down is still sent when
    /// the hub is back within this many minutes — also yesterday's, when
    /// the outage spanned midnight. Later than that it is skipped.
    pub catch_up_minutes: i64,
    pub llm: LlmConfig,
}

impl Default for BriefConfig {
    fn default() -> Self {
        BriefConfig {
            enabled: true,
            templates_dir: "templates".into(),
            silent_after_minutes: 30,
            spike_factor: 3.0,
            spike_floor_usd: 10.0,
            sla_urgent_hours: 4,
            sla_high_hours: 24,
            list_limit: 10,
            catch_up_minutes: 120,
            llm: LlmConfig::default(),
        }
    }
}

/// `[brief.llm]`: an OpenAI-compatible chat-completions endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    pub enabled: bool,
    /// e.g. `https://api.openai.com/v1` or a local server's `/v1`.
    pub base_url: String,
    pub model: String,
    /// Secret: set it with ORKHUB_BRIEF__LLM__API_KEY rather than in the file.
    #[serde(serialize_with = "redacted")]
    pub api_key: String,
    /// The brief goes out without a summary after this long.
    pub timeout_ms: u64,
    pub max_tokens: u32,
    /// Prices for the cost record of the summary's token use.
    pub usd_per_1k_input: f64,
    pub usd_per_1k_output: f64,
    /// The agent id the cost is recorded under.
    pub cost_agent: String,
    /// A PEM bundle of CA certificates trusted for `base_url` besides the
    /// system's (a local or company endpoint with a private CA). Unset:
    /// `[tls] ca_file` applies.
    pub ca_file: Option<String>,
}

/// The key never leaves in serialized form (`orkhub check-config` prints
/// the config); an empty one stays empty so "not set" is still visible.
fn redacted<S: serde::Serializer>(secret: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if secret.is_empty() { "" } else { "<redacted>" })
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            enabled: false,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key: String::new(),
            timeout_ms: 10_000,
            max_tokens: 300,
            usd_per_1k_input: 0.0,
            usd_per_1k_output: 0.0,
            cost_agent: "orkhub-brief".into(),
            ca_file: None,
        }
    }
}
