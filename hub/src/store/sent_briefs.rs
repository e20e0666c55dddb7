//! The briefs as they were sent, per person and local date: what the
//! console's Brief page shows for a date whose brief went out (the same
//! content, summary included, read by primary key instead of rebuilt).

use super::{Store, StoreError};
use chrono::NaiveDate;
use neutral::brief::Brief;
use sqlx::{Any, Transaction};

/// How many days of sent briefs each person keeps: a year of past dates
/// on the Brief page, a few kB a day per person. Older rows are deleted
/// when a newer brief is recorded, so the table never grows past this.
pub const SENT_BRIEF_DAYS: i64 = 366;

impl Store {
    /// Record `brief` as sent to its person (replacing an earlier one for
    /// the same date), within the transaction that queues it, and delete
    /// that person's sent briefs older than [`SENT_BRIEF_DAYS`].
    pub(super) async fn record_sent_brief_in(
        tx: &mut Transaction<'_, Any>,
        brief: &Brief,
        sent_at_ms: i64,
    ) -> Result<(), StoreError> {
        let model = serde_json::to_string(brief)
            .map_err(|e| StoreError::Invalid(format!("the brief does not serialise: {e}")))?;
        sqlx::query(
            "INSERT INTO sent_briefs (person_id, date, model, sent_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (person_id, date) DO UPDATE SET model = excluded.model, sent_at = excluded.sent_at",
        )
        .bind(&brief.person)
        .bind(brief.date.to_string())
        .bind(model)
        .bind(sent_at_ms)
        .execute(&mut **tx)
        .await?;
        let oldest = brief.date - chrono::Duration::days(SENT_BRIEF_DAYS);
        sqlx::query("DELETE FROM sent_briefs WHERE person_id = $1 AND date < $2")
            .bind(&brief.person)
            .bind(oldest.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The brief sent to `person` for their local `date`, if one was.
    pub async fn sent_brief(
        &self,
        person: &str,
        date: NaiveDate,
    ) -> Result<Option<Brief>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT model FROM sent_briefs WHERE person_id = $1 AND date = $2")
                .bind(person)
                .bind(date.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(model,)| {
            serde_json::from_str(&model)
                .map_err(|e| StoreError::Corrupt(format!("sent brief of {person} for {date}: {e}")))
        })
        .transpose()
    }

    /// How many sent briefs `person` has kept (tests: the pruning).
    pub async fn sent_brief_count(&self, person: &str) -> Result<i64, StoreError> {
        let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sent_briefs WHERE person_id = $1")
            .bind(person)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.0)
    }
}
