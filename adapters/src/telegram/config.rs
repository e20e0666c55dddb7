//! Telegram settings (`[adapters.telegram]` in config.toml). The token is a
//! secret: set it with `ORKHUB_ADAPTERS__TELEGRAM__TOKEN`, never log it.

use super::limits::RateLimits;
use serde::{Deserialize, Serialize};

/// How updates (commands, button presses) reach the hub.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A getUpdates loop: works behind NAT, needs no public URL.
    #[default]
    Polling,
    /// Telegram posts updates to `webhook_url`, which reaches
    /// `webhook_path` on the hub's HTTP server.
    Webhook,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramConfig {
    pub enabled: bool,
    /// The bot token from @BotFather.
    #[serde(serialize_with = "redacted")]
    pub token: String,
    /// Bot API base URL, without a trailing slash: the public API, a
    /// self-hosted Bot API server, a proxy or a test server.
    pub api_url: String,
    /// The bot's @username (without @), for `/cmd@bot` in groups; asked
    /// with getMe at start when empty.
    pub bot_username: Option<String>,
    pub mode: Mode,
    /// Path on the hub's HTTP server that receives updates in webhook mode.
    pub webhook_path: String,
    /// The public URL Telegram posts updates to (it must reach
    /// `webhook_path`); registered with setWebhook at start in webhook
    /// mode. Required there.
    pub webhook_url: String,
    /// Must match the `secret_token` given to setWebhook; Telegram sends it
    /// in `X-Telegram-Bot-Api-Secret-Token`. Required in webhook mode.
    #[serde(serialize_with = "redacted")]
    pub webhook_secret: String,
    /// Long-poll wait per getUpdates call, in seconds.
    pub poll_timeout_secs: u32,
    pub limits: RateLimits,
    /// A PEM bundle of CA certificates trusted for `api_url` besides the
    /// system's (a self-hosted Bot API server or proxy with a private CA).
    /// Unset: `[tls] ca_file` applies.
    pub ca_file: Option<String>,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            enabled: false,
            token: String::new(),
            api_url: "https://api.telegram.org".into(),
            bot_username: None,
            mode: Mode::Polling,
            webhook_path: "/telegram/webhook".into(),
            webhook_url: String::new(),
            webhook_secret: String::new(),
            poll_timeout_secs: 10,
            limits: RateLimits::default(),
            ca_file: None,
        }
    }
}

/// Secrets never leave in serialized form (`orkhub check-config` prints the
/// config); an empty one stays empty so "not set" is still visible.
fn redacted<S: serde::Serializer>(secret: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if secret.is_empty() { "" } else { "<redacted>" })
}

// The token must never reach a log line.
impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("enabled", &self.enabled)
            .field("token", &"<redacted>")
            .field("api_url", &self.api_url)
            .field("bot_username", &self.bot_username)
            .field("mode", &self.mode)
            .field("webhook_path", &self.webhook_path)
            .field("ca_file", &self.ca_file)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &"<redacted>")
            .field("poll_timeout_secs", &self.poll_timeout_secs)
            .field("limits", &self.limits)
            .finish()
    }
}

/// A setting that cannot work, named by its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("adapters.telegram.{key}: {problem}")]
pub struct ConfigError {
    pub key: &'static str,
    pub problem: String,
}

fn bad(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        problem: problem.into(),
    }
}

impl TelegramConfig {
    /// The bot's numeric ID: the token's part before ':'. Telegram's
    /// update IDs are per bot, so they are only unique together with it.
    pub fn bot_id(&self) -> &str {
        self.token.split_once(':').map(|(id, _)| id).unwrap_or("")
    }

    /// Catch what would only fail later, at the first request.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // Tokens look like 123456:ABC-DEF...; the part before ':' is the bot's ID.
        let (id, secret) = self.token.split_once(':').unwrap_or(("", ""));
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || secret.is_empty() {
            return Err(bad(
                "token",
                "expected a bot token like 123456:ABC... from @BotFather \
                 (set ORKHUB_ADAPTERS__TELEGRAM__TOKEN)",
            ));
        }
        if self
            .token
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'/')
        {
            return Err(bad("token", "contains whitespace or '/'"));
        }
        match reqwest::Url::parse(&self.api_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && !self.api_url.ends_with('/') => {}
            Ok(_) => {
                return Err(bad(
                    "api_url",
                    format!(
                        "{:?}: expected an http(s) URL without a trailing slash",
                        self.api_url
                    ),
                ));
            }
            Err(e) => return Err(bad("api_url", format!("{:?}: {e}", self.api_url))),
        }
        if self.poll_timeout_secs > 50 {
            return Err(bad("poll_timeout_secs", "at most 50 seconds"));
        }
        if self.mode == Mode::Webhook {
            if !self.webhook_path.starts_with('/') {
                return Err(bad("webhook_path", "must start with '/'"));
            }
            // The cloud Bot API wants https on ports 443, 80, 88 or 8443; a
            // self-hosted one in --local mode takes plain http too, so only
            // the shape is checked here and Telegram names anything else.
            match reqwest::Url::parse(&self.webhook_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return Err(bad(
                        "webhook_url",
                        format!(
                            "{:?}: webhook mode needs the public http(s) URL Telegram posts \
                             updates to (it must reach webhook_path on this server)",
                            self.webhook_url
                        ),
                    ));
                }
            }
            // Telegram's own rule for secret_token: 1-256 of A-Z a-z 0-9 _ -.
            let ok_chars = self
                .webhook_secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if self.webhook_secret.len() < 16 || self.webhook_secret.len() > 256 || !ok_chars {
                return Err(bad(
                    "webhook_secret",
                    "webhook mode needs a secret of 16 to 256 characters from A-Z a-z 0-9 _ - \
                     (set ORKHUB_ADAPTERS__TELEGRAM__WEBHOOK_SECRET)",
                ));
            }
        }
        self.limits.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> TelegramConfig {
        TelegramConfig {
            enabled: true,
            token: "123:abc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(ok().validate().is_ok());
        let e = TelegramConfig {
            token: "nonsense".into(),
            ..ok()
        };
        assert_eq!(e.validate().unwrap_err().key, "token");
        let e = TelegramConfig {
            api_url: "http://x/".into(),
            ..ok()
        };
        assert_eq!(e.validate().unwrap_err().key, "api_url");
        let hook = TelegramConfig {
            mode: Mode::Webhook,
            webhook_url: "https://hub.example.com/telegram/webhook".into(),
            webhook_secret: "0123456789abcdef".into(),
            ..ok()
        };
        assert!(hook.validate().is_ok());
        let e = TelegramConfig {
            webhook_secret: "short".into(),
            ..hook.clone()
        };
        assert_eq!(e.validate().unwrap_err().key, "webhook_secret");
        for url in ["", "hub.example.com/hook", "ftp://hub.example.com/hook"] {
            let e = TelegramConfig {
                webhook_url: url.into(),
                ..hook.clone()
            };
            assert_eq!(e.validate().unwrap_err().key, "webhook_url", "{url:?}");
        }
        assert_eq!(ok().bot_id(), "123");
    }

    #[test]
    fn debug_and_serialized_forms_hide_the_secrets() {
        let c = TelegramConfig {
            webhook_secret: "hook-secret-value".into(),
            ..ok()
        };
        let s = format!("{c:?}");
        assert!(!s.contains("abc") && !s.contains("hook-secret"), "{s}");
        let j = serde_json::to_string(&c).unwrap();
        assert!(!j.contains("abc") && !j.contains("hook-secret"), "{j}");
        assert!(j.contains("<redacted>"), "{j}");
    }
}
