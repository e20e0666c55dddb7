//! Settings of the hub's links to other systems: outbound webhooks
//! (`[[webhooks]]`, `[webhook_sender]`) and inbound GitHub (`[github]`).

use serde::{Deserialize, Serialize};

/// A webhook declared in config.toml.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub id: String,
    pub url: String,
    /// Event patterns: `task.*`, `decision.resolved`, `*`.
    pub events: Vec<String>,
    /// The environment variable holding the signing secret.
    pub secret_env: String,
    #[serde(default = "three")]
    pub max_attempts: u32,
    #[serde(default = "ten_seconds")]
    pub base_backoff_ms: u64,
    #[serde(default = "ten_minutes")]
    pub max_backoff_ms: u64,
}

fn three() -> u32 {
    3
}
fn ten_seconds() -> u64 {
    10_000
}
fn ten_minutes() -> u64 {
    600_000
}

/// How webhooks are sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSenderConfig {
    /// A receiver that has not answered within this long is cut off (the
    /// attempt failed; it is retried).
    pub timeout_secs: u64,
    /// Webhooks created over the API may call loopback, link-local and
    /// private addresses (server-side request forgery: off by default).
    /// Webhooks in config.toml always may.
    pub allow_private_targets: bool,
    /// How long a claimed delivery stays this instance's; above timeout_secs.
    pub lease_secs: u64,
    /// How often the queue is checked for due deliveries.
    pub poll_interval_ms: u64,
    /// Receivers called at once (each receiver gets one call at a time).
    pub concurrency: usize,
}

impl Default for WebhookSenderConfig {
    fn default() -> Self {
        WebhookSenderConfig {
            timeout_secs: 10,
            allow_private_targets: false,
            lease_secs: 60,
            poll_interval_ms: 1_000,
            concurrency: 16,
        }
    }
}

/// Inbound GitHub webhooks at `POST /integrations/github`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubConfig {
    pub enabled: bool,
    /// The environment variable holding the webhook's secret (the one
    /// entered on GitHub).
    pub secret_env: String,
    pub repos: Vec<GithubRepoConfig>,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            enabled: false,
            secret_env: "ORKHUB_GITHUB_SECRET".into(),
            repos: Vec::new(),
        }
    }
}

/// One repository's events, into one project.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubRepoConfig {
    /// `owner/name`.
    pub repo: String,
    pub project: String,
    /// Only issues with one of these labels become tasks (empty: every issue).
    #[serde(default)]
    pub labels: Vec<String>,
}

/// The value of environment variable `var`, named by `key`.
pub fn secret_from_env(var: &str, key: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!(
            "{key} = {var:?}: that environment variable is not set (or empty); set it to the secret"
        )),
    }
}

pub(super) fn validate(config: &super::Config) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for w in &config.webhooks {
        let key = format!("webhooks.{}", w.id);
        if w.id.is_empty() || w.id.len() > 100 {
            return Err("webhooks.id: 1 to 100 characters".into());
        }
        if !seen.insert(&w.id) {
            return Err(format!("{key}: the id is declared twice"));
        }
        adapters::webhook::parse_target(&w.url).map_err(|e| format!("{key}.{e}"))?;
        if w.events.is_empty() {
            return Err(format!("{key}.events: name at least one event pattern"));
        }
        for e in &w.events {
            crate::webhooks::events::check_pattern(e).map_err(|m| format!("{key}.{m}"))?;
        }
        if !(1..=20).contains(&w.max_attempts) {
            return Err(format!(
                "{key}.max_attempts = {}: must be 1 to 20",
                w.max_attempts
            ));
        }
        if w.base_backoff_ms == 0 || w.max_backoff_ms < w.base_backoff_ms {
            return Err(format!(
                "{key}: base_backoff_ms must be above 0 and max_backoff_ms at least base_backoff_ms"
            ));
        }
        secret_from_env(&w.secret_env, &format!("{key}.secret_env"))?;
    }
    let s = &config.webhook_sender;
    if s.timeout_secs == 0 || s.lease_secs <= s.timeout_secs {
        return Err(format!(
            "webhook_sender.lease_secs = {}: must be above webhook_sender.timeout_secs = {} (above 0), or a slow call could be sent twice",
            s.lease_secs, s.timeout_secs
        ));
    }
    if s.concurrency == 0 || s.poll_interval_ms == 0 {
        return Err(
            "webhook_sender.concurrency and webhook_sender.poll_interval_ms must be above 0".into(),
        );
    }
    let g = &config.github;
    if g.enabled {
        secret_from_env(&g.secret_env, "github.secret_env")?;
        for r in &g.repos {
            if !r.repo.contains('/') {
                return Err(format!(
                    "github.repos.repo = {:?}: expected owner/name",
                    r.repo
                ));
            }
            if !config.projects.iter().any(|p| p.id == r.project) {
                return Err(format!(
                    "github.repos.project = {:?} (repo {}): no such project in [[projects]]",
                    r.project, r.repo
                ));
            }
        }
    }
    Ok(())
}
