//! A decision resolved while a copy of its request is still on its way to a
//! platform: that copy is edited too, so no chat is left showing Approve and
//! Deny for a decision already made.

use crate::common;
use adapters::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use commands::RichMessage;
use common::TestDb;
use common::server::TestHub;
use routing::ChannelKind;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// A Telegram stand-in whose sends wait for a permit, recording sends and edits.
struct GatedAdapter {
    gate: Semaphore,
    sends: Mutex<Vec<RichMessage>>,
    edits: Mutex<Vec<(String, RichMessage)>>,
}

#[async_trait]
impl Adapter for GatedAdapter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }
    async fn send(&self, _: &Destination, m: &RichMessage) -> Result<Sent, SendError> {
        self.sends.lock().unwrap().push(m.clone());
        let _permit = self.gate.acquire().await.expect("gate open");
        Ok(Sent {
            platform_message_id: Some("tg-1".into()),
        })
    }
    async fn edit(&self, _: &Destination, id: &str, m: &RichMessage) -> Result<(), SendError> {
        self.edits.lock().unwrap().push((id.to_string(), m.clone()));
        Ok(())
    }
}

/// The CEO is pushed on Telegram only; a second agent resolves.
const SETUP: &str = r##"
[[agents]]
id = "reviewer"
"##;

both_dbs!(
    a_copy_sent_after_the_resolution_is_edited_too,
    |db: &TestDb| async move {
        let gated = Arc::new(GatedAdapter {
            gate: Semaphore::new(0),
            sends: Mutex::new(Vec::new()),
            edits: Mutex::new(Vec::new()),
        });
        // dana (member, Telegram 555) is the approver of "deploy" decisions.
        let hub = TestHub::start(
            db,
            &format!("{SETUP}\n[approvers]\n\"deploy\" = [\"dana\"]\n"),
            vec![gated.clone()],
        )
        .await;
        let (s, created) = hub
            .post(
                "/api/v1/decisions",
                json!({"kind": "deploy", "context": "Ship it?", "options": ["ship", "wait"]}),
            )
            .await;
        assert_eq!(s, 201, "{created}");
        let id = created["id"].as_i64().unwrap();
        // dana's Telegram copy is in the adapter's hands, not yet sent.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while gated.sends.lock().unwrap().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the copy never left"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(gated.sends.lock().unwrap()[0].buttons.len(), 2);

        let (key_id, key, hash) = hub::api::auth::generate_key();
        hub.store()
            .insert_key(
                &key_id,
                "reviewer",
                &hash,
                &["decisions:resolve".to_string()],
                None,
                "t",
            )
            .await
            .unwrap();
        let (s, resolved) = hub
            .post_with(
                &format!("/api/v1/decisions/{id}/resolve"),
                &key,
                json!({"outcome": "deny", "reasoning": "not today"}),
                None,
            )
            .await;
        assert_eq!(s, 200, "{resolved}");
        // Now the send completes: the copy exists, showing stale buttons...
        gated.gate.add_permits(10);
        // ...until the dispatcher notices and edits it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some((target, m)) = gated.edits.lock().unwrap().first().cloned() {
                assert_eq!(target, "tg-1");
                assert!(m.buttons.is_empty(), "no buttons once decided: {m:?}");
                assert!(m.plain_text().to_lowercase().contains("denied"), "{m:?}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the late copy was never edited"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        hub.stop().await;
    }
);
