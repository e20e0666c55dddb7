//! Wiring: open the store, bring config into it, start the ingest writer,
//! the dispatcher and the HTTP server; stop them in order (stop accepting,
//! commit what was accepted, finish in-flight sends).

use crate::api::{self, AppState};
use crate::config::Config;
use crate::directory::Directory;
use crate::dispatch::{Adapters, Dispatcher};
use crate::store::Store;
use adapters::Adapter;
use adapters::console::{ConsoleAdapter, ConsoleOutput};
use adapters::web::WebAdapter;
use anyhow::Context;
use routing::ChannelKind;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Options that are not configuration: where console output goes, and
/// adapters supplied from outside (tests, embedding).
#[derive(Default)]
pub struct Options {
    pub console_output: Option<ConsoleOutput>,
    pub extra_adapters: Vec<Arc<dyn Adapter>>,
}

pub struct Running {
    pub addr: SocketAddr,
    /// What handlers share; platform adapters use it to run inbound commands.
    pub state: AppState,
    pub store: Store,
    pub web: Arc<WebAdapter>,
    /// The watchers (SLA, budgets, anomalies): tests run their ticks directly.
    pub watch: Arc<crate::watch::Watch>,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    writer: JoinHandle<()>,
    dispatcher: JoinHandle<()>,
    listeners: Vec<JoinHandle<()>>,
}

pub async fn start(config: Config, options: Options) -> anyhow::Result<Running> {
    let store = Store::open(&config.database.url, config.database.max_connections).await?;
    crate::seed::apply(&store, &config).await?;
    crate::webhooks::sync_config(&store, &config).await?;
    // A single SQLite instance owns every lease: whatever a crashed run left
    // "sending" is ours to send again right away.
    let reclaimed = store.reclaim_own_leases().await? + store.reclaim_own_webhooks().await?;
    if reclaimed > 0 {
        tracing::info!(
            reclaimed,
            "resuming deliveries interrupted by the last stop"
        );
    }
    let dir = Arc::new(Directory::from_config(&config));
    let dir_for_github = dir.clone();
    let wake = Arc::new(Notify::new());
    let brief = Arc::new(
        crate::brief::BriefService::new(&config.brief).with_budget_zone(config.budget_zone()),
    );
    // Every adapter renders the briefs it sends from these, read at every send.
    let templates = brief.renderer().templates().clone();
    let web =
        Arc::new(WebAdapter::new(config.adapters.web.buffer).with_templates(templates.clone()));
    let (ingest, writer) = crate::ingest::start(
        store.clone(),
        dir.clone(),
        config.routing.policy(),
        (config.ingest.max_batch, config.ingest.queue),
        config.adapters.web.enabled.then(|| web.clone()),
        wake.clone(),
    );

    let mut adapters: Adapters = Adapters::new();
    if config.adapters.web.enabled {
        adapters.insert(ChannelKind::Web, web.clone());
    }
    if config.adapters.console.enabled {
        let out = options.console_output.unwrap_or(ConsoleOutput::Stdout);
        adapters.insert(ChannelKind::Console, Arc::new(ConsoleAdapter::new(out)));
    }
    let (stop, stop_rx) = watch::channel(false);
    // The web console: sessions of people removed from the config go now.
    let login_links = Arc::new(crate::console::LoginLinks::new(
        store.clone(),
        &config.adapters.web.public_url,
        config.adapters.web.login_link_minutes,
    ));
    let pruned = store.prune_console_access().await?;
    if pruned > 0 {
        tracing::info!(
            sessions = pruned,
            "web console: expired sessions and those of people no longer in the config removed"
        );
    }
    let mut backend = crate::backend::HubBackend::new(
        store.clone(),
        Arc::new(crate::ingest::decisions::DecisionNotices::new(
            dir.clone(),
            config.routing.policy(),
        )),
        brief.clone(),
    );
    if config.adapters.web.enabled {
        backend = backend.with_login_links(login_links.clone());
    }
    let state = AppState::new(api::Shared {
        brief: brief.clone(),
        stopping: stop_rx.clone(),
        store: store.clone(),
        backend,
        ingest,
        dir: dir.clone(),
        keys: Arc::new(api::auth::KeyCache::default()),
        web: web.clone(),
        metrics: crate::telemetry::metrics_handle(),
        request_metrics: Default::default(),
        wake: wake.clone(),
        body_limit: config.server.body_limit_bytes,
        sse_keep_alive: crate::server::sse_keep_alive(config.server.limits().idle_timeout),
        webhook_allow_private: config.webhook_sender.allow_private_targets,
        question_llm: Arc::new(crate::questions::llm::QuestionLlm::new(&config.brief.llm)),
        console: Arc::new(crate::console::Console::from_config(
            &config,
            login_links.clone(),
        )),
        sla_rules: Arc::new(config.watchers.sla.clone()),
        budget_zone: config.budget_zone(),
    });
    // Bound before any platform is asked anything: a platform that is slow
    // or failing at start never holds the API closed (see `checks` below).
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (server.listen in the config, or ORKHUB_SERVER__LISTEN)",
                config.server.listen
            )
        })?;
    let inbox = Arc::new(crate::inbox::HubInbox::new(
        state.backend.clone(),
        wake.clone(),
    ));
    // Emailed sign-in links live longer than chat ones (mail is read later).
    let email_links = Arc::new(crate::console::LoginLinks::new(
        store.clone(),
        &config.adapters.web.public_url,
        config.adapters.web.email_link_minutes,
    ));
    let sign_in = config.adapters.web.enabled.then(|| {
        Arc::new(crate::console::links::SentLinks::new(
            email_links.clone(),
            dir.clone(),
        )) as Arc<dyn adapters::sign_in::SignInLinks>
    });
    let hub = crate::platforms::hub_link(inbox, &store, templates, sign_in);
    let platforms = crate::platforms::start(&config, &hub, stop_rx.clone()).await?;
    let checks = platforms.checks;
    for a in platforms.adapters {
        adapters.insert(a.kind(), a);
    }
    for a in options.extra_adapters {
        adapters.insert(a.kind(), a);
    }
    let dispatcher = tokio::spawn(
        Dispatcher {
            store: store.clone(),
            adapters,
            dir,
            config: config.outbox.clone(),
            wake,
        }
        .run(stop_rx.clone()),
    );

    // Per-person daily jobs (digests, briefs), each at the person's local time.
    let jobs: Vec<Arc<dyn crate::schedule::DailyJob>> = vec![
        Arc::new(crate::digest::DigestJob::from_config(&config)),
        Arc::new(crate::brief::job::BriefJob::from_config(&config, brief)),
    ];
    let mut listeners = platforms.tasks;
    // Outbound webhooks: the sender ends on the stop signal, after the
    // calls in hand.
    let webhook_client = adapters::webhook::WebhookClient::new(
        std::time::Duration::from_secs(config.webhook_sender.timeout_secs),
        adapters::tls::Trust::load(config.tls.ca_file.as_deref(), "tls.ca_file")?.client_config(),
    )
    .map_err(anyhow::Error::msg)?;
    listeners.push(tokio::spawn(
        crate::webhooks::sender::Sender {
            store: store.clone(),
            client: webhook_client,
            config: config.webhook_sender.clone(),
        }
        .run(stop_rx.clone()),
    ));
    // Several instances on one PostgreSQL: the live feed reaches every one.
    if let Some(feed) =
        crate::feed::share(&store, &web, state.backend.question_bus(), stop_rx.clone()).await?
    {
        listeners.push(feed);
    }
    listeners.push(crate::schedule::spawn(state.jobs(), jobs, stop_rx.clone()));
    // SLA, budget and anomaly checks on their cron schedules.
    let watchers = Arc::new(crate::watch::Watch::new(
        &config,
        crate::watch::WatchHub {
            // Background work: on SQLite a small pool of its own
            // (store/background.rs).
            store: store.background(),
            ingest: state.ingest.clone(),
            backend: state.backend.clone(),
            wake: state.wake.clone(),
        },
        Arc::new(crate::watch::SystemClock),
    ));
    if config.watchers.enabled {
        listeners.push(crate::watch::scheduler::spawn(watchers.clone(), stop_rx.clone()).await?);
    }
    if let Some(checkpoints) = crate::wal_checkpoints::spawn(
        &store,
        crate::wal_checkpoints::EVERY,
        crate::wal_checkpoints::RESTART_FRAMES,
        stop_rx.clone(),
    )
    .await?
    {
        listeners.push(checkpoints);
    }

    let addr = listener.local_addr()?;
    login_links.default_base(format!("http://{addr}"));
    email_links.default_base(format!("http://{addr}"));
    let mut app = api::router(state.clone(), config.server.body_limit_bytes);
    if config.adapters.web.enabled {
        app = app.merge(crate::console::routes(state.clone()));
    }
    let app =
        app.merge(platforms.routes)
            .merge(crate::github::routes(&config, &state, &dir_for_github)?);
    let server = tokio::spawn(crate::server::serve(
        listener,
        app,
        config.server.limits(),
        stop_rx,
    ));
    tracing::info!(%addr, database = %config.database.url.split('@').next_back().unwrap_or(""), "orkhub is listening");
    let running = Running {
        addr,
        state,
        store,
        web,
        watch: watchers,
        stop,
        server,
        writer,
        dispatcher,
        listeners,
    };
    // The API answers meanwhile; a platform that refuses its configuration
    // (a wrong token) still fails the start, after a clean stop.
    if let Err(e) = futures::future::try_join_all(checks).await {
        running.shutdown().await;
        return Err(e);
    }
    Ok(running)
}

impl Running {
    /// Graceful stop: refuse new requests, let in-flight ones commit, then let
    /// the dispatcher finish the sends it holds.
    /// Anyone holding a clone of `state` must drop it first: it keeps the
    /// ingest writer open.
    pub async fn shutdown(self) {
        drop(self.state);
        // It holds an ingest handle too.
        drop(self.watch);
        let _ = self.stop.send(true);
        match self.server.await {
            Ok(Err(e)) => tracing::error!(error = %e, "HTTP server stopped with an error"),
            Err(e) => tracing::error!(error = %e, "HTTP server task failed"),
            Ok(Ok(())) => {}
        }
        // Platform listeners and the scheduler end on the stop signal; they
        // hold AppState too.
        for l in self.listeners {
            let _ = l.await;
        }
        // The server (and with it every Ingest handle) is gone: the writer
        // commits what it holds and ends.
        let _ = self.writer.await;
        let _ = self.dispatcher.await;
        self.store.close().await;
        tracing::info!("orkhub stopped");
    }
}
