//! Email settings: the SMTP server, how to secure the connection, who the
//! mail is from, and where the editable templates live. The password can come
//! from the environment (`ORKHUB_ADAPTERS__EMAIL__PASSWORD`) instead of the file.

use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain SMTP. Only for a relay on the same host or a trusted network.
    None,
    /// Connect in plain text, then upgrade with STARTTLS; refuses to go on
    /// if the server cannot (no downgrade). Usual port 587.
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS"). Usual port 465.
    Tls,
}

impl TlsMode {
    /// The customary port for the mode, used when `port` is not set.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        }
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    pub enabled: bool,
    /// SMTP server host name (also the name its TLS certificate must carry).
    pub host: String,
    /// 0: the mode's customary port (25, 587 or 465).
    pub port: u16,
    pub tls: TlsMode,
    /// SMTP AUTH user; none: send without authenticating.
    pub username: Option<String>,
    #[serde(serialize_with = "redacted")]
    pub password: Option<String>,
    /// The From address, e.g. `orkhub <orkhub@example.com>`.
    pub from: String,
    /// Limit for connecting, and for the whole exchange of one message.
    pub timeout_secs: u64,
    /// Where `email/*.hbs` templates are read from at send time; a missing
    /// directory or file falls back to the copies built into the binary.
    pub templates_dir: String,
    /// A PEM bundle of CA certificates trusted for the SMTP server's TLS
    /// certificate besides the system's (a relay with a private CA). Unset:
    /// `[tls] ca_file` applies.
    pub ca_file: Option<String>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            enabled: false,
            host: "localhost".into(),
            port: 0,
            tls: TlsMode::Starttls,
            username: None,
            password: None,
            from: "orkhub <orkhub@localhost>".into(),
            timeout_secs: 30,
            templates_dir: "templates".into(),
            ca_file: None,
        }
    }
}

/// The password never leaves in serialized form (`orkhub check-config`
/// prints the config); unset stays unset so that is still visible.
fn redacted<S: serde::Serializer>(secret: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_some("<redacted>"),
        None => s.serialize_none(),
    }
}

// The password must never reach a log line.
impl fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("enabled", &self.enabled)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .field("templates_dir", &self.templates_dir)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A setting that cannot work, named by its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailConfigError {
    #[error("adapters.email.host is empty: set the SMTP server's host name")]
    NoHost,
    #[error(
        "adapters.email.host = {0:?} has whitespace inside it: a host name is one word, e.g. \"smtp.example.com\""
    )]
    HostWithSpaces(String),
    #[error(
        "adapters.email.from = {value:?} is not an email address ({reason}); e.g. \"orkhub <orkhub@example.com>\""
    )]
    BadFrom { value: String, reason: String },
    #[error(
        "adapters.email.username is set but adapters.email.password is not (set it in the file or in ORKHUB_ADAPTERS__EMAIL__PASSWORD)"
    )]
    NoPassword,
    #[error("adapters.email.timeout_secs must be above 0")]
    NoTimeout,
    #[error("adapters.email: TLS setup for {host:?} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error(transparent)]
    CaFile(#[from] crate::tls::TlsError),
}

impl EmailConfig {
    /// The host as connected to and as its certificate is checked against:
    /// surrounding whitespace from the file does not count.
    pub fn host(&self) -> &str {
        self.host.trim()
    }

    pub fn port(&self) -> u16 {
        if self.port == 0 {
            self.tls.default_port()
        } else {
            self.port
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// The From mailbox, checked.
    pub fn from_mailbox(&self) -> Result<Mailbox, EmailConfigError> {
        self.from
            .parse::<Mailbox>()
            .map_err(|e| EmailConfigError::BadFrom {
                value: self.from.clone(),
                reason: e.to_string(),
            })
    }

    /// Every setting checked at start, so a bad one fails the start with its
    /// key named instead of failing each delivery later.
    pub fn validate(&self) -> Result<(), EmailConfigError> {
        if self.host().is_empty() {
            return Err(EmailConfigError::NoHost);
        }
        if self.host().chars().any(char::is_whitespace) {
            return Err(EmailConfigError::HostWithSpaces(self.host.clone()));
        }
        self.from_mailbox()?;
        if self.username.is_some() && self.password.is_none() {
            return Err(EmailConfigError::NoPassword);
        }
        if self.timeout_secs == 0 {
            return Err(EmailConfigError::NoTimeout);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_mode_unless_set() {
        let mut c = EmailConfig::default();
        assert_eq!(c.port(), 587);
        c.tls = TlsMode::Tls;
        assert_eq!(c.port(), 465);
        c.tls = TlsMode::None;
        assert_eq!(c.port(), 25);
        c.port = 2525;
        assert_eq!(c.port(), 2525);
    }

    #[test]
    fn bad_settings_name_their_key() {
        let bad_from = EmailConfig {
            from: "not an address".into(),
            ..EmailConfig::default()
        };
        let e = bad_from.validate().unwrap_err().to_string();
        assert!(e.contains("adapters.email.from"), "{e}");
        let no_pw = EmailConfig {
            username: Some("u".into()),
            ..EmailConfig::default()
        };
        assert_eq!(no_pw.validate(), Err(EmailConfigError::NoPassword));
        let no_host = EmailConfig {
            host: " ".into(),
            ..EmailConfig::default()
        };
        assert_eq!(no_host.validate(), Err(EmailConfigError::NoHost));
        let spaced = EmailConfig {
            host: "smtp example.com".into(),
            ..EmailConfig::default()
        };
        let e = spaced.validate().unwrap_err().to_string();
        assert!(
            e.contains("adapters.email.host") && e.contains("smtp example.com"),
            "{e}"
        );
        let padded = EmailConfig {
            host: " smtp.example.com ".into(),
            ..EmailConfig::default()
        };
        assert!(padded.validate().is_ok());
        assert_eq!(padded.host(), "smtp.example.com");
        assert!(EmailConfig::default().validate().is_ok());
    }

    #[test]
    fn the_password_is_not_printed() {
        let c = EmailConfig {
            password: Some("hunter2".into()),
            ..EmailConfig::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
