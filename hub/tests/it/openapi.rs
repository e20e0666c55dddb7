//! The OpenAPI document is the API's contract: the checked-in
//! `docs/openapi.json` is what the code generates (regenerate it with
//! `ORKHUB_BLESS=1 cargo test -p orkhub --test it openapi`), the hub serves it,
//! and real answers of every endpoint — success and each documented error
//! status, all of them brought about — validate against the schema the
//! document gives for that status.

use crate::common;
use common::TestDb;
use common::server::{ALL_SCOPES, TestHub, make_key};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let generated = hub::api::openapi::document_text();
    let stored = std::fs::read_to_string(DOC).unwrap_or_default();
    if stored == generated {
        return;
    }
    if std::env::var_os("ORKHUB_BLESS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(DOC).parent().unwrap()).unwrap();
        std::fs::write(DOC, generated).unwrap();
        return;
    }
    panic!(
        "docs/openapi.json differs from what the API's code generates; regenerate it with \
         `ORKHUB_BLESS=1 cargo test -p orkhub --test it openapi`"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_scopes_as_security() {
    let doc = hub::api::openapi::document();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let scopes = &op["security"][0]["api_key"];
            let scope = scopes[0]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no scope"));
            assert!(ALL_SCOPES.contains(&scope), "{method} {path}: {scope}");
        }
    }
    assert_eq!(operations, 26);
}

/// An operation's documented answers, and which of them were seen.
struct Contract {
    doc: Value,
    seen: BTreeSet<(String, String, u16)>,
}

impl Contract {
    /// Check an answer against the document: the status is documented for
    /// the operation, the media type is the documented one, and a JSON body
    /// validates against the documented schema.
    fn check(&mut self, method: &str, template: &str, status: u16, ct: &str, body: &Value) {
        let op = &self.doc["paths"][template][method];
        assert!(op.is_object(), "{method} {template} is not in the document");
        let answer = &op["responses"][status.to_string()];
        assert!(
            answer.is_object(),
            "{method} {template} answered {status}, which the document does not list: {body}"
        );
        // An answer without a body (204): documented without content.
        if answer.get("content").is_none() && *body == Value::String(String::new()) {
            self.seen
                .insert((method.to_string(), template.to_string(), status));
            return;
        }
        let (media, content) = answer["content"]
            .as_object()
            .and_then(|c| c.iter().next())
            .unwrap_or_else(|| panic!("{method} {template} {status}: no content"));
        assert!(
            ct.starts_with(media.as_str()),
            "{method} {template} {status}: {ct} is not {media}"
        );
        if media == "application/json" {
            let errors = self.mismatches(&content["schema"], body);
            assert!(
                errors.is_empty(),
                "{method} {template} {status} does not match the document: {errors:?}\n{body}"
            );
        }
        self.seen
            .insert((method.to_string(), template.to_string(), status));
    }

    /// Where `body` breaks `schema` (a schema of the document).
    fn mismatches(&self, schema: &Value, body: &Value) -> Vec<String> {
        // The document is the root, so `#/components/...` references resolve.
        let mut root = self.doc.clone();
        for (k, v) in schema.as_object().unwrap() {
            root[k] = v.clone();
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .expect("the document's schema compiles");
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn documented(&self) -> BTreeSet<(String, String, u16)> {
        let mut all = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for status in op["responses"].as_object().unwrap().keys() {
                    all.insert((method.clone(), path.clone(), status.parse().unwrap()));
                }
            }
        }
        all
    }
}

struct Client<'a> {
    hub: &'a TestHub,
    contract: Contract,
    /// Per scope: a key with every scope but that one.
    without: HashMap<String, String>,
}

enum Auth<'a> {
    Key(&'a str),
    Lacking,
    None,
}

impl Client<'_> {
    /// Send a request and check its answer; returns (status, body).
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        auth: Auth<'_>,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.hub.base);
        let mut req = match method {
            "get" => self.hub.http.get(&url),
            "delete" => self.hub.http.delete(&url),
            _ => self.hub.http.post(&url),
        };
        req = match auth {
            Auth::Key(k) => req.bearer_auth(k),
            Auth::Lacking => {
                let scope = self.contract.doc["paths"][template][method]["security"][0]["api_key"]
                    [0]
                .as_str()
                .unwrap()
                .to_string();
                if !self.without.contains_key(&scope) {
                    let scopes: Vec<&str> =
                        ALL_SCOPES.iter().copied().filter(|s| *s != scope).collect();
                    let key = make_key(self.hub.store(), &scopes).await;
                    self.without.insert(scope.clone(), key);
                }
                req.bearer_auth(&self.without[&scope])
            }
            Auth::None => req,
        };
        if let Some((ct, text)) = body {
            req = req.header("content-type", ct).body(text);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = if ct.starts_with("text/event-stream") {
            Value::Null // a stream: its headers are the answer
        } else {
            let text = res.text().await.unwrap_or_default();
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        self.contract.check(method, template, status, &ct, &body);
        (status, body)
    }

    async fn post(&mut self, template: &str, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.call(
            "post",
            template,
            path,
            Auth::Key(key),
            Some(("application/json", body.to_string())),
            &[],
        )
        .await
    }

    async fn get(&mut self, template: &str, path: &str, key: &str) -> (u16, Value) {
        self.call("get", template, path, Auth::Key(key), None, &[])
            .await
    }
}

/// An approver besides the owner, and a second agent to resolve the test
/// agent's decisions (an agent may not answer its own).
const EXTRA: &str = r##"
[approvers]
"deploy" = ["ops"]

[[people]]
id = "ops"
role = "member"
push = ["console"]

[[agents]]
id = "reviewer"
"##;

both_dbs!(
    every_answer_matches_the_document,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, EXTRA, vec![]).await;
        let key = hub.key.clone();
        let reviewer = hub.key_for("reviewer", ALL_SCOPES).await;

        // Served, and the same as the checked-in document.
        let served: Value = hub
            .http
            .get(format!("{}/api/v1/openapi.json", hub.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(served, hub::api::openapi::document());

        let mut c = Client {
            hub: &hub,
            contract: Contract {
                doc: served,
                seen: BTreeSet::new(),
            },
            without: HashMap::new(),
        };

        // The check has teeth: a wrong shape or a millisecond time is refused.
        let accepted = json!({"$ref": "#/components/schemas/Accepted"});
        assert!(
            !c.contract
                .mismatches(&accepted, &json!({"error": {"code": "x", "message": "y"}}))
                .is_empty()
        );
        let record = json!({"$ref": "#/components/schemas/NotificationRecord"});
        let old_time = json!({"id": "n", "source": "s", "kind": "k", "urgency": "info", "recipient_kind": "person",
        "recipient_id": "ceo", "title": null, "body": "b", "duplicate": false, "created_at": 1796388445720_i64});
        assert!(!c.contract.mismatches(&record, &old_time).is_empty());
        let mut new_time = old_time.clone();
        new_time["created_at"] = json!("2026-12-04T12:47:25.720Z");
        assert_eq!(
            c.contract.mismatches(&record, &new_time),
            Vec::<String>::new()
        );

        // Successes, which also make the objects the rest refers to.
        let (s, n) = c
        .post(
            "/api/v1/notifications",
            "/api/v1/notifications",
            &key,
            json!({"to": "ceo", "urgency": "urgent", "text": "x", "fields": [{"name": "a", "value": "b"}]}),
        )
        .await;
        assert_eq!(s, 201);
        let nid = n["id"].as_str().unwrap().to_string();
        hub.settled(&nid).await;
        let (s, _) = c
            .post(
                "/api/v1/messages",
                "/api/v1/messages",
                &key,
                json!({"channel": "eng", "text": "x"}),
            )
            .await;
        assert_eq!(s, 201);
        let (s, _) = c
            .get(
                "/api/v1/notifications/{id}",
                &format!("/api/v1/notifications/{nid}"),
                &key,
            )
            .await;
        assert_eq!(s, 200);
        let (s, _) = c
            .post(
                "/api/v1/costs",
                "/api/v1/costs",
                &key,
                json!({"model": "m", "usd": 0.5}),
            )
            .await;
        assert_eq!(s, 201);
        let (s, _) = c
            .post(
                "/api/v1/heartbeat",
                "/api/v1/heartbeat",
                &key,
                json!({"status": "idle", "note": "n"}),
            )
            .await;
        assert_eq!(s, 200);
        let (s, t1) = c
            .post(
                "/api/v1/tasks",
                "/api/v1/tasks",
                &key,
                json!({"title": "one", "due": "2030-01-02", "assignee": "dana"}),
            )
            .await;
        assert_eq!(s, 201);
        let t1 = t1["id"].as_i64().unwrap();
        let (_, t2) = c
            .post(
                "/api/v1/tasks",
                "/api/v1/tasks",
                &key,
                json!({"title": "two", "capabilities": ["cobol"]}),
            )
            .await;
        let t2 = t2["id"].as_i64().unwrap();
        let (_, t3) = c
            .post(
                "/api/v1/tasks",
                "/api/v1/tasks",
                &key,
                json!({"title": "three"}),
            )
            .await;
        let t3 = t3["id"].as_i64().unwrap();
        let (s, d) = c
            .post(
                "/api/v1/decisions",
                "/api/v1/decisions",
                &key,
                json!({"kind": "deploy", "context": "ship?", "task_id": t1}),
            )
            .await;
        assert_eq!(s, 201);
        let did = d["id"].as_i64().unwrap();
        hub.settled_all(&d).await;
        let (s, _) = c
            .get(
                "/api/v1/decisions/{id}",
                &format!("/api/v1/decisions/{did}"),
                &key,
            )
            .await;
        assert_eq!(s, 200);
        let (s, q) = c
            .post(
                "/api/v1/questions",
                "/api/v1/questions",
                &key,
                json!({"text": "which?", "options": ["a", "b"], "permission_level": "human-required", "task_id": t1}),
            )
            .await;
        assert_eq!(s, 201, "{q}");
        let qid = q["id"].as_i64().unwrap();
        let (s, _) = c
            .get(
                "/api/v1/questions/{id}",
                &format!("/api/v1/questions/{qid}?wait=0"),
                &key,
            )
            .await;
        assert_eq!(s, 200);
        let resolve = format!("/api/v1/decisions/{did}/resolve");
        let (s, _) = c
            .post(
                "/api/v1/decisions/{id}/resolve",
                &resolve,
                &reviewer,
                json!({"outcome": "approve", "reasoning": "ok"}),
            )
            .await;
        assert_eq!(s, 200);
        let (s, _) = c
            .post(
                "/api/v1/decisions/{id}/resolve",
                &resolve,
                &reviewer,
                json!({"outcome": "deny"}),
            )
            .await;
        assert_eq!(s, 409, "a second resolution");
        let (s, _) = c
            .get(
                "/api/v1/tasks",
                "/api/v1/tasks?include_completed=true",
                &key,
            )
            .await;
        assert_eq!(s, 200);
        let (s, _) = c
            .post(
                "/api/v1/tasks/{id}/deps",
                &format!("/api/v1/tasks/{t3}/deps"),
                &key,
                json!({"needs": t1}),
            )
            .await;
        assert_eq!(s, 201);
        let (s, _) = c
            .post(
                "/api/v1/tasks/{id}/deps",
                &format!("/api/v1/tasks/{t3}/deps"),
                &key,
                json!({"needs": t1}),
            )
            .await;
        assert_eq!(s, 409, "the same dependency twice");
        let (s, _) = c
            .get("/api/v1/tasks/{id}", &format!("/api/v1/tasks/{t3}"), &key)
            .await;
        assert_eq!(s, 200);
        let (s, _) = c
            .post(
                "/api/v1/tasks/{id}/move",
                &format!("/api/v1/tasks/{t1}/move"),
                &key,
                json!({"to": "start", "note": "go"}),
            )
            .await;
        assert_eq!(s, 200);
        let (s, _) = c
            .post(
                "/api/v1/tasks/{id}/move",
                &format!("/api/v1/tasks/{t1}/move"),
                &key,
                json!({"to": "unblock"}),
            )
            .await;
        assert_eq!(s, 409, "unblock a task that is not blocked");
        let (s, a) = c
            .post(
                "/api/v1/tasks/{id}/assign",
                &format!("/api/v1/tasks/{t2}/assign"),
                &key,
                json!({"to": "auto"}),
            )
            .await;
        assert_eq!((s, a["result"].as_str()), (200, Some("escalated")), "{a}");
        let (s, a) = c
            .post(
                "/api/v1/tasks/{id}/assign",
                &format!("/api/v1/tasks/{t2}/assign"),
                &key,
                json!({"to": "builder"}),
            )
            .await;
        assert_eq!((s, a["result"].as_str()), (200, Some("assigned")), "{a}");
        let (s, _) = c
            .post(
                "/api/v1/tasks/{id}/move",
                &format!("/api/v1/tasks/{t3}/move"),
                &key,
                json!({"to": "block"}),
            )
            .await;
        assert_eq!(s, 200);
        let (s, _) = c
            .post(
                "/api/v1/tasks/{id}/move",
                &format!("/api/v1/tasks/{t1}/move"),
                &key,
                json!({"to": "done"}),
            )
            .await;
        assert_eq!(s, 200);
        let (s, _) = c
            .post(
                "/api/v1/tasks/{id}/assign",
                &format!("/api/v1/tasks/{t1}/assign"),
                &key,
                json!({"to": "dana"}),
            )
            .await;
        assert_eq!(s, 409, "assigning a completed task");
        let (s, _) = c.get("/api/v1/brief", "/api/v1/brief", &key).await;
        assert_eq!(s, 200);
        let (s, sla) = c.get("/api/v1/sla", "/api/v1/sla", &key).await;
        assert_eq!(s, 200);
        assert_eq!(sla["kinds"][0]["kind"], "decision", "{sla}");
        let (s, me) = c.get("/api/v1/agents/me", "/api/v1/agents/me", &key).await;
        assert_eq!(s, 200);
        assert_eq!(me["paused"], false, "{me}");
        let (s, _) = c
            .get("/api/v1/events", "/api/v1/events?recipient=ceo", &key)
            .await;
        assert_eq!(s, 200);

        // The errors every operation documents: 401 without a key, 403 with a
        // key lacking its scope, and for bodies 400, 413, 415 and 422.
        let valid: Vec<(&str, String, Value)> = vec![
            (
                "/api/v1/notifications",
                "/api/v1/notifications".into(),
                json!({"to": "ceo", "text": "x"}),
            ),
            (
                "/api/v1/messages",
                "/api/v1/messages".into(),
                json!({"channel": "eng", "text": "x"}),
            ),
            (
                "/api/v1/costs",
                "/api/v1/costs".into(),
                json!({"model": "m", "usd": 1.0}),
            ),
            ("/api/v1/heartbeat", "/api/v1/heartbeat".into(), json!({})),
            (
                "/api/v1/decisions",
                "/api/v1/decisions".into(),
                json!({"kind": "deploy", "context": "c"}),
            ),
            (
                "/api/v1/decisions/{id}/resolve",
                resolve.clone(),
                json!({"outcome": "approve"}),
            ),
            (
                "/api/v1/questions",
                "/api/v1/questions".into(),
                json!({"text": "q", "permission_level": "human-required"}),
            ),
            (
                "/api/v1/tasks",
                "/api/v1/tasks".into(),
                json!({"title": "t"}),
            ),
            (
                "/api/v1/tasks/{id}/move",
                format!("/api/v1/tasks/{t3}/move"),
                json!({"to": "unblock"}),
            ),
            (
                "/api/v1/tasks/{id}/assign",
                format!("/api/v1/tasks/{t2}/assign"),
                json!({"to": "dana"}),
            ),
            (
                "/api/v1/tasks/{id}/deps",
                format!("/api/v1/tasks/{t2}/deps"),
                json!({"needs": t1}),
            ),
            (
                "/api/v1/webhooks",
                "/api/v1/webhooks".into(),
                json!({"url": "http://192.0.2.1/hook", "events": ["deploy.*"]}),
            ),
        ];
        for (template, path, body) in &valid {
            let json_body = || Some(("application/json", body.to_string()));
            c.call("post", template, path, Auth::None, json_body(), &[])
                .await;
            c.call("post", template, path, Auth::Lacking, json_body(), &[])
                .await;
            let k = Auth::Key(&key);
            c.call(
                "post",
                template,
                path,
                k,
                Some(("application/json", "{\"to\":".into())),
                &[],
            )
            .await;
            let big = json!({"text": "x".repeat(70_000)}).to_string();
            c.call(
                "post",
                template,
                path,
                Auth::Key(&key),
                Some(("application/json", big)),
                &[],
            )
            .await;
            c.call(
                "post",
                template,
                path,
                Auth::Key(&key),
                Some(("text/plain", "x".into())),
                &[],
            )
            .await;
            c.call(
                "post",
                template,
                path,
                Auth::Key(&key),
                Some(("application/json", "[]".into())),
                &[],
            )
            .await;
        }
        let gets = [
            (
                "/api/v1/notifications/{id}",
                format!("/api/v1/notifications/{nid}"),
            ),
            ("/api/v1/decisions/{id}", format!("/api/v1/decisions/{did}")),
            ("/api/v1/questions/{id}", format!("/api/v1/questions/{qid}")),
            ("/api/v1/tasks", "/api/v1/tasks".to_string()),
            ("/api/v1/tasks/{id}", format!("/api/v1/tasks/{t1}")),
            ("/api/v1/brief", "/api/v1/brief".into()),
            ("/api/v1/sla", "/api/v1/sla".into()),
            ("/api/v1/agents/me", "/api/v1/agents/me".into()),
            ("/api/v1/events", "/api/v1/events".into()),
        ];
        for (template, path) in &gets {
            c.call("get", template, path, Auth::None, None, &[]).await;
            c.call("get", template, path, Auth::Lacking, None, &[])
                .await;
        }

        // 404s, each naming what is missing.
        let missing = [
            (
                "/api/v1/notifications",
                "/api/v1/notifications".to_string(),
                json!({"to": "nobody", "text": "x"}),
            ),
            (
                "/api/v1/messages",
                "/api/v1/messages".into(),
                json!({"channel": "nowhere", "text": "x"}),
            ),
            (
                "/api/v1/costs",
                "/api/v1/costs".into(),
                json!({"model": "m", "usd": 1.0, "project": "nope"}),
            ),
            (
                "/api/v1/decisions",
                "/api/v1/decisions".into(),
                json!({"kind": "deploy", "context": "c", "task_id": 999_999}),
            ),
            (
                "/api/v1/decisions/{id}/resolve",
                "/api/v1/decisions/999999/resolve".into(),
                json!({"outcome": "approve"}),
            ),
            (
                "/api/v1/questions",
                "/api/v1/questions".into(),
                json!({"text": "q", "permission_level": "human-required", "to": "nobody"}),
            ),
            (
                "/api/v1/tasks",
                "/api/v1/tasks".into(),
                json!({"title": "t", "project": "nope"}),
            ),
            (
                "/api/v1/tasks/{id}/move",
                "/api/v1/tasks/abc/move".into(),
                json!({"to": "start"}),
            ),
            (
                "/api/v1/tasks/{id}/assign",
                "/api/v1/tasks/999999/assign".into(),
                json!({"to": "dana"}),
            ),
            (
                "/api/v1/tasks/{id}/deps",
                format!("/api/v1/tasks/{t2}/deps"),
                json!({"needs": 999_999}),
            ),
        ];
        for (template, path, body) in missing {
            let k = if template.contains("resolve") {
                &reviewer
            } else {
                &key
            };
            let (s, b) = c.post(template, &path, k, body).await;
            assert_eq!(s, 404, "{path}: {b}");
        }
        for (template, path) in [
            ("/api/v1/notifications/{id}", "/api/v1/notifications/n_nope"),
            (
                "/api/v1/decisions/{id}",
                "/api/v1/decisions/99999999999999999999",
            ),
            ("/api/v1/tasks/{id}", "/api/v1/tasks/999999"),
            ("/api/v1/questions/{id}", "/api/v1/questions/999999"),
            ("/api/v1/tasks", "/api/v1/tasks?assignee=nobody"),
            ("/api/v1/brief", "/api/v1/brief?person=nobody"),
        ] {
            let (s, b) = c.get(template, path, &key).await;
            assert_eq!(s, 404, "{path}: {b}");
        }
        // What remains: a bad query or header.
        let (s, _) = c
            .get("/api/v1/tasks", "/api/v1/tasks?limit=lots", &key)
            .await;
        assert_eq!(s, 422);
        let (s, _) = c
            .get("/api/v1/brief", "/api/v1/brief?date=someday", &key)
            .await;
        assert_eq!(s, 400);
        let (s, b) = c
            .get("/api/v1/sla", "/api/v1/sla?since=yesterday", &key)
            .await;
        assert_eq!(s, 400);
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("since:"),
            "{b}"
        );
        let (s, _) = c
            .get(
                "/api/v1/questions/{id}",
                &format!("/api/v1/questions/{qid}?wait=61"),
                &key,
            )
            .await;
        assert_eq!(s, 422);
        let (s, _) = c
            .call(
                "get",
                "/api/v1/events",
                "/api/v1/events",
                Auth::Key(&key),
                None,
                &[("last-event-id", "nonsense")],
            )
            .await;
        assert_eq!(s, 400);

        // Every length limit the document states is the one enforced: one over
        // it is 422 naming the field, for each request schema's properties.
        let bases: Vec<(&str, &str, String, Value, &str)> = vec![
            (
                "NotificationIn",
                "/api/v1/notifications",
                "/api/v1/notifications".into(),
                json!({"to": "ceo", "text": "x"}),
                key.as_str(),
            ),
            (
                "MessageIn",
                "/api/v1/messages",
                "/api/v1/messages".into(),
                json!({"channel": "eng", "text": "x"}),
                key.as_str(),
            ),
            (
                "CostIn",
                "/api/v1/costs",
                "/api/v1/costs".into(),
                json!({"model": "m", "usd": 1.0}),
                key.as_str(),
            ),
            (
                "HeartbeatIn",
                "/api/v1/heartbeat",
                "/api/v1/heartbeat".into(),
                json!({}),
                key.as_str(),
            ),
            (
                "DecisionIn",
                "/api/v1/decisions",
                "/api/v1/decisions".into(),
                json!({"kind": "deploy", "context": "c"}),
                key.as_str(),
            ),
            (
                "ResolveIn",
                "/api/v1/decisions/{id}/resolve",
                resolve.clone(),
                json!({"outcome": "approve"}),
                reviewer.as_str(),
            ),
            (
                "QuestionIn",
                "/api/v1/questions",
                "/api/v1/questions".into(),
                json!({"text": "q", "permission_level": "human-required"}),
                key.as_str(),
            ),
            (
                "TaskIn",
                "/api/v1/tasks",
                "/api/v1/tasks".into(),
                json!({"title": "t"}),
                key.as_str(),
            ),
            (
                "MoveIn",
                "/api/v1/tasks/{id}/move",
                format!("/api/v1/tasks/{t2}/move"),
                json!({"to": "start"}),
                key.as_str(),
            ),
            (
                "AssignIn",
                "/api/v1/tasks/{id}/assign",
                format!("/api/v1/tasks/{t2}/assign"),
                json!({"to": "dana"}),
                key.as_str(),
            ),
            (
                "WebhookIn",
                "/api/v1/webhooks",
                "/api/v1/webhooks".into(),
                json!({"url": "http://192.0.2.1/hook", "events": ["deploy.*"]}),
                key.as_str(),
            ),
        ];
        let schemas = c.contract.doc["components"]["schemas"].clone();
        let mut limits_checked = 0;
        for (schema, template, path, base, k) in bases {
            let props = schemas[schema]["properties"].as_object().unwrap();
            for (prop, def) in props {
                let over = |n: &Value| n.as_u64().unwrap() as usize + 1;
                let mut tries: Vec<(Value, String)> = Vec::new();
                if let Some(n) = def.get("maxLength") {
                    tries.push((json!("x".repeat(over(n))), format!("{prop}: ")));
                }
                if let Some(n) = def.get("maxItems") {
                    let item = if prop == "fields" {
                        json!({"name": "n", "value": "v"})
                    } else {
                        json!("i")
                    };
                    tries.push((json!(vec![item; over(n)]), format!("{prop}: ")));
                }
                if let Some(n) = def["items"].get("maxLength") {
                    tries.push((json!(["x".repeat(over(n))]), format!("{prop}[0]: ")));
                }
                for (value, named) in tries {
                    let mut body = base.clone();
                    body[prop] = value;
                    // Text over 65,536 characters is over the test hub's body
                    // limit (65,536 bytes) too, which is checked first.
                    let too_large = body.to_string().len() > 65_536;
                    let (s, b) = c.post(template, &path, k, body).await;
                    let m = b["error"]["message"].as_str().unwrap_or_default();
                    if too_large {
                        assert_eq!(s, 413, "{schema}.{prop}: {b}");
                        continue;
                    }
                    assert!(
                        s == 422 && m.starts_with(&named),
                        "{schema}.{prop}: {s} {b}"
                    );
                    limits_checked += 1;
                }
            }
        }
        assert!(limits_checked >= 28, "{limits_checked}");

        // The database refusing writes: notifications and messages are 503.
        common::break_deliveries(db, "1 = 1").await;
        for (template, body) in [
            ("/api/v1/notifications", json!({"to": "ceo", "text": "x"})),
            ("/api/v1/messages", json!({"channel": "eng", "text": "x"})),
        ] {
            let (s, b) = c.post(template, template, &key, body).await;
            assert_eq!(s, 503, "{template}: {b}");
        }
        common::heal_deliveries(db).await;

        // Webhooks (a public address that is never called: no event of
        // this test matches `deploy.*`).
        let hook = json!({"url": "http://192.0.2.1/hook", "events": ["deploy.*"]});
        let (s, w) = c
            .post("/api/v1/webhooks", "/api/v1/webhooks", &key, hook.clone())
            .await;
        assert_eq!(s, 201, "{w}");
        let wid = w["id"].as_str().unwrap().to_string();
        let (s, _) = c
            .post(
                "/api/v1/webhooks",
                "/api/v1/webhooks",
                &key,
                json!({"url": "http://127.0.0.1:9/", "events": ["deploy.*"]}),
            )
            .await;
        assert_eq!(s, 422, "a loopback target");
        let (s, _) = c.get("/api/v1/webhooks", "/api/v1/webhooks", &key).await;
        assert_eq!(s, 200);
        let one = format!("/api/v1/webhooks/{wid}");
        let (s, _) = c.get("/api/v1/webhooks/{id}", &one, &key).await;
        assert_eq!(s, 200);
        let (s, _) = c
            .get("/api/v1/webhooks/{id}", "/api/v1/webhooks/nope", &key)
            .await;
        assert_eq!(s, 404);
        let log = format!("/api/v1/webhooks/{wid}/deliveries");
        let (s, _) = c.get("/api/v1/webhooks/{id}/deliveries", &log, &key).await;
        assert_eq!(s, 200);
        let (s, _) = c
            .get(
                "/api/v1/webhooks/{id}/deliveries",
                "/api/v1/webhooks/nope/deliveries",
                &key,
            )
            .await;
        assert_eq!(s, 404);
        let (s, _) = c
            .get(
                "/api/v1/webhooks/{id}/deliveries",
                &format!("{log}?limit=0"),
                &key,
            )
            .await;
        assert_eq!(s, 422);
        // A delivery to send again: queued by hand, as the fan-out would.
        let store = hub.store();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, body, status, attempts, next_attempt_at, created_at) \
             VALUES ('{wid}', 'evt_1', 'deploy.failed', '{{}}', 'dead', 3, 0, 0)"
        )))
        .execute(store.pool())
        .await
        .unwrap();
        let (_, listed) = c.get("/api/v1/webhooks/{id}/deliveries", &log, &key).await;
        let delivery = listed["deliveries"][0]["id"].as_i64().unwrap();
        let redeliver_t = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver";
        let redeliver = format!("{log}/{delivery}/redeliver");
        let (s, _) = c.post(redeliver_t, &redeliver, &key, json!({})).await;
        assert_eq!(s, 201);
        let (s, _) = c
            .post(
                redeliver_t,
                &format!("{log}/999999/redeliver"),
                &key,
                json!({}),
            )
            .await;
        assert_eq!(s, 404);
        for (method, template, path) in [
            ("get", "/api/v1/webhooks", "/api/v1/webhooks".to_string()),
            ("get", "/api/v1/webhooks/{id}", one.clone()),
            ("get", "/api/v1/webhooks/{id}/deliveries", log.clone()),
            ("post", redeliver_t, redeliver.clone()),
            ("delete", "/api/v1/webhooks/{id}", one.clone()),
        ] {
            c.call(method, template, &path, Auth::None, None, &[]).await;
            c.call(method, template, &path, Auth::Lacking, None, &[])
                .await;
        }
        sqlx::query("UPDATE webhook_subscriptions SET status = 'gone'")
            .execute(store.pool())
            .await
            .unwrap();
        let (s, _) = c.post(redeliver_t, &redeliver, &key, json!({})).await;
        assert_eq!(s, 422, "a gone webhook gets nothing");
        // One declared in config.toml is removed there, not over the API.
        sqlx::query("UPDATE webhook_subscriptions SET source = 'config'")
            .execute(store.pool())
            .await
            .unwrap();
        let (s, _) = c
            .call(
                "delete",
                "/api/v1/webhooks/{id}",
                &one,
                Auth::Key(&key),
                None,
                &[],
            )
            .await;
        assert_eq!(s, 422);
        sqlx::query("UPDATE webhook_subscriptions SET source = 'api'")
            .execute(store.pool())
            .await
            .unwrap();
        let (s, _) = c
            .call(
                "delete",
                "/api/v1/webhooks/{id}",
                &one,
                Auth::Key(&key),
                None,
                &[],
            )
            .await;
        assert_eq!(s, 204);
        let (s, _) = c
            .call(
                "delete",
                "/api/v1/webhooks/{id}",
                &one,
                Auth::Key(&key),
                None,
                &[],
            )
            .await;
        assert_eq!(s, 404);

        // Every documented answer was seen.
        let unseen: Vec<_> = c
            .contract
            .documented()
            .difference(&c.contract.seen)
            .cloned()
            .collect();
        assert!(
            unseen.is_empty(),
            "documented but never answered: {unseen:?}"
        );
        hub.stop().await;
    }
);
