//! One webhook call: POST the event's JSON, signed, with a timeout; no
//! redirect is followed (a receiver that moved must be updated, and a
//! redirect could point the hub at its own network after the URL check).
//!
//! What reqwest does here: it retries nothing itself and sleeps nothing;
//! `timeout` bounds the whole call (connect, request, answer headers). The
//! answer's body is not read: only the status counts.

use super::sign::{EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header};
use super::target::forbidden_ip;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// One event for one receiver.
#[derive(Debug, Clone)]
pub struct WebhookRequest<'a> {
    pub url: &'a str,
    pub secret: &'a [u8],
    pub event_id: &'a str,
    /// The event's JSON, exactly as signed and sent.
    pub body: &'a str,
    /// The receiver may be on the hub's own network (config-declared
    /// webhooks, or `allow_private_targets`).
    pub allow_private: bool,
}

/// What the receiver's answer means for the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: delivered.
    Sent { status: u16 },
    /// 410 Gone: the receiver wants no more calls; the subscription ends.
    Gone { status: u16 },
    /// Anything else — 408, 429, 5xx, a timeout, a refused connection, a
    /// redirect, another 4xx — is tried again until the subscription's
    /// attempts are used up. `status` when the receiver answered.
    Failed { status: Option<u16>, error: String },
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Sent { status } | Outcome::Gone { status } => Some(*status),
            Outcome::Failed { status, .. } => *status,
        }
    }
}

/// Classify an HTTP status.
pub fn classify(status: u16, location: Option<&str>) -> Outcome {
    match status {
        200..=299 => Outcome::Sent { status },
        410 => Outcome::Gone { status },
        300..=399 => Outcome::Failed {
            status: Some(status),
            error: format!(
                "the receiver answered {status} (a redirect to {}); redirects are not followed: update the webhook's URL",
                location.unwrap_or("nowhere")
            ),
        },
        408 | 429 | 500..=599 => Outcome::Failed {
            status: Some(status),
            error: format!("the receiver answered {status}; will retry"),
        },
        _ => Outcome::Failed {
            status: Some(status),
            error: format!("the receiver refused the call with {status}"),
        },
    }
}

/// Resolves host names and refuses any that has an address on the hub's
/// own network: the connection-time half of the URL check (`target.rs`).
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((ip, why)) = addrs
                .iter()
                .find_map(|a| forbidden_ip(a.ip()).map(|w| (a.ip(), w)))
            {
                return Err(format!(
                    "{host} resolves to {ip}, a {why} address; webhooks may not call the hub's own network"
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The HTTP clients of the webhook sender: one for receivers that must be
/// public, one for those allowed on the hub's own network.
#[derive(Clone, Debug)]
pub struct WebhookClient {
    public_only: reqwest::Client,
    any: reqwest::Client,
    timeout: Duration,
}

impl WebhookClient {
    /// `tls`: the trust store of [`crate::tls`] (system roots plus any
    /// configured CA bundle).
    pub fn new(timeout: Duration, tls: rustls::ClientConfig) -> Result<WebhookClient, String> {
        let build = |guard: bool| {
            let mut b = reqwest::Client::builder()
                .use_preconfigured_tls(tls.clone())
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("orkhub-webhooks/", env!("CARGO_PKG_VERSION")))
                .tcp_nodelay(true);
            if guard {
                b = b.dns_resolver(Arc::new(PublicOnly));
            }
            b.build().map_err(|e| format!("webhook HTTP client: {e}"))
        };
        Ok(WebhookClient {
            public_only: build(true)?,
            any: build(false)?,
            timeout,
        })
    }

    /// Sign and POST one event; `unix` is the signature's timestamp.
    pub async fn send(&self, req: &WebhookRequest<'_>, unix: i64) -> Outcome {
        let failed = |error: String| Outcome::Failed {
            status: None,
            error,
        };
        let client = if req.allow_private {
            &self.any
        } else {
            // An IP literal never reaches the resolver: check it here.
            match super::target::parse_target(req.url) {
                Ok(url) => {
                    let literal = match url.host() {
                        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
                        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
                        _ => None,
                    };
                    if let Some((ip, why)) =
                        literal.and_then(|ip| forbidden_ip(ip).map(|w| (ip, w)))
                    {
                        return failed(format!(
                            "{ip} is a {why} address; webhooks may not call the hub's own network"
                        ));
                    }
                }
                Err(e) => return failed(e.to_string()),
            }
            &self.public_only
        };
        let signature = signature_header(req.secret, unix, req.body.as_bytes());
        let sent = client
            .post(req.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(EVENT_ID_HEADER, req.event_id)
            .body(req.body.to_string())
            .send()
            .await;
        match sent {
            Ok(res) => {
                let location = res
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                classify(res.status().as_u16(), location.as_deref())
            }
            Err(e) if e.is_timeout() => failed(format!(
                "no answer within {} s (webhook_sender.timeout_secs); will retry",
                self.timeout.as_secs_f64()
            )),
            Err(e) => failed(error_chain(&e)),
        }
    }
}

/// An error with its causes ("error sending request: … : connection refused").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_the_spec_says() {
        assert_eq!(classify(204, None), Outcome::Sent { status: 204 });
        assert_eq!(classify(410, None), Outcome::Gone { status: 410 });
        for s in [408, 429, 500, 503, 400, 404, 301] {
            assert!(matches!(classify(s, None), Outcome::Failed { status: Some(x), .. } if x == s));
        }
        let Outcome::Failed { error, .. } = classify(302, Some("http://x/")) else {
            unreachable!()
        };
        assert!(error.contains("not followed"), "{error}");
    }
}
