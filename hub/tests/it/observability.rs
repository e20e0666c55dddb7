//! What operators see: every metric family on /metrics has HELP text,
//! request and send durations are histograms with buckets, the build's
//! version is exported; and the binary's log, written to a pipe, has no
//! ANSI escape codes and follows one notification from the API request to
//! the platform send by its IDs.

use crate::common;

use common::TestDb;
use common::server::TestHub;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

both_dbs!(
    every_metric_has_help_and_durations_have_buckets,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        // Something for every family to show: a request answered, a
        // notification sent to the console.
        let n = hub.urgent_settled("ceo", "metrics please").await;
        assert_eq!(n["deliveries"][0]["status"], "sent", "{n}");
        let text = hub.metrics().await;
        let families = |prefix: &str| -> BTreeSet<String> {
            text.lines()
                .filter_map(|l| l.strip_prefix(prefix))
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string)
                .collect()
        };
        let typed = families("# TYPE ");
        let helped = families("# HELP ");
        // Ingest commits beside accepted notifications (their quotient is
        // the mean batch). Counted per process: tests running beside this
        // one add theirs.
        let count = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0.0)
        };
        let (accepted, batches) = (
            count("orkhub_notifications_accepted_total"),
            count("orkhub_ingest_batches_total"),
        );
        assert!(batches >= 1.0 && batches <= accepted, "{text}");
        assert!(typed.len() >= 6, "{text}");
        let missing: Vec<_> = typed.difference(&helped).collect();
        assert!(
            missing.is_empty(),
            "metrics without HELP: {missing:?}\n{text}"
        );
        for name in [
            "orkhub_http_request_duration_seconds",
            "orkhub_send_seconds",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} histogram")),
                "{name} is not a histogram:\n{text}"
            );
            let buckets = text
                .lines()
                .filter(|l| l.starts_with(&format!("{name}_bucket{{")))
                .count();
            assert!(buckets >= 10, "{name}: {buckets} bucket lines\n{text}");
            assert!(
                text.lines().any(
                    |l| l.starts_with(&format!("{name}_bucket{{")) && l.contains("le=\"+Inf\"")
                ),
                "{text}"
            );
        }
        // No summary quantiles left: they cannot be summed across instances.
        assert!(!text.contains("quantile="), "{text}");
        assert!(
            text.contains(&format!(
                "orkhub_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        hub.stop().await;
    }
);

/// Start `orkhub serve` on `url` with ORKHUB_LOG=debug and stderr piped;
/// the log lines arrive on the returned channel.
fn serve(
    url: &str,
    dir: &std::path::Path,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\n[brief]\nenabled = false\n\n[[people]]\nid = \"ceo\"\nrole = \"owner\"\npush = [\"console\"]\n\n[[agents]]\nid = \"builder\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orkhub"))
        .current_dir(dir)
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("ORKHUB_CONFIG")
        .env("ORKHUB_LOG", "debug,sqlx=warn,hyper=info,h2=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run orkhub");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
            // Raw bytes: an ESC must not be lost to a UTF-8 decode.
            if tx
                .send(String::from_utf8_lossy(&line).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    (child, rx)
}

both_dbs!(
    the_log_follows_a_notification_and_has_no_colour_codes,
    |db: &TestDb| async move {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, lines) = serve(&db.url(), dir.path());
        let mut seen = Vec::new();
        let next = |seen: &mut Vec<String>| -> String {
            let line = lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("log ended or stalled after:\n{}", seen.join("\n")));
            seen.push(line.clone());
            line
        };
        let addr = loop {
            let line = next(&mut seen);
            if line.contains("orkhub is listening")
                && let Some(rest) = line.split("addr=").nth(1)
            {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        let key = common::server::make_key(db.store(), &["notifications:write"]).await;
        let res = reqwest::Client::new()
            .post(format!("http://{addr}/api/v1/notifications"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"to": "ceo", "urgency": "urgent", "text": "follow me"}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
        let body: serde_json::Value = res.json().await.unwrap();
        let id = body["id"].as_str().unwrap().to_string();
        let delivery = body["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["channel"] == "console")
            .unwrap_or_else(|| panic!("a console delivery: {body}"))["id"]
            .as_str()
            .unwrap()
            .to_string();
        // The request's span names the route; the stored line in it names the
        // notification; the dispatcher's delivery span carries both IDs and the
        // adapter and chat, up to "sent".
        let (mut stored, mut sent) = (false, false);
        while !(stored && sent) {
            let line = next(&mut seen);
            if line.contains("request{")
                && line.contains("/api/v1/notifications")
                && line.contains("notification stored")
                && line.contains(&id)
            {
                stored = true;
            }
            if line.contains("delivery{")
                && line.contains(&format!("notification={id}"))
                && line.contains(&format!("delivery={delivery}"))
                && line.contains("adapter=console")
                && line.contains("chat=ceo")
                && line.contains(" sent")
            {
                sent = true;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        while let Ok(line) = lines.try_recv() {
            seen.push(line);
        }
        let log = seen.join("\n");
        assert!(
            !log.contains('\u{1b}'),
            "ANSI escape codes in a piped log:\n{log}"
        );
    }
);

// Requests are counted by route, method and status, and timed by route and
// method, through handles the hub registers once per series
// (hub/src/request_metrics.rs): every answer lands in its own series.
// Other tests in this process count theirs too, so only increases are
// compared, and at least.
both_dbs!(
    requests_are_counted_by_route_method_and_status,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        // The value of the series whose line carries every one of `labels`.
        fn series(text: &str, name: &str, labels: &[&str]) -> f64 {
            text.lines()
                .filter(|l| l.starts_with(&format!("{name}{{")))
                .filter(|l| labels.iter().all(|label| l.contains(label)))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        }
        let route = r#"route="/api/v1/notifications""#;
        let post = r#"method="POST""#;
        let counts = |text: &str| {
            (
                series(
                    text,
                    "orkhub_http_requests_total",
                    &[route, post, r#"status="201""#],
                ),
                series(
                    text,
                    "orkhub_http_requests_total",
                    &[route, post, r#"status="401""#],
                ),
                series(
                    text,
                    "orkhub_http_requests_total",
                    &[r#"route="unmatched""#, r#"method="GET""#, r#"status="404""#],
                ),
                series(
                    text,
                    "orkhub_http_request_duration_seconds_count",
                    &[route, post],
                ),
            )
        };
        let before = counts(&hub.metrics().await);
        for i in 0..3 {
            let (s, _) = hub
                .post(
                    "/api/v1/notifications",
                    serde_json::json!({"to": "ceo", "text": format!("counted {i}")}),
                )
                .await;
            assert_eq!(s, 201);
        }
        let (s, _) = hub
            .post_with(
                "/api/v1/notifications",
                "ork_nope_nope",
                serde_json::json!({"to": "ceo", "text": "x"}),
                None,
            )
            .await;
        assert_eq!(s, 401);
        let (s, _) = hub.get("/api/v1/no-such-thing").await;
        assert_eq!(s, 404);
        let after = counts(&hub.metrics().await);
        assert!(after.0 - before.0 >= 3.0, "201s: {before:?} → {after:?}");
        assert!(after.1 - before.1 >= 1.0, "401s: {before:?} → {after:?}");
        assert!(
            after.2 - before.2 >= 1.0,
            "unmatched 404s: {before:?} → {after:?}"
        );
        assert!(after.3 - before.3 >= 4.0, "timed: {before:?} → {after:?}");
    }
);
