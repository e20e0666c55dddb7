//! The platform API clients (Telegram's, Slack's and Discord's) over https
//! to a server whose certificate comes from a private CA — a self-hosted
//! Bot API server or a company proxy: trusted once the CA is in the
//! adapter's `ca_file`; without it the send fails for good (not retried),
//! naming the setting to change. The test servers sit behind a TLS front
//! with a throwaway CA.

use crate::common;
use adapters::{Adapter, Destination, SendError};
use commands::RichMessage;
use common::{discord_server, slack_server, telegram_server};
use std::path::Path;
use test_servers::tls::{TestCa, tls_front};

/// The CA, and the port of a TLS front (certificate for localhost) to `plain`.
async fn behind_tls(plain: &str) -> (TestCa, u16) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = TestCa::new("company proxy CA");
    let cert = ca.server_cert("proxy", &["localhost"]);
    let upstream = plain
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let port = tls_front(&cert, upstream).await;
    (ca, port)
}

fn ca(path: &Path) -> Option<String> {
    Some(path.display().to_string())
}

/// The untrusted send's error: final, and it says what to change.
fn assert_refused(e: SendError, key: &str) {
    assert!(!e.is_retryable(), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("UnknownIssuer") && text.contains(key),
        "{text}"
    );
}

#[tokio::test]
async fn telegram_trusts_a_private_ca_through_its_ca_file() {
    let tg = telegram_server::TelegramServer::start().await;
    tg.add_chats(&[9001]);
    let (authority, port) = behind_tls(&tg.url).await;
    let config = |ca_file: Option<String>| {
        let mut c = adapters::telegram::TelegramConfig {
            enabled: true,
            token: telegram_server::TOKEN.into(),
            api_url: format!("https://localhost:{port}"),
            ca_file,
            ..Default::default()
        };
        c.limits.per_chat_per_second = 100;
        c
    };
    let to = Destination::to("9001");
    let trusted =
        adapters::telegram::TelegramAdapter::new(&config(ca(&authority.ca_file))).unwrap();
    trusted
        .send(&to, &RichMessage::text("over https"))
        .await
        .expect("sent through the TLS front");
    assert_eq!(tg.message(9001, 1).unwrap().text, "over https");
    let untrusted = adapters::telegram::TelegramAdapter::new(&config(None)).unwrap();
    let e = untrusted
        .send(&to, &RichMessage::text("not trusted"))
        .await
        .unwrap_err();
    assert_refused(e, "adapters.telegram.ca_file");
}

#[tokio::test]
async fn slack_trusts_a_private_ca_through_its_ca_file() {
    let server = slack_server::SlackServer::start(&["C100"]).await;
    let (authority, port) = behind_tls(&server.base).await;
    let config = |ca_file: Option<String>| adapters::slack::SlackConfig {
        enabled: true,
        bot_token: slack_server::BOT_TOKEN.into(),
        signing_secret: "test-signing-secret".into(),
        api_url: format!("https://localhost:{port}/api"),
        channel_messages_per_second: 100,
        ca_file,
        ..Default::default()
    };
    let to = Destination::to("C100");
    let trusted = adapters::slack::SlackAdapter::new(&config(ca(&authority.ca_file))).unwrap();
    let sent = trusted
        .send(&to, &RichMessage::text("over https"))
        .await
        .expect("sent through the TLS front");
    assert!(sent.platform_message_id.is_some());
    let untrusted = adapters::slack::SlackAdapter::new(&config(None)).unwrap();
    let e = untrusted
        .send(&to, &RichMessage::text("not trusted"))
        .await
        .unwrap_err();
    assert_refused(e, "adapters.slack.ca_file");
}

#[tokio::test]
async fn discord_trusts_a_private_ca_through_its_ca_file() {
    const CHANNEL: u64 = 820_000_000_000_000_001;
    let server = discord_server::DiscordServer::start(&[CHANNEL]).await;
    let (authority, port) = behind_tls(&server.url).await;
    let config = |ca_file: Option<String>| adapters::discord::DiscordConfig {
        enabled: true,
        token: discord_server::TOKEN.into(),
        application_id: discord_server::APPLICATION_ID.into(),
        public_key: server.public_key(),
        api_url: format!("https://localhost:{port}"),
        channel_burst: 100,
        channel_window_ms: 1,
        ca_file,
        ..Default::default()
    };
    let to = Destination::to(CHANNEL.to_string());
    let trusted = adapters::discord::DiscordAdapter::new(&config(ca(&authority.ca_file))).unwrap();
    let sent = trusted
        .send(&to, &RichMessage::text("over https"))
        .await
        .expect("sent through the TLS front");
    assert!(sent.platform_message_id.is_some());
    let untrusted = adapters::discord::DiscordAdapter::new(&config(None)).unwrap();
    let e = untrusted
        .send(&to, &RichMessage::text("not trusted"))
        .await
        .unwrap_err();
    assert_refused(e, "adapters.discord.ca_file");
}

#[tokio::test]
async fn the_llm_endpoint_trusts_a_private_ca_through_its_ca_file() {
    use common::openai_server::{KEY, Mode, OpenAiServer};
    let server = OpenAiServer::start(Mode::Answer("All calm.".into(), 10, 3)).await;
    let (authority, port) = behind_tls(&server.base).await;
    let config = |ca_file: Option<String>| briefs::LlmConfig {
        enabled: true,
        base_url: format!("https://localhost:{port}/v1"),
        api_key: KEY.into(),
        timeout_ms: 3_000,
        ca_file,
        ..Default::default()
    };
    let summary = briefs::Summarizer::new(&config(ca(&authority.ca_file)))
        .summarize("the brief")
        .await
        .expect("a summary through the TLS front");
    assert_eq!(summary.text, "All calm.");
    // Without the bundle the endpoint is not trusted: no summary (the
    // brief goes out without one).
    let e = briefs::Summarizer::new(&config(None))
        .summarize("the brief")
        .await
        .unwrap_err();
    assert!(server.requests.lock().unwrap().len() == 1, "{e}");
    // A bundle that is not there: the summarizer says so.
    let e = briefs::Summarizer::new(&config(Some("/nonexistent/ca.pem".into())))
        .summarize("the brief")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("brief.llm.ca_file"), "{e}");
}
