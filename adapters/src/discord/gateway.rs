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
//! Identify, heartbeats at the interval Hello gives. A connection that
//! drops, that Discord asks to reconnect (op 7) or that stops acknowledging
//! heartbeats (a zombied connection) is resumed as Discord documents
//! (discord.com/developers/docs/events/gateway, "Resuming"): the session ID,
//! `resume_gateway_url` from READY and the last sequence number are kept, a
//! new connection to that URL sends Resume (op 6), and Discord replays the
//! events missed since — so a reply given while the hub was disconnected is
//! still read. Invalid Session (op 9) with `d: false` starts a new session
//! after 1–5 s; the close codes after which Discord forbids reconnecting
//! stop the listener with an error naming the setting. Identifies respect
//! the session start limit `GET /gateway/bot` gives and one per 5 s. The
//! socket's TLS trusts the same store as the REST client (`crate::tls`).

use super::DiscordAdapter;
use super::config::DiscordConfig;
use super::gateway_close::{Closed, closed_by};
use super::send::message_ref;
use crate::inbox::{Claim, Inbox};
use crate::{Inbound, InboundKind};
use futures::{SinkExt, StreamExt};
use routing::ChannelKind;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT (privileged).
pub const INTENTS: u64 = (1 << 9) | (1 << 12) | (1 << 15);

/// Wait before reconnecting when the last connection never got going.
const RECONNECT: Duration = Duration::from_secs(5);
/// Wait before resuming a session that was working: short, so that few
/// events wait for the replay, yet not a tight loop.
const RESUME_WAIT: Duration = Duration::from_secs(1);
/// Discord allows one Identify per 5 s (per `max_concurrency` bucket; the
/// hub runs one shard).
const IDENTIFY_SPACING: Duration = Duration::from_secs(5);
/// The close code the hub closes with when it means to resume: anything
/// but 1000 and 1001, which would end the session on Discord's side.
const CLOSE_TO_RESUME: u16 = 4000;

/// What outlives one connection: the session to resume and where, the last
/// sequence number seen, the bot's user ID (a resumed session sends no new
/// READY) and when the last Identify went out.
#[derive(Default)]
struct Session {
    resume: Option<(String, String)>,
    seq: Option<i64>,
    bot_user: Option<String>,
    last_identify: Option<Instant>,
    /// The last connection got as far as READY or RESUMED.
    worked: bool,
    /// Resumes in a row that never got that far.
    failed_resumes: u32,
}

/// Resumes in a row that get nowhere (the resume URL does not answer, or
/// answers nothing) before the session is given up for a new Identify:
/// Discord documents no bound, and without one a dead `resume_gateway_url`
/// kept the bot deaf for good.
const RESUMES_BEFORE_IDENTIFY: u32 = 2;

impl Session {
    /// Give the session up: the next connection identifies afresh.
    fn forget(&mut self) {
        self.resume = None;
        self.seq = None;
    }
}

/// Where to connect for a new session and how many Identifies are left.
struct GatewayBot {
    url: String,
    /// `session_start_limit`: (remaining, ms until it resets).
    starts_left: Option<(u64, u64)>,
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
    /// Connect and serve until `stop` turns true or Discord forbids
    /// reconnecting. Err only for a setting that cannot work at all (an
    /// unreadable CA file).
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
        let mut session = Session::default();
        let mut wait = Duration::ZERO;
        loop {
            if !pause(wait, &mut stop).await {
                return Ok(());
            }
            session.worked = false;
            let closed = match session.resume.clone() {
                Some((id, url)) => {
                    self.connect(&url, Some(&id), &tls, &mut session, &mut stop)
                        .await
                }
                None => match self.gateway_bot(&http).await {
                    Ok(bot) => {
                        if !identify_slot(&bot, &session, &mut stop).await {
                            return Ok(());
                        }
                        self.connect(&bot.url, None, &tls, &mut session, &mut stop)
                            .await
                    }
                    Err(e) => e,
                },
            };
            let quick = if session.worked {
                RESUME_WAIT
            } else {
                RECONNECT
            };
            if session.worked || session.resume.is_none() {
                session.failed_resumes = 0;
            } else {
                session.failed_resumes += 1;
                if session.failed_resumes >= RESUMES_BEFORE_IDENTIFY {
                    tracing::warn!(
                        attempts = session.failed_resumes,
                        "discord: the session could not be resumed; identifying afresh (replies given meanwhile are missed: they can be given with `answer <id> <text>`)"
                    );
                    session.failed_resumes = 0;
                    session.forget();
                }
            }
            wait = match closed {
                Closed::Stopped => return Ok(()),
                Closed::Dropped(why) | Closed::Resume(why) if session.resume.is_some() => {
                    tracing::warn!(error = %why, retry_in_s = quick.as_secs(), "discord: Gateway connection lost; resuming the session");
                    quick
                }
                Closed::Dropped(why) | Closed::Resume(why) => {
                    tracing::warn!(error = %why, retry_in_s = RECONNECT.as_secs(), "discord: Gateway connection lost; reconnecting");
                    RECONNECT
                }
                Closed::Invalid(why) => {
                    session.forget();
                    // Discord documents a random 1–5 s before the new Identify.
                    let wait =
                        Duration::from_millis(1000 + u64::from(rand::random::<u16>()) % 4001);
                    tracing::warn!(error = %why, retry_in_ms = wait.as_millis() as u64, "discord: Gateway session invalidated; starting a new one (replies given meanwhile are missed: they can be given with `answer <id> <text>`)");
                    wait
                }
                Closed::Fatal(why) => {
                    tracing::error!(error = %why, "discord: the Gateway refuses the bot and Discord forbids reconnecting; replies to questions on Discord are not read until the hub restarts with the setting fixed (buttons and commands still work)");
                    return Ok(());
                }
            };
        }
    }

    /// `GET /gateway/bot`: where to connect and the session start limit.
    async fn gateway_bot(&self, http: &reqwest::Client) -> Result<GatewayBot, Closed> {
        let url = format!("{}/api/v10/gateway/bot", self.config.api_url);
        let res = http
            .get(&url)
            .header("authorization", format!("Bot {}", self.config.token))
            .send()
            .await
            .map_err(|e| Closed::Dropped(format!("GET /gateway/bot: {e}")))?;
        let status = res.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // The same refusal as close code 4004.
            return Err(closed_by(Some(4004), "GET /gateway/bot: 401 Unauthorized"));
        }
        if !status.is_success() {
            return Err(Closed::Dropped(format!("GET /gateway/bot: HTTP {status}")));
        }
        let body: Value = res
            .json()
            .await
            .map_err(|e| Closed::Dropped(format!("GET /gateway/bot: {e}")))?;
        let url = body["url"]
            .as_str()
            .map(socket_url)
            .ok_or_else(|| Closed::Dropped("GET /gateway/bot: no url in the answer".into()))?;
        let limit = &body["session_start_limit"];
        let starts_left = limit["remaining"]
            .as_u64()
            .map(|left| (left, limit["reset_after"].as_u64().unwrap_or(0)));
        Ok(GatewayBot { url, starts_left })
    }

    /// One connection: Hello, then Resume (with `resume` the session ID) or
    /// Identify, heartbeats and dispatches, until it ends.
    async fn connect(
        self: &Arc<Self>,
        url: &str,
        resume: Option<&str>,
        tls: &Arc<rustls::ClientConfig>,
        session: &mut Session,
        stop: &mut watch::Receiver<bool>,
    ) -> Closed {
        let ws = match crate::websocket::open(url, tls).await {
            Ok(ws) => ws,
            Err(why) => return Closed::Dropped(why),
        };
        let (mut up, mut down) = ws.split();
        // Until Hello says otherwise.
        let mut beat = tokio::time::interval(Duration::from_secs(3600));
        beat.tick().await;
        let mut acked = true;
        let closed = loop {
            tokio::select! {
                () = stopped(stop) => {
                    let _ = up.close().await;
                    return Closed::Stopped;
                }
                _ = beat.tick() => {
                    if !acked {
                        break Closed::Resume("no heartbeat acknowledgement (a zombied connection)".into());
                    }
                    acked = false;
                    if let Err(e) = up.send(Message::text(json!({"op": 1, "d": session.seq}).to_string())).await {
                        return Closed::Dropped(format!("heartbeat: {e}"));
                    }
                }
                frame = down.next() => {
                    let text = match frame {
                        None => return Closed::Dropped("the connection closed".into()),
                        Some(Err(e)) => return Closed::Dropped(e.to_string()),
                        Some(Ok(Message::Close(c))) => {
                            return match c {
                                Some(c) => closed_by(Some(u16::from(c.code)), &c.reason),
                                None => closed_by(None, ""),
                            };
                        }
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(_)) => continue,
                    };
                    let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    if let Some(s) = v["s"].as_i64() {
                        session.seq = Some(s);
                    }
                    match v["op"].as_i64() {
                        // Hello: heartbeat at its interval, then resume or identify.
                        Some(10) => {
                            let ms = v["d"]["heartbeat_interval"].as_u64().unwrap_or(41_250).max(100);
                            beat = tokio::time::interval(Duration::from_millis(ms));
                            beat.tick().await;
                            let hello = match resume {
                                Some(id) => json!({"op": 6, "d": {
                                    "token": self.config.token, "session_id": id, "seq": session.seq
                                }}),
                                None => {
                                    session.last_identify = Some(Instant::now());
                                    json!({"op": 2, "d": {
                                        "token": self.config.token,
                                        "intents": INTENTS,
                                        "properties": {"os": std::env::consts::OS, "browser": "orkhub", "device": "orkhub"}
                                    }})
                                }
                            };
                            if let Err(e) = up.send(Message::text(hello.to_string())).await {
                                return Closed::Dropped(format!("identify or resume: {e}"));
                            }
                        }
                        Some(11) => acked = true,
                        // Discord asks for a heartbeat now.
                        Some(1) => {
                            if let Err(e) = up.send(Message::text(json!({"op": 1, "d": session.seq}).to_string())).await {
                                return Closed::Dropped(format!("heartbeat: {e}"));
                            }
                        }
                        Some(7) => break Closed::Resume("Discord asked for a reconnect".into()),
                        Some(9) if v["d"].as_bool() == Some(true) => {
                            break Closed::Resume("Discord invalidated the connection; the session can be resumed".into());
                        }
                        Some(9) => break Closed::Invalid("Discord invalidated the session".into()),
                        Some(0) => match v["t"].as_str() {
                            Some("READY") => {
                                let d = &v["d"];
                                session.bot_user = d["user"]["id"].as_str().map(str::to_string);
                                session.resume = d["session_id"].as_str().zip(d["resume_gateway_url"].as_str())
                                    .map(|(id, url)| (id.to_string(), socket_url(url)));
                                session.worked = true;
                                tracing::info!("discord: Gateway ready (replies to questions are read)");
                            }
                            Some("RESUMED") => {
                                session.worked = true;
                                tracing::info!(seq = ?session.seq, "discord: Gateway session resumed (missed replies were replayed)");
                            }
                            Some("MESSAGE_CREATE") => {
                                if let Some((key, inbound)) = reply_of(&v["d"], session.bot_user.as_deref()) {
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
        };
        // Close with a code that keeps the session resumable (1000 and 1001
        // would end it); a zombied peer may never read it, so do not wait long.
        let frame = CloseFrame {
            code: CLOSE_TO_RESUME.into(),
            reason: "reconnecting".into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), up.send(Message::Close(Some(frame))))
            .await;
        closed
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

/// The WebSocket URL for a Gateway URL from Discord (GET /gateway/bot's
/// `url`, READY's `resume_gateway_url`).
fn socket_url(url: &str) -> String {
    format!("{}/?v=10&encoding=json", url.trim_end_matches('/'))
}

/// Wait until an Identify is allowed: the session start limit left (else
/// until it resets) and 5 s since the last one. False if the hub stops.
async fn identify_slot(
    bot: &GatewayBot,
    session: &Session,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    if let Some((0, reset_ms)) = bot.starts_left {
        tracing::warn!(
            wait_s = reset_ms / 1000,
            "discord: the bot has used all its Gateway session starts for today; waiting for the limit to reset"
        );
        if !pause(Duration::from_millis(reset_ms), stop).await {
            return false;
        }
    }
    let since = session.last_identify.map(|t| t.elapsed());
    match since {
        Some(since) if since < IDENTIFY_SPACING => pause(IDENTIFY_SPACING - since, stop).await,
        _ => true,
    }
}

/// Sleep for `wait`; false if the hub stops meanwhile.
async fn pause(wait: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return false;
    }
    if wait.is_zero() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = stop.wait_for(|s| *s) => false,
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

    #[tokio::test]
    async fn identifies_wait_for_the_session_start_limit_and_5_s_apart() {
        let (_tx, mut stop) = watch::channel(false);
        let bot = |starts_left| GatewayBot {
            url: "ws://x".into(),
            starts_left,
        };
        // Starts left and no Identify before: at once.
        let started = Instant::now();
        assert!(identify_slot(&bot(Some((5, 0))), &Session::default(), &mut stop).await);
        assert!(started.elapsed() < Duration::from_millis(100));
        // None left: until the limit resets (reset_after, in ms).
        let started = Instant::now();
        assert!(identify_slot(&bot(Some((0, 300))), &Session::default(), &mut stop).await);
        assert!(started.elapsed() >= Duration::from_millis(300));
        // The last Identify 4.8 s ago: the rest of the 5 s.
        let session = Session {
            last_identify: Instant::now().checked_sub(Duration::from_millis(4800)),
            ..Session::default()
        };
        let started = Instant::now();
        assert!(identify_slot(&bot(Some((5, 0))), &session, &mut stop).await);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
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
