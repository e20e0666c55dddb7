//! What a GitHub event means for the hub: the fields read from GitHub's
//! payloads (shaped as in GitHub's "Webhook events and payloads" docs) and
//! the resulting action. Pure: no I/O, so each mapping is tested alone.

use serde_json::Value;

/// What an event asks the hub to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Acknowledged and ignored, with the reason (for the answer and logs).
    Ignore(String),
    Ping,
    /// An issue opened (or labeled) in a mapped repository.
    OpenIssue {
        repo: String,
        number: i64,
        title: String,
        url: String,
        labels: Vec<String>,
    },
    CloseIssue {
        repo: String,
        number: i64,
    },
    /// A review was requested from `login` on a pull request.
    ReviewRequested {
        repo: String,
        number: i64,
        title: String,
        url: String,
        login: String,
    },
    /// A deployment or a check suite finished: `failed` or succeeded.
    Status {
        repo: String,
        /// `deploy` or `build`.
        what: &'static str,
        failed: bool,
        /// The environment or branch, and the state, for the text.
        detail: String,
        url: Option<String>,
    },
}

fn s(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::to_string)
}

fn i(v: &Value, path: &[&str]) -> Option<i64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_i64()
}

/// Read event `event` (the `X-GitHub-Event` header) with payload `p`.
pub fn read(event: &str, p: &Value) -> Action {
    let repo = s(p, &["repository", "full_name"]).unwrap_or_default();
    let action = s(p, &["action"]).unwrap_or_default();
    let missing = |what: &str| Action::Ignore(format!("{event} without {what}"));
    match (event, action.as_str()) {
        ("ping", _) => Action::Ping,
        ("issues", "opened" | "reopened" | "labeled") => {
            let (Some(number), Some(title)) =
                (i(p, &["issue", "number"]), s(p, &["issue", "title"]))
            else {
                return missing("issue.number and issue.title");
            };
            let labels = p["issue"]["labels"]
                .as_array()
                .map(|ls| ls.iter().filter_map(|l| s(l, &["name"])).collect())
                .unwrap_or_default();
            Action::OpenIssue {
                repo,
                number,
                title,
                url: s(p, &["issue", "html_url"]).unwrap_or_default(),
                labels,
            }
        }
        ("issues", "closed") => match i(p, &["issue", "number"]) {
            Some(number) => Action::CloseIssue { repo, number },
            None => missing("issue.number"),
        },
        ("pull_request", "review_requested") => {
            // A team's review request has requested_team instead.
            let Some(login) = s(p, &["requested_reviewer", "login"]) else {
                return Action::Ignore("a review requested from a team, not a person".into());
            };
            let (Some(number), Some(title)) = (
                i(p, &["pull_request", "number"]),
                s(p, &["pull_request", "title"]),
            ) else {
                return missing("pull_request.number and pull_request.title");
            };
            Action::ReviewRequested {
                repo,
                number,
                title,
                url: s(p, &["pull_request", "html_url"]).unwrap_or_default(),
                login,
            }
        }
        ("deployment_status", _) => {
            let state = s(p, &["deployment_status", "state"]).unwrap_or_default();
            let failed = match state.as_str() {
                "failure" | "error" => true,
                "success" => false,
                other => return Action::Ignore(format!("deployment_status {other:?}")),
            };
            let env = s(p, &["deployment_status", "environment"])
                .or_else(|| s(p, &["deployment", "environment"]))
                .unwrap_or_else(|| "an environment".into());
            Action::Status {
                repo,
                what: "deploy",
                failed,
                detail: format!("{env}: {state}"),
                url: s(p, &["deployment_status", "target_url"])
                    .or_else(|| s(p, &["deployment_status", "log_url"])),
            }
        }
        ("check_suite", "completed") => {
            let branch = s(p, &["check_suite", "head_branch"]).unwrap_or_default();
            let default = s(p, &["repository", "default_branch"]).unwrap_or_default();
            if branch.is_empty() || branch != default {
                return Action::Ignore(format!(
                    "check_suite on {branch:?}, not the default branch {default:?}"
                ));
            }
            let conclusion = s(p, &["check_suite", "conclusion"]).unwrap_or_default();
            let failed = match conclusion.as_str() {
                "failure" | "timed_out" => true,
                "success" => false,
                other => return Action::Ignore(format!("check_suite conclusion {other:?}")),
            };
            Action::Status {
                repo,
                what: "build",
                failed,
                detail: format!("{branch}: {conclusion}"),
                url: s(p, &["check_suite", "url"]),
            }
        }
        (e, a) => Action::Ignore(format!("{e} {a}").trim().to_string() + " is not mapped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deployment_status_failure_and_a_check_suite_off_the_default_branch() {
        let p = json!({"deployment_status": {"state": "error", "environment": "production", "target_url": "https://ci/1"},
                       "repository": {"full_name": "acme/web"}});
        assert_eq!(
            read("deployment_status", &p),
            Action::Status {
                repo: "acme/web".into(),
                what: "deploy",
                failed: true,
                detail: "production: error".into(),
                url: Some("https://ci/1".into())
            }
        );
        let p = json!({"action": "completed", "check_suite": {"head_branch": "feature", "conclusion": "failure"},
                       "repository": {"full_name": "acme/web", "default_branch": "main"}});
        assert!(matches!(read("check_suite", &p), Action::Ignore(_)));
        assert!(matches!(
            read("star", &json!({"action": "created"})),
            Action::Ignore(_)
        ));
    }
}
