//! Inbound GitHub: `POST /integrations/github`. Each delivery is verified
//! (`X-Hub-Signature-256`; unsigned or wrong → 401, nothing written), run
//! once per `X-GitHub-Delivery` (recorded in the same transaction as what
//! it does, see store/github.rs), and mapped by `[[github.repos]]`:
//!
//! - `issues` opened (or reopened, or labeled — only with one of the repo's
//!   `labels` when it lists some) → a task in the repo's project, its title
//!   linking back to the issue; `closed` → that task completed;
//! - `pull_request` `review_requested` → a task for the reviewer, when their
//!   GitHub login is a person's `github` in config.toml;
//! - `deployment_status` failure/error, and `check_suite` failure on the
//!   default branch → an urgent `deploy.failed` / `build.failed` notification
//!   to the project's channels and owners; success → `fyi`
//!   (`deploy.succeeded` / `build.succeeded`);
//! - `ping` and everything else: acknowledged (200), nothing done.

pub mod payload;
pub mod verify;

use crate::api::AppState;
use crate::config::{Config, GithubRepoConfig, secret_from_env};
use crate::directory::Directory;
use crate::ids::new_id;
use crate::ingest::plan;
use crate::store::{GithubApplied, GithubEffect, NewDelivery, NewNotification};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use commands::{Assignee, AuditEntry, NewTask, Priority, TaskStatus};
use payload::Action;
use routing::{RoutingPolicy, Urgency};
use std::collections::HashMap;
use std::sync::Arc;

pub const PATH: &str = "/integrations/github";

struct Github {
    app: AppState,
    secret: Vec<u8>,
    /// `owner/name` in lower case → its mapping.
    repos: HashMap<String, GithubRepoConfig>,
    /// GitHub login in lower case → person ID.
    people: HashMap<String, String>,
    /// project → its channels.
    channels: HashMap<String, Vec<String>>,
    owners: Vec<String>,
    dir: Arc<Directory>,
    policy: RoutingPolicy,
}

/// The route, when `[github] enabled`.
pub fn routes(config: &Config, app: &AppState, dir: &Arc<Directory>) -> anyhow::Result<Router> {
    let g = &config.github;
    if !g.enabled {
        return Ok(Router::new());
    }
    let secret = secret_from_env(&g.secret_env, "github.secret_env").map_err(anyhow::Error::msg)?;
    let mut channels: HashMap<String, Vec<String>> = HashMap::new();
    for c in &config.channels {
        if let Some(p) = &c.project {
            channels.entry(p.clone()).or_default().push(c.id.clone());
        }
    }
    let github = Github {
        app: app.clone(),
        secret: secret.into_bytes(),
        repos: g
            .repos
            .iter()
            .map(|r| (r.repo.to_lowercase(), r.clone()))
            .collect(),
        people: config
            .people
            .iter()
            .filter_map(|p| Some((p.github.as_ref()?.to_lowercase(), p.id.clone())))
            .collect(),
        channels,
        owners: config
            .people
            .iter()
            .filter(|p| p.role == "owner")
            .map(|p| p.id.clone())
            .collect(),
        dir: dir.clone(),
        policy: config.routing.policy(),
    };
    Ok(Router::new()
        .route(PATH, post(receive))
        // Counted and timed as the API's routes are, and a server-side
        // failure logged once, with its method and path.
        .layer(crate::observe_requests::ObserveRequests::new(
            app.request_metrics.clone(),
        ))
        .layer(DefaultBodyLimit::max(config.server.body_limit_bytes))
        .with_state(Arc::new(github)))
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn refuse(status: StatusCode, code: &str, message: String) -> Response {
    answer(
        status,
        serde_json::json!({"error": {"code": code, "message": message}}),
    )
}

async fn receive(State(g): State<Arc<Github>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !verify::valid(&g.secret, header(verify::SIGNATURE_HEADER), &body) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "X-Hub-Signature-256 is missing or does not match the body under the webhook's secret (github.secret_env)".into(),
        );
    }
    let (Some(event), Some(delivery)) = (header("x-github-event"), header("x-github-delivery"))
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "X-GitHub-Event and X-GitHub-Delivery are required".into(),
        );
    };
    if delivery.is_empty() || delivery.len() > 100 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "X-GitHub-Delivery: 1 to 100 characters".into(),
        );
    }
    let payload: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        Ok(_) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "the payload must be a JSON object (content type application/json on GitHub)"
                    .into(),
            );
        }
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!(
                    "the payload is not JSON ({e}); choose content type application/json on GitHub"
                ),
            );
        }
    };
    let action = payload::read(event, &payload);
    let (effect, note) = g.effect(&action, delivery);
    match g
        .app
        .store
        .apply_github_delivery(delivery, event, &effect)
        .await
    {
        Ok(GithubApplied::Duplicate) => answer(
            StatusCode::OK,
            serde_json::json!({"ok": true, "duplicate": true, "note": "this X-GitHub-Delivery was run before"}),
        ),
        Ok(GithubApplied::Done { task }) => {
            if matches!(effect, GithubEffect::Notify { .. }) {
                g.app.wake.notify_one();
            }
            tracing::info!(event, delivery, %note, "GitHub delivery handled");
            answer(
                StatusCode::OK,
                serde_json::json!({"ok": true, "event": event, "note": note, "task": task.map(|t| t.id)}),
            )
        }
        Err(e) => crate::api::ApiError::from(e).into_response(),
    }
}

impl Github {
    /// What `action` does, and a note saying so.
    fn effect(&self, action: &Action, delivery: &str) -> (GithubEffect, String) {
        let repo_of = |repo: &str| self.repos.get(&repo.to_lowercase());
        let audit = |action: &str, resource: String, details: serde_json::Value| AuditEntry {
            actor: "github".into(),
            action: action.into(),
            resource,
            details,
            source: format!("github delivery {delivery}"),
        };
        let unmapped = |repo: &str| {
            (
                GithubEffect::Nothing,
                format!("repository {repo:?} is not in [[github.repos]]"),
            )
        };
        match action {
            Action::Ignore(why) => (GithubEffect::Nothing, format!("ignored: {why}")),
            Action::Ping => (GithubEffect::Nothing, "pong".into()),
            Action::OpenIssue {
                repo,
                number,
                title,
                url,
                labels,
            } => {
                let Some(r) = repo_of(repo) else {
                    return unmapped(repo);
                };
                if !r.labels.is_empty() && !labels.iter().any(|l| r.labels.contains(l)) {
                    return (
                        GithubEffect::Nothing,
                        format!("issue #{number} has none of the labels {:?}", r.labels),
                    );
                }
                let task = NewTask {
                    title: linked_title(&format!("{repo}#{number}: {title}"), url),
                    status: TaskStatus::Created,
                    priority: Priority::default(),
                    project: Some(r.project.clone()),
                    assignee: None,
                    due: None,
                    capabilities: Vec::new(),
                    created_by: "github".into(),
                };
                (
                    GithubEffect::CreateTask {
                        repo: r.repo.clone(),
                        reference: format!("issue/{number}"),
                        task,
                        audit: audit(
                            "task.create",
                            "task".into(),
                            serde_json::json!({"issue": url}),
                        ),
                    },
                    format!("issue #{number} → a task in {}", r.project),
                )
            }
            Action::CloseIssue { repo, number } => {
                let Some(r) = repo_of(repo) else {
                    return unmapped(repo);
                };
                (
                    GithubEffect::CompleteTask {
                        repo: r.repo.clone(),
                        reference: format!("issue/{number}"),
                        audit: audit(
                            "task.move",
                            String::new(),
                            serde_json::json!({"to": "completed", "issue": number}),
                        ),
                    },
                    format!("issue #{number} closed → its task completed"),
                )
            }
            Action::ReviewRequested {
                repo,
                number,
                title,
                url,
                login,
            } => {
                let Some(r) = repo_of(repo) else {
                    return unmapped(repo);
                };
                let Some(person) = self.people.get(&login.to_lowercase()) else {
                    return (
                        GithubEffect::Nothing,
                        format!("{login} is nobody's github login in config.toml"),
                    );
                };
                let task = NewTask {
                    title: linked_title(&format!("Review {repo}#{number}: {title}"), url),
                    status: TaskStatus::Assigned,
                    priority: Priority::default(),
                    project: Some(r.project.clone()),
                    assignee: Some(Assignee::Person(person.clone())),
                    due: None,
                    capabilities: Vec::new(),
                    created_by: "github".into(),
                };
                (
                    GithubEffect::CreateTask {
                        repo: r.repo.clone(),
                        reference: format!("review/{number}/{}", login.to_lowercase()),
                        task,
                        audit: audit(
                            "task.create",
                            "task".into(),
                            serde_json::json!({"pull_request": url, "reviewer": login}),
                        ),
                    },
                    format!("review of #{number} → a task for {person}"),
                )
            }
            Action::Status {
                repo,
                what,
                failed,
                detail,
                url,
            } => {
                let Some(r) = repo_of(repo) else {
                    return unmapped(repo);
                };
                let (kind, urgency, verb) = match (*what, *failed) {
                    ("deploy", true) => ("deploy.failed", Urgency::Urgent, "Deploy failed"),
                    ("deploy", false) => ("deploy.succeeded", Urgency::Fyi, "Deployed"),
                    (_, true) => ("build.failed", Urgency::Urgent, "Build failed"),
                    (_, false) => ("build.succeeded", Urgency::Fyi, "Build passed"),
                };
                let text = match url {
                    Some(u) => format!("{repo} {detail}\n{u}"),
                    None => format!("{repo} {detail}"),
                };
                let (notifications, deliveries) =
                    self.notify(&r.project, kind, urgency, &format!("{verb}: {repo}"), &text);
                let events = notifications
                    .iter()
                    .map(crate::webhooks::events::notification_created)
                    .collect();
                let n = notifications.len();
                (
                    GithubEffect::Notify {
                        notifications,
                        deliveries,
                        events,
                    },
                    format!("{kind} → {n} notification(s)"),
                )
            }
        }
    }

    /// A notification to each of the project's channels and each owner.
    fn notify(
        &self,
        project: &str,
        kind: &str,
        urgency: Urgency,
        title: &str,
        text: &str,
    ) -> (Vec<NewNotification>, Vec<NewDelivery>) {
        let now = chrono::Utc::now();
        let now_ms = now.timestamp_millis();
        let mut notifications = Vec::new();
        let mut deliveries = Vec::new();
        let mut add =
            |recipient_kind: &'static str, id: &str, ds: Vec<NewDelivery>, nid: String| {
                deliveries.extend(ds);
                notifications.push(NewNotification {
                    id: nid,
                    source: "github".into(),
                    kind: kind.into(),
                    urgency: urgency.as_str(),
                    recipient_kind,
                    recipient_id: id.into(),
                    project_id: Some(project.into()),
                    title: Some(title.into()),
                    body: text.into(),
                    fields_json: "[]".into(),
                    decision_id: None,
                    dedupe_key: None,
                    duplicate: false,
                    created_at: now_ms,
                });
            };
        for channel in self.channels.get(project).into_iter().flatten() {
            let nid = new_id("n");
            let ds = plan::channel_deliveries(&self.dir, channel, &nid, now_ms);
            add("channel", channel, ds, nid);
        }
        for owner in &self.owners {
            let nid = new_id("n");
            let event = routing::Event {
                kind,
                urgency: Some(urgency),
                now,
                last_duplicate_at: None,
            };
            let (_, ds) = plan::person_deliveries(&self.dir, &self.policy, owner, &nid, &event);
            add("person", owner, ds, nid);
        }
        (notifications, deliveries)
    }
}

/// `title — url`, the title cut so the whole fits a task's title limit.
fn linked_title(title: &str, url: &str) -> String {
    let max = commands::MAX_TITLE_CHARS;
    let suffix = if url.is_empty() {
        String::new()
    } else {
        format!(" — {url}")
    };
    let room = max.saturating_sub(suffix.chars().count());
    let mut t: String = title.chars().take(room).collect();
    if t.chars().count() < title.chars().count() && room > 1 {
        t = t.chars().take(room - 1).collect::<String>() + "…";
    }
    if suffix.chars().count() >= max {
        return title.chars().take(max).collect();
    }
    t + &suffix
}
