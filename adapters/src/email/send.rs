//! Building the MIME message and handing it to SMTP, and what an SMTP
//! failure means for the outbox: 4xx replies, refused connections and
//! timeouts can pass (retry); a 5xx reply will not (dead, with the server's
//! own words kept for the delivery record).

use super::config::{EmailConfig, EmailConfigError, TlsMode};
use super::render::Parts;
use crate::SendError;
use crate::tls::Trust;
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// What the adapter needs from a mail transport. lettre's SMTP and stub
/// transports have different result types; this puts one face on both and
/// keeps the failure classification next to the transport that knows it.
#[async_trait]
pub trait MailTransport: Send + Sync {
    async fn deliver(&self, message: Message) -> Result<(), SendError>;
}

/// The real transport: one SMTP connection per message (no pool — a digest
/// or a push is rare enough, and a fresh connection never sends on a socket
/// the server has already closed).
pub struct Smtp {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    /// lettre's own timeout covers only the TCP connect on tokio; a server
    /// that accepts and then says nothing would hold the send for ever.
    exchange_timeout: std::time::Duration,
}

impl Smtp {
    pub fn from_config(cfg: &EmailConfig) -> Result<Smtp, EmailConfigError> {
        let host = cfg.host();
        let tls = tls(cfg)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(cfg.port())
            .tls(tls)
            .timeout(Some(cfg.timeout()));
        if let (Some(user), Some(password)) = (&cfg.username, &cfg.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Smtp {
            inner: builder.build(),
            exchange_timeout: cfg.timeout(),
        })
    }
}

/// The connection's TLS settings, for the same trimmed host the connection
/// goes to: a padded " smtp.example.com " from the file would otherwise
/// connect to the trimmed name and then check the certificate against the
/// padded one (which no certificate carries).
fn tls(cfg: &EmailConfig) -> Result<Tls, EmailConfigError> {
    let host = cfg.host();
    if cfg.tls == TlsMode::None {
        return Ok(Tls::None);
    }
    // lettre would trust only the Mozilla roots compiled into it: give it
    // the system's store and the configured bundle instead (crate::tls).
    let trust = Trust::load(cfg.ca_file.as_deref(), "adapters.email.ca_file")?;
    let setup = |e: lettre::transport::smtp::Error| EmailConfigError::Tls {
        host: host.to_string(),
        reason: e.to_string(),
    };
    let params = || {
        let mut b = TlsParameters::builder(host.to_string()).certificate_store(
            if trust.uses_builtin_roots() {
                CertificateStore::WebpkiRoots
            } else {
                CertificateStore::None
            },
        );
        for c in trust.certificates() {
            b = b.add_root_certificate(Certificate::from_der(c.to_vec()).map_err(setup)?);
        }
        b.build_rustls().map_err(setup)
    };
    Ok(match cfg.tls {
        TlsMode::None => Tls::None,
        TlsMode::Starttls => Tls::Required(params()?),
        TlsMode::Tls => Tls::Wrapper(params()?),
    })
}

#[async_trait]
impl MailTransport for Smtp {
    async fn deliver(&self, message: Message) -> Result<(), SendError> {
        match tokio::time::timeout(self.exchange_timeout, self.inner.send(message)).await {
            Ok(result) => result.map(|_| ()).map_err(classify),
            Err(_) => Err(SendError::transient(format!(
                "SMTP server did not finish the exchange within {} s",
                self.exchange_timeout.as_secs()
            ))),
        }
    }
}

/// Whether a retry can help. The Display of lettre's error carries the
/// reply code and the server's text ("permanent error (550): 5.1.1 no such
/// user"), which is what a person reading the delivery record needs.
pub fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if let Some(reason) = crate::tls::certificate_error(&e) {
        // The same certificate will be refused on every retry: a setup
        // problem for a person to fix, so the delivery is dead at once.
        return SendError::permanent(format!(
            "the SMTP server's TLS certificate was refused ({reason}): trust its CA with adapters.email.ca_file or [tls] ca_file, or set adapters.email.host to a name the certificate carries"
        ));
    }
    if e.is_permanent() {
        SendError::permanent(format!("SMTP server refused the message: {e}"))
    } else if e.is_transient() {
        SendError::transient(format!("SMTP server deferred the message: {e}"))
    } else if e.is_timeout() {
        SendError::transient(format!("SMTP server did not answer in time: {e}"))
    } else if e.is_client() {
        // lettre could not even form the exchange (e.g. no common AUTH
        // mechanism): the same message would fail the same way again.
        SendError::permanent(format!("SMTP client error: {e}"))
    } else {
        // Refused or dropped connections, TLS handshakes, garbled replies:
        // the server or the network may be back soon.
        SendError::transient(format!("SMTP connection failed: {e}"))
    }
}

/// One email: multipart/alternative with the plain-text part first (the
/// fallback) and the HTML part last (preferred by clients that can show it).
/// `in_reply_to` threads a follow-up under the email it updates.
pub fn build(
    from: &Mailbox,
    to: &str,
    parts: &Parts,
    message_id: &str,
    in_reply_to: Option<&str>,
) -> Result<Message, SendError> {
    let to: Mailbox = to
        .trim()
        .parse()
        .map_err(|e| SendError::permanent(format!("{to:?} is not a valid email address: {e}")))?;
    let mut b = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(parts.subject.clone())
        .date_now()
        .message_id(Some(message_id.to_string()));
    if let Some(original) = in_reply_to {
        b = b
            .in_reply_to(original.to_string())
            .references(original.to_string());
    }
    b.multipart(MultiPart::alternative_plain_html(
        parts.text.clone(),
        parts.html.clone(),
    ))
    .map_err(|e| SendError::permanent(format!("could not build the email: {e}")))
}

/// A globally unique Message-ID under the sender's domain (RFC 5322 §3.6.4).
/// It doubles as the platform message ID: follow-ups refer to it.
pub fn new_message_id(from: &Mailbox) -> String {
    let random: u128 = rand::random();
    format!("<{random:032x}.orkhub@{}>", from.email.domain())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_padded_host_is_trimmed_for_the_certificate_check_too() {
        // The name the certificate is checked against must be the name
        // connected to (rustls refuses " smtp.example.com " at connect time).
        for mode in [TlsMode::Starttls, TlsMode::Tls] {
            let cfg = EmailConfig {
                host: "  smtp.example.com \t".into(),
                tls: mode,
                ..EmailConfig::default()
            };
            let domain = match tls(&cfg).unwrap() {
                Tls::Required(p) | Tls::Wrapper(p) => p.domain().to_string(),
                _ => panic!("{mode:?}: no TLS parameters"),
            };
            assert_eq!(domain, "smtp.example.com", "{mode:?}");
            assert!(Smtp::from_config(&cfg).is_ok());
        }
    }

    fn parts() -> Parts {
        Parts {
            subject: "Hello".into(),
            text: "plain".into(),
            html: "<p>html</p>".into(),
        }
    }

    #[test]
    fn a_bad_recipient_is_permanent_and_named() {
        let from: Mailbox = "orkhub <hub@example.com>".parse().unwrap();
        let e = build(&from, "not-an-address", &parts(), "<x@example.com>", None).unwrap_err();
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("not-an-address"), "{e}");
    }

    #[test]
    fn message_ids_are_unique_and_under_the_senders_domain() {
        let from: Mailbox = "hub@example.com".parse().unwrap();
        let a = new_message_id(&from);
        assert!(a.starts_with('<') && a.ends_with("@example.com>"), "{a}");
        assert_ne!(a, new_message_id(&from));
    }

    #[test]
    fn follow_ups_are_threaded_and_every_header_is_there() {
        let from: Mailbox = "orkhub <hub@example.com>".parse().unwrap();
        let m = build(
            &from,
            "a@example.com",
            &parts(),
            "<new@example.com>",
            Some("<old@example.com>"),
        )
        .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        for h in [
            "From: orkhub <hub@example.com>",
            "To: a@example.com",
            "Subject: Hello",
            "Date: ",
            "Message-ID: <new@example.com>",
            "In-Reply-To: <old@example.com>",
            "References: <old@example.com>",
            "multipart/alternative",
            "text/plain",
            "text/html",
        ] {
            assert!(raw.contains(h), "missing {h} in\n{raw}");
        }
    }
}
