//! The console's Brief page shows a sent brief as it was sent: the brief
//! the daily job queued (its LLM summary included) is kept per person and
//! date, and the page for that date reads it instead of building a new
//! one; a date whose brief was never sent is built as now. A person keeps
//! a year of sent briefs.

use crate::common;
use crate::console::{Visitor, link};
use chrono::{Duration, Utc};
use common::TestDb;
use common::openai_server::{KEY, Mode, OpenAiServer};
use common::server::TestHub;
use hub::brief::job::BriefJob;
use hub::schedule::DailyJob;

const SUMMARY: &str = "All calm; one thing from the summary only.";

/// `early` gets their brief at 00:00 UTC, so today's is always due; the
/// hub asks the LLM test server for a summary.
fn toml(llm: &str) -> String {
    format!(
        "[brief]\nenabled = false\n[brief.llm]\nenabled = true\nbase_url = \"{llm}\"\n\
         model = \"gpt-4o-mini\"\napi_key = \"{KEY}\"\ntimeout_ms = 5000\n\
         [[people]]\nid = \"early\"\nrole = \"member\"\ntime_zone = \"UTC\"\n\
         brief_time = \"00:00\"\npush = [\"console\"]\n"
    )
}

both_dbs!(
    a_sent_brief_is_shown_as_sent_and_a_year_is_kept,
    |db: &TestDb| async move {
        let llm = OpenAiServer::start(Mode::Answer(SUMMARY.into(), 100, 10)).await;
        let hub = TestHub::start(db, &toml(&llm.base), vec![]).await;
        let state = hub.running.as_ref().unwrap().state.clone();
        let store = hub.store();
        let mut early = Visitor::new(&hub);
        early.sign_in(&link(&hub, "early").await).await;
        let slot =
            hub::schedule::due_slot("early", chrono_tz::UTC, chrono::NaiveTime::MIN, Utc::now())
                .unwrap();
        let today = slot.date;

        // Before it is sent: built as now, without the summary (no LLM call).
        let (s, html) = early.get("/console/brief").await;
        assert_eq!(s, 200, "{html}");
        assert!(!html.contains(SUMMARY), "{html}");
        assert!(!html.contains("as sent"), "{html}");
        assert!(llm.requests().is_empty());

        // A brief sent 400 days ago (queued as the job queues one).
        let old_date = today - Duration::days(400);
        let old = state
            .brief
            .data(store, "early", Some(old_date), Utc::now())
            .await
            .unwrap();
        let old_slot = format!("early:{old_date}");
        let now = hub::store::now_ms();
        assert!(
            store
                .reserve_slot("brief", &old_slot, "t", now, now + 60_000)
                .await
                .unwrap()
        );
        let (n, d) = hub::brief::job::outbox_rows(
            state.dir.person("early").unwrap(),
            &commands::RichMessage {
                text: "old".into(),
                ..Default::default()
            },
            now,
            false,
        );
        assert!(
            store
                .queue_brief(&old_slot, "t", now, Some(&old), &n, &d)
                .await
                .unwrap()
        );
        let (s, html) = early.get(&format!("/console/brief?date={old_date}")).await;
        assert_eq!(s, 200, "{html}");
        assert!(
            html.contains(&format!("Brief for {old_date}, as sent at")),
            "{html}"
        );
        assert_eq!(store.sent_brief_count("early").await.unwrap(), 1);

        // Today's, sent by the daily job with its summary.
        let job = BriefJob {
            service: state.brief.clone(),
            email_fallback: false,
        };
        job.run(&state.jobs(), state.dir.person("early").unwrap(), &slot)
            .await
            .unwrap();
        assert_eq!(llm.requests().len(), 1);
        for page in [
            "/console/brief".to_string(),
            format!("/console/brief?date={today}"),
        ] {
            let (s, html) = early.get(&page).await;
            assert_eq!(s, 200, "{page}: {html}");
            assert!(html.contains(SUMMARY), "{page}: {html}");
            assert!(
                html.contains(&format!("Brief for {today}, as sent at")),
                "{page}: {html}"
            );
        }
        // Read, not rebuilt: the LLM was not asked again.
        assert_eq!(llm.requests().len(), 1);

        // The one sent over a year before today's is gone; that date is
        // built as now again.
        assert_eq!(store.sent_brief_count("early").await.unwrap(), 1);
        assert!(store.sent_brief("early", old_date).await.unwrap().is_none());
        let (s, html) = early.get(&format!("/console/brief?date={old_date}")).await;
        assert_eq!(s, 200, "{html}");
        assert!(!html.contains("as sent"), "{html}");
        assert!(html.contains(&format!("Brief for {old_date}")), "{html}");

        // Another person's sent brief is theirs only: the ceo's page for
        // today is built.
        let mut ceo = Visitor::new(&hub);
        ceo.sign_in(&link(&hub, "ceo").await).await;
        let (s, html) = ceo.get(&format!("/console/brief?date={today}")).await;
        assert_eq!(s, 200, "{html}");
        assert!(!html.contains(SUMMARY), "{html}");
        drop(state);
        hub.stop().await;
    }
);
