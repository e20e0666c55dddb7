//! Email to relays whose certificates come from a private CA: trusted
//! through `ca_file` (adapters.email.ca_file or [tls] ca_file) for STARTTLS
//! and for implicit TLS; a certificate for another host name is refused;
//! a certificate nobody trusts makes the delivery dead at once, with the
//! reason on it, never retried as if the server were down.

use crate::common;
use adapters::email::{EmailAdapter, EmailConfig, TlsMode};
use adapters::{Adapter, Destination};
use commands::RichMessage;
use common::TestDb;
use common::server::{TestHub, delivery};
use common::smtp_server::{SmtpServer, Tls};
use serde_json::json;
use test_servers::tls::TestCa;

fn adapter(port: u16, mode: TlsMode, ca_file: Option<&std::path::Path>) -> EmailAdapter {
    EmailAdapter::from_config(&EmailConfig {
        enabled: true,
        host: "localhost".into(),
        port,
        tls: mode,
        timeout_secs: 10,
        from: "hub@orkhub.test".into(),
        ca_file: ca_file.map(|p| p.display().to_string()),
        ..EmailConfig::default()
    })
    .expect("adapter")
}

async fn send(a: &EmailAdapter) -> Result<(), adapters::SendError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    a.send(
        &Destination::to("mia@example.com"),
        &RichMessage::text("over TLS"),
    )
    .await
    .map(|_| ())
}

#[tokio::test]
async fn starttls_and_implicit_tls_are_trusted_through_ca_file() {
    let ca = TestCa::new("orkhub test relay CA");
    let cert = ca.server_cert("relay", &["localhost"]);
    for (mode, tls) in [
        (
            TlsMode::Starttls,
            Tls::Starttls {
                cert: &cert.cert,
                key: &cert.key,
            },
        ),
        (
            TlsMode::Tls,
            Tls::Implicit {
                cert: &cert.cert,
                key: &cert.key,
            },
        ),
    ] {
        let smtp = SmtpServer::start_with(tls);
        send(&adapter(smtp.port, mode, Some(&ca.ca_file)))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(smtp.wait_for(1).await.len(), 1, "{mode:?}");
        // Without the bundle the same relay is not trusted, and that is
        // final: retrying cannot make the certificate trusted.
        let e = send(&adapter(smtp.port, mode, None)).await.unwrap_err();
        assert!(!e.is_retryable(), "{mode:?}: {e}");
        let text = e.to_string();
        assert!(
            text.contains("UnknownIssuer") && text.contains("ca_file"),
            "{mode:?}: {text}"
        );
    }
}

#[tokio::test]
async fn a_certificate_for_another_host_name_is_refused() {
    let ca = TestCa::new("orkhub test relay CA");
    let cert = ca.server_cert("other", &["mail.other.test"]);
    let smtp = SmtpServer::start_with(Tls::Starttls {
        cert: &cert.cert,
        key: &cert.key,
    });
    let e = send(&adapter(smtp.port, TlsMode::Starttls, Some(&ca.ca_file)))
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("NotValidForName"), "{e}");
    assert!(smtp.received().is_empty());
}

#[test]
fn a_ca_file_that_is_missing_or_not_pem_fails_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    for file in [&missing, &junk] {
        let err = EmailAdapter::from_config(&EmailConfig {
            enabled: true,
            tls: TlsMode::Starttls,
            ca_file: Some(file.display().to_string()),
            ..EmailConfig::default()
        })
        .err()
        .expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("adapters.email.ca_file") && text.contains(&file.display().to_string()),
            "{text}"
        );
    }
}

both_dbs!(
    an_untrusted_certificate_makes_the_delivery_dead_at_once,
    |db: &TestDb| async move {
        let ca = TestCa::new("a CA the hub was not told about");
        let cert = ca.server_cert("relay", &["localhost"]);
        let smtp = SmtpServer::start_with(Tls::Starttls {
            cert: &cert.cert,
            key: &cert.key,
        });
        let email = format!(
            "[adapters.email]\nenabled = true\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\nfrom = \"orkhub <hub@orkhub.test>\"\ntimeout_secs = 5\n",
            smtp.port
        );
        let mia = "[[people]]\nid = \"mia\"\nemail = \"mia@example.com\"\npush = [\"email\"]\n";
        let hub = TestHub::start(db, &format!("{email}{mia}"), vec![]).await;
        let (s, body) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "mia", "urgency": "urgent", "text": "hello"}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        let status = hub.settled(body["id"].as_str().unwrap()).await;
        let d = delivery(&status, "email");
        assert_eq!(d["status"], "dead", "{status}");
        assert_eq!(d["attempts"], 1, "not retried: {status}");
        let reason = d["last_error"].as_str().unwrap();
        assert!(
            reason.contains("certificate") && reason.contains("UnknownIssuer"),
            "{reason}"
        );
        assert!(smtp.received().is_empty());
        hub.stop().await;
    }
);

both_dbs!(
    the_tls_ca_file_applies_to_email_unless_it_has_its_own,
    |db: &TestDb| async move {
        let ca = TestCa::new("company CA");
        let cert = ca.server_cert("relay", &["localhost"]);
        let smtp = SmtpServer::start_with(Tls::Implicit {
            cert: &cert.cert,
            key: &cert.key,
        });
        let toml = format!(
            "[tls]\nca_file = \"{}\"\n[adapters.email]\nenabled = true\nhost = \"localhost\"\nport = {}\ntls = \"tls\"\nfrom = \"orkhub <hub@orkhub.test>\"\ntimeout_secs = 5\n[[people]]\nid = \"mia\"\nemail = \"mia@example.com\"\npush = [\"email\"]\n",
            ca.ca_file.display(),
            smtp.port
        );
        let hub = TestHub::start(db, &toml, vec![]).await;
        let (_, body) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "mia", "urgency": "urgent", "text": "hello"}),
            )
            .await;
        let status = hub.settled(body["id"].as_str().unwrap()).await;
        assert_eq!(delivery(&status, "email")["status"], "sent", "{status}");
        assert_eq!(smtp.wait_for(1).await.len(), 1);
        hub.stop().await;
    }
);
