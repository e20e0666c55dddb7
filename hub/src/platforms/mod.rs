//! The platforms the hub runs: the list, and the wiring of what each one
//! starts (see `adapters::platform`) into the hub — its outbound adapter to
//! the dispatcher, its webhook routes onto the HTTP server, its listeners
//! and start-up checks to the hub's life. Everything about a platform
//! itself lives in its folder under `adapters/`.

mod paths;
mod send_slots;

use crate::config::Config;
use adapters::Adapter;
use adapters::platform::{HubLink, Platform, WebhookRoute};
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::post;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Every platform the hub knows, in start order. Adding one: its folder
/// under `adapters/` and one line here.
fn platforms(config: &Config) -> Vec<Box<dyn Platform>> {
    let a = &config.adapters;
    vec![
        Box::new(adapters::telegram::TelegramPlatform(a.telegram.clone())),
        Box::new(adapters::slack::SlackPlatform(a.slack.clone())),
        Box::new(adapters::discord::DiscordPlatform(a.discord.clone())),
        Box::new(adapters::email::EmailPlatform(a.email.clone())),
    ]
}

/// What the configured platforms add to the hub.
#[derive(Default)]
pub struct Platforms {
    /// Outbound senders, handed to the dispatcher.
    pub adapters: Vec<Arc<dyn Adapter>>,
    /// Webhook endpoints, merged into the HTTP server's router.
    pub routes: Router,
    /// Long-lived listeners; each ends when `stop` turns true.
    pub tasks: Vec<JoinHandle<()>>,
    /// See [`adapters::platform::StartupCheck`].
    pub checks: Vec<StartupCheck>,
}

/// A start-up check, its refusal as the hub reports it.
pub type StartupCheck = futures::future::BoxFuture<'static, anyhow::Result<()>>;

/// What the hub gives every platform at start; `templates` are the
/// brief's (`[brief] templates_dir`), `sign_in` the web console's links
/// (`None` when it is off).
pub fn hub_link(
    inbox: Arc<crate::inbox::HubInbox>,
    store: &crate::store::Store,
    templates: adapters::template::Templates,
    sign_in: Option<Arc<dyn adapters::sign_in::SignInLinks>>,
) -> HubLink {
    HubLink {
        inbox,
        slots: send_slots::shared(store),
        catalogue: commands::catalogue().into(),
        templates,
        sign_in,
    }
}

/// Start every enabled platform. A platform that is configured but cannot
/// start (bad token format, unreachable base URL at startup) fails the start
/// with an error naming it, rather than running half-configured.
pub async fn start(
    config: &Config,
    hub: &HubLink,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Platforms> {
    let enabled: Vec<_> = platforms(config)
        .into_iter()
        .filter(|p| p.enabled())
        .collect();
    // Before any route is built: axum panics on overlapping routes.
    paths::check(&enabled)?;
    let mut out = Platforms::default();
    for platform in enabled {
        let started = platform.start(hub, stop.clone()).await?;
        out.adapters.push(started.adapter);
        for route in started.routes {
            out.routes = std::mem::take(&mut out.routes).merge(serve(route));
        }
        out.tasks.extend(started.tasks);
        out.checks.extend(
            started
                .checks
                .into_iter()
                .map(|check| Box::pin(async move { Ok(check.await?) }) as StartupCheck),
        );
    }
    Ok(out)
}

/// Every check [`start`] makes before it connects anywhere, for `orkhub
/// check-config`: each enabled platform's settings, as its adapter is built
/// (tokens' shape, addresses, keys, TLS files), without a request sent.
pub fn check(config: &Config) -> anyhow::Result<()> {
    let enabled: Vec<_> = platforms(config)
        .into_iter()
        .filter(|p| p.enabled())
        .collect();
    paths::check(&enabled)?;
    for platform in &enabled {
        platform.check()?;
    }
    Ok(())
}

/// A platform's endpoint on the hub's HTTP server: the request handed over
/// as plain `http` (headers and body), within the platform's body limit
/// (axum answers 413 past it, before the platform sees anything).
fn serve(route: WebhookRoute) -> Router {
    let handler = route.handler;
    let endpoint = post(move |headers: HeaderMap, body: Bytes| {
        let handler = handler.clone();
        async move {
            let mut request = axum::http::Request::new(body.to_vec());
            *request.headers_mut() = headers;
            let response = handler.call(request).await;
            response.map(axum::body::Body::from).into_response()
        }
    });
    let router = Router::new().route(&route.path, endpoint);
    match route.body_limit {
        Some(limit) => router.layer(DefaultBodyLimit::max(limit)),
        None => router,
    }
}
