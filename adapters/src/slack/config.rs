//! Slack settings (`[adapters.slack]`). Secrets can come from the
//! environment instead of the file: `ORKHUB_ADAPTERS__SLACK__BOT_TOKEN`,
//! `ORKHUB_ADAPTERS__SLACK__SIGNING_SECRET`, `ORKHUB_ADAPTERS__SLACK__APP_TOKEN`.

use serde::{Deserialize, Serialize};

/// How Slack reaches the hub with commands and button presses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Slack POSTs signed requests to the hub's public endpoints.
    #[default]
    Http,
    /// The hub opens a WebSocket to Slack (no public URL needed); needs `app_token`.
    Socket,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackConfig {
    pub enabled: bool,
    /// Bot token (`xoxb-...`), for chat.postMessage and chat.update.
    #[serde(serialize_with = "redact")]
    pub bot_token: String,
    /// The app's signing secret: every HTTP request from Slack is checked against it.
    #[serde(serialize_with = "redact")]
    pub signing_secret: String,
    /// App-level token (`xapp-...`) with `connections:write`, for Socket Mode.
    #[serde(serialize_with = "redact")]
    pub app_token: String,
    /// Web API base, without a trailing slash (a proxy or a test server).
    pub api_url: String,
    pub mode: SlackMode,
    /// Path of the slash-command endpoint on the hub's HTTP server.
    pub commands_path: String,
    /// Path of the interactivity endpoint (button presses).
    pub interactions_path: String,
    /// Path of the Events API endpoint: thread replies to the hub's
    /// messages (answers to questions) arrive there as `message` events.
    pub events_path: String,
    /// The slash command whose text is the shared grammar (`/ork task new ...`).
    /// Other slash commands (`/task ...`) are taken as the command itself.
    pub command: String,
    /// How long a request may run before Slack gets an acknowledgement and
    /// the result goes to `response_url` instead (Slack waits 3 s at most).
    pub ack_deadline_ms: u64,
    /// Messages per second kept per channel (Slack allows about one).
    pub channel_messages_per_second: u32,
    /// Timeout of one Web API call.
    pub request_timeout_ms: u64,
    /// Socket Mode: seconds between attempts to (re)connect after
    /// apps.connections.open or the WebSocket failed, or a connection dropped.
    pub socket_reconnect_secs: u64,
    /// A PEM bundle of CA certificates trusted for `api_url` besides the
    /// system's (a proxy with a private CA). Unset: `[tls] ca_file` applies.
    pub ca_file: Option<String>,
}

/// A setting that keeps the Slack adapter from starting; names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SlackConfigError(pub String);

/// Secrets never leave the process through a printed config (`orkhub
/// check-config`); only whether one is set shows.
fn redact<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(shown(value))
}

/// What a secret shows, in a printed config or a log line: only whether it
/// is set.
fn shown(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
}

// Tokens and the signing secret must never reach a log line.
impl std::fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConfig")
            .field("enabled", &self.enabled)
            .field("bot_token", &shown(&self.bot_token))
            .field("signing_secret", &shown(&self.signing_secret))
            .field("app_token", &shown(&self.app_token))
            .field("api_url", &self.api_url)
            .field("mode", &self.mode)
            .field("commands_path", &self.commands_path)
            .field("interactions_path", &self.interactions_path)
            .field("events_path", &self.events_path)
            .field("command", &self.command)
            .field("ack_deadline_ms", &self.ack_deadline_ms)
            .field(
                "channel_messages_per_second",
                &self.channel_messages_per_second,
            )
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("socket_reconnect_secs", &self.socket_reconnect_secs)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            enabled: false,
            bot_token: String::new(),
            signing_secret: String::new(),
            app_token: String::new(),
            api_url: "https://slack.com/api".into(),
            mode: SlackMode::Http,
            commands_path: "/slack/commands".into(),
            interactions_path: "/slack/interactions".into(),
            events_path: "/slack/events".into(),
            command: "/ork".into(),
            ack_deadline_ms: 2_500,
            channel_messages_per_second: 1,
            request_timeout_ms: 10_000,
            socket_reconnect_secs: 5,
            ca_file: None,
        }
    }
}

impl SlackConfig {
    /// What is missing or wrong, naming the key, before anything starts.
    pub fn check(&self) -> Result<(), SlackConfigError> {
        self.first_problem().map_err(SlackConfigError)
    }

    fn first_problem(&self) -> Result<(), String> {
        if self.bot_token.trim().is_empty() {
            return Err(
                "adapters.slack.bot_token is empty (or set ORKHUB_ADAPTERS__SLACK__BOT_TOKEN)"
                    .into(),
            );
        }
        match self.mode {
            SlackMode::Http if self.signing_secret.trim().is_empty() => {
                return Err("adapters.slack.signing_secret is empty: HTTP mode cannot verify requests without it (or set ORKHUB_ADAPTERS__SLACK__SIGNING_SECRET)".into());
            }
            SlackMode::Socket if !self.app_token.starts_with("xapp-") => {
                return Err("adapters.slack.app_token must be an app-level token (xapp-...) for mode = \"socket\" (or set ORKHUB_ADAPTERS__SLACK__APP_TOKEN)".into());
            }
            _ => {}
        }
        if !(self.api_url.starts_with("https://") || self.api_url.starts_with("http://"))
            || self.api_url.ends_with('/')
        {
            return Err(format!(
                "adapters.slack.api_url = {:?}: expected an http(s) URL without a trailing slash",
                self.api_url
            ));
        }
        for (key, path) in [
            ("commands_path", &self.commands_path),
            ("interactions_path", &self.interactions_path),
            ("events_path", &self.events_path),
        ] {
            if !path.starts_with('/') {
                return Err(format!(
                    "adapters.slack.{key} = {path:?}: must start with /"
                ));
            }
        }
        if self.ack_deadline_ms == 0 || self.ack_deadline_ms > 2_900 {
            return Err(format!(
                "adapters.slack.ack_deadline_ms = {}: must be 1 to 2900 (Slack gives up after 3000 ms)",
                self.ack_deadline_ms
            ));
        }
        if self.socket_reconnect_secs == 0 || self.socket_reconnect_secs > 300 {
            return Err(format!(
                "adapters.slack.socket_reconnect_secs = {}: must be 1 to 300",
                self.socket_reconnect_secs
            ));
        }
        if self.channel_messages_per_second == 0 {
            return Err("adapters.slack.channel_messages_per_second must be above 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> SlackConfig {
        SlackConfig {
            enabled: true,
            bot_token: "xoxb-1".into(),
            signing_secret: "s".into(),
            ..Default::default()
        }
    }

    #[test]
    fn printed_config_hides_secrets() {
        let json = serde_json::to_string(&ok()).unwrap();
        assert!(!json.contains("xoxb-1"), "{json}");
        assert!(json.contains("<redacted>"), "{json}");
    }

    #[test]
    fn debug_form_hides_secrets() {
        let c = SlackConfig {
            bot_token: "xoxb-secret-bot".into(),
            signing_secret: "signing-secret-value".into(),
            app_token: "xapp-secret-app".into(),
            ..ok()
        };
        for shown in [format!("{c:?}"), format!("{c:#?}")] {
            for secret in ["xoxb-secret-bot", "signing-secret-value", "xapp-secret-app"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains("https://slack.com/api"), "{shown}");
        }
        // An unset secret shows as unset.
        let unset = format!("{:?}", SlackConfig::default());
        assert!(unset.contains("app_token: \"\""), "{unset}");
    }

    #[test]
    fn problems_name_their_key() {
        assert!(ok().check().is_ok());
        let e = SlackConfig {
            signing_secret: String::new(),
            ..ok()
        }
        .check()
        .unwrap_err()
        .0;
        assert!(e.contains("signing_secret"), "{e}");
        let e = SlackConfig {
            mode: SlackMode::Socket,
            ..ok()
        }
        .check()
        .unwrap_err()
        .0;
        assert!(e.contains("app_token"), "{e}");
        let e = SlackConfig {
            api_url: "http://x/api/".into(),
            ..ok()
        }
        .check()
        .unwrap_err()
        .0;
        assert!(e.contains("api_url"), "{e}");
        let e = SlackConfig {
            ack_deadline_ms: 5000,
            ..ok()
        }
        .check()
        .unwrap_err()
        .0;
        assert!(e.contains("ack_deadline_ms"), "{e}");
    }
}
