//! The Discord test server's Gateway (discord.com/developers/docs/events/gateway):
//! a WebSocket on 127.0.0.1 that says Hello, takes Identify (recorded) and
//! answers READY with a session ID and its `resume_gateway_url`, answers
//! heartbeats with ACKs, and resumes sessions as Discord documents
//! ("Resuming"): each session keeps its own sequence and its events, Resume
//! (op 6) with a known session replays the events after the given `seq` and
//! then RESUMED; an unknown session gets Invalid Session (op 9, `d: false`).
//!
//! The tests push dispatches (to every session: one sent while a session
//! has no connection waits for its resume), drop connections, make them
//! zombies (nothing more comes down them, heartbeats included) and forget
//! sessions (as Discord does when one expires).

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::discord_server::{BOT_USER_ID, TOKEN};

/// The heartbeat interval Hello gives, in ms: short, so that a zombied
/// connection is noticed within seconds.
pub const HEARTBEAT_MS: u64 = 1000;

enum Frame {
    Text(String),
    Close(u16, &'static str),
}

struct Conn {
    tx: UnboundedSender<Frame>,
    /// Sends nothing more: no ACKs, no dispatches.
    zombie: bool,
}

struct Session {
    seq: i64,
    /// Every dispatch of the session, with its sequence number.
    log: Vec<(i64, Value)>,
    conn: Option<u64>,
}

impl Session {
    fn push(&mut self, t: &str, d: Value) -> String {
        self.seq += 1;
        let frame = json!({"op": 0, "t": t, "s": self.seq, "d": d});
        self.log.push((self.seq, frame.clone()));
        frame.to_string()
    }
}

#[derive(Default)]
struct State {
    url: String,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    sessions: HashMap<String, Session>,
    next_session: u64,
    identifies: Vec<Value>,
    resumes: Vec<Value>,
    refuse_intents: bool,
    /// The `resume_gateway_url` READY gives, when not this Gateway's own.
    resume_url: Option<String>,
}

impl State {
    fn send(&self, conn: u64, frame: Frame) {
        if let Some(c) = self.conns.get(&conn)
            && !c.zombie
        {
            let _ = c.tx.send(frame);
        }
    }
}

/// The Gateway's state, shared by its connections and the test.
#[derive(Clone, Default)]
pub struct Gateway {
    state: Arc<Mutex<State>>,
}

impl Gateway {
    /// Listen on 127.0.0.1; the URL `GET /gateway/bot` hands out.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        self.state.lock().unwrap().url = url.clone();
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    continue;
                };
                let me = me.clone();
                tokio::spawn(async move { me.connection(ws).await });
            }
        });
        url
    }

    async fn connection(&self, ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) {
        let (mut up, mut down) = ws.split();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Frame>();
        let _ = tx.send(Frame::Text(
            json!({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}}).to_string(),
        ));
        let id = {
            let mut s = self.state.lock().unwrap();
            s.next_conn += 1;
            let id = s.next_conn;
            s.conns.insert(id, Conn { tx, zombie: false });
            id
        };
        let writer = tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                let (msg, last) = match frame {
                    Frame::Text(t) => (Message::text(t), false),
                    Frame::Close(code, reason) => (
                        Message::Close(Some(CloseFrame {
                            code: code.into(),
                            reason: reason.into(),
                        })),
                        true,
                    ),
                };
                if up.send(msg).await.is_err() || last {
                    break;
                }
            }
        });
        while let Some(Ok(msg)) = down.next().await {
            let Message::Text(t) = msg else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                continue;
            };
            let mut s = self.state.lock().unwrap();
            match v["op"].as_i64() {
                Some(1) => s.send(id, Frame::Text(json!({"op": 11}).to_string())),
                Some(2) => {
                    s.identifies.push(v["d"].clone());
                    if s.refuse_intents {
                        s.send(id, Frame::Close(4014, "Disallowed intent(s)."));
                        continue;
                    }
                    if v["d"]["token"] != json!(TOKEN) {
                        s.send(id, Frame::Close(4004, "Authentication failed."));
                        continue;
                    }
                    s.next_session += 1;
                    let session_id = format!("test-session-{}", s.next_session);
                    let mut session = Session {
                        seq: 0,
                        log: Vec::new(),
                        conn: Some(id),
                    };
                    let ready = session.push(
                        "READY",
                        json!({"v": 10, "session_id": session_id,
                               "resume_gateway_url": s.resume_url.clone().unwrap_or_else(|| s.url.clone()),
                               "user": {"id": BOT_USER_ID, "username": "orkhub", "bot": true}}),
                    );
                    s.sessions.insert(session_id, session);
                    s.send(id, Frame::Text(ready));
                }
                Some(6) => {
                    s.resumes.push(v["d"].clone());
                    if v["d"]["token"] != json!(TOKEN) {
                        s.send(id, Frame::Close(4004, "Authentication failed."));
                        continue;
                    }
                    let after = v["d"]["seq"].as_i64().unwrap_or(0);
                    let key = v["d"]["session_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let Some(session) = s.sessions.get_mut(&key) else {
                        s.send(id, Frame::Text(json!({"op": 9, "d": false}).to_string()));
                        continue;
                    };
                    // The session moves to this connection, under the same
                    // lock as the replay: nothing is sent twice or lost.
                    session.conn = Some(id);
                    let mut frames: Vec<String> = session
                        .log
                        .iter()
                        .filter(|(seq, _)| *seq > after)
                        .map(|(_, f)| f.to_string())
                        .collect();
                    frames.push(session.push("RESUMED", Value::Null));
                    for f in frames {
                        s.send(id, Frame::Text(f));
                    }
                }
                _ => {}
            }
        }
        writer.abort();
        let mut s = self.state.lock().unwrap();
        s.conns.remove(&id);
        for session in s.sessions.values_mut() {
            if session.conn == Some(id) {
                session.conn = None;
            }
        }
    }

    /// Close every Identify with 4014 (Disallowed intent(s)), as Discord
    /// does when the Message Content Intent is not switched on.
    pub fn refuse_intents(&self) {
        self.state.lock().unwrap().refuse_intents = true;
    }

    /// READY hands out `url` as the place to resume (a dead one, in a test
    /// of what the hub does when resuming gets nowhere).
    pub fn resume_at(&self, url: &str) {
        self.state.lock().unwrap().resume_url = Some(url.to_string());
    }

    /// Identify payloads received (`d` of op 2).
    pub fn identified(&self) -> Vec<Value> {
        self.state.lock().unwrap().identifies.clone()
    }

    /// Resume payloads received (`d` of op 6).
    pub fn resumed(&self) -> Vec<Value> {
        self.state.lock().unwrap().resumes.clone()
    }

    /// Sessions that have a live connection now.
    pub fn live_sessions(&self) -> usize {
        let s = self.state.lock().unwrap();
        s.sessions
            .values()
            .filter(|x| {
                x.conn
                    .is_some_and(|c| s.conns.get(&c).is_some_and(|c| !c.zombie))
            })
            .count()
    }

    /// A dispatch (op 0) of type `t` in every session: sent at once down
    /// its connection, or replayed when it resumes.
    pub fn dispatch(&self, t: &str, d: Value) {
        let mut s = self.state.lock().unwrap();
        let mut sends = Vec::new();
        for session in s.sessions.values_mut() {
            let frame = session.push(t, d.clone());
            if let Some(conn) = session.conn {
                sends.push((conn, frame));
            }
        }
        for (conn, frame) in sends {
            s.send(conn, Frame::Text(frame));
        }
    }

    /// Drop every connection (close 4000, "Unknown error", after which
    /// Discord allows a resume); the sessions stay.
    pub fn drop_connections(&self) {
        let mut s = self.state.lock().unwrap();
        let ids: Vec<u64> = s.conns.keys().copied().collect();
        for id in ids {
            s.send(id, Frame::Close(4000, "Unknown error."));
        }
        for session in s.sessions.values_mut() {
            session.conn = None;
        }
    }

    /// Make every open connection a zombie: nothing more comes down it, not
    /// even heartbeat ACKs; its sessions' events wait for a resume.
    pub fn zombify(&self) {
        let mut s = self.state.lock().unwrap();
        for c in s.conns.values_mut() {
            c.zombie = true;
        }
        for session in s.sessions.values_mut() {
            session.conn = None;
        }
    }

    /// Forget every session, as Discord does when they expire: a Resume
    /// gets Invalid Session.
    pub fn forget_sessions(&self) {
        self.state.lock().unwrap().sessions.clear();
    }

    /// Send Reconnect (op 7) down every open connection.
    pub fn ask_reconnect(&self) {
        let s = self.state.lock().unwrap();
        for id in s.conns.keys() {
            s.send(*id, Frame::Text(json!({"op": 7, "d": null}).to_string()));
        }
    }
}
