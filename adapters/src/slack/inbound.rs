//! Requests from Slack: signature check (v0 HMAC-SHA256 in constant time,
//! timestamps more than 5 minutes off refused — slack-morphism's
//! `SlackEventSignatureVerifier`), then slash commands and button presses
//! parsed into the hub's [`Inbound`]. Each request gets a key that stays
//! the same when Slack retries it, so the hub can run it once.

use crate::{Inbound, InboundKind};
use routing::ChannelKind;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use slack_morphism::signature_verifier::SlackEventSignatureVerifierError;

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Set by Slack on a retry (1, 2, 3), with `X-Slack-Retry-Reason`.
pub const RETRY_HEADER: &str = "x-slack-retry-num";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("missing {0} header: not a request signed by Slack")]
    MissingHeader(&'static str),
    #[error("signature does not match the signing secret")]
    BadSignature,
    #[error("request timestamp is missing, malformed or more than 5 minutes off")]
    StaleTimestamp,
    #[error("the signing secret is not configured")]
    NoSecret,
    #[error("body is not UTF-8")]
    NotUtf8,
    #[error("malformed Slack request: {0}")]
    Malformed(String),
}

/// Check a request's signature and age. Nothing else may be done with a
/// request before this passes.
pub fn verify(
    signing_secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
) -> Result<(), InboundError> {
    let signature = signature.ok_or(InboundError::MissingHeader(SIGNATURE_HEADER))?;
    let timestamp = timestamp.ok_or(InboundError::MissingHeader(TIMESTAMP_HEADER))?;
    let body = std::str::from_utf8(body).map_err(|_| InboundError::NotUtf8)?;
    if signing_secret.is_empty() {
        return Err(InboundError::NoSecret);
    }
    let verifier =
        SlackEventSignatureVerifier::new(&SlackSigningSecret::new(signing_secret.to_string()));
    verifier
        .verify(signature, body, timestamp)
        .map_err(|e| match e {
            SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => {
                InboundError::StaleTimestamp
            }
            SlackEventSignatureVerifierError::CryptoInitError(_) => InboundError::NoSecret,
            _ => InboundError::BadSignature,
        })
}

/// A verified, parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackRequest {
    /// Stable across Slack's retries of the same request.
    pub key: String,
    pub inbound: Inbound,
    /// Where a late or extra answer goes (valid 30 minutes, 5 posts).
    pub response_url: Option<String>,
    /// Thread of the message a button was on, for replies.
    pub thread_ts: Option<String>,
    /// Button presses answer through `response_url` only; commands answer
    /// in the HTTP response when they finish in time.
    pub is_interaction: bool,
    /// An Events API event (a thread reply): acknowledged at once, its
    /// answer posted in the thread.
    pub is_event: bool,
}

/// The fields of a slash-command request (application/x-www-form-urlencoded).
#[derive(Debug, Clone, Deserialize)]
pub struct CommandForm {
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub user_id: String,
    pub channel_id: String,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub response_url: Option<String>,
    #[serde(default)]
    pub trigger_id: Option<String>,
}

#[derive(Deserialize)]
struct SslCheck {
    #[serde(default)]
    ssl_check: Option<String>,
}

/// Parse a slash command's form body. `main_command` (e.g. `/ork`) carries
/// the shared grammar in its text; any other command is taken as the
/// command name itself (`/task new x`). `Ok(None)`: Slack's `ssl_check=1`
/// probe of the endpoint, answered with an empty 200.
pub fn parse_command(
    body: &[u8],
    main_command: &str,
) -> Result<Option<SlackRequest>, InboundError> {
    if let Ok(SslCheck { ssl_check: Some(v) }) = serde_urlencoded::from_bytes(body)
        && v == "1"
    {
        return Ok(None);
    }
    let form: CommandForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| InboundError::Malformed(format!("slash command form: {e}")))?;
    Ok(Some(command_request(form, main_command, body)))
}

/// The same, from an already decoded command (Socket Mode delivers JSON).
pub fn command_request(form: CommandForm, main_command: &str, raw: &[u8]) -> SlackRequest {
    let text = form.text.trim();
    let text = if form.command.eq_ignore_ascii_case(main_command) {
        if text.is_empty() {
            "help".to_string()
        } else {
            text.to_string()
        }
    } else {
        format!("{} {text}", form.command).trim().to_string()
    };
    let key = match &form.trigger_id {
        Some(t) if !t.is_empty() => {
            format!("command:{}:{t}", form.team_id.as_deref().unwrap_or(""))
        }
        _ => format!("command:sha256:{}", hex::encode(Sha256::digest(raw))),
    };
    SlackRequest {
        key,
        inbound: Inbound {
            platform: ChannelKind::Slack,
            user_id: form.user_id,
            chat_id: form.channel_id,
            message_id: None,
            what: InboundKind::Command { text },
        },
        response_url: form.response_url.filter(|u| !u.is_empty()),
        thread_ts: None,
        is_interaction: false,
        is_event: false,
    }
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Debug, Default, Deserialize)]
struct Container {
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    message_ts: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Action {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    action_ts: Option<String>,
}

/// The parts of an interaction payload we use (api.slack.com/reference/interaction-payloads/block-actions).
#[derive(Debug, Deserialize)]
pub struct InteractionPayload {
    #[serde(rename = "type")]
    kind: String,
    user: IdOnly,
    #[serde(default)]
    team: Option<IdOnly>,
    #[serde(default)]
    channel: Option<IdOnly>,
    #[serde(default)]
    container: Option<Container>,
    #[serde(default)]
    trigger_id: Option<String>,
    #[serde(default)]
    response_url: Option<String>,
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Deserialize)]
struct PayloadForm {
    payload: String,
}

/// Parse an interactivity request (form field `payload` holding JSON).
/// `Ok(None)`: a kind of interaction the hub does not handle (it is
/// acknowledged and ignored).
pub fn parse_interaction(body: &[u8]) -> Result<Option<SlackRequest>, InboundError> {
    let form: PayloadForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| InboundError::Malformed(format!("interaction form: {e}")))?;
    let payload: InteractionPayload = serde_json::from_str(&form.payload)
        .map_err(|e| InboundError::Malformed(format!("interaction payload: {e}")))?;
    Ok(interaction_request(payload, form.payload.as_bytes()))
}

/// The same, from a decoded payload (Socket Mode).
pub fn interaction_request(p: InteractionPayload, raw: &[u8]) -> Option<SlackRequest> {
    if p.kind != "block_actions" {
        return None;
    }
    let action = p
        .actions
        .into_iter()
        .find(|a| a.value.as_deref().is_some_and(|v| !v.is_empty()))?;
    let token = action.value.unwrap_or_default();
    let container = p.container.unwrap_or_default();
    let chat_id = p
        .channel
        .map(|c| c.id)
        .or(container.channel_id)
        .unwrap_or_default();
    let message_id = container.message_ts.map(|ts| format!("{chat_id}:{ts}"));
    let team = p.team.map(|t| t.id).unwrap_or_default();
    let key = match (&p.trigger_id, &action.action_ts) {
        (Some(t), _) if !t.is_empty() => format!("interaction:{team}:{t}"),
        (_, Some(a)) => format!("interaction:{team}:{}:{a}", p.user.id),
        _ => format!("interaction:sha256:{}", hex::encode(Sha256::digest(raw))),
    };
    Some(SlackRequest {
        key,
        inbound: Inbound {
            platform: ChannelKind::Slack,
            user_id: p.user.id,
            chat_id,
            message_id,
            what: InboundKind::Button { token },
        },
        response_url: p.response_url.filter(|u| !u.is_empty()),
        thread_ts: container.thread_ts,
        is_interaction: true,
        is_event: false,
    })
}

/// What an Events API request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRequest {
    /// Slack checking the Request URL: answer with this challenge.
    Challenge(String),
    Request(SlackRequest),
    /// An event the hub does not act on (acknowledged only).
    Ignored,
}

/// Parse an Events API request body (JSON).
pub fn parse_event(body: &[u8]) -> Result<EventRequest, InboundError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| InboundError::Malformed(format!("event body: {e}")))?;
    if v["type"] == "url_verification" {
        return Ok(EventRequest::Challenge(
            v["challenge"].as_str().unwrap_or_default().to_string(),
        ));
    }
    Ok(event_request(&v).map_or(EventRequest::Ignored, EventRequest::Request))
}

/// A person's reply in the thread of another message (the hub's question),
/// from an `event_callback` (the Events API's body, or a Socket Mode
/// `events_api` envelope's payload). Edits, deletions, bots' messages
/// (the hub's own included), thread parents and messages outside a
/// thread are not replies: `None`.
pub fn event_request(callback: &serde_json::Value) -> Option<SlackRequest> {
    if callback["type"] != "event_callback" {
        return None;
    }
    let e = &callback["event"];
    let s = |k: &str| e[k].as_str().filter(|v| !v.is_empty());
    if e["type"] != "message" || s("subtype").is_some() || s("bot_id").is_some() {
        return None;
    }
    let (user, channel, ts, thread) = (s("user")?, s("channel")?, s("ts")?, s("thread_ts")?);
    let text = s("text")?;
    if thread == ts {
        return None;
    }
    let key = match callback["event_id"].as_str() {
        Some(id) if !id.is_empty() => format!("event:{id}"),
        _ => format!("event:{channel}:{ts}"),
    };
    let parent = format!("{channel}:{thread}");
    Some(SlackRequest {
        key,
        inbound: Inbound {
            platform: ChannelKind::Slack,
            user_id: user.to_string(),
            chat_id: channel.to_string(),
            message_id: Some(parent.clone()),
            what: InboundKind::Reply {
                to: parent,
                text: text.to_string(),
            },
        },
        response_url: None,
        thread_ts: Some(thread.to_string()),
        is_interaction: false,
        is_event: true,
    })
}

/// `v0=<hex>` for a body and timestamp: what Slack sends, for clients and
/// tests that sign requests (the same computation the verifier checks).
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = match Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> String {
        chrono::Utc::now().timestamp().to_string()
    }

    #[test]
    fn signatures_and_ages_are_checked() {
        let body = b"command=%2Fork&text=help&user_id=U1&channel_id=C1";
        let ts = now();
        let sig = sign("secret", &ts, body);
        assert_eq!(verify("secret", Some(&sig), Some(&ts), body), Ok(()));
        assert_eq!(
            verify("other", Some(&sig), Some(&ts), body),
            Err(InboundError::BadSignature)
        );
        let tampered = b"command=%2Fork&text=help&user_id=U2&channel_id=C1";
        assert_eq!(
            verify("secret", Some(&sig), Some(&ts), tampered),
            Err(InboundError::BadSignature)
        );
        let old = (chrono::Utc::now().timestamp() - 301).to_string();
        let sig = sign("secret", &old, body);
        assert_eq!(
            verify("secret", Some(&sig), Some(&old), body),
            Err(InboundError::StaleTimestamp)
        );
        assert_eq!(
            verify("secret", None, Some(&ts), body),
            Err(InboundError::MissingHeader(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn slash_commands_map_to_the_shared_grammar() {
        let body = b"command=%2Fork&text=task+new+Fix+login&user_id=U1&channel_id=C1&team_id=T1&trigger_id=123.456&response_url=http%3A%2F%2Fx%2Fr";
        let r = parse_command(body, "/ork").unwrap().unwrap();
        assert_eq!(
            r.inbound.what,
            InboundKind::Command {
                text: "task new Fix login".into()
            }
        );
        assert_eq!(r.inbound.user_id, "U1");
        assert_eq!(r.inbound.chat_id, "C1");
        assert_eq!(r.key, "command:T1:123.456");
        assert_eq!(r.response_url.as_deref(), Some("http://x/r"));
        let r = parse_command(
            b"command=%2Ftask&text=list&user_id=U1&channel_id=C1",
            "/ork",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            r.inbound.what,
            InboundKind::Command {
                text: "/task list".into()
            }
        );
        let r = parse_command(b"command=%2Fork&text=&user_id=U1&channel_id=C1", "/ork")
            .unwrap()
            .unwrap();
        assert_eq!(parse_command(b"ssl_check=1&token=x", "/ork").unwrap(), None);
        assert_eq!(
            r.inbound.what,
            InboundKind::Command {
                text: "help".into()
            }
        );
        assert!(matches!(
            parse_command(b"text=x", "/ork"),
            Err(InboundError::Malformed(_))
        ));
    }

    #[test]
    fn button_presses_carry_the_token_and_the_user() {
        let payload = serde_json::json!({
            "type": "block_actions",
            "user": {"id": "U7", "username": "boss"},
            "team": {"id": "T1"},
            "channel": {"id": "D7"},
            "container": {"type": "message", "message_ts": "1.2", "channel_id": "D7"},
            "trigger_id": "9.9",
            "response_url": "http://x/r",
            "actions": [{"action_id": "ork:0:tok", "value": "tok", "action_ts": "3.4", "type": "button"}]
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let r = parse_interaction(body.as_bytes()).unwrap().unwrap();
        assert_eq!(
            r.inbound.what,
            InboundKind::Button {
                token: "tok".into()
            }
        );
        assert_eq!(r.inbound.user_id, "U7");
        assert_eq!(r.inbound.message_id.as_deref(), Some("D7:1.2"));
        assert_eq!(r.key, "interaction:T1:9.9");
        assert!(r.is_interaction);
        let other = serde_json::json!({"type": "view_submission", "user": {"id": "U7"}});
        let body = serde_urlencoded::to_string([("payload", other.to_string())]).unwrap();
        assert_eq!(parse_interaction(body.as_bytes()).unwrap(), None);
    }

    #[test]
    fn thread_replies_are_replies_to_the_parent_and_nothing_else_is() {
        let event = |extra: serde_json::Value| {
            let mut e = serde_json::json!({"type": "message", "channel": "D7", "user": "U7",
                "text": "eu please", "ts": "5.6", "thread_ts": "1.2"});
            if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
                for (k, v) in x {
                    e.insert(k.clone(), v.clone());
                }
            }
            serde_json::json!({"type": "event_callback", "event_id": "Ev1", "event": e}).to_string()
        };
        let EventRequest::Request(r) =
            parse_event(event(serde_json::json!({})).as_bytes()).unwrap()
        else {
            panic!("a reply");
        };
        assert_eq!(
            r.inbound.what,
            InboundKind::Reply {
                to: "D7:1.2".into(),
                text: "eu please".into()
            }
        );
        assert_eq!(
            (r.key.as_str(), r.inbound.user_id.as_str()),
            ("event:Ev1", "U7")
        );
        assert!(r.is_event && !r.is_interaction);
        for not in [
            serde_json::json!({"subtype": "message_changed"}),
            serde_json::json!({"bot_id": "B1"}),
            serde_json::json!({"thread_ts": "5.6"}),
            serde_json::json!({"thread_ts": null}),
        ] {
            assert_eq!(
                parse_event(event(not.clone()).as_bytes()).unwrap(),
                EventRequest::Ignored,
                "{not}"
            );
        }
        assert_eq!(
            parse_event(br#"{"type":"url_verification","challenge":"abc"}"#).unwrap(),
            EventRequest::Challenge("abc".into())
        );
        assert!(parse_event(b"not json").is_err());
        let other = serde_json::json!({"type": "view_submission", "user": {"id": "U7"}});
        let body = serde_urlencoded::to_string([("payload", other.to_string())]).unwrap();
        assert_eq!(parse_interaction(body.as_bytes()).unwrap(), None);
    }
}
