//! What a platform is to the hub: one folder under `adapters/` that owns its
//! whole life — its settings, its outbound [`Adapter`], and its listening
//! (webhook routes as plain `http` requests and responses, long polling,
//! Socket Mode, registration of commands) — started by the hub through one
//! small trait, [`Platform`]. Listeners hand what people do to the hub's
//! [`Inbox`]; they never reach into its store or command engine.
//!
//! Adding a platform: a folder with an `impl Platform`, and one line where
//! the hub lists its platforms.

use crate::Adapter;
use crate::inbox::Inbox;
use crate::shared_pace::SharedSlots;
use crate::sign_in::SignInLinks;
use crate::template::Templates;
use async_trait::async_trait;
use futures::future::BoxFuture;
use neutral::CommandInfo;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the hub gives every platform at start.
#[derive(Clone)]
pub struct HubLink {
    /// Where listeners hand commands and button presses (claimed once,
    /// answered through the outbox).
    pub inbox: Arc<dyn Inbox>,
    /// Send slots shared by every instance on PostgreSQL; `None` where the
    /// adapter's in-process pacing is exact (one instance, SQLite).
    pub slots: Option<Arc<dyn SharedSlots>>,
    /// The commands platforms register up front (Telegram, Discord).
    pub catalogue: Arc<[CommandInfo]>,
    /// Where edited templates are read (`[brief] templates_dir`), at every
    /// send: each platform renders the briefs it sends from its own
    /// `<platform>/…` templates there, falling back to the built-in copies.
    pub templates: Templates,
    /// One-time sign-in links to put in what is sent (the email digest);
    /// `None` when the web console is off.
    pub sign_in: Option<Arc<dyn SignInLinks>>,
}

/// A platform that could not start, or whose settings are wrong: what was
/// being done (naming the platform) and why, in one line (the cause is part
/// of the message, so it shows however the error is printed).
#[derive(Debug, thiserror::Error)]
#[error("{doing}: {cause}")]
pub struct PlatformError {
    pub doing: String,
    pub cause: Box<dyn std::error::Error + Send + Sync>,
}

impl PlatformError {
    pub fn new(
        doing: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        PlatformError {
            doing: doing.into(),
            cause: cause.into(),
        }
    }
}

/// A start-up check that asks the platform (a token check, the first
/// registration attempt). The hub runs them while its HTTP API already
/// listens, so no platform call holds the API closed; each ends with the
/// platform's first answer: Err when it refused the configuration (a wrong
/// token), which fails the start; Ok when it accepted, or is only
/// unreachable for now (then the platform retries in the background).
pub type StartupCheck = BoxFuture<'static, Result<(), PlatformError>>;

/// A request a platform posts to the hub (a webhook), as plain `http`.
pub type WebhookRequest = http::Request<Vec<u8>>;
/// The hub's answer to it.
pub type WebhookResponse = http::Response<Vec<u8>>;

/// One endpoint a platform serves on the hub's HTTP server (POST).
pub struct WebhookRoute {
    /// The config key that sets its path, for error messages.
    pub key: &'static str,
    pub path: String,
    /// The largest body accepted: platforms' requests are small, anything
    /// bigger is not from them. `None`: the server's own limit.
    pub body_limit: Option<usize>,
    pub handler: Arc<dyn Webhook>,
}

/// Handles the requests posted to a [`WebhookRoute`].
#[async_trait]
pub trait Webhook: Send + Sync {
    async fn call(&self, request: WebhookRequest) -> WebhookResponse;
}

/// What a started platform adds to the hub.
pub struct Started {
    /// Its outbound sender, handed to the dispatcher.
    pub adapter: Arc<dyn Adapter>,
    /// Endpoints served by the hub's HTTP server.
    pub routes: Vec<WebhookRoute>,
    /// Long-lived listeners; each ends when the stop signal turns true.
    pub tasks: Vec<JoinHandle<()>>,
    /// See [`StartupCheck`].
    pub checks: Vec<StartupCheck>,
}

impl Started {
    pub fn new(adapter: Arc<dyn Adapter>) -> Self {
        Started {
            adapter,
            routes: Vec::new(),
            tasks: Vec::new(),
            checks: Vec::new(),
        }
    }
}

/// One platform, as the hub starts it.
#[async_trait]
pub trait Platform: Send + Sync {
    /// Its name in logs and errors ("telegram").
    fn name(&self) -> &'static str;

    /// Turned on in the configuration.
    fn enabled(&self) -> bool;

    /// The (config key, path) of every endpoint it will serve, checked by
    /// the hub before any route is built.
    fn webhook_paths(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Every check [`Platform::start`] makes before it connects anywhere
    /// (tokens' shape, addresses, keys, TLS files), for `orkhub check-config`.
    fn check(&self) -> Result<(), PlatformError>;

    /// Build the adapter and start listening. A setting that cannot work
    /// fails here, naming the platform; what needs the platform to answer
    /// goes into [`Started::checks`].
    async fn start(
        &self,
        hub: &HubLink,
        stop: watch::Receiver<bool>,
    ) -> Result<Started, PlatformError>;
}

/// A JSON answer.
pub fn json_response(status: http::StatusCode, body: &serde_json::Value) -> WebhookResponse {
    respond(status, "application/json", body.to_string().into_bytes())
}

/// A plain-text answer (a refusal's reason).
pub fn text_response(status: http::StatusCode, body: String) -> WebhookResponse {
    respond(status, "text/plain; charset=utf-8", body.into_bytes())
}

/// An answer without a body.
pub fn empty_response(status: http::StatusCode) -> WebhookResponse {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = status;
    response
}

fn respond(status: http::StatusCode, content_type: &'static str, body: Vec<u8>) -> WebhookResponse {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// A request header's value as text, if present and readable.
pub fn header<'r>(request: &'r WebhookRequest, name: &str) -> Option<&'r str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}
