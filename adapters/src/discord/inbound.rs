//! Interactions Discord posts to the hub's endpoint
//! (discord.com/developers/docs/interactions/receiving-and-responding):
//! each is signed with the application's Ed25519 key over
//! `timestamp || body`, checked here with serenity's verifier before
//! anything in it is read, and refused when its timestamp is more than five
//! minutes off (serenity does not check that). A verified interaction is a
//! PING, a slash command — turned back into the one command grammar — or a
//! button press.

use super::limits::MAX_CLOCK_SKEW_SECS;
use crate::{Inbound, InboundKind};
use routing::ChannelKind;
use serde::Deserialize;
use serde_json::Value;
use serenity::interactions_endpoint::Verifier;

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// Why an interaction request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("no {SIGNATURE_HEADER} / {TIMESTAMP_HEADER} header: not a request from Discord")]
    Unsigned,
    #[error("the signature does not match the body: not from Discord, or altered on the way")]
    BadSignature,
    #[error(
        "timestamp {0:?} is more than {MAX_CLOCK_SKEW_SECS} s from now (a replay, or a wrong clock)"
    )]
    Stale(String),
    #[error("the body is not an interaction: {0}")]
    Malformed(String),
}

/// Checks signatures with the application's public key.
#[derive(Clone)]
pub struct SignatureCheck {
    verifier: Verifier,
}

impl SignatureCheck {
    /// `public_key`: 64 hex digits (checked by the config).
    pub fn new(public_key: &str) -> Result<Self, String> {
        let bytes: Vec<u8> = (0..public_key.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(public_key.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("public key {public_key:?} is not hex"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("public key {public_key:?} is not 32 bytes"))?;
        Verifier::try_new(key)
            .map(|verifier| SignatureCheck { verifier })
            .map_err(|e| e.to_string())
    }

    /// Nothing in the body may be trusted before this passes.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), InboundError> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(InboundError::Unsigned);
        };
        self.verifier
            .verify(signature, timestamp, body)
            .map_err(|()| InboundError::BadSignature)?;
        match timestamp.trim().parse::<i64>() {
            Ok(t) if (now_secs - t).abs() <= MAX_CLOCK_SKEW_SECS => Ok(()),
            _ => Err(InboundError::Stale(timestamp.to_string())),
        }
    }
}

/// A verified interaction, as far as the hub acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// Discord checking the endpoint: answer PONG.
    Ping,
    /// A slash command or a button press, with what is needed to answer it.
    Act(Act),
    /// Something we registered nothing for (autocomplete, modals): answered
    /// with an ephemeral "not supported".
    Unsupported(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Act {
    /// Unique per interaction: a repeat of it is not run twice.
    pub id: String,
    /// The interaction token, for answering after the first 3 s.
    pub token: String,
    pub inbound: Inbound,
    pub is_button: bool,
}

/// The parts of an interaction object we use.
#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: u64,
    #[serde(default)]
    id: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    data: Value,
    channel_id: Option<String>,
    channel: Option<IdOnly>,
    /// In a guild: the member, whose `user` is who acted.
    member: Option<Member>,
    /// In a DM: who acted.
    user: Option<IdOnly>,
    /// On a button press: the message the button is on.
    message: Option<IdOnly>,
}

#[derive(Deserialize)]
struct Member {
    user: IdOnly,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

const PING: u64 = 1;
const APPLICATION_COMMAND: u64 = 2;
const MESSAGE_COMPONENT: u64 = 3;

/// Parse a verified body.
pub fn parse(body: &[u8]) -> Result<Interaction, InboundError> {
    let raw: Raw =
        serde_json::from_slice(body).map_err(|e| InboundError::Malformed(e.to_string()))?;
    if raw.kind == PING {
        return Ok(Interaction::Ping);
    }
    if raw.kind != APPLICATION_COMMAND && raw.kind != MESSAGE_COMPONENT {
        return Ok(Interaction::Unsupported(raw.kind));
    }
    let missing = |what: &str| InboundError::Malformed(format!("no {what}"));
    if raw.id.is_empty() || raw.token.is_empty() {
        return Err(missing("id or token"));
    }
    let user_id = raw
        .member
        .map(|m| m.user.id)
        .or(raw.user.map(|u| u.id))
        .ok_or_else(|| missing("member.user or user"))?;
    let chat_id = raw
        .channel_id
        .or(raw.channel.map(|c| c.id))
        .ok_or_else(|| missing("channel_id"))?;
    let is_button = raw.kind == MESSAGE_COMPONENT;
    let what = if is_button {
        let token = raw
            .data
            .get("custom_id")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("data.custom_id"))?;
        InboundKind::Button {
            token: token.to_string(),
        }
    } else {
        // An unknown name becomes a command the grammar refuses with a
        // suggestion, like a mistyped one anywhere else.
        let (path, values) = super::command_list::discord_interaction_options(&raw.data)
            .unwrap_or_else(|| ("?".to_string(), Vec::new()));
        InboundKind::Options { path, values }
    };
    Ok(Interaction::Act(Act {
        id: raw.id,
        token: raw.token,
        inbound: Inbound {
            platform: ChannelKind::Discord,
            user_id,
            chat_id,
            message_id: raw.message.map(|m| m.id),
            what,
        },
        is_button,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_and_presses_become_inbound() {
        let cmd = json!({
            "type": 2, "id": "9", "token": "tok", "channel_id": "77",
            "member": {"user": {"id": "42", "username": "dana"}},
            "data": {"name": "task", "type": 1, "options": [{"type": 1, "name": "new",
                "options": [{"name": "title", "type": 3, "value": "Fix <login>"}]}]}
        });
        let Interaction::Act(a) = parse(cmd.to_string().as_bytes()).unwrap() else {
            panic!("an act")
        };
        assert_eq!(a.inbound.user_id, "42");
        assert_eq!(a.inbound.chat_id, "77");
        assert_eq!(
            a.inbound.what,
            InboundKind::Options {
                path: "task new".into(),
                values: vec![("title".into(), "Fix <login>".into())]
            }
        );
        let press = json!({
            "type": 3, "id": "10", "token": "t2", "channel_id": "5",
            "user": {"id": "43"}, "message": {"id": "600"},
            "data": {"custom_id": "b_abc", "component_type": 2}
        });
        let Interaction::Act(p) = parse(press.to_string().as_bytes()).unwrap() else {
            panic!("an act")
        };
        assert!(p.is_button);
        assert_eq!(p.inbound.message_id.as_deref(), Some("600"));
        assert_eq!(
            p.inbound.what,
            InboundKind::Button {
                token: "b_abc".into()
            }
        );
        assert_eq!(parse(br#"{"type":1}"#).unwrap(), Interaction::Ping);
        assert_eq!(
            parse(br#"{"type":4}"#).unwrap(),
            Interaction::Unsupported(4)
        );
        assert!(matches!(
            parse(br#"{"type":2,"id":"1","token":"t"}"#),
            Err(InboundError::Malformed(_))
        ));
        assert!(matches!(parse(b"nope"), Err(InboundError::Malformed(_))));
    }

    #[test]
    fn a_bad_public_key_is_refused() {
        assert!(SignatureCheck::new("zz").is_err());
        assert!(SignatureCheck::new(&"ab".repeat(31)).is_err());
    }
}

#[cfg(test)]
mod signature_tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(key: &SigningKey, ts: &str, body: &[u8]) -> String {
        let message = [ts.as_bytes(), body].concat();
        key.sign(&message)
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn only_a_fresh_signature_over_this_body_passes() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public: String = key
            .verifying_key()
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let check = SignatureCheck::new(&public).unwrap();
        let body = br#"{"type":1}"#;
        let now = 1_800_000_000;
        let ts = now.to_string();
        let sig = signed(&key, &ts, body);
        assert_eq!(check.verify(Some(&sig), Some(&ts), body, now), Ok(()));
        assert_eq!(
            check.verify(Some(&sig), Some(&ts), br#"{"type":2}"#, now),
            Err(InboundError::BadSignature)
        );
        assert_eq!(
            check.verify(Some(&sig), Some(&ts), body, now + 301),
            Err(InboundError::Stale(ts.clone()))
        );
        assert_eq!(
            check.verify(None, Some(&ts), body, now),
            Err(InboundError::Unsigned)
        );
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert_eq!(
            check.verify(Some(&signed(&other, &ts, body)), Some(&ts), body, now),
            Err(InboundError::BadSignature)
        );
    }
}
