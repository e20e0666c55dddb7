//! The `orkhub` binary: serve the hub, manage agent API keys, check config.

use anyhow::Context;
use clap::{Parser, Subcommand};
use hub::config::{Config, LogFormat};
use std::path::PathBuf;

// Many small, short-lived allocations cross threads here (requests, JSON,
// rows): mimalloc handles that with far less locking than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// orkhub — the messaging hub where people and AI agents run a company together.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The config file (every key can also be set as ORKHUB_SECTION__KEY).
    #[arg(
        short,
        long,
        global = true,
        default_value = "config.toml",
        env = "ORKHUB_CONFIG"
    )]
    config: PathBuf,
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
    /// Print a person's daily brief without sending it.
    Brief {
        /// Print only; nothing is sent or claimed (required: the schedule and
        /// the chat `brief` command are what send briefs).
        #[arg(long)]
        preview: bool,
        /// telegram, slack, slack-blocks, discord, email-html, text or json.
        #[arg(long, default_value = "text")]
        format: String,
        /// The person's local date, YYYY-MM-DD (default: their today).
        #[arg(long)]
        date: Option<String>,
        /// The person's handle (default: the first owner).
        #[arg(long)]
        person: Option<String>,
    },
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
    /// Revoke a key by its ID (the part after `ork_` in the key).
    Revoke { id: String },
    /// List the scopes a key may have.
    Scopes,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let config =
        Config::load(&cli.config).with_context(|| format!("loading {}", cli.config.display()))?;
    init_logging(&config);
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            hub::store::Store::open(&config.database.url, 1).await?;
            println!("database is up to date: {}", config.database.url);
            Ok(())
        }
        Command::CheckConfig => {
            println!("{}", toml_like(&config)?);
            Ok(())
        }
        Command::Key { command } => key(config, command).await,
        Command::Brief {
            preview,
            format,
            date,
            person,
        } => brief_preview(config, preview, &format, date.as_deref(), person).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let running = hub::app::start(config, hub::app::Options::default()).await?;
    shutdown_signal().await;
    tracing::info!("stopping: draining accepted work");
    running.shutdown().await;
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

async fn brief_preview(
    config: Config,
    preview: bool,
    format: &str,
    date: Option<&str>,
    person: Option<String>,
) -> anyhow::Result<()> {
    if !preview {
        anyhow::bail!(
            "`orkhub brief` only previews (add --preview); briefs are sent by the schedule and the chat `brief` command"
        );
    }
    let format = match format {
        "json" => None,
        f => Some(briefs::Format::parse(f)?),
    };
    let date = date
        .map(|d| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .with_context(|| format!("--date: expected YYYY-MM-DD, got {d:?}"))
        })
        .transpose()?;
    let store = hub::store::Store::open(&config.database.url, 2).await?;
    hub::seed::apply(&store, &config).await?;
    let person = match person {
        Some(p) => p,
        None => store
            .first_owner()
            .await?
            .context("--person: no owner is configured; name a person")?,
    };
    let service = hub::brief::BriefService::new(&config.brief);
    let mut brief = service
        .data(&store, &person, date, chrono::Utc::now())
        .await?;
    service.add_summary(&store, &mut brief).await;
    match format {
        None => println!("{}", serde_json::to_string_pretty(&brief)?),
        Some(f) => println!("{}", service.renderer().render(&brief, f)?),
    }
    store.close().await;
    Ok(())
}

fn toml_like(config: &Config) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(config)?)
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ORKHUB_LOG")
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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
