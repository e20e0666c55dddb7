//! A Discord HTTP API stand-in on 127.0.0.1, answering as discord.com/api/v10
//! does (docs: discord.com/developers/docs — resources/message "Create
//! Message", "Edit Message"; resources/user "Create DM";
//! interactions/application-commands "Bulk Overwrite Global/Guild
//! Application Commands"; interactions/receiving-and-responding "Edit
//! Original Interaction Response", "Create Followup Message";
//! topics/rate-limits; topics/opcodes-and-status-codes "JSON Error Codes"):
//!
//! - `Authorization: Bot <token>` checked: `401 {"message": "401:
//!   Unauthorized", "code": 0}`.
//! - Messages: full Message objects back; content over 2000 characters,
//!   more than 5 action rows or 5 buttons a row, a custom_id over 100 or a
//!   label over 80 characters → `400 {"code": 50035, "message": "Invalid
//!   Form Body", "errors": {...}}`; nothing to show → `400 50006 Cannot send
//!   an empty message`; an unknown channel → `404 10003 Unknown Channel`;
//!   a channel the bot may not post in → `403 50001 Missing Access`; a user
//!   whose DMs are closed → `403 50007 Cannot send messages to this user`;
//!   an unknown message → `404 10008 Unknown Message`.
//! - Rate limits: a channel's scripted budget spent → `429 {"message": "You
//!   are being rate limited.", "retry_after": s, "global": false}` with
//!   `Retry-After` and `X-RateLimit-*` headers.
//! - Interactions: this server holds the application's Ed25519 key and signs
//!   interaction bodies as Discord does (`timestamp || body`), for the tests
//!   to post to the hub's endpoint.
//!
//! - The Gateway (a WebSocket, with sessions that resume): see
//!   `discord_gateway`.
//!
//! Every call is recorded for the tests to inspect.

// Checks return the very HTTP response Discord would give; their size does
// not matter in a test server.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::discord_gateway::Gateway;

pub const TOKEN: &str = "MTEwMDAw.discord-test.bot-token";
pub const APPLICATION_ID: &str = "1100000000000000001";
pub const BOT_USER_ID: &str = "1100000000000000002";
/// The application's private key (a fixed seed: the tests are repeatable).
const SIGNING_SEED: [u8; 32] = [42; 32];
const MAX_CONTENT: usize = 2000;

#[derive(Debug, Clone)]
pub struct Posted {
    pub channel: u64,
    pub id: u64,
    /// The content as sent (escaped markdown).
    pub content: String,
    pub components: Value,
    pub allowed_mentions: Value,
    pub reply_to: Option<u64>,
    pub edits: u32,
    pub at: Instant,
}

/// An error this server answered.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub route: String,
    pub status: u16,
    pub code: i64,
    pub channel: Option<u64>,
    pub at: Instant,
}

/// A request to the interaction webhooks (edit original, follow-up).
#[derive(Debug, Clone)]
pub struct WebhookCall {
    pub token: String,
    /// "edit_original" or "follow_up".
    pub kind: &'static str,
    pub body: Value,
}

/// A channel's budget: `max` messages per `window`, then 429 with
/// `retry_after` seconds.
struct Budget {
    max: usize,
    window: Duration,
    retry_after: f64,
    sent: VecDeque<Instant>,
}

/// Discord's documented limits, when enforced (`enforce_documented_limits`):
/// each channel's message bucket — 5 per 5 s, counted from the first
/// message after a reset and refilled all at once at the reset — and the
/// bot-wide 50 requests a second.
#[derive(Default)]
struct Documented {
    /// Channel → (when its bucket resets, messages used since).
    buckets: HashMap<u64, (Instant, u32)>,
    global: VecDeque<Instant>,
}

pub const BUCKET_SIZE: u32 = 5;
pub const BUCKET_PERIOD: Duration = Duration::from_secs(5);
pub const GLOBAL_PER_SECOND: usize = 50;

#[derive(Default)]
struct Inner {
    documented: Option<Documented>,
    channels: HashSet<u64>,
    forbidden: HashSet<u64>,
    closed_dms: HashSet<u64>,
    dm_of: HashMap<u64, u64>,
    budgets: HashMap<u64, Budget>,
    messages: HashMap<(u64, u64), Posted>,
    order: Vec<(u64, u64)>,
    next_id: u64,
    rejections: Vec<Rejection>,
    commands: Vec<(String, Value)>,
    webhooks: Vec<WebhookCall>,
    /// Scripted answers for the next interaction webhook calls: a 429 with
    /// this `retry_after` (seconds), or a 500 for `None`.
    webhook_failures: VecDeque<Option<f64>>,
    dm_opened: Vec<u64>,
    /// What `GET /gateway/bot` hands out, once `serve_gateway` runs.
    gateway_url: Option<String>,
}

pub struct DiscordServer {
    pub url: String,
    shared: Arc<Mutex<Inner>>,
    key: SigningKey,
    task: tokio::task::JoinHandle<()>,
    /// The Gateway, once `serve_gateway` runs (see `discord_gateway`).
    pub gateway: Gateway,
}

impl Drop for DiscordServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What Discord shows for a message's markdown source, as far as the tests
/// need: a backslash before punctuation drops out (it escapes it), and
/// zero-width spaces are invisible.
pub fn shown(markdown: &str) -> String {
    let mut out = String::new();
    let mut chars = markdown.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && n.is_ascii_punctuation()
        {
            out.push(n);
            chars.next();
            continue;
        }
        if c != '\u{200B}' {
            out.push(c);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl DiscordServer {
    /// Start with `channels` known to the bot.
    pub async fn start(channels: &[u64]) -> DiscordServer {
        let shared = Arc::new(Mutex::new(Inner {
            channels: channels.iter().copied().collect(),
            next_id: 1_300_000_000_000_000_000,
            ..Default::default()
        }));
        let api = "/api/v10";
        let app = Router::new()
            .route(
                &format!("{api}/applications/{{app}}/commands"),
                put(global_commands),
            )
            .route(
                &format!("{api}/applications/{{app}}/guilds/{{guild}}/commands"),
                put(guild_commands),
            )
            .route(
                &format!("{api}/channels/{{channel}}/messages"),
                post(create_message),
            )
            .route(
                &format!("{api}/channels/{{channel}}/messages/{{message}}"),
                patch(edit_message),
            )
            .route(&format!("{api}/users/@me/channels"), post(create_dm))
            .route(&format!("{api}/gateway/bot"), get(gateway_bot))
            .route(
                &format!("{api}/webhooks/{{app}}/{{token}}/messages/{{message}}"),
                patch(edit_original),
            )
            .route(
                &format!("{api}/webhooks/{{app}}/{{token}}"),
                post(follow_up),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        DiscordServer {
            url: format!("http://{addr}"),
            shared,
            key: SigningKey::from_bytes(&SIGNING_SEED),
            task,
            gateway: Gateway::default(),
        }
    }

    /// Serve the Gateway (see `discord_gateway`); `GET /gateway/bot`
    /// hands out its URL from now on.
    pub async fn serve_gateway(&self) {
        let url = self.gateway.serve().await;
        self.shared.lock().unwrap().gateway_url = Some(url);
    }

    /// Refuse the bot's intents from now on (close 4014 at Identify).
    pub fn refuse_intents(&self) {
        self.gateway.refuse_intents();
    }

    /// Identify payloads the Gateway received (token, intents, properties).
    pub fn identified(&self) -> Vec<Value> {
        self.gateway.identified()
    }

    /// A dispatch (op 0) of type `t` in every Gateway session.
    pub fn dispatch(&self, t: &str, d: Value) {
        self.gateway.dispatch(t, d);
    }

    /// The application's public key, as the Developer Portal shows it.
    pub fn public_key(&self) -> String {
        hex(&self.key.verifying_key().to_bytes())
    }

    /// The `[adapters.discord]` section pointing at this server.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "[adapters.discord]\nenabled = true\ntoken = \"{TOKEN}\"\napplication_id = \"{APPLICATION_ID}\"\npublic_key = \"{}\"\napi_url = \"{}\"\n{extra}\n",
            self.public_key(),
            self.url
        )
    }

    /// Sign `body` at `timestamp` (Unix seconds) as Discord does: returns
    /// the X-Signature-Ed25519 and X-Signature-Timestamp header values.
    pub fn sign(&self, body: &str, timestamp: i64) -> (String, String) {
        let ts = timestamp.to_string();
        let signature = self.key.sign(&[ts.as_bytes(), body.as_bytes()].concat());
        (hex(&signature.to_bytes()), ts)
    }

    /// Now, in Unix seconds.
    pub fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.shared.lock().unwrap())
    }

    /// The bot may no longer post in `channel`: 403 Missing Access.
    pub fn forbid(&self, channel: u64) {
        self.with(|i| i.forbidden.insert(channel));
    }

    /// `user` does not accept DMs from the bot: 403 on sending there.
    pub fn close_dms(&self, user: u64) {
        self.with(|i| i.closed_dms.insert(user));
    }

    /// Hold message creation to Discord's documented limits from now on
    /// (see [`Documented`]), with `X-RateLimit-*` headers on every answer.
    pub fn enforce_documented_limits(&self) {
        self.with(|i| i.documented = Some(Documented::default()));
    }

    /// How many message creations were answered 429.
    pub fn rate_limited(&self) -> usize {
        self.with(|i| i.rejections.iter().filter(|r| r.status == 429).count())
    }

    /// Allow `max` messages per `window` in `channel`, then 429.
    pub fn limit(&self, channel: u64, max: usize, window: Duration, retry_after: f64) {
        self.with(|i| {
            i.budgets.insert(
                channel,
                Budget {
                    max,
                    window,
                    retry_after,
                    sent: VecDeque::new(),
                },
            )
        });
    }

    /// Messages in a channel in the order they were sent (current content).
    pub fn messages(&self, channel: u64) -> Vec<Posted> {
        self.with(|i| {
            i.order
                .iter()
                .filter(|(c, _)| *c == channel)
                .filter_map(|k| i.messages.get(k).cloned())
                .collect()
        })
    }

    pub fn message(&self, channel: u64, id: u64) -> Option<Posted> {
        self.with(|i| i.messages.get(&(channel, id)).cloned())
    }

    /// The DM channel the bot has with `user`, once opened.
    pub fn dm_channel(&self, user: u64) -> Option<u64> {
        self.with(|i| i.dm_of.get(&user).copied())
    }

    /// How many times a DM channel was asked for.
    pub fn dm_requests(&self) -> Vec<u64> {
        self.with(|i| i.dm_opened.clone())
    }

    pub fn rejections(&self) -> Vec<Rejection> {
        self.with(|i| i.rejections.clone())
    }

    /// Command registrations: (path, the command list).
    pub fn registrations(&self) -> Vec<(String, Value)> {
        self.with(|i| i.commands.clone())
    }

    pub fn webhook_calls(&self) -> Vec<WebhookCall> {
        self.with(|i| i.webhooks.clone())
    }

    /// Refuse the next interaction webhook calls (edit original, follow-up)
    /// with a 429 stating `retry_after` seconds, as Discord does for a
    /// spent webhook bucket.
    pub fn rate_limit_webhooks_next(&self, retry_after: &[f64]) {
        self.with(|i| {
            i.webhook_failures
                .extend(retry_after.iter().map(|r| Some(*r)))
        });
    }

    /// Answer the next `n` interaction webhook calls with 500.
    pub fn fail_webhooks_next(&self, n: usize) {
        self.with(|i| i.webhook_failures.extend(std::iter::repeat_n(None, n)));
    }
}

fn error(status: StatusCode, code: i64, message: &str, errors: Option<Value>) -> Response {
    let mut body = json!({"message": message, "code": code});
    if let Some(e) = errors {
        body["errors"] = e;
    }
    (status, axum::Json(body)).into_response()
}

fn form_error(field: &str, code: &str, message: &str) -> Response {
    let mut errors = json!({});
    let mut at = &mut errors;
    for part in field.split('.') {
        at = &mut at[part];
    }
    *at = json!({"_errors": [{"code": code, "message": message}]});
    error(
        StatusCode::BAD_REQUEST,
        50035,
        "Invalid Form Body",
        Some(errors),
    )
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bot {TOKEN}"))
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized", None)
}

fn body_json(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
            None,
        )
    })
}

fn user(id: &str, name: &str, bot: bool) -> Value {
    json!({"id": id, "username": name, "discriminator": "0", "global_name": null, "avatar": null, "bot": bot})
}

fn message_json(p: &Posted) -> Value {
    json!({
        "id": p.id.to_string(),
        "channel_id": p.channel.to_string(),
        "author": user(BOT_USER_ID, "orkhub", true),
        "content": p.content,
        "timestamp": "2026-12-02T15:00:00.000000+00:00",
        "edited_timestamp": if p.edits > 0 { json!("2026-12-02T15:00:01.000000+00:00") } else { Value::Null },
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": if p.reply_to.is_some() { 19 } else { 0 },
        "flags": 0,
        "components": p.components,
        "message_reference": p.reply_to.map(|m| json!({"type": 0, "channel_id": p.channel.to_string(), "message_id": m.to_string()})),
    })
}

/// Check a message body as Discord does; the reason is the error response.
fn validate_message(body: &Value, creating: bool) -> Result<(), Response> {
    let content = body.get("content").and_then(Value::as_str).unwrap_or("");
    if content.chars().count() > MAX_CONTENT {
        return Err(form_error(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    let rows = body
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if rows.len() > 5 {
        return Err(form_error(
            "components",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 0 and 5 in length.",
        ));
    }
    for (r, row) in rows.iter().enumerate() {
        let buttons = row
            .get("components")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if row.get("type") != Some(&json!(1)) || buttons.is_empty() || buttons.len() > 5 {
            return Err(form_error(
                &format!("components.{r}.components"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.",
            ));
        }
        for (b, button) in buttons.iter().enumerate() {
            let id = button
                .get("custom_id")
                .and_then(Value::as_str)
                .unwrap_or("");
            let label = button.get("label").and_then(Value::as_str).unwrap_or("");
            if id.is_empty() || id.chars().count() > 100 {
                return Err(form_error(
                    &format!("components.{r}.components.{b}.custom_id"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                ));
            }
            if label.chars().count() > 80 {
                return Err(form_error(
                    &format!("components.{r}.components.{b}.label"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 80 or fewer in length.",
                ));
            }
        }
    }
    if creating && content.trim().is_empty() && rows.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
            None,
        ));
    }
    Ok(())
}

/// Record an error answer (`code`: Discord's JSON error code, 0 for 429).
fn reject(
    i: &mut Inner,
    route: &str,
    channel: Option<u64>,
    code: i64,
    response: Response,
) -> Response {
    let status = response.status().as_u16();
    i.rejections.push(Rejection {
        route: route.to_string(),
        status,
        code,
        channel,
        at: Instant::now(),
    });
    response
}

fn rate_limited(retry_after: f64) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false})),
    )
        .into_response();
    let h = r.headers_mut();
    let secs = format!("{}", retry_after.ceil() as u64);
    for (k, v) in [
        ("retry-after", secs),
        ("x-ratelimit-limit", "5".into()),
        ("x-ratelimit-remaining", "0".into()),
        ("x-ratelimit-reset-after", format!("{retry_after:.3}")),
        ("x-ratelimit-bucket", "channel-messages".into()),
        ("x-ratelimit-scope", "user".into()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    r
}

async fn create_message(
    State(s): State<Arc<Mutex<Inner>>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let body = match body_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut i = s.lock().unwrap();
    let Ok(channel) = channel.parse::<u64>() else {
        return reject(
            &mut i,
            "create_message",
            None,
            50035,
            form_error(
                "channel_id",
                "NUMBER_TYPE_COERCE",
                "Value is not snowflake.",
            ),
        );
    };
    if !i.channels.contains(&channel) {
        let r = error(StatusCode::NOT_FOUND, 10003, "Unknown Channel", None);
        return reject(&mut i, "create_message", Some(channel), 10003, r);
    }
    if i.forbidden.contains(&channel) {
        let r = error(StatusCode::FORBIDDEN, 50001, "Missing Access", None);
        return reject(&mut i, "create_message", Some(channel), 50001, r);
    }
    let dm_user = i
        .dm_of
        .iter()
        .find(|(_, c)| **c == channel)
        .map(|(u, _)| *u);
    if dm_user.is_some_and(|u| i.closed_dms.contains(&u)) {
        let r = error(
            StatusCode::FORBIDDEN,
            50007,
            "Cannot send messages to this user",
            None,
        );
        return reject(&mut i, "create_message", Some(channel), 50007, r);
    }
    if let Err(r) = validate_message(&body, true) {
        return reject(&mut i, "create_message", Some(channel), 50035, r);
    }
    let now = Instant::now();
    // The bucket's state after this message, for the X-RateLimit headers.
    let mut bucket_headers = None;
    if let Some(d) = &mut i.documented {
        while d
            .global
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            d.global.pop_front();
        }
        if d.global.len() >= GLOBAL_PER_SECOND {
            let wait = (Duration::from_secs(1) - now.duration_since(d.global[0])).as_secs_f64();
            let mut r = rate_limited(wait);
            r.headers_mut()
                .insert("x-ratelimit-global", HeaderValue::from_static("true"));
            r.headers_mut()
                .insert("x-ratelimit-scope", HeaderValue::from_static("global"));
            return reject(&mut i, "create_message", Some(channel), 0, r);
        }
        let b = d.buckets.entry(channel).or_insert((now, BUCKET_SIZE));
        if now >= b.0 {
            *b = (now + BUCKET_PERIOD, 0);
        }
        if b.1 >= BUCKET_SIZE {
            let wait = (b.0 - now).as_secs_f64();
            return reject(
                &mut i,
                "create_message",
                Some(channel),
                0,
                rate_limited(wait),
            );
        }
        b.1 += 1;
        bucket_headers = Some((BUCKET_SIZE - b.1, (b.0 - now).as_secs_f64()));
        d.global.push_back(now);
    }
    if let Some(b) = i.budgets.get_mut(&channel) {
        while b
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= b.window)
        {
            b.sent.pop_front();
        }
        if b.sent.len() >= b.max {
            let wait = b.retry_after;
            return reject(
                &mut i,
                "create_message",
                Some(channel),
                0,
                rate_limited(wait),
            );
        }
        b.sent.push_back(now);
    }
    i.next_id += 1;
    let posted = Posted {
        channel,
        id: i.next_id,
        content: body
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        components: body.get("components").cloned().unwrap_or(json!([])),
        allowed_mentions: body.get("allowed_mentions").cloned().unwrap_or(Value::Null),
        reply_to: body
            .pointer("/message_reference/message_id")
            .and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            })
            .and_then(|s| s.parse().ok()),
        edits: 0,
        at: now,
    };
    let out = message_json(&posted);
    i.order.push((channel, posted.id));
    i.messages.insert((channel, posted.id), posted);
    let mut r = axum::Json(out).into_response();
    if let Some((remaining, reset_after)) = bucket_headers {
        let h = r.headers_mut();
        for (k, v) in [
            ("x-ratelimit-limit", BUCKET_SIZE.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset-after", format!("{reset_after:.3}")),
            ("x-ratelimit-bucket", "channel-messages".into()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
    }
    r
}

async fn edit_message(
    State(s): State<Arc<Mutex<Inner>>>,
    Path((channel, message)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let body = match body_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut i = s.lock().unwrap();
    let key = (channel.parse().unwrap_or(0), message.parse().unwrap_or(0));
    if let Err(r) = validate_message(&body, false) {
        return reject(&mut i, "edit_message", Some(key.0), 50035, r);
    }
    let Some(m) = i.messages.get_mut(&key) else {
        let r = error(StatusCode::NOT_FOUND, 10008, "Unknown Message", None);
        return reject(&mut i, "edit_message", Some(key.0), 10008, r);
    };
    if let Some(c) = body.get("content").and_then(Value::as_str) {
        m.content = c.to_string();
    }
    if let Some(c) = body.get("components") {
        m.components = c.clone();
    }
    m.edits += 1;
    let out = message_json(m);
    axum::Json(out).into_response()
}

/// `GET /gateway/bot`: where the Gateway is (Get Gateway Bot).
async fn gateway_bot(State(s): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    match s.lock().unwrap().gateway_url.clone() {
        Some(url) => (
            StatusCode::OK,
            axum::Json(json!({"url": url, "shards": 1, "session_start_limit":
                {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})),
        )
            .into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, 0, "no gateway here", None),
    }
}

async fn create_dm(
    State(s): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let body = match body_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(user_id) = body
        .get("recipient_id")
        .and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        })
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return form_error(
            "recipient_id",
            "BASE_TYPE_REQUIRED",
            "This field is required",
        );
    };
    let mut i = s.lock().unwrap();
    i.dm_opened.push(user_id);
    let channel = *i.dm_of.entry(user_id).or_insert(user_id / 2 + 7);
    i.channels.insert(channel);
    axum::Json(json!({
        "id": channel.to_string(),
        "type": 1,
        "last_message_id": null,
        "flags": 0,
        "recipients": [user(&user_id.to_string(), &format!("user{user_id}"), false)],
    }))
    .into_response()
}

/// A command list as Discord validates it on a bulk overwrite.
fn validate_commands(list: &Value) -> Result<Vec<Value>, Response> {
    let Some(items) = list.as_array() else {
        return Err(form_error(
            "_root",
            "LIST_TYPE_CONVERT",
            "Only iterables may be used in a ListType",
        ));
    };
    fn name_ok(n: &str) -> bool {
        !n.is_empty()
            && n.chars().count() <= 32
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    }
    fn check(v: &Value, path: &str) -> Result<(), Response> {
        let name = v.get("name").and_then(Value::as_str).unwrap_or("");
        if !name_ok(name) {
            return Err(form_error(
                &format!("{path}.name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            ));
        }
        let d = v.get("description").and_then(Value::as_str).unwrap_or("");
        if d.is_empty() || d.chars().count() > 100 {
            return Err(form_error(
                &format!("{path}.description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        if let Some(opts) = v.get("options").and_then(Value::as_array) {
            if opts.len() > 25 {
                return Err(form_error(
                    &format!("{path}.options"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                ));
            }
            let mut optional_seen = false;
            for (k, o) in opts.iter().enumerate() {
                let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
                if required && optional_seen {
                    return Err(form_error(
                        &format!("{path}.options.{k}.required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    ));
                }
                optional_seen |= !required && o.get("type") != Some(&json!(1));
                check(o, &format!("{path}.options.{k}"))?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for (n, c) in items.iter().enumerate() {
        check(c, &n.to_string())?;
        let mut c = c.clone();
        c["id"] = json!(format!("12000000000000000{n:02}"));
        c["application_id"] = json!(APPLICATION_ID);
        c["version"] = json!("1");
        c["default_member_permissions"] = Value::Null;
        c["nsfw"] = json!(false);
        out.push(c);
    }
    Ok(out)
}

async fn register(
    s: &Arc<Mutex<Inner>>,
    path: String,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if !authorized(headers) {
        return unauthorized();
    }
    let list = match body_json(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match validate_commands(&list) {
        Ok(out) => {
            s.lock().unwrap().commands.push((path, list));
            axum::Json(Value::Array(out)).into_response()
        }
        Err(r) => r,
    }
}

async fn global_commands(
    State(s): State<Arc<Mutex<Inner>>>,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if app != APPLICATION_ID {
        return error(StatusCode::NOT_FOUND, 10002, "Unknown Application", None);
    }
    register(&s, "global".into(), &headers, &body).await
}

async fn guild_commands(
    State(s): State<Arc<Mutex<Inner>>>,
    Path((app, guild)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if app != APPLICATION_ID {
        return error(StatusCode::NOT_FOUND, 10002, "Unknown Application", None);
    }
    register(&s, format!("guild:{guild}"), &headers, &body).await
}

fn webhook_message(token: &str, body: &Value) -> Value {
    json!({
        "id": "1400000000000000001",
        "channel_id": "1400000000000000000",
        "author": user(APPLICATION_ID, "orkhub", true),
        "content": body.get("content").cloned().unwrap_or(json!("")),
        "timestamp": "2026-12-02T15:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 20,
        "flags": body.get("flags").cloned().unwrap_or(json!(0)),
        "components": body.get("components").cloned().unwrap_or(json!([])),
        "webhook_id": APPLICATION_ID,
        "interaction_metadata": {"id": token.len().to_string(), "type": 2, "user": user("1", "someone", false)},
    })
}

/// An interaction webhook call: checked like a message, recorded, answered
/// with the message it made or changed.
fn webhook_call(s: &Mutex<Inner>, kind: &'static str, token: String, body: &Bytes) -> Response {
    let body = match body_json(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(r) = validate_message(&body, kind == "follow_up") {
        return r;
    }
    let mut i = s.lock().unwrap();
    let route = format!("webhooks/{kind}");
    match i.webhook_failures.pop_front() {
        Some(Some(wait)) => return reject(&mut i, &route, None, 0, rate_limited(wait)),
        Some(None) => {
            let down = error(
                StatusCode::INTERNAL_SERVER_ERROR,
                0,
                "500: Internal Server Error",
                None,
            );
            return reject(&mut i, &route, None, 0, down);
        }
        None => {}
    }
    let out = webhook_message(&token, &body);
    i.webhooks.push(WebhookCall { token, kind, body });
    axum::Json(out).into_response()
}

async fn edit_original(
    State(s): State<Arc<Mutex<Inner>>>,
    Path((app, token, message)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    if app != APPLICATION_ID || message != "@original" {
        return error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook", None);
    }
    webhook_call(&s, "edit_original", token, &body)
}

async fn follow_up(
    State(s): State<Arc<Mutex<Inner>>>,
    Path((app, token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if app != APPLICATION_ID {
        return error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook", None);
    }
    webhook_call(&s, "follow_up", token, &body)
}
