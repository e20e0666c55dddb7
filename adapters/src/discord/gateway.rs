//! The Gateway (discord.com/developers/docs/events/gateway), opened only
//! with `gateway = true`, for one thing: a person's reply to one of the
//! hub's messages (MESSAGE_CREATE with a `message_reference`) answers the
//! question that message asked. Everything else people do on Discord comes
//! through the Interactions Endpoint (`listen`).
//!
//! Intents: GUILD_MESSAGES and DIRECT_MESSAGES to receive the messages, and
//! MESSAGE_CONTENT to read their text in servers — a privileged intent the
//! bot's owner must switch on (Developer Portal → Bot → Privileged Gateway
//! Intents → Message Content Intent). Without it Discord closes the
//! connection with 4014; that is said once, naming the setting, and asked
//! again after minutes.
//!
//! The connection is our own (tokio-tungstenite, JSON encoding): Hello,
//! Identify, heartbeats at the interval Hello gives, and a fresh Identify on
//! every reconnect (no Resume: a reply missed while the connection was down
//! can still be given with `answer <id> <text>`). The socket's TLS trusts
//! the same store as the REST client (`crate::tls`).

use super::DiscordAdapter;
use super::config::DiscordConfig;
use super::send::message_ref;
use crate::inbox::{Claim, Inbox};
use crate::{Inbound, InboundKind};
use futures::{SinkExt, StreamExt};
use routing::ChannelKind;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT (privileged).
pub const INTENTS: u64 = (1 << 9) | (1 << 12) | (1 << 15);

/// Wait before reconnecting after a dropped connection.
const RECONNECT: Duration = Duration::from_secs(5);
/// Wait after Discord refused the token or the intents, and the longest.
const REFUSED_FIRST_WAIT: Duration = Duration::from_secs(60);
const REFUSED_MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// Why a connection ended.
enum Closed {
    Stopped,
    /// Reconnect after [`RECONNECT`].
    Dropped(String),
    /// Discord refused the token (4004) or the intents (4013, 4014): a
    /// setting to change, not an outage.
    Refused(String),
}

/// A reply to one of the bot's messages, from a MESSAGE_CREATE's data: the
/// key it runs once under and the hub's inbound. Bots' messages (the hub's
/// own included), commands, empty text and replies to someone else's
/// message are not replies to the hub: `None`.
pub fn reply_of(d: &Value, bot_user: Option<&str>) -> Option<(String, Inbound)> {
    if d["author"]["bot"].as_bool() == Some(true) {
        return None;
    }
    let text = d["content"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())?;
    if text.starts_with('/') {
        return None;
    }
    let snowflake = |v: &Value| v.as_str().and_then(super::config::snowflake);
    let id = snowflake(&d["id"])?;
    let channel = snowflake(&d["channel_id"])?;
    let user = snowflake(&d["author"]["id"])?;
    let parent = snowflake(&d["message_reference"]["message_id"])?;
    // Discord includes the message replied to; when it does, it must be ours.
    let replied_author = d["referenced_message"]["author"]["id"].as_str();
    if let (Some(bot), Some(author)) = (bot_user, replied_author)
        && bot != author
    {
        return None;
    }
    Some((
        format!("message:{id}"),
        Inbound {
            platform: ChannelKind::Discord,
            user_id: user.to_string(),
            chat_id: channel.to_string(),
            message_id: Some(message_ref(channel, id)),
            what: InboundKind::Reply {
                to: message_ref(channel, parent),
                text: text.to_string(),
            },
        },
    ))
}

/// What the Gateway listener needs from the hub.
pub(super) struct Gateway {
    pub(super) inbox: Arc<dyn Inbox>,
    pub(super) adapter: Arc<DiscordAdapter>,
    pub(super) config: DiscordConfig,
}

impl Gateway {
    /// Connect and serve until `stop` turns true. Err only for a setting
    /// that cannot work at all (an unreadable CA file).
    pub(super) async fn listen(
        self: Arc<Self>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let trust =
            crate::tls::Trust::load(self.config.ca_file.as_deref(), "adapters.discord.ca_file")
                .map_err(|e| e.to_string())?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(trust.client_config())
            .timeout(Duration::from_millis(self.config.request_timeout_ms.max(1)))
            .build()
            .map_err(|e| format!("Discord HTTP client: {e}"))?;
        let tls = Arc::new(trust.client_config());
        let mut refused: Option<Duration> = None;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let closed = match self.gateway_url(&http).await {
                Ok(url) => self.session(&url, &tls, &mut stop).await,
                Err(e) => e,
            };
            let wait = match closed {
                Closed::Stopped => return Ok(()),
                Closed::Dropped(why) => {
                    tracing::warn!(error = %why, retry_in_s = RECONNECT.as_secs(), "discord: Gateway connection lost; reconnecting");
                    RECONNECT
                }
                Closed::Refused(why) => {
                    let next = match refused {
                        None => {
                            tracing::error!(error = %why, retry_in_s = REFUSED_FIRST_WAIT.as_secs(),
                                "discord: the Gateway refuses the bot (adapters.discord.token, or the Message Content Intent under Bot → Privileged Gateway Intents); replies to questions on Discord are not read until it accepts, asking again every few minutes");
                            REFUSED_FIRST_WAIT
                        }
                        Some(w) => (w * 2).min(REFUSED_MAX_WAIT),
                    };
                    refused = Some(next);
                    next
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
        }
    }

    /// `GET /gateway/bot`: where to connect.
    async fn gateway_url(&self, http: &reqwest::Client) -> Result<String, Closed> {
        let url = format!("{}/api/v10/gateway/bot", self.config.api_url);
        let res = http
            .get(&url)
            .header("authorization", format!("Bot {}", self.config.token))
            .send()
            .await
            .map_err(|e| Closed::Dropped(format!("GET /gateway/bot: {e}")))?;
        let status = res.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(Closed::Refused("GET /gateway/bot: 401 Unauthorized".into()));
        }
        if !status.is_success() {
            return Err(Closed::Dropped(format!("GET /gateway/bot: HTTP {status}")));
        }
        let body: Value = res
            .json()
            .await
            .map_err(|e| Closed::Dropped(format!("GET /gateway/bot: {e}")))?;
        body["url"]
            .as_str()
            .map(|u| format!("{}/?v=10&encoding=json", u.trim_end_matches('/')))
            .ok_or_else(|| Closed::Dropped("GET /gateway/bot: no url in the answer".into()))
    }

    /// One connection: Hello, Identify, heartbeats and dispatches, until it ends.
    async fn session(
        self: &Arc<Self>,
        url: &str,
        tls: &Arc<rustls::ClientConfig>,
        stop: &mut watch::Receiver<bool>,
    ) -> Closed {
        let ws = match crate::websocket::open(url, tls).await {
            Ok(ws) => ws,
            Err(why) => return Closed::Dropped(why),
        };
        let (mut up, mut down) = ws.split();
        let mut seq: Option<i64> = None;
        let mut bot_user: Option<String> = None;
        // Until Hello says otherwise.
        let mut beat = tokio::time::interval(Duration::from_secs(3600));
        beat.tick().await;
        let mut acked = true;
        loop {
            tokio::select! {
                () = stopped(stop) => {
                    let _ = up.close().await;
                    return Closed::Stopped;
                }
                _ = beat.tick() => {
                    if !acked {
                        return Closed::Dropped("no heartbeat acknowledgement".into());
                    }
                    acked = false;
                    if let Err(e) = up.send(Message::text(json!({"op": 1, "d": seq}).to_string())).await {
                        return Closed::Dropped(format!("heartbeat: {e}"));
                    }
                }
                frame = down.next() => {
                    let text = match frame {
                        None => return Closed::Dropped("the connection closed".into()),
                        Some(Err(e)) => return Closed::Dropped(e.to_string()),
                        Some(Ok(Message::Close(c))) => return closed_by(c.map(|c| (c.code, c.reason.to_string()))),
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(_)) => continue,
                    };
                    let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    if let Some(s) = v["s"].as_i64() {
                        seq = Some(s);
                    }
                    match v["op"].as_i64() {
                        // Hello: heartbeat at its interval, then identify.
                        Some(10) => {
                            let ms = v["d"]["heartbeat_interval"].as_u64().unwrap_or(41_250).max(100);
                            beat = tokio::time::interval(Duration::from_millis(ms));
                            beat.tick().await;
                            let identify = json!({"op": 2, "d": {
                                "token": self.config.token,
                                "intents": INTENTS,
                                "properties": {"os": std::env::consts::OS, "browser": "orkhub", "device": "orkhub"}
                            }});
                            if let Err(e) = up.send(Message::text(identify.to_string())).await {
                                return Closed::Dropped(format!("identify: {e}"));
                            }
                        }
                        Some(11) => acked = true,
                        // Discord asks for a heartbeat now.
                        Some(1) => {
                            if let Err(e) = up.send(Message::text(json!({"op": 1, "d": seq}).to_string())).await {
                                return Closed::Dropped(format!("heartbeat: {e}"));
                            }
                        }
                        Some(7) => return Closed::Dropped("Discord asked for a reconnect".into()),
                        Some(9) => return Closed::Dropped("Discord invalidated the session".into()),
                        Some(0) => match v["t"].as_str() {
                            Some("READY") => {
                                bot_user = v["d"]["user"]["id"].as_str().map(str::to_string);
                                tracing::info!("discord: Gateway ready (replies to questions are read)");
                            }
                            Some("MESSAGE_CREATE") => {
                                if let Some((key, inbound)) = reply_of(&v["d"], bot_user.as_deref()) {
                                    let me = self.clone();
                                    tokio::spawn(async move { me.answer(key, inbound).await });
                                }
                            }
                            _ => {}
                        },
                        _ => {}
                    }
                }
            }
        }
    }

    /// Run a reply once (by its message ID) and answer it with a reply to
    /// the person's message, through the outbox. A reply to a message that
    /// asked nothing gets no answer.
    async fn answer(&self, key: String, inbound: Inbound) {
        match self.inbox.claim(ChannelKind::Discord, &key).await {
            Ok(Claim::New) => {}
            Ok(Claim::Seen { .. }) => return,
            Err(e) => {
                tracing::error!(error = %e, %key, "discord: cannot record a reply; not running it");
                return;
            }
        }
        let Some(reply) = self.inbox.handle(&inbound, None).await else {
            return;
        };
        let thread = inbound.message_id.clone().unwrap_or_default();
        if let Err(e) = crate::inbox::send_later_or_now(
            self.inbox.as_ref(),
            self.adapter.as_ref(),
            &inbound.chat_id,
            thread,
            &reply,
        )
        .await
        {
            tracing::error!(error = %e, %key, "discord: could not answer a reply");
        }
    }
}

/// What a close frame from Discord means: 4004 (authentication failed),
/// 4013 (invalid intents) and 4014 (disallowed intents) are settings.
fn closed_by(close: Option<(CloseCode, String)>) -> Closed {
    match close {
        Some((code, reason)) if matches!(u16::from(code), 4004 | 4013 | 4014) => {
            Closed::Refused(format!("closed with {}: {reason}", u16::from(code)))
        }
        Some((code, reason)) => {
            Closed::Dropped(format!("closed with {}: {reason}", u16::from(code)))
        }
        None => Closed::Dropped("Discord closed the connection".into()),
    }
}

/// Resolves when the hub stops (see `slack::socket`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(extra: Value) -> Value {
        let mut m = json!({"id": "30", "channel_id": "20", "content": "eu, please",
            "author": {"id": "10", "bot": false},
            "message_reference": {"message_id": "25", "channel_id": "20"},
            "referenced_message": {"id": "25", "author": {"id": "99", "bot": true}}});
        if let (Some(m), Some(x)) = (m.as_object_mut(), extra.as_object()) {
            for (k, v) in x {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }

    #[test]
    fn a_reply_to_the_bots_message_is_a_reply_and_nothing_else_is() {
        let (key, inbound) = reply_of(&message(json!({})), Some("99")).expect("a reply");
        assert_eq!(key, "message:30");
        assert_eq!(
            inbound.what,
            InboundKind::Reply {
                to: "20:25".into(),
                text: "eu, please".into()
            }
        );
        assert_eq!(
            (inbound.user_id.as_str(), inbound.chat_id.as_str()),
            ("10", "20")
        );
        for not in [
            json!({"author": {"id": "10", "bot": true}}),
            json!({"content": "/task list"}),
            json!({"content": "  "}),
            json!({"message_reference": null}),
            json!({"referenced_message": {"id": "25", "author": {"id": "11"}}}),
        ] {
            assert_eq!(reply_of(&message(not.clone()), Some("99")), None, "{not}");
        }
        assert_eq!(INTENTS, 37_376);
    }
}
