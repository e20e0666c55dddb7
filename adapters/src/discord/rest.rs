//! Message creation and edits sent by the adapter itself, with the request
//! bodies serenity's builders serialize. serenity's `Http` (its limiter off,
//! see CRATE-NOTES) gives back neither the `X-RateLimit-*` headers of a
//! successful answer nor a 429's wait: a 429 body has no `code`, so
//! serenity cannot decode it ("missing field `code`") and the
//! `retry_after` is lost. Here both are read: the headers keep the
//! channel's bucket in step with Discord's (see [`super::limits`]), and a
//! 429 is waited out for exactly what Discord said.

use super::limits::BucketState;
use crate::SendError;
use reqwest::header::HeaderMap;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// A raw client for the routes whose limits matter.
pub(super) struct Rest {
    http: reqwest::Client,
    /// `{api_url}/api/v10`.
    base: String,
    /// `Bot <token>`.
    auth: String,
    /// The application's ID, for its interaction webhooks.
    application: u64,
}

/// A call's outcome with what Discord said about the route's bucket.
pub(super) struct Answer<T> {
    pub result: Result<T, SendError>,
    pub bucket: Option<BucketState>,
}

impl Rest {
    /// `tls`: the trust store of `crate::tls` (system roots plus any
    /// configured CA bundle), the same as serenity's client gets.
    pub(super) fn new(
        api_url: &str,
        token: &str,
        application: u64,
        timeout: Duration,
        tls: rustls::ClientConfig,
    ) -> Result<Rest, String> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("Discord HTTP client: {e}"))?;
        Ok(Rest {
            http,
            base: format!("{}/api/v10", api_url.trim_end_matches('/')),
            auth: format!("Bot {token}"),
            application,
        })
    }

    /// `POST /channels/{channel}/messages`; the new message's ID.
    pub(super) async fn create_message(&self, channel: u64, body: &impl Serialize) -> Answer<u64> {
        let path = format!("/channels/{channel}/messages");
        self.call(reqwest::Method::POST, &path, body, Route::Channel)
            .await
    }

    /// `PATCH /channels/{channel}/messages/{message}`.
    pub(super) async fn edit_message(
        &self,
        channel: u64,
        message: u64,
        body: &impl Serialize,
    ) -> Answer<u64> {
        let path = format!("/channels/{channel}/messages/{message}");
        self.call(reqwest::Method::PATCH, &path, body, Route::Channel)
            .await
    }

    /// `PATCH /webhooks/{application}/{token}/messages/@original`: an
    /// interaction's (deferred) answer replaced.
    pub(super) async fn edit_original(&self, token: &str, body: &impl Serialize) -> Answer<u64> {
        let path = format!("/webhooks/{}/{token}/messages/@original", self.application);
        self.call(reqwest::Method::PATCH, &path, body, Route::Interaction)
            .await
    }

    /// `POST /webhooks/{application}/{token}`: a follow-up message.
    pub(super) async fn follow_up(&self, token: &str, body: &impl Serialize) -> Answer<u64> {
        let path = format!("/webhooks/{}/{token}", self.application);
        self.call(reqwest::Method::POST, &path, body, Route::Interaction)
            .await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl Serialize,
        route: Route,
    ) -> Answer<u64> {
        let sent = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Answer {
                    result: Err(SendError::transient("Discord did not answer in time")),
                    bucket: None,
                };
            }
            Err(e) => {
                // A certificate the trust store refuses is a setup error:
                // dead at once with the reason, never retried.
                let result =
                    crate::tls::refused(&e, "adapters.discord.ca_file").unwrap_or_else(|| {
                        SendError::transient(format!("network: {}", e.without_url()))
                    });
                return Answer {
                    result: Err(result),
                    bucket: None,
                };
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let mut bucket = bucket_state(&headers);
        let result = if (200..300).contains(&status) {
            message_id(&json).ok_or_else(|| {
                SendError::transient(format!(
                    "unreadable answer from Discord: {}",
                    text.chars().take(200).collect::<String>()
                ))
            })
        } else if route == Route::Interaction && status == 404 {
            // A follow-up can reach Discord a moment before the deferred
            // answer it follows is processed: worth another try. (Once the
            // 15-minute token has expired this stays 404 until the outbox's
            // max_attempts.)
            Err(SendError::transient(format!(
                "Discord does not know the interaction's answer (yet): {}",
                classify(status, &headers, &json, &text)
            )))
        } else {
            let e = classify(status, &headers, &json, &text);
            // A 429 empties the bucket until Discord's stated wait has
            // passed, whatever its headers said.
            if let Some(wait) = e.retry_after().filter(|_| status == 429) {
                bucket = Some(BucketState {
                    remaining: 0,
                    reset_after: wait,
                });
            }
            Err(e)
        };
        Answer { result, bucket }
    }
}

/// Which kind of route a call is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// A channel's messages.
    Channel,
    /// An interaction's webhook (its answer and follow-ups).
    Interaction,
}

fn message_id(json: &Value) -> Option<u64> {
    let id = &json["id"];
    id.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| id.as_u64())
}

fn header_secs(headers: &HeaderMap, name: &str) -> Option<Duration> {
    let v: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v))
}

/// `X-RateLimit-Remaining` and `X-RateLimit-Reset-After`, when both came.
pub(super) fn bucket_state(headers: &HeaderMap) -> Option<BucketState> {
    let remaining = headers
        .get("x-ratelimit-remaining")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let reset_after = header_secs(headers, "x-ratelimit-reset-after")?;
    Some(BucketState {
        remaining,
        reset_after,
    })
}

/// How long a 429 says to wait: the body's `retry_after` (seconds, with
/// decimals), else `X-RateLimit-Reset-After`, else `Retry-After` (whole
/// seconds).
pub(super) fn retry_after(headers: &HeaderMap, body: &Value) -> Option<Duration> {
    body["retry_after"]
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .or_else(|| header_secs(headers, "x-ratelimit-reset-after"))
        .or_else(|| header_secs(headers, "retry-after"))
}

/// What Discord's error answer means for a retry (see `send::classify` for
/// the same rules on serenity's errors).
pub(super) fn classify(status: u16, headers: &HeaderMap, json: &Value, text: &str) -> SendError {
    let code = json["code"].as_i64().unwrap_or(0);
    let message = json["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(200).collect());
    let what = if code > 0 {
        format!("{code} {message} ({status})")
    } else {
        format!("HTTP {status}: {message}")
    };
    match status {
        429 => {
            let wait = retry_after(headers, json);
            let global = json["global"].as_bool() == Some(true);
            SendError::Transient {
                reason: format!(
                    "Discord rate limit{}: {what}{}",
                    if global { " (bot-wide)" } else { "" },
                    wait.map(|w| format!(", retry after {:.3} s", w.as_secs_f64()))
                        .unwrap_or_default()
                ),
                // Without any stated wait, a full channel bucket.
                retry_after: Some(wait.unwrap_or(super::limits::RETRY_AFTER_429)),
            }
        }
        500..=599 => SendError::transient(format!("Discord server error: {what}")),
        401 => SendError::permanent(format!(
            "Discord refused the bot token: {what}; check adapters.discord.token"
        )),
        _ => SendError::permanent(format!("Discord refused: {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_429_without_code_keeps_its_retry_after() {
        let body =
            json!({"message": "You are being rate limited.", "retry_after": 8.25, "global": false});
        let h = headers(&[("retry-after", "9"), ("x-ratelimit-reset-after", "8.250")]);
        let e = classify(429, &h, &body, "");
        assert_eq!(e.retry_after(), Some(Duration::from_millis(8250)));
        // Only headers: Reset-After (exact) before Retry-After (rounded up).
        let e = classify(429, &h, &Value::Null, "");
        assert_eq!(e.retry_after(), Some(Duration::from_millis(8250)));
        let e = classify(429, &headers(&[("retry-after", "3")]), &Value::Null, "");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn other_errors_are_classified() {
        let unknown = json!({"code": 10003, "message": "Unknown Channel"});
        let e = classify(404, &HeaderMap::new(), &unknown, "");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("10003 Unknown Channel"), "{e}");
        assert!(classify(502, &HeaderMap::new(), &Value::Null, "<html>").is_retryable());
        let token = classify(
            401,
            &HeaderMap::new(),
            &json!({"message": "401: Unauthorized", "code": 0}),
            "",
        );
        assert!(
            token.to_string().contains("adapters.discord.token"),
            "{token}"
        );
    }

    #[test]
    fn bucket_headers_are_read() {
        let b = bucket_state(&headers(&[
            ("x-ratelimit-remaining", "3"),
            ("x-ratelimit-reset-after", "4.5"),
        ]))
        .unwrap();
        assert_eq!(b.remaining, 3);
        assert_eq!(b.reset_after, Duration::from_millis(4500));
        assert!(bucket_state(&headers(&[("x-ratelimit-remaining", "3")])).is_none());
    }
}
