//! The `orkhub` binary: serve the hub, manage agent API keys, check config.

use anyhow::Context;
use clap::{Parser, Subcommand};
use hub::config::{Config, LogFormat};
use std::path::{Path, PathBuf};

/// Read when no --config is given; may be missing (then: defaults).
const DEFAULT_CONFIG: &str = "config.toml";

// Many small, short-lived allocations cross threads here (requests, JSON,
// rows): mimalloc handles that with far less locking than glibc's malloc
// (hub/src/allocator.rs: why not the `mimalloc` crate's wrapper).
#[global_allocator]
static ALLOCATOR: hub::allocator::Mimalloc = hub::allocator::Mimalloc;

/// Transparent huge pages off before the first allocation, not at the top
/// of `main`: the Rust runtime and mimalloc's first segment allocate before
/// `main` runs, and with THP in `madvise` mode the kernel had backed those
/// early stretches with 2 MiB pages, resident in full — 6 MB of the idle
/// hub's 12 MB of heap (bench/HISTORY.md, "Memory"). An `.init_array` entry runs when
/// the program is loaded, before any of that.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static SMALL_PAGES_AT_LOAD: extern "C" fn() = small_pages_at_load;

#[cfg(target_os = "linux")]
extern "C" fn small_pages_at_load() {
    hub::memory::no_transparent_huge_pages();
}

/// orkhub — the messaging hub where people and AI agents run a company together.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The config file (every key can also be set as ORKHUB_SECTION__KEY).
    /// A file named here must exist; without it, ./config.toml is read if
    /// present, else the built-in defaults.
    #[arg(short, long, global = true, env = "ORKHUB_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub: HTTP API, live feed, outbox dispatcher and adapters.
    Serve,
    /// Manage agents' API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Check the config file and print the result with defaults filled in.
    CheckConfig,
    /// Print a one-time link to the web console for a person (the first
    /// owner by default). It works once and expires after
    /// adapters.web.login_link_minutes; only its hash is stored.
    LoginLink {
        /// The person's handle (default: the first owner).
        #[arg(long)]
        person: Option<String>,
    },
    /// Print a person's daily brief without sending it.
    Brief {
        /// Print only; nothing is sent, claimed or written (required: the
        /// schedule and the chat `brief` command are what send briefs).
        #[arg(long)]
        preview: bool,
        /// telegram, slack, slack-blocks, discord, email-html, text or json.
        #[arg(long, default_value = "text", value_parser = parse_preview_format)]
        format: PreviewFormat,
        /// The person's local date, YYYY-MM-DD (default: their today).
        #[arg(long, value_parser = parse_date)]
        date: Option<chrono::NaiveDate>,
        /// The person's handle (default: the first owner).
        #[arg(long)]
        person: Option<String>,
        /// Also ask the LLM for the summary paragraph ([brief.llm]): a real
        /// call, whose token use is recorded as a cost like any other.
        #[arg(long)]
        summary: bool,
    },
}

/// What `orkhub brief --preview` prints: the brief's JSON or one rendering.
#[derive(Debug, Clone, Copy)]
enum PreviewFormat {
    Json,
    Rendered(adapters::brief::Format),
}

/// An unknown name is a usage error (exit code 2) naming the choices.
fn parse_preview_format(name: &str) -> Result<PreviewFormat, String> {
    if name == "json" {
        return Ok(PreviewFormat::Json);
    }
    adapters::brief::Format::parse(name)
        .map(PreviewFormat::Rendered)
        .map_err(|_| {
            format!(
                "unknown brief format {name:?}: expected telegram, slack, slack-blocks, discord, email-html, text or json"
            )
        })
}

fn parse_date(d: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .map_err(|_| format!("expected YYYY-MM-DD, got {d:?}"))
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a key for an agent; the key is printed once and only its hash is stored.
    Create {
        /// The agent (declared under [[agents]] in the config).
        #[arg(long)]
        agent: String,
        /// Scopes, comma or space separated, e.g. notifications:write,costs:write.
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        scopes: Vec<String>,
        /// Days until the key expires (never, if not given).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Revoke a key by its ID (the part after `ork_` in the key). A running
    /// hub refuses it within 5 s.
    Revoke { id: String },
    /// List every key: ID, agent, scopes, created, expires, last used,
    /// revoked (never the secret, which is not stored). Times in UTC.
    List {
        /// One JSON object per key instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the scopes a key may have.
    Scopes,
}

fn main() -> anyhow::Result<()> {
    // Already done at load on Linux; asked again for the log line below.
    let small_pages = hub::memory::no_transparent_huge_pages();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let (config, found) = match &cli.config {
        Some(path) => (Config::load(path)?, true),
        None => Config::load_or_defaults(Path::new(DEFAULT_CONFIG))
            .with_context(|| format!("loading {DEFAULT_CONFIG}"))?,
    };
    init_logging(&config);
    if !small_pages {
        tracing::debug!("transparent huge pages stay as the system sets them");
    }
    if !found {
        tracing::warn!(
            "no {DEFAULT_CONFIG} in the working directory: running on the built-in defaults (and ORKHUB_* variables)"
        );
    }
    // The runtime is built here, not by #[tokio::main], because its size
    // comes from the config (server.worker_threads).
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = config.runtime_workers(cores);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(cli, config, found, workers))
}

async fn run(cli: Cli, config: Config, found: bool, workers: usize) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => serve(config, workers).await,
        Command::Migrate => {
            hub::store::Store::open(&config.database.url, 1).await?;
            println!("database is up to date: {}", config.database.url);
            Ok(())
        }
        Command::CheckConfig => {
            // What `serve` checks before it connects anywhere, with the
            // file and line of the key at fault when the file has it.
            let file = cli
                .config
                .clone()
                .or_else(|| found.then(|| PathBuf::from(DEFAULT_CONFIG)));
            let checked = hub::store::Store::check_url(&config.database.url)
                .map_err(|e| anyhow::anyhow!("database.url: {e}"))
                .and_then(|()| hub::platforms::check(&config));
            if let Err(e) = checked {
                let message = format!("{e:#}");
                match file
                    .as_deref()
                    .and_then(|f| Some((f, hub::config::line_for(f, &message)?)))
                {
                    Some((f, line)) => anyhow::bail!("config: {}:{line}: {message}", f.display()),
                    None => anyhow::bail!("config: {message}"),
                }
            }
            // Secrets are redacted by the config's serialization.
            println!("{}", toml_like(&config)?);
            for w in config.warnings() {
                eprintln!("warning: {w}");
            }
            Ok(())
        }
        Command::Key { command } => key(config, command).await,
        Command::LoginLink { person } => login_link(config, person).await,
        Command::Brief {
            preview,
            format,
            date,
            person,
            summary,
        } => brief_preview(config, preview, format, date, person, summary).await,
    }
}

async fn serve(config: Config, workers: usize) -> anyhow::Result<()> {
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    let ttl = std::time::Duration::from_secs(config.server.idempotency_ttl_secs);
    let trim_every = std::time::Duration::from_secs(config.server.memory_trim_secs);
    let running = hub::app::start(config, hub::app::Options::default()).await?;
    hub::telemetry::record_runtime_workers(workers);
    tracing::info!(workers, "async runtime");
    // Started: the code only starting ran need not stay resident.
    match hub::memory::release_code_pages() {
        Ok(bytes) => tracing::debug!(
            code_kb = bytes / 1024,
            "start-up code pages handed back to the page cache"
        ),
        Err(e) => tracing::warn!(error = %e, "could not hand back start-up code pages"),
    }
    let trimming = hub::memory_trim::spawn(trim_every, running.state.stopping.clone());
    let pruning = hub::ingest::prune::spawn(
        running.store.clone(),
        ttl,
        hub::ingest::prune::EVERY,
        running.state.stopping.clone(),
    );
    shutdown_signal().await;
    tracing::info!("stopping: draining accepted work");
    running.shutdown().await;
    let _ = pruning.await;
    if let Some(t) = trimming {
        let _ = t.await;
    }
    Ok(())
}

/// `orkhub login-link`: the config is written to the database first (as
/// at every start), so a person just added can sign in before a restart.
async fn login_link(config: Config, person: Option<String>) -> anyhow::Result<()> {
    if !config.adapters.web.enabled {
        anyhow::bail!("the web console is off: set [adapters.web] enabled = true");
    }
    let store = hub::store::Store::open(&config.database.url, 2).await?;
    hub::seed::apply(&store, &config).await?;
    let person = match person {
        Some(p) => p,
        None => store
            .first_owner()
            .await?
            .context("--person: no owner in the config; name a person")?,
    };
    let links = hub::console::LoginLinks::new(
        store.clone(),
        &config.adapters.web.public_url,
        config.adapters.web.login_link_minutes,
    );
    links.default_base(format!(
        "http://{}",
        config.server.listen.replace("0.0.0.0", "127.0.0.1")
    ));
    let url = links.mint(&person).await.map_err(|e| match e {
        hub::store::StoreError::NotFound { .. } => {
            anyhow::anyhow!("--person {person:?}: no such person in the config ([[people]] id)")
        }
        other => other.into(),
    })?;
    println!("{url}");
    eprintln!(
        "Works once, for {person}, within {} minutes.",
        config.adapters.web.login_link_minutes
    );
    store.close().await;
    Ok(())
}

async fn key(config: Config, command: KeyCommand) -> anyhow::Result<()> {
    use hub::api::auth::{SCOPES, generate_key};
    match command {
        KeyCommand::Scopes => {
            for s in SCOPES {
                println!("{s}");
            }
            Ok(())
        }
        KeyCommand::Create {
            agent,
            scopes,
            expires_in_days,
        } => {
            let scopes: Vec<String> = scopes
                .iter()
                .flat_map(|s| s.split_whitespace())
                .map(str::to_string)
                .collect();
            if scopes.is_empty() {
                anyhow::bail!("give at least one scope with --scopes (see `orkhub key scopes`)");
            }
            if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
                anyhow::bail!("unknown scope {bad:?}; known scopes: {}", SCOPES.join(", "));
            }
            let store = hub::store::Store::open(&config.database.url, 1).await?;
            hub::seed::apply(&store, &config).await?;
            let (id, key, hash) = generate_key();
            let expires = expires_in_days.map(|d| hub::store::now_ms() + i64::from(d) * 86_400_000);
            store
                .insert_key(&id, &agent, &hash, &scopes, expires, "cli")
                .await
                .with_context(|| {
                    format!("agent {agent:?}: declare it under [[agents]] in the config first")
                })?;
            eprintln!(
                "API key for agent {agent} (id {id}, scopes: {}). It is shown only now:",
                scopes.join(" ")
            );
            println!("{key}");
            Ok(())
        }
        KeyCommand::List { json } => {
            let store = hub::store::Store::open(&config.database.url, 1).await?;
            let keys = store.list_keys().await?;
            store.close().await;
            if json {
                for k in &keys {
                    println!("{}", serde_json::to_string(k)?);
                }
            } else {
                print!("{}", key_table(&keys));
            }
            Ok(())
        }
        KeyCommand::Revoke { id } => {
            let store = hub::store::Store::open(&config.database.url, 1).await?;
            if store.revoke_key(&id, "cli").await? {
                println!("revoked key {id}");
                Ok(())
            } else {
                anyhow::bail!("no active key with id {id:?}")
            }
        }
    }
}

/// Print a brief. Read-only unless `summary`: the database is not seeded
/// from the config (the running hub does that), nothing is claimed or sent,
/// and the LLM is not asked, so a preview records no cost. Templates are
/// strict here: a broken one is an error naming the file (sending would fall
/// back to the built-in one).
async fn brief_preview(
    config: Config,
    preview: bool,
    format: PreviewFormat,
    date: Option<chrono::NaiveDate>,
    person: Option<String>,
    summary: bool,
) -> anyhow::Result<()> {
    if !preview {
        anyhow::bail!(
            "`orkhub brief` only previews (add --preview); briefs are sent by the schedule and the chat `brief` command"
        );
    }
    if summary && !config.brief.llm.enabled {
        anyhow::bail!("--summary: no LLM is configured (set [brief.llm] enabled = true)");
    }
    if let Some(path) = sqlite_file(&config.database.url)
        && !path.exists()
    {
        anyhow::bail!(
            "no database at {}: the hub creates it on its first start (`orkhub serve` or `orkhub migrate`)",
            path.display()
        );
    }
    let store = hub::store::Store::open(&config.database.url, 2).await?;
    let person = match person {
        Some(p) => p,
        None => store
            .first_owner()
            .await?
            .context("--person: no owner in the database; name a person")?,
    };
    let service = hub::brief::BriefService::new(&config.brief);
    let mut brief = match service
        .data(&store, &person, date, chrono::Utc::now())
        .await
    {
        Err(hub::brief::BriefFailure::UnknownPerson(p)) => anyhow::bail!(
            "--person: no person {p:?} in the database (people from config.toml are written there when the hub starts)"
        ),
        Err(hub::brief::BriefFailure::BadDate(m)) => anyhow::bail!("--date: {m}"),
        other => other?,
    };
    if summary {
        let plain = service
            .renderer()
            .render_for_send(&brief, adapters::brief::Format::PlainText)?;
        service.add_summary(&store, &mut brief, &plain).await;
    }
    match format {
        PreviewFormat::Json => println!("{}", serde_json::to_string_pretty(&brief)?),
        PreviewFormat::Rendered(f) => println!("{}", service.renderer().render(&brief, f)?),
    }
    store.close().await;
    Ok(())
}

/// `orkhub key list` as an aligned table.
fn key_table(keys: &[hub::store::KeyListing]) -> String {
    let time = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let mut rows = vec![[
        "ID".to_string(),
        "AGENT".into(),
        "SCOPES".into(),
        "CREATED".into(),
        "EXPIRES".into(),
        "LAST USED".into(),
        "REVOKED".into(),
    ]];
    rows.extend(keys.iter().map(|k| {
        [
            k.id.clone(),
            k.agent_id.clone(),
            k.scopes.join(","),
            time(Some(k.created_at)),
            time(k.expires_at),
            time(k.last_used_at),
            time(k.revoked_at),
        ]
    }));
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The file of a `sqlite://` URL (None for other databases and in-memory ones).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

fn toml_like(config: &Config) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(config)?)
}

fn init_logging(config: &Config) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ORKHUB_LOG")
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: piped into a file or a
    // journal, escape codes are noise (tracing-subscriber would write them).
    let colour = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
