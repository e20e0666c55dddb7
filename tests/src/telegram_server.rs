//! A Telegram Bot API server for tests, on 127.0.0.1, built from the Bot API
//! docs: `/bot{token}/{method}` (method names case-insensitive, as teloxide
//! capitalises them), `{"ok":true,"result":...}` answers with realistic
//! Message objects, and the real API's errors — 400 for unparsable HTML
//! entities or text over 4096 characters, 429 with `retry_after` when a
//! chat's scripted budget is spent, 403 for a chat that blocked the bot,
//! "message is not modified" for an edit that changes nothing, 400 "chat
//! not found" for a chat the bot has never met (tests register their chats;
//! a chat that messaged the bot is known). getUpdates long-polls queued
//! updates with offset confirmation, and is refused with 409 while a
//! webhook is set (setWebhook / deleteWebhook / getWebhookInfo), as the
//! real API refuses it. Scripted server errors (5xx) stand in for an
//! outage. Every call is recorded (method + params) for the tests to
//! inspect. With [`TelegramServer::enforce_documented_limits`] sendMessage
//! is held to the Bot FAQ's limits — 1 message a second in a private chat
//! (positive ID), 20 a minute in a group, supergroup or channel (negative
//! ID), 30 a second overall, over sliding windows — and answered 429
//! "Too Many Requests: retry after N" with `parameters.retry_after` N (whole
//! seconds until the window has room), so a test catches over-pacing.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub const TOKEN: &str = "123456:TEST-token_abc";
pub const BOT_ID: i64 = 4242;
pub const BOT_USERNAME: &str = "orkhub_test_bot";

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
    pub at: Instant,
}

#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub chat: i64,
    pub id: i64,
    /// What a person sees: the text after entity parsing.
    pub text: String,
    /// The HTML as sent.
    pub html: String,
    pub reply_markup: Option<Value>,
    pub reply_to: Option<i64>,
    pub edits: u32,
    pub sent_at: Instant,
    /// The path before `/bot…` in the sender's `api_url` (see `config_via`).
    pub via: Option<String>,
}

/// An error this server answered.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub method: String,
    pub code: u16,
    pub description: String,
    pub chat: Option<i64>,
    pub at: Instant,
}

/// Jitter forgiven on a documented window: a message arriving this much
/// early is not counted as over the limit (a sender 7 % too fast over a
/// second still is). 30 ms was too little on a loaded 2-core machine: with
/// two hub processes, PostgreSQL and the rest of the suite sharing it, a
/// bot-wide send arrived more than 50 ms behind its slot (the adapter's 2 %
/// margin plus the 30 ms), and the one after it thirty slots later drew a
/// 429 (`multi_instance_pacing`, once in three `.ci/run`s).
pub const LIMIT_GRACE: Duration = Duration::from_millis(60);

/// The documented limits, when enforced: each sent message's arrival, per
/// chat and bot-wide.
#[derive(Default)]
struct Documented {
    chats: HashMap<i64, VecDeque<Instant>>,
    global: VecDeque<Instant>,
}

/// Room for one more message in a sliding window holding `sent`: `None`
/// when there is, else how long until there is.
fn window_wait(
    sent: &mut VecDeque<Instant>,
    max: usize,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    let window = window.saturating_sub(LIMIT_GRACE);
    while sent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        sent.pop_front();
    }
    if sent.len() < max {
        return None;
    }
    let oldest = sent[sent.len() - max];
    Some(window.saturating_sub(now.duration_since(oldest)))
}

/// A chat's send budget: at most `max` messages per `window`; beyond it a
/// 429 with `retry_after` seconds.
struct Budget {
    max: usize,
    window: Duration,
    retry_after: u64,
    sent: VecDeque<Instant>,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    next_message_id: HashMap<i64, i64>,
    messages: HashMap<(i64, i64), StoredMessage>,
    order: Vec<(i64, i64)>,
    blocked: HashSet<i64>,
    budgets: HashMap<i64, Budget>,
    updates: VecDeque<(i64, Value)>,
    next_update_id: i64,
    next_query: u64,
    open_queries: HashSet<String>,
    answered: Vec<(String, Value)>,
    rejections: Vec<Rejection>,
    /// Chats the bot can write to.
    chats: HashSet<i64>,
    /// The webhook set with setWebhook (its params), if any.
    webhook: Option<Value>,
    /// Scripted HTTP errors for the next calls of a method (lowercase).
    fail_next: HashMap<String, VecDeque<u16>>,
    /// The same for calls about one chat: (method, chat) → statuses.
    fail_next_in: HashMap<(String, i64), VecDeque<u16>>,
    /// Set by `enforce_documented_limits`.
    documented: Option<Documented>,
    /// How long the next call of a method (lowercase) is held before it is
    /// answered: a slow or hanging Bot API.
    delay_next: HashMap<String, Duration>,
}

impl Inner {
    /// A new callback query ID, open until answerCallbackQuery answers it.
    fn open_query(&mut self) -> String {
        self.next_query += 1;
        let qid = format!("q{}", self.next_query);
        self.open_queries.insert(qid.clone());
        qid
    }
}

#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
    updates_ready: Notify,
}

pub struct TelegramServer {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TelegramServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TelegramServer {
    pub async fn start() -> TelegramServer {
        let shared = Arc::new(Shared::default());
        shared.inner.lock().unwrap().next_update_id = 1000;
        let app = Router::new()
            .route("/{bot}/{method}", axum::routing::any(handle))
            // An `api_url` with a path (`{url}/{via}`): the same API, with
            // each message marked by the path it came through, so a test can
            // tell several senders apart (see `config_via`).
            .route("/{via}/{bot}/{method}", axum::routing::any(handle_via))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TelegramServer {
            url: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// The `[adapters.telegram]` section pointing at this server.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "[adapters.telegram]\nenabled = true\ntoken = \"{TOKEN}\"\napi_url = \"{}\"\npoll_timeout_secs = 1\n{extra}\n",
            self.url
        )
    }

    /// The same section with `api_url` ending in `/{via}`: each message it
    /// sends is stored with `via` set, to tell senders apart.
    pub fn config_via(&self, via: &str, extra: &str) -> String {
        self.config(extra).replace(
            &format!("api_url = \"{}\"", self.url),
            &format!("api_url = \"{}/{via}\"", self.url),
        )
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.shared.inner.lock().unwrap())
    }

    /// Every call of `method` (case-insensitive), in order.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.with(|i| {
            i.calls
                .iter()
                .filter(|c| c.method.eq_ignore_ascii_case(method))
                .map(|c| c.params.clone())
                .collect()
        })
    }

    /// Errors this server answered, in order.
    pub fn rejections(&self) -> Vec<Rejection> {
        self.with(|i| i.rejections.clone())
    }

    /// Messages in a chat, in the order they were sent (with their current text).
    pub fn messages(&self, chat: i64) -> Vec<StoredMessage> {
        self.with(|i| {
            i.order
                .iter()
                .filter(|(c, _)| *c == chat)
                .filter_map(|k| i.messages.get(k).cloned())
                .collect()
        })
    }

    pub fn message(&self, chat: i64, id: i64) -> Option<StoredMessage> {
        self.with(|i| i.messages.get(&(chat, id)).cloned())
    }

    /// answerCallbackQuery calls: (query id, params).
    pub fn answered(&self) -> Vec<(String, Value)> {
        self.with(|i| i.answered.clone())
    }

    /// Chats the bot may write to (people who started it, groups it is
    /// in); any other gets 400 "chat not found". A chat that sends the bot
    /// a message (`push_message`) is known from then on.
    pub fn add_chats(&self, chats: &[i64]) {
        self.with(|i| i.chats.extend(chats));
    }

    /// Answer the next calls of `method` with these HTTP errors (500, 502,
    /// ...), as Telegram does in an outage; then answer normally again.
    pub fn fail_next(&self, method: &str, statuses: &[u16]) {
        self.with(|i| {
            i.fail_next
                .entry(method.to_ascii_lowercase())
                .or_default()
                .extend(statuses)
        });
    }

    /// Like [`TelegramServer::fail_next`], for the calls of `method` about
    /// `chat` only.
    pub fn fail_next_in(&self, method: &str, chat: i64, statuses: &[u16]) {
        self.with(|i| {
            i.fail_next_in
                .entry((method.to_ascii_lowercase(), chat))
                .or_default()
                .extend(statuses)
        });
    }

    /// Hold the next call of `method` for `wait` before answering it (with
    /// whatever `fail_next` scripted, or normally).
    pub fn delay_next(&self, method: &str, wait: Duration) {
        self.with(|i| i.delay_next.insert(method.to_ascii_lowercase(), wait));
    }

    /// A webhook left over from an earlier run (as setWebhook would leave it).
    pub fn set_webhook(&self, url: &str) {
        self.with(|i| i.webhook = Some(json!({"url": url})));
    }

    /// The webhook's params from setWebhook, while one is set.
    pub fn webhook(&self) -> Option<Value> {
        self.with(|i| i.webhook.clone())
    }

    /// The chat blocked the bot: sends there get 403.
    pub fn block(&self, chat: i64) {
        self.with(|i| i.blocked.insert(chat));
    }

    /// Allow `max` messages per `window` to `chat`, then 429 with `retry_after`.
    pub fn limit(&self, chat: i64, max: usize, window: Duration, retry_after: u64) {
        self.with(|i| {
            i.budgets.insert(
                chat,
                Budget {
                    max,
                    window,
                    retry_after,
                    sent: VecDeque::new(),
                },
            )
        });
    }

    /// Hold sendMessage to Telegram's documented limits from now on (see
    /// the module docs).
    pub fn enforce_documented_limits(&self) {
        self.with(|i| i.documented = Some(Documented::default()));
    }

    /// How many sends were answered 429.
    pub fn rate_limited(&self) -> usize {
        self.with(|i| i.rejections.iter().filter(|r| r.code == 429).count())
    }

    /// Arrival times of the messages stored in `chat`, in order.
    pub fn sent_at(&self, chat: i64) -> Vec<Instant> {
        self.messages(chat).iter().map(|m| m.sent_at).collect()
    }

    /// Queue a text message from a user, as getUpdates would deliver it.
    /// Returns the update (also usable as a webhook body).
    pub fn push_message(&self, from: i64, chat: i64, text: &str) -> Value {
        let update = self.message_update(from, chat, text);
        self.queue(update.clone());
        update
    }

    /// A text message update (not queued), e.g. for a webhook call. The
    /// chat is known to the bot from then on.
    pub fn message_update(&self, from: i64, chat: i64, text: &str) -> Value {
        self.with(|i| {
            i.chats.insert(chat);
            let id = next(&mut i.next_message_id, chat);
            let u = json!({
                "update_id": i.next_update_id,
                "message": {
                    "message_id": id,
                    "date": now(),
                    "chat": chat_json(chat),
                    "from": {"id": from, "is_bot": false, "first_name": format!("user{from}")},
                    "text": text,
                }
            });
            i.next_update_id += 1;
            u
        })
    }

    /// Queue a text message from a user that replies to the bot's message
    /// `reply_to` in `chat` (Bot API: `reply_to_message` holds the
    /// original Message, sent by the bot).
    pub fn push_reply(&self, from: i64, chat: i64, reply_to: i64, text: &str) -> Value {
        let update = self.with(|i| {
            let original = i
                .messages
                .get(&(chat, reply_to))
                .map(|m| m.text.clone())
                .unwrap_or_default();
            let id = next(&mut i.next_message_id, chat);
            let u = json!({
                "update_id": i.next_update_id,
                "message": {
                    "message_id": id,
                    "date": now(),
                    "chat": chat_json(chat),
                    "from": {"id": from, "is_bot": false, "first_name": format!("user{from}")},
                    "text": text,
                    "reply_to_message": {
                        "message_id": reply_to, "date": now(), "chat": chat_json(chat),
                        "from": bot_user(), "text": original,
                    }
                }
            });
            i.next_update_id += 1;
            u
        });
        self.queue(update.clone());
        update
    }

    /// Queue a button press on message `message_id` in `chat`.
    pub fn push_callback(&self, from: i64, chat: i64, message_id: i64, data: &str) -> Value {
        let update = self.callback_update(from, chat, message_id, data);
        self.queue(update.clone());
        update
    }

    /// A callback query update (not queued), e.g. for a webhook call.
    pub fn callback_update(&self, from: i64, chat: i64, message_id: i64, data: &str) -> Value {
        self.with(|i| {
            let text = i
                .messages
                .get(&(chat, message_id))
                .map(|m| m.text.clone())
                .unwrap_or_default();
            let qid = i.open_query();
            let u = json!({
                "update_id": i.next_update_id,
                "callback_query": {
                    "id": qid,
                    "chat_instance": format!("ci{chat}"),
                    "data": data,
                    "from": {"id": from, "is_bot": false, "first_name": format!("user{from}")},
                    "message": {
                        "message_id": message_id, "date": now(), "chat": chat_json(chat),
                        "from": bot_user(), "text": text,
                    }
                }
            });
            i.next_update_id += 1;
            u
        })
    }

    /// Queue a button press that comes without its message, as Telegram
    /// sends one on an inline message (only `inline_message_id`).
    pub fn push_inline_callback(&self, from: i64, data: &str) -> Value {
        let update = self.with(|i| {
            let qid = i.open_query();
            let u = json!({
                "update_id": i.next_update_id,
                "callback_query": {
                    "id": qid,
                    "chat_instance": "ci-inline",
                    "inline_message_id": format!("inline{}", i.next_query),
                    "data": data,
                    "from": {"id": from, "is_bot": false, "first_name": format!("user{from}")},
                }
            });
            i.next_update_id += 1;
            u
        });
        self.queue(update.clone());
        update
    }

    fn queue(&self, update: Value) {
        let id = update["update_id"].as_i64().unwrap();
        self.with(|i| i.updates.push_back((id, update)));
        self.shared.updates_ready.notify_waiters();
    }

    /// Wait until `f` holds (checked every 20 ms), or panic after `secs`.
    pub async fn wait_for(&self, what: &str, secs: u64, f: impl Fn(&TelegramServer) -> bool) {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if f(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for: {what}");
    }
}

fn next(map: &mut HashMap<i64, i64>, chat: i64) -> i64 {
    let n = map.entry(chat).or_insert(0);
    *n += 1;
    *n
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Ork", "username": BOT_USERNAME})
}

fn chat_json(chat: i64) -> Value {
    if chat < 0 {
        json!({"id": chat, "type": "supergroup", "title": format!("group{chat}")})
    } else {
        json!({"id": chat, "type": "private", "first_name": format!("user{chat}")})
    }
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "result": result})),
    )
        .into_response()
}

struct ApiErr {
    code: u16,
    description: String,
    retry_after: Option<u64>,
}

fn err(code: u16, description: impl Into<String>) -> ApiErr {
    ApiErr {
        code,
        description: description.into(),
        retry_after: None,
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let mut body =
            json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(r) = self.retry_after {
            body["parameters"] = json!({"retry_after": r});
        }
        (
            StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST),
            axum::Json(body),
        )
            .into_response()
    }
}

/// Params from a JSON body, or a form (what other clients send).
fn params(headers: &HeaderMap, body: &Bytes) -> Value {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if body.is_empty() {
        return json!({});
    }
    if ct.starts_with("application/x-www-form-urlencoded") {
        let map: HashMap<String, String> =
            serde_urlencoded_like(std::str::from_utf8(body).unwrap_or(""));
        return json!(map);
    }
    if let Some(boundary) = ct
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
    {
        return multipart_params(boundary.trim_matches('"'), body);
    }
    serde_json::from_slice(body).unwrap_or_else(|_| json!({"__unparsed": true}))
}

/// multipart/form-data fields (setWebhook may carry a certificate, so
/// clients send it this way). Like the Bot API, a field whose value is
/// JSON (an array such as `allowed_updates`, a number, a bool) is read as
/// JSON, anything else as a string.
fn multipart_params(boundary: &str, body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut map = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let parsed = serde_json::from_str::<Value>(value)
            .ok()
            .filter(|v| !v.is_string())
            .unwrap_or_else(|| json!(value));
        map.insert(name.to_string(), parsed);
    }
    Value::Object(map)
}

fn serde_urlencoded_like(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace('+', " ")))
        .collect()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(shared, None, bot, method, headers, body).await
}

async fn handle_via(
    State(shared): State<Arc<Shared>>,
    Path((via, bot, method)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(shared, Some(via), bot, method, headers, body).await
}

async fn serve(
    shared: Arc<Shared>,
    via: Option<String>,
    bot: String,
    method: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(&headers, &body);
    let lower = method.to_ascii_lowercase();
    shared.inner.lock().unwrap().calls.push(Call {
        method: method.clone(),
        params: p.clone(),
        at: Instant::now(),
    });
    if bot != format!("bot{TOKEN}") {
        return err(401, "Unauthorized").into_response();
    }
    let scripted = {
        let mut i = shared.inner.lock().unwrap();
        let in_chat = chat_of(&p)
            .ok()
            .and_then(|c| i.fail_next_in.get_mut(&(lower.clone(), c)))
            .and_then(VecDeque::pop_front);
        in_chat.or_else(|| i.fail_next.get_mut(&lower).and_then(VecDeque::pop_front))
    };
    let delay = shared.inner.lock().unwrap().delay_next.remove(&lower);
    if let Some(wait) = delay {
        tokio::time::sleep(wait).await;
    }
    let result = match lower.as_str() {
        _ if scripted.is_some() => {
            let code = scripted.unwrap_or(500);
            let reason = StatusCode::from_u16(code)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("Internal Server Error");
            Err(err(code, reason))
        }
        "getupdates" => {
            if shared.inner.lock().unwrap().webhook.is_some() {
                Err(err(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use \
                     deleteWebhook to delete the webhook first",
                ))
            } else {
                return get_updates(&shared, &p).await;
            }
        }
        "setwebhook" => set_webhook(&mut shared.inner.lock().unwrap(), &p),
        "deletewebhook" => {
            let mut i = shared.inner.lock().unwrap();
            if p["drop_pending_updates"].as_bool() == Some(true) {
                i.updates.clear();
            }
            i.webhook = None;
            Ok(json!(true))
        }
        "getwebhookinfo" => {
            let i = shared.inner.lock().unwrap();
            let w = i.webhook.clone().unwrap_or(json!({}));
            Ok(json!({
                "url": w["url"].as_str().unwrap_or(""),
                "has_custom_certificate": false,
                "pending_update_count": i.updates.len(),
                "allowed_updates": w["allowed_updates"].clone(),
            }))
        }
        "getme" => Ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Ork", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false
        })),
        "setmycommands" => set_my_commands(&p),
        "sendmessage" => send_message(&mut shared.inner.lock().unwrap(), &p, via),
        "editmessagetext" => edit_message_text(&mut shared.inner.lock().unwrap(), &p),
        "answercallbackquery" => answer_callback(&mut shared.inner.lock().unwrap(), &p),
        _ => Err(err(404, "Not Found")),
    };
    match result {
        Ok(v) => ok(v),
        Err(e) => {
            shared.inner.lock().unwrap().rejections.push(Rejection {
                method,
                code: e.code,
                description: e.description.clone(),
                chat: chat_of(&p).ok(),
                at: Instant::now(),
            });
            e.into_response()
        }
    }
}

async fn get_updates(shared: &Shared, p: &Value) -> Response {
    let offset = p["offset"].as_i64().unwrap_or(0);
    let timeout = p["timeout"].as_u64().unwrap_or(0).min(50);
    let until = Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = shared.updates_ready.notified();
        let ready: Vec<Value> = {
            let mut i = shared.inner.lock().unwrap();
            // Offset confirms every update below it: they are gone for good.
            i.updates.retain(|(id, _)| *id >= offset);
            i.updates.iter().map(|(_, u)| u.clone()).collect()
        };
        if !ready.is_empty() || Instant::now() >= until {
            return ok(json!(ready));
        }
        let _ = tokio::time::timeout(until - Instant::now(), notified).await;
    }
}

fn set_my_commands(p: &Value) -> Result<Value, ApiErr> {
    let list = p["commands"]
        .as_array()
        .ok_or_else(|| err(400, "Bad Request: parameter \"commands\" is required"))?;
    for c in list {
        let name = c["command"].as_str().unwrap_or("");
        let ok_name = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok_name {
            return Err(err(400, "Bad Request: BOT_COMMAND_INVALID"));
        }
        let d = c["description"].as_str().unwrap_or("");
        if d.is_empty() || d.chars().count() > 256 {
            return Err(err(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"));
        }
    }
    Ok(json!(true))
}

/// setWebhook as the cloud Bot API checks it: an https URL on one of its
/// four ports, and a secret of 1-256 characters from A-Z a-z 0-9 _ -.
fn set_webhook(i: &mut Inner, p: &Value) -> Result<Value, ApiErr> {
    let url = p["url"].as_str().unwrap_or("");
    if url.is_empty() {
        return Err(err(400, "Bad Request: bad webhook: URL must not be empty"));
    }
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(err(
            400,
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ));
    };
    let host = rest.split('/').next().unwrap_or("");
    let port = host.rsplit_once(':').map(|(_, p)| p).unwrap_or("443");
    if !["443", "80", "88", "8443"].contains(&port) {
        return Err(err(
            400,
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ));
    }
    if let Some(secret) = p["secret_token"].as_str() {
        let ok = (1..=256).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(err(
                400,
                "Bad Request: bad webhook: secret token contains unallowed characters",
            ));
        }
    }
    i.webhook = Some(p.clone());
    Ok(json!(true))
}

/// A chat the bot can reach, or Telegram's 400.
fn known_chat(i: &Inner, p: &Value) -> Result<i64, ApiErr> {
    let chat = chat_of(p)?;
    if i.chats.contains(&chat) {
        Ok(chat)
    } else {
        Err(err(400, "Bad Request: chat not found"))
    }
}

fn chat_of(p: &Value) -> Result<i64, ApiErr> {
    p["chat_id"]
        .as_i64()
        .or_else(|| p["chat_id"].as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| err(400, "Bad Request: chat not found"))
}

/// The visible text of `text` under `parse_mode`, or Telegram's 400.
fn parse_text(p: &Value) -> Result<(String, String), ApiErr> {
    let html = p["text"].as_str().unwrap_or("").to_string();
    let visible = match p["parse_mode"].as_str() {
        Some(m) if m.eq_ignore_ascii_case("html") => parse_html(&html)
            .map_err(|e| err(400, format!("Bad Request: can't parse entities: {e}")))?,
        _ => html.clone(),
    };
    if visible.trim().is_empty() {
        return Err(err(400, "Bad Request: message text is empty"));
    }
    if visible.encode_utf16().count() > 4096 {
        return Err(err(400, "Bad Request: message is too long"));
    }
    Ok((html, visible))
}

fn check_markup(p: &Value) -> Result<Option<Value>, ApiErr> {
    let Some(m) = p.get("reply_markup").filter(|m| !m.is_null()) else {
        return Ok(None);
    };
    for row in m["inline_keyboard"].as_array().into_iter().flatten() {
        for b in row.as_array().into_iter().flatten() {
            let data = b["callback_data"].as_str().unwrap_or("");
            if data.is_empty() || data.len() > 64 {
                return Err(err(400, "Bad Request: BUTTON_DATA_INVALID"));
            }
        }
    }
    Ok(Some(m.clone()))
}

fn message_json(m: &StoredMessage) -> Value {
    let mut v = json!({
        "message_id": m.id, "date": now(), "chat": chat_json(m.chat),
        "from": bot_user(), "text": m.text,
    });
    // A Message carries only an inline keyboard (a ForceReply is not echoed).
    if let Some(k) = m
        .reply_markup
        .as_ref()
        .filter(|k| k.get("inline_keyboard").is_some())
    {
        v["reply_markup"] = k.clone();
    }
    if m.edits > 0 {
        v["edit_date"] = json!(now());
    }
    v
}

fn send_message(i: &mut Inner, p: &Value, via: Option<String>) -> Result<Value, ApiErr> {
    let chat = known_chat(i, p)?;
    if i.blocked.contains(&chat) {
        return Err(err(403, "Forbidden: bot was blocked by the user"));
    }
    if let Some(d) = &mut i.documented {
        let now = Instant::now();
        let (max, window) = if chat > 0 {
            (1, Duration::from_secs(1))
        } else {
            (20, Duration::from_secs(60))
        };
        let per_chat = d.chats.entry(chat).or_default();
        let wait = window_wait(per_chat, max, window, now)
            .into_iter()
            .chain(window_wait(&mut d.global, 30, Duration::from_secs(1), now))
            .max();
        if let Some(wait) = wait {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(ApiErr {
                code: 429,
                description: format!("Too Many Requests: retry after {secs}"),
                retry_after: Some(secs.max(1)),
            });
        }
        d.chats.entry(chat).or_default().push_back(now);
        d.global.push_back(now);
    }
    if let Some(b) = i.budgets.get_mut(&chat) {
        let now = Instant::now();
        while b
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= b.window)
        {
            b.sent.pop_front();
        }
        if b.sent.len() >= b.max {
            return Err(ApiErr {
                code: 429,
                description: format!("Too Many Requests: retry after {}", b.retry_after),
                retry_after: Some(b.retry_after),
            });
        }
        b.sent.push_back(now);
    }
    let (html, text) = parse_text(p)?;
    let reply_markup = check_markup(p)?;
    let id = next(&mut i.next_message_id, chat);
    let m = StoredMessage {
        chat,
        id,
        text,
        html,
        reply_markup,
        reply_to: p["reply_parameters"]["message_id"].as_i64(),
        edits: 0,
        sent_at: Instant::now(),
        via,
    };
    let v = message_json(&m);
    i.messages.insert((chat, id), m);
    i.order.push((chat, id));
    Ok(v)
}

fn edit_message_text(i: &mut Inner, p: &Value) -> Result<Value, ApiErr> {
    let chat = known_chat(i, p)?;
    let id = p["message_id"]
        .as_i64()
        .ok_or_else(|| err(400, "Bad Request: message identifier is not specified"))?;
    let (html, text) = parse_text(p)?;
    let reply_markup = check_markup(p)?;
    let m = i
        .messages
        .get_mut(&(chat, id))
        .ok_or_else(|| err(400, "Bad Request: message to edit not found"))?;
    if m.text == text && m.reply_markup == reply_markup {
        return Err(err(
            400,
            "Bad Request: message is not modified: specified new message content and reply \
             markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    m.text = text;
    m.html = html;
    // Without reply_markup the inline keyboard is removed.
    m.reply_markup = reply_markup;
    m.edits += 1;
    Ok(message_json(m))
}

fn answer_callback(i: &mut Inner, p: &Value) -> Result<Value, ApiErr> {
    let id = p["callback_query_id"].as_str().unwrap_or("").to_string();
    if !i.open_queries.remove(&id) {
        return Err(err(
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ));
    }
    if p["text"].as_str().is_some_and(|t| t.chars().count() > 200) {
        return Err(err(400, "Bad Request: MESSAGE_TOO_LONG"));
    }
    i.answered.push((id, p.clone()));
    Ok(json!(true))
}

/// Telegram's HTML mode: only its tags, balanced; `<` always starts a tag
/// and `&` always an entity. Returns the visible text.
pub fn parse_html(html: &str) -> Result<String, String> {
    const TAGS: &[&str] = &[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "a",
        "tg-spoiler",
        "span",
        "blockquote",
    ];
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                let end = html[i..]
                    .find('>')
                    .map(|e| i + e)
                    .ok_or(format!("Unclosed start tag at byte offset {i}"))?;
                let inner = &html[i + 1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim();
                    match stack.pop() {
                        Some(open) if open == name => {}
                        Some(open) => {
                            return Err(format!(
                                "Unmatched end tag at byte offset {i}, expected \"</{open}>\", found \"</{name}>\""
                            ));
                        }
                        None => {
                            return Err(format!("Unexpected end tag at byte offset {i}"));
                        }
                    }
                } else {
                    let name = inner.split_whitespace().next().unwrap_or("");
                    if !TAGS.contains(&name) {
                        return Err(format!(
                            "Unsupported start tag \"{name}\" at byte offset {i}"
                        ));
                    }
                    stack.push(name.to_string());
                }
                i = end + 1;
            }
            b'&' => {
                let end = html[i..]
                    .find(';')
                    .map(|e| i + e)
                    .filter(|e| e - i <= 10)
                    .ok_or(format!("Character entity expected at byte offset {i}"))?;
                let name = &html[i + 1..end];
                let c = match name {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    n => n
                        .strip_prefix("#x")
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
                        .and_then(char::from_u32)
                        .ok_or(format!(
                            "Unsupported HTML entity \"&{n};\" at byte offset {i}"
                        ))?,
                };
                out.push(c);
                i = end + 1;
            }
            _ => {
                let c = html[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{open}\""
        ));
    }
    Ok(out)
}
