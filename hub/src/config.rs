//! Configuration: one commented `config.toml`, every key overridable by an
//! `ORKHUB_*` environment variable (`ORKHUB_DATABASE__URL`, double underscore
//! between levels). Defaults let `orkhub serve` run with no platform tokens.

mod budgets;
mod integrations;
mod locate;
mod watchers;

pub use budgets::BudgetsConfig;
pub use integrations::{
    GithubConfig, GithubRepoConfig, WebhookConfig, WebhookSenderConfig, secret_from_env,
};
pub use watchers::{SlaKind, SlaRule, WatchersConfig};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use routing::{ChannelKind, Urgency};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub routing: RoutingConfig,
    pub outbox: OutboxConfig,
    pub ingest: IngestConfig,
    pub adapters: AdaptersConfig,
    pub people: Vec<PersonConfig>,
    pub agents: Vec<AgentConfig>,
    pub projects: Vec<ProjectConfig>,
    pub channels: Vec<ChannelConfig>,
    /// Extra approvers per decision kind, besides owners and admins.
    pub approvers: BTreeMap<String, Vec<String>>,
    pub brief: briefs::BriefConfig,
    pub tls: TlsConfig,
    /// Outbound webhooks declared here (more can be made over the API).
    pub webhooks: Vec<WebhookConfig>,
    pub webhook_sender: WebhookSenderConfig,
    /// Inbound GitHub webhooks.
    pub github: GithubConfig,
    /// SLA, budget and anomaly checks on a schedule.
    pub watchers: WatchersConfig,
    /// The time zone of budget periods (an agent's day, a project's month).
    pub budgets: BudgetsConfig,
}

/// Trust for outbound TLS (SMTP, platform APIs, the LLM endpoint): the
/// system's CA store, plus this bundle.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of CA certificates trusted besides the system's, for
    /// every adapter that does not name its own `ca_file`.
    pub ca_file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    /// Requests with a larger body are refused with 413.
    pub body_limit_bytes: usize,
    /// How long the answer to a request with an Idempotency-Key is kept
    /// for its retries; older ones are pruned in the background.
    pub idempotency_ttl_secs: u64,
    /// A client must finish sending a request's headers within this long
    /// after connecting (or after its previous answer); else the connection
    /// is closed.
    pub header_read_timeout_secs: u64,
    /// A connection on which nothing moves either way for this long is
    /// closed. Live feed streams are not: they write a keep-alive comment
    /// every quarter of this (at most 15 s apart).
    pub idle_timeout_secs: u64,
    /// Open connections at most; more wait to be accepted until one closes.
    /// Keep it below the process's file descriptor limit (`ulimit -n`).
    pub max_connections: usize,
    /// Threads that run the hub's async work (HTTP, routing, adapters,
    /// schedules). 0: see [`Config::runtime_workers`].
    pub worker_threads: usize,
    /// Every this many seconds the hub hands back the code pages that rare
    /// work left resident (see `memory_trim.rs`; the first pass 5 s after
    /// start). 0: only once, after start.
    pub memory_trim_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            body_limit_bytes: 1024 * 1024,
            idempotency_ttl_secs: 24 * 60 * 60,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 512,
            worker_threads: 0,
            memory_trim_secs: 30,
        }
    }
}

impl ServerConfig {
    pub fn limits(&self) -> crate::server::Limits {
        crate::server::Limits {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout_secs),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
            max_connections: self.max_connections,
        }
    }
}

/// More runtime workers than this is a typo, not a machine: each is a
/// thread with its own stack, all started at once.
const MAX_WORKER_THREADS: usize = 256;

/// A code-page pass less often than daily hands nothing back in practice,
/// and an interval near `u64::MAX` seconds would overflow the timer.
const MAX_MEMORY_TRIM_SECS: u64 = 86_400;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://data/orkhub.db` (created on first start) or `postgres://...`.
    /// Serialized (`orkhub check-config`) without its password.
    #[serde(serialize_with = "redacted_url")]
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/orkhub.db".into(),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter, e.g. "info" or "orkhub=debug,sqlx=warn".
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub default_urgency: Urgency,
    pub dedupe_window_secs: i64,
    /// Urgency per event kind when the sender gives none.
    pub kind_urgency: BTreeMap<String, Urgency>,
    /// Email closes every push fallback chain that does not list it.
    pub email_fallback: bool,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        let mut kind_urgency = BTreeMap::new();
        kind_urgency.insert("decision.requested".to_string(), Urgency::Urgent);
        kind_urgency.insert("message".to_string(), Urgency::Urgent);
        RoutingConfig {
            default_urgency: Urgency::Info,
            dedupe_window_secs: 300,
            kind_urgency,
            email_fallback: true,
        }
    }
}

impl RoutingConfig {
    pub fn policy(&self) -> routing::RoutingPolicy {
        routing::RoutingPolicy {
            kind_urgency: self.kind_urgency.clone(),
            default_urgency: self.default_urgency,
            dedupe_window_secs: self.dedupe_window_secs,
            email_fallback: self.email_fallback,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Attempts per delivery before it is dead and the next channel is tried.
    pub max_attempts: u32,
    /// How long a delivery may keep being rate limited (a platform's 429,
    /// which does not count as a failed attempt) before it is dead.
    pub max_throttled_secs: u64,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// How long a claimed delivery stays ours before another worker may take it.
    pub lease_secs: u64,
    /// Most deliveries claimed at once.
    pub batch_size: u32,
    /// How often the outbox is checked when nothing wakes it.
    pub poll_interval_ms: u64,
    /// Chats sent to at once (each chat's messages go out in order).
    pub concurrency: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_attempts: 6,
            max_throttled_secs: 3_600,
            base_backoff_ms: 1_000,
            max_backoff_ms: 300_000,
            lease_secs: 60,
            batch_size: 256,
            poll_interval_ms: 500,
            concurrency: 32,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Most notifications committed in one transaction.
    pub max_batch: usize,
    /// Requests waiting for the writer; beyond it new ones are answered 503
    /// with Retry-After at once.
    pub queue: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_batch: 512,
            queue: 16_384,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptersConfig {
    pub console: ConsoleConfig,
    pub web: WebConfig,
    pub telegram: adapters::telegram::TelegramConfig,
    pub slack: adapters::slack::SlackConfig,
    pub discord: adapters::discord::DiscordConfig,
    pub email: adapters::email::EmailConfig,
}

impl Default for AdaptersConfig {
    fn default() -> Self {
        AdaptersConfig {
            console: ConsoleConfig { enabled: true },
            web: WebConfig::default(),
            telegram: Default::default(),
            slack: Default::default(),
            discord: Default::default(),
            email: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    pub enabled: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig { enabled: true }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    pub enabled: bool,
    /// Events a slow feed viewer may fall behind.
    pub buffer: usize,
    /// The web console's address as people reach it (used in login links),
    /// e.g. `https://hub.example.com`. Empty: `http://` + server.listen.
    /// Session cookies are marked `Secure` when it is https.
    pub public_url: String,
    /// How long a console session lasts after login.
    pub session_minutes: u32,
    /// How long a one-time login link may be used.
    pub login_link_minutes: u32,
    /// How long the sign-in link in an email (a digest, a decision) may be used:
    /// longer than a chat's, as mail is read hours after it is sent.
    pub email_link_minutes: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            enabled: true,
            buffer: 1024,
            public_url: String::new(),
            session_minutes: 12 * 60,
            login_link_minutes: 10,
            email_link_minutes: 24 * 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursConfig {
    pub start: String,
    pub end: String,
    #[serde(default = "yes")]
    pub urgent_breaks_through: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default = "member")]
    pub role: String,
    #[serde(default = "utc")]
    pub time_zone: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Push channels in order of preference (the rest are fallbacks).
    #[serde(default = "console_only")]
    pub push: Vec<ChannelKind>,
    /// Per event kind override of `push`.
    #[serde(default)]
    pub by_kind: BTreeMap<String, Vec<ChannelKind>>,
    #[serde(default = "email")]
    pub digest_channel: ChannelKind,
    #[serde(default = "eight")]
    pub digest_time: String,
    /// Local weekdays the digest goes out ("mon" … "sun"); empty: every day.
    /// Items held on other days wait for the next digest day.
    #[serde(default)]
    pub digest_days: Vec<String>,
    #[serde(default = "nine")]
    pub brief_time: String,
    #[serde(default)]
    pub quiet_hours: Option<QuietHoursConfig>,
    /// Platform → the platform's immutable user ID.
    #[serde(default)]
    pub identities: BTreeMap<ChannelKind, String>,
    /// The person's GitHub login: a review requested from it on a mapped
    /// repository becomes a task for them.
    #[serde(default)]
    pub github: Option<String>,
    /// Who an unanswered SLA breach of this person's goes to first (a
    /// person id), before the admins and the owners.
    #[serde(default)]
    pub manager: Option<String>,
}

fn member() -> String {
    "member".into()
}
fn utc() -> String {
    "UTC".into()
}
fn console_only() -> Vec<ChannelKind> {
    vec![ChannelKind::Console]
}
fn email() -> ChannelKind {
    ChannelKind::Email
}
fn eight() -> String {
    "08:00".into()
}
fn nine() -> String {
    "09:00".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub daily_budget_usd: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub budget_usd: Option<f64>,
    /// A person: who the project's questions go to when their task has no
    /// person assigned.
    #[serde(default)]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub id: String,
    #[serde(default = "project_kind")]
    pub kind: String,
    #[serde(default)]
    pub project: Option<String>,
    /// Platform → chat / channel ID on that platform.
    #[serde(default)]
    pub bindings: BTreeMap<ChannelKind, String>,
}

fn project_kind() -> String {
    "project".into()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("config: {0}")]
    Invalid(String),
    #[error(
        "config file {} does not exist (named by --config or ORKHUB_CONFIG); give the path of an existing file",
        .0.display()
    )]
    Missing(std::path::PathBuf),
    /// Any of the above, where the file says it.
    #[error("config: {}:{line}: {message}", .file.display())]
    At {
        file: std::path::PathBuf,
        line: usize,
        message: String,
    },
}

/// The config's top-level tables: what a key named in a message starts with.
const TABLES: &[&str] = &[
    "server",
    "database",
    "log",
    "routing",
    "outbox",
    "ingest",
    "adapters",
    "people",
    "agents",
    "projects",
    "channels",
    "approvers",
    "brief",
    "tls",
    "webhooks",
    "webhook_sender",
    "github",
    "watchers",
    "budgets",
];

/// The line of `file` that `message` (an error naming a config key, as
/// every validation message does) is about, if the file writes that key.
pub fn line_for(file: &Path, message: &str) -> Option<usize> {
    let key = locate::key_in_message(message, TABLES)?;
    locate::line_of(&std::fs::read_to_string(file).ok()?, &key)
}

impl ConfigError {
    /// This error with the line of `file` it is about, when it can be told:
    /// figment names the key (for an unknown one, its table), validations
    /// name it in their message.
    fn at(self, file: &Path) -> ConfigError {
        let (line, message) = match &self {
            ConfigError::Parse(e) => {
                // Only an error in this file (not in an ORKHUB_* variable).
                let from_file = e
                    .metadata
                    .as_ref()
                    .and_then(|m| m.source.as_ref())
                    .and_then(|s| s.file_path())
                    .is_some();
                let mut key = e.path.clone();
                if let figment::error::Kind::UnknownField(name, _) = &e.kind {
                    key.push(name.clone());
                }
                let line = std::fs::read_to_string(file)
                    .ok()
                    .filter(|_| from_file)
                    .and_then(|text| locate::line_of(&text, &key));
                (line, e.to_string())
            }
            ConfigError::Invalid(m) => (line_for(file, m), m.clone()),
            _ => (None, String::new()),
        };
        match line {
            Some(line) => ConfigError::At {
                file: file.to_path_buf(),
                line,
                message,
            },
            None => self,
        }
    }
}

impl Config {
    /// The time zone budget periods follow (`[budgets] time_zone`, else
    /// the first owner's, else UTC).
    pub fn budget_zone(&self) -> chrono_tz::Tz {
        self.budgets.zone(&self.people)
    }

    /// How many runtime worker threads to start on a machine of `cores`:
    /// `server.worker_threads` when set, else one per core on PostgreSQL
    /// and one fewer on SQLite. Why fewer: SQLite runs inside the hub's
    /// process, each connection on a thread of its own (sqlx), and under
    /// load the ingest writer's connection keeps a core busy; a worker on
    /// every core as well made the workers hand work to each other and
    /// park and wake far more often (bench/external.sh on 2 cores, README
    /// "External load": 38 → 34 µs of hub CPU per notification, 10% more
    /// notifications/s). At least one.
    pub fn runtime_workers(&self, cores: usize) -> usize {
        match self.server.worker_threads {
            0 if self.database.url.starts_with("sqlite:") => cores.saturating_sub(1).max(1),
            0 => cores.max(1),
            n => n,
        }
    }

    /// Load the file at exactly `path` (a path someone named: it must
    /// exist) over the defaults, then `ORKHUB_*` variables. A relative path
    /// is read from the working directory, never from a parent directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::Missing(path.to_path_buf()));
        }
        Self::load_file(Some(path))
    }

    /// Load `path` if it exists; otherwise the defaults and `ORKHUB_*`
    /// variables alone. For the default `config.toml`, which a fresh
    /// install may not have. Also says whether the file was there, so the
    /// caller can log that it runs on defaults.
    pub fn load_or_defaults(path: &Path) -> Result<(Config, bool), ConfigError> {
        let found = path.is_file();
        Ok((Self::load_file(found.then_some(path))?, found))
    }

    fn load_file(path: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_file_unlocated(path).map_err(|e| match path {
            Some(p) => e.at(p),
            None => e,
        })
    }

    fn load_file_unlocated(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = path {
            // file_exact: Toml::file would search the parent directories
            // and silently skip a file that is not there.
            figment = figment.merge(Toml::file_exact(path));
        }
        let config: Config = figment
            // Only SECTION__KEY variables are config; ORKHUB_LOG, ORKHUB_CONFIG
            // and the like are read elsewhere.
            .merge(
                Env::prefixed("ORKHUB_")
                    .filter(|k| k.as_str().contains("__"))
                    .split("__"),
            )
            .extract()
            .map_err(Box::new)?;
        let config = config.with_inherited_tls();
        config.validate()?;
        Ok(config)
    }

    /// Each adapter without a `ca_file` of its own trusts `[tls] ca_file`.
    fn with_inherited_tls(mut self) -> Config {
        let shared = &self.tls.ca_file;
        let a = &mut self.adapters;
        for own in [
            &mut a.email.ca_file,
            &mut a.telegram.ca_file,
            &mut a.slack.ca_file,
            &mut a.discord.ca_file,
            &mut self.brief.llm.ca_file,
        ] {
            if own.is_none() {
                own.clone_from(shared);
            }
        }
        self
    }

    /// Parse a config from TOML text (no environment), for tests.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(Box::new)?;
        let config = config.with_inherited_tls();
        config.validate()?;
        Ok(config)
    }

    /// Catch mistakes at start, with the key that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        for p in &self.people {
            if !["owner", "admin", "member", "viewer"].contains(&p.role.as_str()) {
                return bad(format!(
                    "people.{}.role = {:?}: expected owner, admin, member or viewer",
                    p.id, p.role
                ));
            }
            if p.time_zone.parse::<chrono_tz::Tz>().is_err() {
                return bad(format!(
                    "people.{}.time_zone = {:?}: not an IANA time zone (e.g. Europe/Kyiv)",
                    p.id, p.time_zone
                ));
            }
            for (key, value) in [
                ("digest_time", &p.digest_time),
                ("brief_time", &p.brief_time),
            ] {
                if parse_hhmm(value).is_none() {
                    return bad(format!("people.{}.{key} = {value:?}: expected HH:MM", p.id));
                }
            }
            if let Some(day) = p
                .digest_days
                .iter()
                .find(|d| d.trim().parse::<chrono::Weekday>().is_err())
            {
                return bad(format!(
                    "people.{}.digest_days: {day:?} is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
                    p.id
                ));
            }
            if let Some(q) = &p.quiet_hours
                && (parse_hhmm(&q.start).is_none() || parse_hhmm(&q.end).is_none())
            {
                return bad(format!(
                    "people.{}.quiet_hours: start and end must be HH:MM",
                    p.id
                ));
            }
        }
        for p in &self.projects {
            if let Some(o) = &p.owner
                && !self.people.iter().any(|x| &x.id == o)
            {
                return bad(format!(
                    "projects.{}.owner = {o:?}: no such person in [[people]]",
                    p.id
                ));
            }
        }
        for c in &self.channels {
            if !["project", "direct", "system"].contains(&c.kind.as_str()) {
                return bad(format!(
                    "channels.{}.kind = {:?}: expected project, direct or system",
                    c.id, c.kind
                ));
            }
            if let Some(p) = &c.project
                && !self.projects.iter().any(|x| &x.id == p)
            {
                return bad(format!(
                    "channels.{}.project = {p:?}: no such project in [[projects]]",
                    c.id
                ));
            }
        }
        budgets(self)?;
        web_console(&self.adapters.web)?;
        if self.server.body_limit_bytes == 0 {
            return bad("server.body_limit_bytes must be above 0".into());
        }
        // Below a minute, a request still running could lose its reservation.
        if self.server.idempotency_ttl_secs < 60 {
            return bad(format!(
                "server.idempotency_ttl_secs = {}: must be at least 60",
                self.server.idempotency_ttl_secs
            ));
        }
        // The LLM client is built without failing (a bad bundle would only
        // lose summaries): its CA bundle is checked here, at start and by
        // check-config.
        adapters::tls::Trust::load(self.tls.ca_file.as_deref(), "tls.ca_file")
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.brief.llm.enabled {
            adapters::tls::Trust::load(self.brief.llm.ca_file.as_deref(), "brief.llm.ca_file")
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        if self.server.header_read_timeout_secs == 0 {
            return bad("server.header_read_timeout_secs must be above 0".into());
        }
        if self.server.idle_timeout_secs == 0 {
            return bad("server.idle_timeout_secs must be above 0".into());
        }
        if self.server.max_connections == 0 {
            return bad("server.max_connections must be above 0".into());
        }
        if self.server.worker_threads > MAX_WORKER_THREADS {
            return bad(format!(
                "server.worker_threads must be at most {MAX_WORKER_THREADS} (0: one per core, one fewer on SQLite); got {}",
                self.server.worker_threads
            ));
        }
        if self.server.memory_trim_secs > MAX_MEMORY_TRIM_SECS {
            return bad(format!(
                "server.memory_trim_secs must be at most {MAX_MEMORY_TRIM_SECS} (a day; 0: only once, after start); got {}",
                self.server.memory_trim_secs
            ));
        }
        if self.ingest.queue == 0 || self.ingest.max_batch == 0 {
            return bad("ingest.queue and ingest.max_batch must be above 0".into());
        }
        integrations::validate(self).map_err(ConfigError::Invalid)?;
        watchers::validate(&self.watchers, &self.people).map_err(ConfigError::Invalid)?;
        budgets::validate(&self.budgets).map_err(ConfigError::Invalid)?;
        Ok(())
    }
}

/// A database URL without its password (the one after `user:` and the
/// `password=` parameter), for logs, errors and `orkhub check-config`.
pub fn redact_url(url: &str) -> String {
    let mut out = match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:<redacted>{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    };
    if let Some(q) = out.find('?') {
        let query: Vec<String> = out[q + 1..]
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=<redacted>"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{}?{}", &out[..q], query.join("&"));
    }
    out
}

fn redacted_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url))
}

impl Config {
    /// Settings that work but probably not as meant; `orkhub check-config`
    /// prints them and `orkhub serve` logs them at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.people {
            let digest = p.digest_channel;
            if digest == ChannelKind::Web || p.has_address(digest) {
                continue;
            }
            let instead = p
                .push
                .iter()
                .find(|c| **c != ChannelKind::Web && p.has_address(**c));
            let what = match digest {
                ChannelKind::Email => "no email".to_string(),
                other => format!("no {other} identity"),
            };
            out.push(match instead {
                Some(c) => format!(
                    "people.{id}: digest_channel = \"{digest}\" but {id} has {what}; their info items are held for a digest on {c} instead",
                    id = p.id
                ),
                None => format!(
                    "people.{id}: digest_channel = \"{digest}\" but {id} has {what}, and no push channel with an address; their info items reach the web feed only",
                    id = p.id
                ),
            });
        }
        out
    }
}

/// Budgets are amounts of money: a negative (or NaN, or infinite) one would
/// make every percentage of it meaningless, so it is refused with its key.
fn budgets(config: &Config) -> Result<(), ConfigError> {
    let keys = config
        .projects
        .iter()
        .map(|p| (format!("projects.{}.budget_usd", p.id), p.budget_usd))
        .chain(config.agents.iter().map(|a| {
            (
                format!("agents.{}.daily_budget_usd", a.id),
                a.daily_budget_usd,
            )
        }));
    for (key, value) in keys {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(ConfigError::Invalid(format!(
                "{key} = {v}: a budget must be a number of USD, 0 or more"
            )));
        }
    }
    Ok(())
}

pub fn parse_hhmm(s: &str) -> Option<chrono::NaiveTime> {
    chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

impl PersonConfig {
    /// Whether this person can be reached on `channel` (the web feed and
    /// the console always; email with an address; a chat with an identity).
    pub fn has_address(&self, channel: ChannelKind) -> bool {
        match channel {
            ChannelKind::Web | ChannelKind::Console => true,
            ChannelKind::Email => self.email.is_some(),
            other => self.identities.contains_key(&other),
        }
    }

    /// The routing preferences this person declared.
    pub fn preferences(&self) -> routing::Preferences {
        routing::Preferences {
            time_zone: self.time_zone.parse().unwrap_or(chrono_tz::UTC),
            push: self.push.clone(),
            by_kind: self.by_kind.clone(),
            digest_channel: self.digest_channel,
            quiet_hours: self.quiet_hours.as_ref().and_then(|q| {
                Some(routing::QuietHours {
                    start: parse_hhmm(&q.start)?,
                    end: parse_hhmm(&q.end)?,
                    urgent_breaks_through: q.urgent_breaks_through,
                })
            }),
        }
    }
}

/// The web console's keys: a public URL people can open, lifetimes above 0.
fn web_console(web: &WebConfig) -> Result<(), ConfigError> {
    let bad = |m: String| Err(ConfigError::Invalid(m));
    let url = web.public_url.trim();
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        return bad(format!(
            "adapters.web.public_url = {url:?}: expected an http:// or https:// address, e.g. https://hub.example.com"
        ));
    }
    if web.session_minutes == 0 {
        return bad("adapters.web.session_minutes must be above 0".into());
    }
    if web.login_link_minutes == 0 {
        return bad("adapters.web.login_link_minutes must be above 0".into());
    }
    if web.email_link_minutes == 0 {
        return bad("adapters.web.email_link_minutes must be above 0".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_workers_leave_sqlite_a_core_unless_told() {
        let mut c = Config::default();
        assert!(c.database.url.starts_with("sqlite:"), "{}", c.database.url);
        assert_eq!(c.runtime_workers(2), 1);
        assert_eq!(c.runtime_workers(8), 7);
        assert_eq!(c.runtime_workers(1), 1, "at least one");
        c.database.url = "postgres://postgres@127.0.0.1/orkhub".into();
        assert_eq!(c.runtime_workers(2), 2);
        assert_eq!(c.runtime_workers(0), 1, "at least one");
        c.server.worker_threads = 3;
        assert_eq!(c.runtime_workers(2), 3, "the config wins");
        c.database.url = "sqlite://data/orkhub.db".into();
        assert_eq!(c.runtime_workers(2), 3, "the config wins");
    }

    #[test]
    fn a_worker_count_no_machine_has_is_refused_by_name() {
        let mut c = Config::default();
        c.server.worker_threads = 256;
        assert!(c.validate().is_ok());
        c.server.worker_threads = 100_000;
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("server.worker_threads must be at most 256"),
            "{e}"
        );
        assert!(e.contains("100000"), "{e}");
    }

    #[test]
    fn a_memory_trim_interval_over_a_day_is_refused_by_name() {
        let mut c = Config::default();
        for ok in [0, 30, 86_400] {
            c.server.memory_trim_secs = ok;
            assert!(c.validate().is_ok(), "{ok}");
        }
        c.server.memory_trim_secs = u64::MAX;
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("server.memory_trim_secs must be at most 86400"),
            "{e}"
        );
        assert!(e.contains(&u64::MAX.to_string()), "{e}");
    }
}
