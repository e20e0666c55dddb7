//! A Slack Web API stand-in on 127.0.0.1, answering as api.slack.com does
//! (docs: api.slack.com/methods/chat.postMessage, chat.update, auth.test,
//! apps.connections.open; api.slack.com/web#responses): HTTP 200 with
//! `{"ok": true, ...}` or `{"ok": false, "error": "<code>"}`, bearer tokens
//! checked (`not_authed` / `invalid_auth`), unknown channels
//! `channel_not_found`, archived ones `is_archived`, channels the bot is not
//! in `not_in_channel`, Block Kit limits `invalid_blocks` / `msg_too_long`,
//! and HTTP 429 with `Retry-After` (seconds) once a channel's per-second
//! budget is spent — as Slack does for more than about one message per
//! second per channel. Posting to a user ID opens the DM `D<rest>`.
//! It also serves `response_url`s (`/response/{id}`) and records their posts.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BOT_TOKEN: &str = "xoxb-test-token";
/// The app-level token Socket Mode's apps.connections.open accepts; another
/// `xapp-` token is `invalid_auth`, a bot token `not_allowed_token_type`.
pub const APP_TOKEN: &str = "xapp-test";

/// One Web API call as the server saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    /// What the server answered: "ok", an error code, or "429".
    pub outcome: String,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    responses: Vec<(String, Value)>,
    /// Conversations that exist; the bot is a member unless in `not_member`.
    channels: HashSet<String>,
    archived: HashSet<String>,
    not_member: HashSet<String>,
    /// Messages by (conversation, ts): their current text.
    messages: HashMap<(String, String), Value>,
    /// Accepted posts: (channel asked for, conversation, ts).
    posts: Vec<(String, String, String)>,
    /// chat.postMessage per channel allowed in one second.
    per_second: Option<u32>,
    windows: HashMap<String, (Instant, u32)>,
    /// Scripted HTTP statuses for the next posts (e.g. 500).
    fail_next: Vec<u16>,
    /// Scripted HTTP statuses for the next calls of other methods.
    fail_method: HashMap<String, Vec<u16>>,
    /// The `Retry-After` a 429 states, when set; else the seconds until
    /// the channel's window opens again.
    retry_after: Option<u64>,
    /// A channel told to wait stays refused (429) until then, as Slack
    /// refuses a client that retries before its `Retry-After` has passed.
    blocked_until: HashMap<String, Instant>,
    ts: u64,
    /// What apps.connections.open hands out (Socket Mode).
    socket_url: Option<String>,
    /// Socket Mode connections, in the order they opened.
    sockets: Vec<SocketConn>,
    /// Frames the hub sent up (acknowledgements).
    socket_frames: Vec<Value>,
    /// The app token was revoked: apps.connections.open answers
    /// `invalid_auth` for it too.
    app_token_revoked: bool,
}

/// One Socket Mode connection: frames to send down it, its tasks (aborted
/// to drop it), and whether it is still open.
struct SocketConn {
    down: tokio::sync::mpsc::UnboundedSender<String>,
    tasks: Vec<tokio::task::AbortHandle>,
    open: Arc<std::sync::atomic::AtomicBool>,
}

impl SocketConn {
    fn is_open(&self) -> bool {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[derive(Clone)]
pub struct SlackServer {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

impl SlackServer {
    /// Start on 127.0.0.1:0. `channels` exist (user IDs `U…` always work).
    pub async fn start(channels: &[&str]) -> SlackServer {
        let inner = Arc::new(Mutex::new(Inner {
            channels: channels.iter().map(|c| c.to_string()).collect(),
            ts: 1_700_000_000_000_000,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/api/{method}", post(api))
            .route("/response/{id}", post(response_url))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlackServer {
            inner,
            base: format!("http://{addr}"),
        }
    }

    pub fn api_url(&self) -> String {
        format!("{}/api", self.base)
    }

    pub fn response_url(&self, id: &str) -> String {
        format!("{}/response/{id}", self.base)
    }

    /// Allow at most `n` chat.postMessage per channel per second (then 429).
    pub fn limit_per_second(&self, n: u32) {
        self.inner.lock().unwrap().per_second = Some(n);
    }

    /// A 429 states `Retry-After: secs` (and means it: the channel is
    /// refused until then), instead of the seconds until its window opens.
    pub fn retry_after(&self, secs: u64) {
        self.inner.lock().unwrap().retry_after = Some(secs);
    }

    /// The channel exists but the bot is not in it: posts get `not_in_channel`.
    pub fn not_member(&self, channel: &str) {
        self.inner.lock().unwrap().not_member.insert(channel.into());
    }

    /// Answer the next calls of `method` (e.g. "apps.connections.open")
    /// with these HTTP statuses (e.g. 503), then normally again.
    pub fn fail_method_next(&self, method: &str, statuses: &[u16]) {
        self.inner
            .lock()
            .unwrap()
            .fail_method
            .entry(method.into())
            .or_default()
            .extend(statuses);
    }

    pub fn archive(&self, channel: &str) {
        self.inner.lock().unwrap().archived.insert(channel.into());
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().fail_next = statuses.to_vec();
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Posts that Slack accepted, in order.
    pub fn posted(&self) -> Vec<Call> {
        self.calls("chat.postMessage")
            .into_iter()
            .filter(|c| c.outcome == "ok")
            .collect()
    }

    pub fn responses(&self, id: &str) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .responses
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// (conversation, ts) of the first accepted post to `channel`.
    pub fn first_post_to(&self, channel: &str) -> Option<(String, String)> {
        self.inner
            .lock()
            .unwrap()
            .posts
            .iter()
            .find(|p| p.0 == channel)
            .map(|p| (p.1.clone(), p.2.clone()))
    }

    /// Serve Socket Mode: apps.connections.open hands out a WebSocket on
    /// 127.0.0.1 that greets with `hello` (api.slack.com/apis/socket-mode).
    pub async fn serve_socket_mode(&self) {
        use futures::{SinkExt, StreamExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        self.inner.lock().unwrap().socket_url = Some(format!("ws://{addr}/link"));
        let inner = self.inner.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    continue;
                };
                let (mut up, mut down) = ws.split();
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                let hello = json!({"type": "hello", "num_connections": 1,
                    "debug_info": {"host": "test", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A1"}});
                let _ = tx.send(hello.to_string());
                let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
                let writer = tokio::spawn(async move {
                    while let Some(frame) = rx.recv().await {
                        if up
                            .send(tokio_tungstenite::tungstenite::Message::text(frame))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                });
                let reader = {
                    let inner = inner.clone();
                    let open = open.clone();
                    tokio::spawn(async move {
                        while let Some(Ok(msg)) = down.next().await {
                            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg
                                && let Ok(v) = serde_json::from_str::<Value>(t.as_str())
                            {
                                inner.lock().unwrap().socket_frames.push(v);
                            }
                        }
                        open.store(false, std::sync::atomic::Ordering::SeqCst);
                    })
                };
                inner.lock().unwrap().sockets.push(SocketConn {
                    down: tx,
                    tasks: vec![writer.abort_handle(), reader.abort_handle()],
                    open,
                });
            }
        });
    }

    /// Open Socket Mode connections.
    pub fn socket_count(&self) -> usize {
        self.inner
            .lock()
            .unwrap()
            .sockets
            .iter()
            .filter(|c| c.is_open())
            .count()
    }

    /// Socket Mode connections ever opened.
    pub fn sockets_opened(&self) -> usize {
        self.inner.lock().unwrap().sockets.len()
    }

    /// Revoke the app token, as an admin would in the app's settings:
    /// Slack closes its connections and refuses the token from then on.
    pub fn revoke_app_token(&self) {
        self.inner.lock().unwrap().app_token_revoked = true;
        self.drop_sockets();
    }

    /// Cut every open connection without a close handshake, as a network
    /// failure would.
    pub fn drop_sockets(&self) {
        let s = self.inner.lock().unwrap();
        for c in s.sockets.iter().filter(|c| c.is_open()) {
            c.open.store(false, std::sync::atomic::Ordering::SeqCst);
            for t in &c.tasks {
                t.abort();
            }
        }
    }

    /// Send an envelope down the newest open connection (Slack sends each
    /// envelope down one of the app's connections).
    pub fn push_envelope(&self, envelope: Value) {
        let s = self.inner.lock().unwrap();
        let conn = s
            .sockets
            .iter()
            .rev()
            .find(|c| c.is_open())
            .expect("an open Socket Mode connection");
        conn.down.send(envelope.to_string()).unwrap();
    }

    /// The hub's acknowledgement of an envelope.
    pub fn ack_of(&self, envelope_id: &str) -> Option<Value> {
        self.inner
            .lock()
            .unwrap()
            .socket_frames
            .iter()
            .find(|f| f["envelope_id"] == envelope_id)
            .cloned()
    }

    /// A message's current content (after updates).
    pub fn message(&self, channel: &str, ts: &str) -> Option<Value> {
        self.inner
            .lock()
            .unwrap()
            .messages
            .get(&(channel.to_string(), ts.to_string()))
            .cloned()
    }

    /// Wait until `check` holds, or panic after 10 s.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&SlackServer) -> bool) {
        for _ in 0..400 {
            if check(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("slack server: timed out waiting for {what}");
    }
}

/// Web API bodies come as JSON or as a form (with `blocks` a JSON string).
fn decode(headers: &HeaderMap, body: &[u8]) -> Option<Value> {
    let json_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if json_body {
        return serde_json::from_slice(body).ok();
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        let v = if k == "blocks" {
            serde_json::from_str(&v).unwrap_or(Value::String(v))
        } else {
            Value::String(v)
        };
        map.insert(k, v);
    }
    Some(Value::Object(map))
}

fn ok(v: Value) -> Response {
    let mut v = v;
    v["ok"] = json!(true);
    axum::Json(v).into_response()
}

fn error(code: &str) -> Response {
    axum::Json(json!({"ok": false, "error": code})).into_response()
}

async fn api(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = decode(&headers, &body).unwrap_or(Value::Null);
    let mut s = inner.lock().unwrap();
    let (response, outcome) = answer(&mut s, &method, &headers, &body);
    s.calls.push(Call {
        method,
        body,
        outcome,
        at: Instant::now(),
    });
    response
}

fn answer(s: &mut Inner, method: &str, headers: &HeaderMap, body: &Value) -> (Response, String) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let wants_app_token = method == "apps.connections.open";
    match auth {
        None => return (error("not_authed"), "not_authed".into()),
        Some(t) if wants_app_token && !t.starts_with("xapp-") => {
            return (
                error("not_allowed_token_type"),
                "not_allowed_token_type".into(),
            );
        }
        Some(t) if wants_app_token && (t != APP_TOKEN || s.app_token_revoked) => {
            return (error("invalid_auth"), "invalid_auth".into());
        }
        Some(t) if !wants_app_token && t != BOT_TOKEN => {
            return (error("invalid_auth"), "invalid_auth".into());
        }
        _ => {}
    }
    let scripted = s
        .fail_method
        .get_mut(method)
        .filter(|f| !f.is_empty())
        .map(|f| f.remove(0));
    if let Some(status) = scripted.or_else(|| {
        (method == "chat.postMessage" && !s.fail_next.is_empty()).then(|| s.fail_next.remove(0))
    }) {
        let code = StatusCode::from_u16(status).unwrap();
        return (
            (code, "upstream trouble").into_response(),
            status.to_string(),
        );
    }
    let text = |b: &Value| b["text"].as_str().unwrap_or("").to_string();
    match method {
        "auth.test" => (
            ok(
                json!({"url": "https://test.slack.com/", "team": "Test", "user": "orkhub", "team_id": "T1", "user_id": "UBOT", "bot_id": "B1"}),
            ),
            "ok".into(),
        ),
        "chat.postMessage" => {
            let channel = body["channel"].as_str().unwrap_or("").to_string();
            // Posting to a user opens (or reuses) the DM with them.
            let conversation = match channel.strip_prefix('U') {
                Some(rest) => format!("D{rest}"),
                None => channel.clone(),
            };
            if channel.is_empty() || (!channel.starts_with('U') && !s.channels.contains(&channel)) {
                return (error("channel_not_found"), "channel_not_found".into());
            }
            if s.archived.contains(&channel) {
                return (error("is_archived"), "is_archived".into());
            }
            if s.not_member.contains(&channel) {
                return (error("not_in_channel"), "not_in_channel".into());
            }
            let now = Instant::now();
            if let Some(until) = s.blocked_until.get(&conversation).filter(|u| **u > now) {
                // Retried before Retry-After passed: refused again.
                let wait = (*until - now).as_secs_f64().ceil() as u64;
                return (rate_limited(wait), "429".into());
            }
            if let Some(limit) = s.per_second {
                let stated = s.retry_after;
                let w = s.windows.entry(conversation.clone()).or_insert((now, 0));
                if now.duration_since(w.0) >= Duration::from_secs(1) {
                    *w = (now, 0);
                }
                if w.1 >= limit {
                    // Seconds until the window opens again, rounded up.
                    let wait = stated.unwrap_or_else(|| {
                        1 + (Duration::from_secs(1) - now.duration_since(w.0)).as_secs()
                    });
                    s.blocked_until
                        .insert(conversation.clone(), now + Duration::from_secs(wait));
                    return (rate_limited(wait), "429".into());
                }
                w.1 += 1;
            }
            if let Some(problem) = check_content(body) {
                return (error(problem), problem.into());
            }
            s.ts += 100;
            let ts = format!("{}.{:06}", s.ts / 1_000_000, s.ts % 1_000_000);
            let message = json!({"type": "message", "user": "UBOT", "bot_id": "B1", "ts": ts, "text": text(body), "blocks": body["blocks"].clone()});
            s.messages
                .insert((conversation.clone(), ts.clone()), message.clone());
            s.posts
                .push((channel.clone(), conversation.clone(), ts.clone()));
            (
                ok(json!({"channel": conversation, "ts": ts, "message": message})),
                "ok".into(),
            )
        }
        "chat.update" => {
            let channel = body["channel"].as_str().unwrap_or("").to_string();
            let ts = body["ts"].as_str().unwrap_or("").to_string();
            if !s.channels.contains(&channel) && !channel.starts_with('D') {
                return (error("channel_not_found"), "channel_not_found".into());
            }
            if let Some(problem) = check_content(body) {
                return (error(problem), problem.into());
            }
            let Some(message) = s.messages.get_mut(&(channel.clone(), ts.clone())) else {
                return (error("message_not_found"), "message_not_found".into());
            };
            message["text"] = json!(text(body));
            message["blocks"] = body["blocks"].clone();
            message["edited"] = json!({"user": "UBOT"});
            let updated = message.clone();
            (
                ok(json!({"channel": channel, "ts": ts, "text": text(body), "message": updated})),
                "ok".into(),
            )
        }
        "apps.connections.open" => match &s.socket_url {
            Some(url) => (ok(json!({"url": url})), "ok".into()),
            None => (error("not_allowed"), "not_allowed".into()),
        },
        _ => (error("unknown_method"), "unknown_method".into()),
    }
}

/// HTTP 429 with `Retry-After` in seconds, as Slack answers a rate limit.
fn rate_limited(wait: u64) -> Response {
    let mut r = axum::Json(json!({"ok": false, "error": "ratelimited"})).into_response();
    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    r.headers_mut()
        .insert("retry-after", wait.to_string().parse().unwrap());
    r
}

/// Slack's content rules: some text or blocks; at most 50 blocks; section
/// text at most 3000 characters; text at most 40 000.
fn check_content(body: &Value) -> Option<&'static str> {
    let text = body["text"].as_str().unwrap_or("");
    let blocks = body["blocks"].as_array();
    if text.trim().is_empty() && blocks.is_none_or(|b| b.is_empty()) {
        return Some("no_text");
    }
    if text.chars().count() > 40_000 {
        return Some("msg_too_long");
    }
    if let Some(blocks) = blocks {
        if blocks.len() > 50 {
            return Some("invalid_blocks");
        }
        for b in blocks {
            if b["type"] == "section" {
                let t = b["text"]["text"].as_str().unwrap_or("");
                if t.chars().count() > 3000 {
                    return Some("invalid_blocks");
                }
            }
            if b["type"] == "actions" {
                let Some(elements) = b["elements"].as_array() else {
                    return Some("invalid_blocks");
                };
                let mut ids = HashSet::new();
                for e in elements {
                    let id = e["action_id"].as_str().unwrap_or("");
                    if id.is_empty() || id.len() > 255 || !ids.insert(id.to_string()) {
                        return Some("invalid_blocks");
                    }
                    if e["value"].as_str().is_some_and(|v| v.len() > 2000) {
                        return Some("invalid_blocks");
                    }
                }
            }
        }
    }
    None
}

async fn response_url(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = decode(&headers, &body).unwrap_or(Value::Null);
    let mut s = inner.lock().unwrap();
    // `fail_method_next("response_url", ...)` scripts these too: a 429
    // states `Retry-After` (the `retry_after` setting, else 1 s).
    let scripted = s
        .fail_method
        .get_mut("response_url")
        .filter(|f| !f.is_empty())
        .map(|f| f.remove(0));
    let (response, outcome) = match scripted {
        Some(429) => (rate_limited(s.retry_after.unwrap_or(1)), "429".to_string()),
        Some(status) => (
            (StatusCode::from_u16(status).unwrap(), "upstream trouble").into_response(),
            status.to_string(),
        ),
        None => {
            s.responses.push((id, body.clone()));
            // Slack answers response_url posts with a plain "ok".
            ((StatusCode::OK, "ok").into_response(), "ok".to_string())
        }
    };
    s.calls.push(Call {
        method: "response_url".into(),
        body,
        outcome,
        at: Instant::now(),
    });
    response
}
