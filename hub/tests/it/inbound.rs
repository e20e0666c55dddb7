//! Chat input through the hub: a button press or a command from a platform
//! user runs the shared command layer against the real store, and its
//! follow-ups happen — every delivered copy of a resolved decision is edited.

use crate::common;
use adapters::{Inbound, InboundKind};
use common::TestDb;
use common::server::TestHub;
use routing::ChannelKind;
use serde_json::json;
use std::time::Duration;

fn press(user: &str, token: &str) -> Inbound {
    Inbound {
        platform: ChannelKind::Telegram,
        user_id: user.into(),
        chat_id: user.into(),
        message_id: None,
        what: InboundKind::Button {
            token: token.into(),
        },
    }
}

both_dbs!(
    button_in_chat_resolves_and_edits_every_copy,
    |db: &TestDb| async move {
        let extra = "[[people]]\nid = \"boss\"\nrole = \"admin\"\npush = [\"console\"]\nidentities = { telegram = \"777\" }\n";
        let hub = TestHub::start(db, extra, vec![]).await;
        let state = hub.running.as_ref().unwrap().state.clone();
        let inbox = hub::inbox::HubInbox::new(state.backend.clone(), state.wake.clone());
        let mut feed = hub.running.as_ref().unwrap().web.subscribe();
        let (s, d) = hub
            .post(
                "/api/v1/decisions",
                json!({"kind": "deploy", "context": "ship v2?"}),
            )
            .await;
        assert_eq!(s, 201, "{d}");
        let id = d["id"].as_i64().unwrap();
        let ev = tokio::time::timeout(Duration::from_secs(5), feed.recv())
            .await
            .unwrap()
            .unwrap();
        let approve = ev
            .message
            .buttons
            .iter()
            .find(|b| b.label.contains("Approve"))
            .expect("approve button")
            .token
            .clone();
        hub.settled_all(&d).await;

        // An unknown platform user is refused politely, audited, and changes nothing.
        let r = hub::inbound::handle(&inbox, &press("999", &approve), None)
            .await
            .unwrap();
        assert!(r.is_error && r.message.text.contains("999"), "{r:?}");
        assert!(
            !hub.store()
                .audit_for("telegram:999")
                .await
                .unwrap()
                .is_empty()
        );
        // A member without approver rights is refused.
        let r = hub::inbound::handle(&inbox, &press("555", &approve), None)
            .await
            .unwrap();
        assert!(r.is_error, "{r:?}");
        let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(g["status"], "pending", "{g}");

        // The admin presses Approve in Telegram.
        let r = hub::inbound::handle(&inbox, &press("777", &approve), None)
            .await
            .unwrap();
        assert!(!r.is_error, "{r:?}");
        let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(g["status"], "approved", "{g}");
        assert!(g["decided_by"].as_str().unwrap().contains("boss"), "{g}");
        // Every copy on the web feed is edited to show the outcome.
        let mut edits = 0;
        while edits < 2 {
            let ev = tokio::time::timeout(Duration::from_secs(5), feed.recv())
                .await
                .expect("edit events")
                .unwrap();
            if ev.edited {
                assert!(
                    ev.message.buttons.is_empty(),
                    "resolved copies have no buttons"
                );
                edits += 1;
            }
        }

        // A second resolution by command is refused and changes nothing.
        let cmd = Inbound {
            what: InboundKind::Command {
                text: format!("/deny {id} too late"),
            },
            ..press("777", "")
        };
        let r = hub::inbound::handle(&inbox, &cmd, None).await.unwrap();
        assert!(r.is_error && r.message.text.contains("already"), "{r:?}");
        let (_, g) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(g["status"], "approved");
        drop(state);
        hub.stop().await;
    }
);
