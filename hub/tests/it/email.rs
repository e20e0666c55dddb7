//! Email through a real SMTP server (aiosmtpd on 127.0.0.1): the MIME that
//! arrives (both parts, headers, escaping), email as a push channel and as
//! the fallback when a chat channel fails, and how SMTP failures are recorded.

use crate::common;
use adapters::email::{EmailAdapter, EmailConfig, TlsMode};
use adapters::{Adapter, Destination, SendError};
use commands::RichMessage;
use common::TestDb;
use common::server::{ScriptedAdapter, TestHub, channel_statuses, delivery};
use common::smtp_server::SmtpServer;
use mail_parser::MessageParser;
use routing::ChannelKind;
use serde_json::json;

const MIA: &str = "[[people]]\nid = \"mia\"\nemail = \"mia@example.com\"\npush = [\"email\"]\n";

fn person(id: &str, email: &str) -> String {
    format!("[[people]]\nid = \"{id}\"\nemail = \"{email}\"\npush = [\"email\"]\n")
}

async fn urgent(hub: &TestHub, to: &str, title: &str, text: &str) -> serde_json::Value {
    let (s, body) = hub
        .post(
            "/api/v1/notifications",
            json!({"to": to, "urgency": "urgent", "kind": "alert", "title": title, "text": text}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    hub.settled(body["id"].as_str().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_email_is_multipart_with_headers_and_escaped_html() {
    let smtp = SmtpServer::start();
    let db = TestDb::sqlite().await;
    let hub = TestHub::start(&db, &format!("{}{MIA}", smtp.toml()), vec![]).await;
    let hostile = "<script>alert('x')</script> costs & \"fees\" went up";
    let status = urgent(&hub, "mia", "Budget <b>alert</b>", hostile).await;
    let d = delivery(&status, "email");
    assert_eq!(d["status"], "sent", "{status}");

    let raw = smtp.wait_for(1).await.remove(0);
    let raw_text = String::from_utf8_lossy(&raw);
    let m = MessageParser::default().parse(&raw).expect("parsable MIME");
    assert_eq!(
        m.from().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("hub@orkhub.test")
    );
    assert_eq!(
        m.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("mia@example.com")
    );
    assert_eq!(m.subject(), Some("Budget <b>alert</b>"));
    assert!(m.date().is_some(), "Date header missing:\n{raw_text}");
    let mid = m.message_id().expect("Message-ID header");
    assert!(mid.ends_with("@orkhub.test"), "{mid}");
    // The platform message ID kept for follow-ups is this Message-ID.
    assert_eq!(d["platform_message_id"], format!("<{mid}>"));

    // Both parts, as multipart/alternative.
    assert!(
        raw_text
            .to_ascii_lowercase()
            .contains("multipart/alternative"),
        "{raw_text}"
    );
    assert_eq!((m.text_body.len(), m.html_body.len()), (1, 1));
    let text = m.body_text(0).unwrap();
    let html = m.body_html(0).unwrap();
    assert_ne!(text, html);
    // Agent text: escaped in HTML, as typed in plain text.
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains(
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; costs &amp; &quot;fees&quot;"
        ),
        "{html}"
    );
    assert!(html.contains("Budget &lt;b&gt;alert&lt;/b&gt;"), "{html}");
    assert!(text.contains(hostile), "{text}");
    assert!(!text.contains("&amp;") && !text.contains("&lt;"), "{text}");
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_retried_and_then_delivered_once() {
    let smtp = SmtpServer::start();
    let db = TestDb::sqlite().await;
    let extra = format!(
        "{}{}",
        smtp.toml(),
        person("tina", "tempfail-once@example.com")
    );
    let hub = TestHub::start(&db, &extra, vec![]).await;
    let status = urgent(&hub, "tina", "Greylisted", "second time lucky").await;
    let d = delivery(&status, "email");
    assert_eq!(d["status"], "sent", "{status}");
    assert_eq!(d["attempts"], 2, "one 451, then 250: {status}");
    assert!(d["last_error"].is_null(), "{status}");
    let got = smtp.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 1, "exactly one copy arrives");
    let m = MessageParser::default().parse(&got[0]).unwrap();
    assert_eq!(m.subject(), Some("Greylisted"));
    hub.stop().await;
    db.finish().await;
}

both_dbs!(
    a_5xx_is_dead_with_the_server_reply_on_record,
    |db: &TestDb| async move {
        let smtp = SmtpServer::start();
        let extra = format!("{}{}", smtp.toml(), person("rex", "reject@example.com"));
        let hub = TestHub::start(db, &extra, vec![]).await;
        let status = urgent(&hub, "rex", "Nope", "will bounce").await;
        let d = delivery(&status, "email");
        assert_eq!(d["status"], "dead", "{status}");
        assert_eq!(d["attempts"], 1, "a 5xx is not retried: {status}");
        let err = d["last_error"].as_str().unwrap();
        assert!(err.contains("550"), "{err}");
        assert!(
            err.contains("mailbox unavailable (no such user here)"),
            "the server's own words: {err}"
        );
        // Straight from the store's row as well.
        let (_, rows) = hub
            .store()
            .notification(status["notification"]["id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        let row = rows.iter().find(|r| r.channel == "email").unwrap();
        assert_eq!(row.last_error.as_deref(), Some(err));
        assert!(smtp.received().is_empty());
        hub.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_chat_channel_falls_back_to_email() {
    let smtp = SmtpServer::start();
    let db = TestDb::sqlite().await;
    // Lists only Telegram; has an email address: email closes the chain.
    let extra = format!(
        "{}[[people]]\nid = \"tom\"\nemail = \"tom@example.com\"\npush = [\"telegram\"]\nidentities = {{ telegram = \"42\" }}\n",
        smtp.toml()
    );
    let telegram = ScriptedAdapter::new(
        ChannelKind::Telegram,
        vec![Err(SendError::permanent(
            "Forbidden: bot was blocked by the user",
        ))],
    );
    let hub = TestHub::start(&db, &extra, vec![telegram.clone()]).await;
    let status = urgent(&hub, "tom", "Deploy failed", "prod is down").await;
    let by_channel = channel_statuses(&status);
    assert!(by_channel.contains(&("telegram", "dead")), "{status}");
    assert!(by_channel.contains(&("email", "sent")), "{status}");
    let raw = smtp.wait_for(1).await.remove(0);
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        m.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("tom@example.com")
    );
    assert!(m.body_text(0).unwrap().contains("prod is down"));
    hub.stop().await;
    db.finish().await;
}

fn adapter_to(port: u16, timeout_secs: u64) -> EmailAdapter {
    EmailAdapter::from_config(&EmailConfig {
        enabled: true,
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        timeout_secs,
        from: "hub@orkhub.test".into(),
        ..EmailConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn refused_connections_and_timeouts_are_transient() {
    // Nothing listens on a port we just gave back.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = adapter_to(port, 5)
        .send(&Destination::to("a@example.com"), &RichMessage::text("hi"))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("SMTP connection failed"), "{e}");

    // A server that accepts and never greets.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let started = std::time::Instant::now();
    let e = adapter_to(port, 1)
        .send(&Destination::to("a@example.com"), &RichMessage::text("hi"))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("within 1 s"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the timeout applies"
    );
    hold.abort();
}

#[tokio::test]
async fn a_bad_email_setting_fails_the_start_naming_the_key() {
    let db = TestDb::sqlite().await;
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{}\"\n[adapters.email]\nenabled = true\nfrom = \"not an address\"\n",
        db.url()
    );
    let config = hub::config::Config::from_toml(&toml).unwrap();
    let err = match hub::app::start(config, Default::default()).await {
        Ok(_) => panic!("started with a bad From address"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("adapters.email.from"), "{err}");
    db.finish().await;
}

#[tokio::test]
async fn required_tls_never_falls_back_to_plain_text() {
    // aiosmtpd here offers no STARTTLS and speaks no TLS: with TLS required
    // nothing may be sent in the clear.
    let smtp = SmtpServer::start();
    for (mode, expect) in [
        (TlsMode::Starttls, "STARTTLS is not supported"),
        (TlsMode::Tls, "SMTP connection failed"),
    ] {
        let adapter = EmailAdapter::from_config(&EmailConfig {
            enabled: true,
            host: "127.0.0.1".into(),
            port: smtp.port,
            tls: mode,
            timeout_secs: 3,
            from: "hub@orkhub.test".into(),
            ..EmailConfig::default()
        })
        .unwrap();
        let e = adapter
            .send(
                &Destination::to("a@example.com"),
                &RichMessage::text("secret"),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains(expect), "{mode:?}: {e}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(smtp.received().is_empty(), "nothing went out in the clear");
}
