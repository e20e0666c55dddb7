//! Web API calls through slack-morphism's client: chat.postMessage,
//! chat.update, and posts to a request's `response_url`; and what each
//! failure means for the dispatcher (retry or give up).
//!
//! The requests are our own small serde types sent with the client's
//! `http_post`, rather than slack-morphism's typed requests, because
//! template-made blocks (`slack_blocks`) are arbitrary Block Kit JSON that
//! the typed block enum may not cover; auth, JSON encoding and Slack's error
//! and 429 decoding are still slack-morphism's.

use crate::SendError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slack_morphism::errors::{
    SlackClientError, SlackClientHttpProtocolError, SlackClientSystemError,
};
use slack_morphism::prelude::*;
use std::time::Duration;

pub type Connector = SlackClientHyperHttpsConnector;

/// A Web API client bound to one bot token.
pub struct WebApi {
    client: SlackClient<Connector>,
    token: SlackApiToken,
    timeout: Duration,
}

#[derive(Serialize)]
struct PostMessage<'a> {
    channel: &'a str,
    text: &'a str,
    blocks: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<&'a str>,
    // Agent text must not turn links into previews of arbitrary pages.
    unfurl_links: bool,
    unfurl_media: bool,
}

#[derive(Serialize)]
struct UpdateMessage<'a> {
    channel: &'a str,
    ts: &'a str,
    text: &'a str,
    blocks: &'a [Value],
}

/// The part of chat.postMessage's answer we keep.
#[derive(Deserialize)]
struct Posted {
    channel: String,
    ts: String,
}

#[derive(Serialize, Deserialize)]
struct Ignored {}

/// apps.connections.open's answer.
#[derive(Deserialize)]
struct Opened {
    url: String,
}

/// Build the HTTP connector: rustls with ring, the roots of [`crate::tls`]
/// (the system's and the configured bundle), and plain http allowed
/// (proxies and test servers on 127.0.0.1).
pub fn connector(api_url: &str, trust: &crate::tls::Trust) -> Connector {
    let mut tls = trust.client_config();
    // hyper-rustls sets ALPN itself from enable_http1/2 (and refuses a
    // config that already has some).
    tls.alpn_protocols.clear();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    SlackClientHyperConnector::from(https).with_slack_api_url(api_url)
}

impl WebApi {
    pub fn new(connector: Connector, bot_token: &str, timeout: Duration) -> Self {
        WebApi {
            client: SlackClient::new(connector),
            token: SlackApiToken::new(bot_token.to_string().into()),
            timeout,
        }
    }

    /// chat.postMessage; returns (conversation ID, message ts). The
    /// conversation ID differs from `channel` when posting to a user ID
    /// (Slack opens the DM), and chat.update needs the real one.
    pub async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: &[Value],
    ) -> Result<(String, String), SendError> {
        let req = PostMessage {
            channel,
            text,
            blocks,
            thread_ts,
            unfurl_links: false,
            unfurl_media: false,
        };
        let session = self.client.open_session(&self.token);
        let call = session
            .http_session_api
            .http_post::<_, Posted>("chat.postMessage", &req, None);
        let posted = self.timed("chat.postMessage", call).await?;
        Ok((posted.channel, posted.ts))
    }

    /// chat.update of a message this bot posted.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &[Value],
    ) -> Result<(), SendError> {
        let req = UpdateMessage {
            channel,
            ts,
            text,
            blocks,
        };
        let session = self.client.open_session(&self.token);
        let call = session
            .http_session_api
            .http_post::<_, Ignored>("chat.update", &req, None);
        self.timed("chat.update", call).await.map(|_| ())
    }

    /// auth.test with the bot token: does Slack accept it? (Slack answers
    /// `invalid_auth` for a wrong or revoked token.)
    pub async fn auth_test(&self) -> Result<(), SendError> {
        let session = self.client.open_session(&self.token);
        let call = session
            .http_session_api
            .http_post::<_, Ignored>("auth.test", &Ignored {}, None);
        self.timed("auth.test", call).await.map(|_| ())
    }

    /// apps.connections.open with the app token: the WebSocket URL of a
    /// new Socket Mode connection (each call hands out a new one; an unused
    /// one expires). Also the start-up check that Slack accepts the token.
    pub async fn connections_open(&self, app_token: &str) -> Result<String, SendError> {
        let token = SlackApiToken::new(app_token.to_string().into());
        let session = self.client.open_session(&token);
        let call = session.http_session_api.http_post::<_, Opened>(
            "apps.connections.open",
            &Ignored {},
            None,
        );
        self.timed("apps.connections.open", call)
            .await
            .map(|o| o.url)
    }

    /// POST a reply to a request's `response_url` (no token: the URL is
    /// its own credential, valid 30 minutes for 5 posts).
    pub async fn respond(&self, response_url: &str, body: &Value) -> Result<(), SendError> {
        let url: url::Url = response_url.parse().map_err(|e| {
            SendError::permanent(format!("response_url {response_url:?} is not a URL: {e}"))
        })?;
        let span = tracing::debug_span!("slack response_url");
        let context = SlackClientApiCallContext {
            rate_control_params: None,
            token: None,
            tracing_span: &span,
            is_sensitive_url: true,
        };
        let call = self
            .client
            .http_api
            .connector
            .http_post_uri::<_, Value>(url, body, context);
        self.timed("response_url", call).await.map(|_| ())
    }

    async fn timed<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T, SlackClientError>>,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(classify(what, &e)),
            Err(_) => Err(SendError::transient(format!(
                "slack {what}: no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

/// Slack error codes worth retrying (api.slack.com/methods/chat.postMessage#errors).
const TRANSIENT_CODES: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
];

/// What a failure means: a retry can help (Transient, with Slack's
/// `Retry-After` when it gave one), or it cannot (Permanent, with Slack's
/// error code in the reason so it lands in the delivery record).
pub fn classify(what: &str, e: &SlackClientError) -> SendError {
    match e {
        SlackClientError::ApiError(api) => {
            let code = api.code.as_str();
            if TRANSIENT_CODES.contains(&code) {
                SendError::transient(format!("slack {what}: {code}"))
            } else {
                SendError::permanent(format!("slack {what}: {code}{}", hint(code)))
            }
        }
        SlackClientError::RateLimitError(r) => SendError::Transient {
            reason: format!(
                "slack {what}: rate limited (HTTP 429{})",
                r.code
                    .as_deref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default()
            ),
            retry_after: r.retry_after,
        },
        SlackClientError::HttpError(h) => {
            let status = h.status_code.as_u16();
            let reason = format!("slack {what}: HTTP {status}");
            if status >= 500 || status == 408 {
                SendError::transient(reason)
            } else {
                // 4xx other than 429: a wrong api_url, a proxy refusing us.
                SendError::permanent(reason)
            }
        }
        // A certificate that failed verification: the same on every retry.
        SlackClientError::HttpProtocolError(SlackClientHttpProtocolError { cause: Some(c) })
        | SlackClientError::SystemError(SlackClientSystemError { cause: Some(c), .. })
            if crate::tls::certificate_error(c.as_ref()).is_some() =>
        {
            crate::tls::refused(c.as_ref(), "adapters.slack.ca_file")
                .unwrap_or_else(|| SendError::permanent(format!("slack {what}: {c}")))
        }
        // Connection refused or reset, TLS, a garbled answer mid-outage.
        other => SendError::transient(format!("slack {what}: {}", first_line(&other.to_string()))),
    }
}

fn hint(code: &str) -> &'static str {
    match code {
        "channel_not_found" => {
            " (no such channel, or the bot cannot see it: check the binding or identity)"
        }
        "not_in_channel" => " (invite the bot to the channel: /invite @bot)",
        "is_archived" => " (the channel is archived)",
        "invalid_auth" | "not_authed" | "token_revoked" | "account_inactive" => {
            " (check adapters.slack.bot_token)"
        }
        "not_allowed_token_type" => {
            " (Socket Mode needs an app-level token, xapp-…, with connections:write)"
        }
        "missing_scope" => " (the bot token lacks a scope, e.g. chat:write)",
        "msg_too_long" => " (the message is longer than Slack accepts)",
        "message_not_found" | "cant_update_message" => " (the message to edit is gone or not ours)",
        _ => "",
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use slack_morphism::errors::*;

    #[test]
    fn error_codes_decide_retry_or_give_up() {
        let api = |code: &str| SlackClientError::ApiError(SlackClientApiError::new(code.into()));
        for code in [
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "invalid_auth",
            "msg_too_long",
        ] {
            let e = classify("chat.postMessage", &api(code));
            assert!(!e.is_retryable(), "{code}");
            assert!(e.to_string().contains(code), "{e}");
        }
        assert!(classify("x", &api("ratelimited")).is_retryable());
        let e = classify(
            "x",
            &SlackClientError::RateLimitError(
                SlackRateLimitError::new().with_retry_after(Duration::from_secs(7)),
            ),
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    }
}
