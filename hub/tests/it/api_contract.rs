//! The API as a contract, on SQLite and PostgreSQL: bodies must be JSON
//! objects, wrong-typed values and over-long text are 422 naming the field,
//! every refusal (unknown route, wrong method, too large, not JSON, a path
//! that is not an ID) is in the JSON error shape, and a refused request
//! writes nothing. Times are RFC 3339 strings everywhere.

use crate::common;
use common::TestDb;
use common::server::TestHub;
use serde_json::{Value, json};

/// Every row count a POST could change, and the agents' heartbeats: equal
/// before and after means the request wrote nothing. (Not the stored
/// Idempotency-Key answers: a refusal is an answer a retry gets again.)
async fn fingerprint(hub: &TestHub) -> Vec<i64> {
    const COUNTS: &[&str] = &[
        "SELECT COUNT(*) FROM notifications",
        "SELECT COUNT(*) FROM deliveries",
        "SELECT COUNT(*) FROM tasks",
        "SELECT COUNT(*) FROM task_dependencies",
        "SELECT COUNT(*) FROM costs",
        "SELECT COUNT(*) FROM decisions",
        "SELECT COUNT(*) FROM decisions WHERE status = 'pending'",
        "SELECT COUNT(*) FROM audit_log",
        "SELECT COUNT(*) FROM agents WHERE last_heartbeat_at IS NOT NULL",
        // Any change to a task or an agent moves its updated_at.
        "SELECT CAST(COALESCE(SUM(updated_at), 0) AS BIGINT) FROM tasks",
        "SELECT CAST(COALESCE(SUM(updated_at), 0) AS BIGINT) FROM agents",
    ];
    let mut out = Vec::new();
    for sql in COUNTS {
        out.push(hub.count(sql).await);
    }
    out
}

/// A raw POST with a JSON content type: (status, content type, body).
async fn raw_post(hub: &TestHub, path: &str, body: &str) -> (u16, String, Value) {
    let res = hub
        .http
        .post(format!("{}{path}", hub.base))
        .bearer_auth(&hub.key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    answer(res).await
}

async fn answer(res: reqwest::Response) -> (u16, String, Value) {
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ct, body)
}

/// The JSON error shape with `status` and `code`; its message.
fn error_of(got: &(u16, String, Value), status: u16, code: &str) -> String {
    let (s, ct, body) = got;
    assert_eq!(*s, status, "{body}");
    assert!(ct.starts_with("application/json"), "{ct}: {body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {body}"))
        .to_string()
}

/// A pending decision and a task to aim the path-taking POSTs at.
async fn targets(hub: &TestHub) -> (i64, i64) {
    let (s, task) = hub.post("/api/v1/tasks", json!({"title": "target"})).await;
    assert_eq!(s, 201, "{task}");
    let (s, d) = hub
        .post(
            "/api/v1/decisions",
            json!({"kind": "deploy", "context": "ship?"}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    (task["id"].as_i64().unwrap(), d["id"].as_i64().unwrap())
}

fn post_paths(task: i64, decision: i64) -> Vec<String> {
    vec![
        "/api/v1/notifications".into(),
        "/api/v1/messages".into(),
        "/api/v1/costs".into(),
        "/api/v1/heartbeat".into(),
        "/api/v1/decisions".into(),
        format!("/api/v1/decisions/{decision}/resolve"),
        "/api/v1/tasks".into(),
        format!("/api/v1/tasks/{task}/move"),
        format!("/api/v1/tasks/{task}/assign"),
        format!("/api/v1/tasks/{task}/deps"),
    ]
}

both_dbs!(
    a_body_that_is_not_an_object_is_refused_everywhere,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (task, decision) = targets(&hub).await;
        let (s, other) = hub.post("/api/v1/tasks", json!({"title": "other"})).await;
        assert_eq!(s, 201);
        let other = other["id"].as_i64().unwrap();
        let before = fingerprint(&hub).await;
        // What each endpoint took as positional fields before: the array
        // a hurried agent would send in place of its object.
        let positional = [
            r#"["ceo", "notification", "urgent", "t", "x"]"#.to_string(),
            r#"["eng", null, null, "x"]"#.to_string(),
            r#"["m", 1, 2, 0.5]"#.to_string(),
            "[]".to_string(),
            r#"["deploy", "ship?"]"#.to_string(),
            r#"["approve"]"#.to_string(),
            r#"["positional task"]"#.to_string(),
            r#"["start"]"#.to_string(),
            r#"["dana"]"#.to_string(),
            format!("[{other}]"),
        ];
        for (path, body) in post_paths(task, decision).iter().zip(&positional) {
            for body in [body.as_str(), "\"text\"", "42", "null", "true"] {
                let got = raw_post(&hub, path, body).await;
                let m = error_of(&got, 422, "invalid");
                assert!(m.contains("must be a JSON object"), "{path} {body}: {m}");
            }
            // With an Idempotency-Key as well (the reserving layer runs first).
            let res = hub
                .http
                .post(format!("{}{path}", hub.base))
                .bearer_auth(&hub.key)
                .header("content-type", "application/json")
                .header("Idempotency-Key", format!("arr-{path}"))
                .body(body.clone())
                .send()
                .await
                .unwrap();
            error_of(&answer(res).await, 422, "invalid");
        }
        assert_eq!(fingerprint(&hub).await, before, "nothing written");
        // Only the refusals themselves were kept for the keys' retries (the
        // reserving layer's POSTs; notifications and messages keep answers
        // only with their commit).
        assert_eq!(
            hub.count("SELECT COUNT(*) FROM idempotency_keys WHERE status_code = 422")
                .await,
            8
        );
        assert_eq!(hub.count("SELECT COUNT(*) FROM idempotency_keys").await, 8);
        hub.stop().await;
    }
);

both_dbs!(
    a_wrong_typed_value_is_422_naming_the_field,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (task, decision) = targets(&hub).await;
        let before = fingerprint(&hub).await;
        let cases = [
            (
                "/api/v1/notifications".to_string(),
                json!({"to": "ceo", "text": "x", "urgency": 7}),
                "urgency:",
            ),
            (
                "/api/v1/notifications".into(),
                json!({"to": "ceo", "text": "x", "fields": [["a", "b"]]}),
                "fields[0]",
            ),
            (
                "/api/v1/notifications".into(),
                json!({"to": "ceo", "text": "x", "fields": [{"name": "a", "value": "b", "x": 1}]}),
                "fields",
            ),
            (
                "/api/v1/messages".into(),
                json!({"channel": "eng", "text": "x", "fields": {"a": "b"}}),
                "fields:",
            ),
            (
                format!("/api/v1/decisions/{decision}/resolve"),
                json!({"outcome": null}),
                "outcome:",
            ),
            (
                "/api/v1/costs".into(),
                json!({"model": "m", "usd": "0.5"}),
                "usd:",
            ),
            (
                "/api/v1/heartbeat".into(),
                json!({"status": ["active"]}),
                "status:",
            ),
            (
                "/api/v1/tasks".into(),
                json!({"title": "t", "capabilities": "rust"}),
                "capabilities:",
            ),
            (
                format!("/api/v1/tasks/{task}/deps"),
                json!({"needs": "1"}),
                "needs:",
            ),
            (
                format!("/api/v1/tasks/{task}/deps"),
                json!({"needs": 99999999999999999999999.0}),
                "needs:",
            ),
        ];
        for (path, body, field) in cases {
            let got = raw_post(&hub, &path, &body.to_string()).await;
            let m = error_of(&got, 422, "invalid");
            assert!(m.starts_with(field), "{path} {body}: {m}");
        }
        assert_eq!(fingerprint(&hub).await, before, "nothing written");
        hub.stop().await;
    }
);

both_dbs!(
    text_and_lists_over_their_limits_are_refused,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (task, decision) = targets(&hub).await;
        let before = fingerprint(&hub).await;
        let long = |n: usize| "x".repeat(n);
        let many = |n: usize| (0..n).map(|i| format!("o{i}")).collect::<Vec<_>>();
        let cases = [
            (
                "/api/v1/costs".to_string(),
                json!({"model": long(201), "usd": 1.0}),
                "model",
            ),
            (
                "/api/v1/heartbeat".into(),
                json!({"note": long(4_001)}),
                "note",
            ),
            (
                "/api/v1/notifications".into(),
                json!({"to": "ceo", "text": "x", "dedupe_key": long(256)}),
                "dedupe_key",
            ),
            (
                "/api/v1/notifications".into(),
                json!({"to": "ceo", "text": "x", "title": long(1_025)}),
                "title",
            ),
            (
                "/api/v1/notifications".into(),
                json!({"to": "ceo", "text": "x", "kind": long(101)}),
                "kind",
            ),
            (
                "/api/v1/notifications".into(),
                json!({"to": long(101), "text": "x"}),
                "to",
            ),
            (
                "/api/v1/notifications".into(),
                json!({"to": "ceo", "text": "x", "fields": (0..51).map(|i| json!({"name": format!("f{i}"), "value": "v"})).collect::<Vec<_>>()}),
                "fields",
            ),
            (
                "/api/v1/messages".into(),
                json!({"channel": "eng", "text": "x", "fields": [{"name": "n", "value": long(2_049)}]}),
                "fields[0].value",
            ),
            (
                "/api/v1/decisions".into(),
                json!({"kind": "deploy", "context": "c", "options": many(21)}),
                "options",
            ),
            (
                "/api/v1/decisions".into(),
                json!({"kind": "deploy", "context": "c", "options": ["ok", long(201)]}),
                "options[1]",
            ),
            (
                format!("/api/v1/decisions/{decision}/resolve"),
                json!({"outcome": "approve", "reasoning": long(4_001)}),
                "reasoning",
            ),
            ("/api/v1/tasks".into(), json!({"title": long(201)}), "title"),
            (
                "/api/v1/tasks".into(),
                json!({"title": "t", "capabilities": many(21)}),
                "capabilities",
            ),
            (
                format!("/api/v1/tasks/{task}/move"),
                json!({"to": "start", "note": long(4_001)}),
                "note",
            ),
            (
                format!("/api/v1/tasks/{task}/assign"),
                json!({"to": long(101)}),
                "to",
            ),
        ];
        for (path, body, field) in cases {
            let got = raw_post(&hub, &path, &body.to_string()).await;
            let m = error_of(&got, 422, "invalid");
            assert!(
                m.starts_with(&format!("{field}: ")) && m.contains("over the limit"),
                "{path} {field}: {m}"
            );
        }
        // Characters are counted, not bytes: 200 two-byte characters fit a model name.
        let (s, b) = hub
            .post(
                "/api/v1/costs",
                json!({"model": "é".repeat(200), "usd": 1.0}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let mut after = fingerprint(&hub).await;
        // That one cost (its row and its audit-free insert) is all that changed.
        assert_eq!(after[4], before[4] + 1);
        after[4] = before[4];
        assert_eq!(after, before, "nothing else written");
        hub.stop().await;
    }
);

both_dbs!(
    every_refusal_is_json_with_its_status,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (task, _) = targets(&hub).await;
        let before = fingerprint(&hub).await;
        let get = |path: String| {
            let req = hub
                .http
                .get(format!("{}{path}", hub.base))
                .bearer_auth(&hub.key);
            async move { answer(req.send().await.unwrap()).await }
        };

        let m = error_of(&get("/api/v1/nowhere".into()).await, 404, "not_found");
        assert!(m.contains("/api/v1/nowhere"), "{m}");
        error_of(&get("/healthz/x".into()).await, 404, "not_found");

        let res = hub
            .http
            .delete(format!("{}/api/v1/tasks", hub.base))
            .bearer_auth(&hub.key)
            .send()
            .await
            .unwrap();
        let allow = res
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        let m = error_of(&answer(res).await, 405, "method_not_allowed");
        assert!(m.contains("DELETE"), "{m}");
        let allow = allow.expect("an Allow header");
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        error_of(
            &get("/api/v1/messages".into()).await,
            405,
            "method_not_allowed",
        );

        // Path IDs that cannot be IDs.
        for path in [
            "/api/v1/tasks/abc/move".to_string(),
            "/api/v1/tasks/99999999999999999999999/assign".into(),
            "/api/v1/decisions/1.5/resolve".into(),
        ] {
            let got = raw_post(&hub, &path, r#"{"to": "start"}"#).await;
            let m = error_of(&got, 404, "not_found");
            assert!(m.contains("is not an ID"), "{path}: {m}");
        }
        for path in [
            "/api/v1/tasks/abc",
            "/api/v1/decisions/-",
            "/api/v1/tasks/1e3",
        ] {
            error_of(&get(path.into()).await, 404, "not_found");
        }

        // Query parameters of the wrong type or unknown.
        let m = error_of(
            &get("/api/v1/tasks?limit=lots".into()).await,
            422,
            "invalid",
        );
        assert!(m.contains("limit"), "{m}");
        let m = error_of(
            &get("/api/v1/tasks?colour=red".into()).await,
            422,
            "invalid",
        );
        assert!(m.contains("colour"), "{m}");

        // Over the body limit (65,536 bytes in tests), on every POST.
        let big = json!({"to": "ceo", "text": "x".repeat(70_000)}).to_string();
        for path in post_paths(task, 1) {
            let m = error_of(&raw_post(&hub, &path, &big).await, 413, "too_large");
            assert!(m.contains("body_limit_bytes"), "{path}: {m}");
        }
        // Not JSON.
        for path in ["/api/v1/notifications", "/api/v1/messages", "/api/v1/tasks"] {
            let res = hub
                .http
                .post(format!("{}{path}", hub.base))
                .bearer_auth(&hub.key)
                .header("content-type", "text/plain")
                .body("to=ceo")
                .send()
                .await
                .unwrap();
            error_of(&answer(res).await, 415, "content_type");
        }
        assert_eq!(fingerprint(&hub).await, before, "nothing written");
        hub.stop().await;
    }
);

/// An RFC 3339 UTC time string, as the API writes every time.
fn is_utc_time(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .is_some_and(|t| t.offset().local_minus_utc() == 0 && v.as_str().unwrap().ends_with('Z'))
}

both_dbs!(times_are_rfc3339_strings, |db: &TestDb| async move {
    let hub = TestHub::start(db, "", vec![]).await;
    let started = chrono::Utc::now() - chrono::Duration::seconds(1);
    let n = hub.urgent_settled("ceo", "what time is it").await;
    let created = &n["notification"]["created_at"];
    assert!(is_utc_time(created), "{n}");
    let at = chrono::DateTime::parse_from_rfc3339(created.as_str().unwrap()).unwrap();
    assert!(at >= started && at <= chrono::Utc::now(), "{created}");
    for d in n["deliveries"].as_array().unwrap() {
        assert!(is_utc_time(&d["sent_at"]), "{d}");
    }
    let (s, hb) = hub
        .post("/api/v1/heartbeat", json!({"status": "idle"}))
        .await;
    assert_eq!(s, 200, "{hb}");
    assert!(is_utc_time(&hb["at"]), "{hb}");
    let (_, task) = hub.post("/api/v1/tasks", json!({"title": "t"})).await;
    assert!(is_utc_time(&task["created_at"]), "{task}");
    hub.stop().await;
});
