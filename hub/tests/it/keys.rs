//! API keys: revoked, expired and disabled agents' keys are refused with
//! 401 saying why; key changes are audited; `orkhub key list` shows every
//! key but never a secret. On SQLite and PostgreSQL.

use crate::common;
use common::TestDb;
use common::server::TestHub;
use serde_json::json;
use std::time::{Duration, Instant};

/// A new key for `agent`: (its ID, the key).
async fn new_key(hub: &TestHub, agent: &str, expires_at: Option<i64>) -> (String, String) {
    let (id, key, hash) = hub::api::auth::generate_key();
    hub.store()
        .insert_key(
            &id,
            agent,
            &hash,
            &["heartbeat:write".to_string()],
            expires_at,
            "test",
        )
        .await
        .unwrap();
    (id, key)
}

/// A heartbeat with `key`: (status, error message if any).
async fn beat(hub: &TestHub, key: &str) -> (u16, String) {
    let (s, body) = hub
        .post_with("/api/v1/heartbeat", key, json!({"status": "active"}), None)
        .await;
    let msg = body["error"]["message"].as_str().unwrap_or("").to_string();
    (s, msg)
}

both_dbs!(
    revoked_and_expired_keys_are_refused,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (id, key) = new_key(&hub, "builder", None).await;
        assert_eq!(beat(&hub, &key).await.0, 200);
        // Revoked in this process (the key was just checked and cached):
        // refused from the next request on.
        assert!(hub.store().revoke_key(&id, "test").await.unwrap());
        let (s, msg) = beat(&hub, &key).await;
        assert_eq!(s, 401);
        assert!(msg.contains("revoked"), "{msg}");
        assert!(
            !hub.store().revoke_key(&id, "test").await.unwrap(),
            "revoked once"
        );

        // Revoked by another process (as `orkhub key revoke` does): refused
        // within the cache's bound.
        let (other_id, other) = new_key(&hub, "builder", None).await;
        assert_eq!(beat(&hub, &other).await.0, 200);
        let cli = hub::store::Store::open(&db.url(), 1).await.unwrap();
        assert!(cli.revoke_key(&other_id, "cli").await.unwrap());
        cli.close().await;
        let revoked_at = Instant::now();
        let refused_after = loop {
            if beat(&hub, &other).await.0 == 401 {
                break revoked_at.elapsed();
            }
            assert!(
                revoked_at.elapsed() < hub::api::auth::CACHE_TTL + Duration::from_secs(2),
                "still accepted {:?} after revocation",
                revoked_at.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(refused_after <= hub::api::auth::CACHE_TTL + Duration::from_secs(1));

        // Expired: refused, saying so.
        let (_, old) = new_key(&hub, "builder", Some(hub::store::now_ms() - 1_000)).await;
        let (s, msg) = beat(&hub, &old).await;
        assert_eq!(s, 401);
        assert!(msg.contains("expired"), "{msg}");

        // Every creation and revocation is audited.
        let rows = hub.store().audit_for(&format!("key:{id}")).await.unwrap();
        let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        assert_eq!(actions, ["key.revoke", "key.create"], "newest first");
        let rows = hub
            .store()
            .audit_for(&format!("key:{other_id}"))
            .await
            .unwrap();
        assert_eq!(rows[0].0, "cli");
        assert_eq!(rows[0].1, "key.revoke");
        hub.stop().await;
    }
);

both_dbs!(
    keys_are_listed_without_their_secret,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (id, key) = new_key(&hub, "builder", None).await;
        assert_eq!(beat(&hub, &key).await.0, 200);
        let (revoked, _) = new_key(&hub, "builder", Some(hub::store::now_ms() + 86_400_000)).await;
        hub.store().revoke_key(&revoked, "test").await.unwrap();
        // Its use is recorded in the background.
        let mut listed = Vec::new();
        for _ in 0..100 {
            listed = hub.store().list_keys().await.unwrap();
            if listed
                .iter()
                .any(|k| k.id == id && k.last_used_at.is_some())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mine = listed.iter().find(|k| k.id == id).expect("listed");
        assert_eq!(mine.agent_id, "builder");
        assert_eq!(mine.scopes, ["heartbeat:write"]);
        assert!(mine.last_used_at.is_some() && mine.revoked_at.is_none());
        let gone = listed.iter().find(|k| k.id == revoked).expect("listed");
        assert!(gone.revoked_at.is_some() && gone.expires_at.is_some());
        assert_eq!(listed.len(), 3, "the test hub's own key too");

        // The CLI prints the same, never a key.
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"{}\"\n[[agents]]\nid = \"builder\"\n",
                db.url()
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_orkhub"))
            .arg("--config")
            .arg(&config)
            .args(["key", "list"])
            .env_remove("ORKHUB_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let header = stdout.lines().next().unwrap();
        for column in [
            "ID",
            "AGENT",
            "SCOPES",
            "CREATED",
            "EXPIRES",
            "LAST USED",
            "REVOKED",
        ] {
            assert!(header.contains(column), "{header}");
        }
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap_or_else(|| panic!("{id} in {stdout}"));
        assert!(
            line.contains("builder") && line.contains("heartbeat:write"),
            "{line}"
        );
        assert!(
            !stdout.contains(&key) && !stdout.contains(&hub.key),
            "{stdout}"
        );
        assert!(
            !stdout.contains(key.rsplit('_').next().unwrap()),
            "the secret part"
        );
        hub.stop().await;
    }
);

/// The first hub's config adds an agent and an approver with a chat identity.
const BEFORE: &str = r#"
[[agents]]
id = "reviewer"

[[people]]
id = "ops"
role = "admin"
identities = { telegram = "777" }

[approvers]
"deploy" = ["ops"]
"#;

both_dbs!(
    removed_from_the_config_means_no_access,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, BEFORE, vec![]).await;
        let (_, key) = new_key(&hub, "reviewer", None).await;
        assert_eq!(beat(&hub, &key).await.0, 200);
        hub.stop().await;

        // Restarted without them.
        let hub = TestHub::start(db, "", vec![]).await;
        let (s, msg) = beat(&hub, &key).await;
        assert_eq!(s, 401);
        assert!(
            msg.contains("reviewer") && msg.contains("disabled") && msg.contains("config"),
            "{msg}"
        );
        let store = hub.store();
        assert_eq!(
            store
                .person_by_platform(routing::ChannelKind::Telegram, "777")
                .await
                .unwrap(),
            None,
            "chat no longer knows them"
        );
        assert!(store.approvers("deploy").await.unwrap().is_empty());
        assert_eq!(
            store.decision_recipients("deploy").await.unwrap(),
            ["ceo"],
            "an admin removed from the config is not asked to decide"
        );
        assert!(
            store.person("ops").await.unwrap().is_some(),
            "kept for history"
        );
        let actions = |resource: &'static str| async move {
            store
                .audit_for(resource)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.1)
                .collect::<Vec<_>>()
        };
        assert_eq!(actions("agent:reviewer").await[0], "agent.disable");
        assert_eq!(actions("person:ops").await[0], "person.remove");
        hub.stop().await;

        // Back in the config: the key works again.
        let hub = TestHub::start(db, BEFORE, vec![]).await;
        assert_eq!(beat(&hub, &key).await.0, 200);
        hub.stop().await;
    }
);
