//! Channels, their platform bindings and people's routing preferences, as
//! declared in config.toml and brought into the database on start.

use super::{AuditRow, Store, StoreError, now_ms};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct ChannelSeed {
    pub id: String,
    pub kind: String,
    pub project_id: Option<String>,
    pub bindings: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct PreferencesSeed {
    pub person_id: String,
    pub push_channels: String,
    pub kind_channels_json: String,
    pub digest_channel: String,
    pub digest_time: String,
    pub brief_time: String,
    pub quiet: Option<(String, String, bool)>,
}

impl Store {
    /// Insert or update a channel and replace its bindings; audited with source "config".
    pub async fn upsert_channel(&self, c: &ChannelSeed) -> Result<(), StoreError> {
        if self.channel_as_seeded(c).await? {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO channels (id, kind, project_id, name, created_at) VALUES ($1, $2, $3, $1, $4) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, project_id = excluded.project_id",
        )
        .bind(&c.id)
        .bind(&c.kind)
        .bind(&c.project_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM channel_bindings WHERE channel_id = $1")
            .bind(&c.id)
            .execute(&mut *tx)
            .await?;
        for (platform, address) in &c.bindings {
            sqlx::query(
                "INSERT INTO channel_bindings (channel_id, platform, address) VALUES ($1, $2, $3)",
            )
            .bind(&c.id)
            .bind(platform)
            .bind(address)
            .execute(&mut *tx)
            .await?;
        }
        Self::audit_in(
            &mut tx,
            &AuditRow {
                actor: "system",
                action: "channel.configure",
                resource: &format!("channel:{}", c.id),
                details: serde_json::json!({"kind": c.kind, "project": c.project_id, "bindings": c.bindings}),
                source: "config",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Insert or replace a person's routing preferences; audited.
    pub async fn upsert_preferences(&self, p: &PreferencesSeed) -> Result<(), StoreError> {
        if self.preferences_as_seeded(p).await? {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let (qs, qe, brk) = match &p.quiet {
            Some((s, e, b)) => (Some(s.clone()), Some(e.clone()), *b),
            None => (None, None, true),
        };
        sqlx::query(
            "INSERT INTO preferences (person_id, push_channels, kind_channels, digest_channel, digest_time, brief_time, quiet_start, quiet_end, urgent_breaks_quiet, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (person_id) DO UPDATE SET \
             push_channels = excluded.push_channels, kind_channels = excluded.kind_channels, digest_channel = excluded.digest_channel, \
             digest_time = excluded.digest_time, brief_time = excluded.brief_time, quiet_start = excluded.quiet_start, \
             quiet_end = excluded.quiet_end, urgent_breaks_quiet = excluded.urgent_breaks_quiet, updated_at = excluded.updated_at",
        )
        .bind(&p.person_id)
        .bind(&p.push_channels)
        .bind(&p.kind_channels_json)
        .bind(&p.digest_channel)
        .bind(&p.digest_time)
        .bind(&p.brief_time)
        .bind(qs)
        .bind(qe)
        .bind(brk as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        Self::audit_in(
            &mut tx,
            &AuditRow {
                actor: "system",
                action: "preferences.configure",
                resource: &format!("person:{}", p.person_id),
                details: serde_json::json!({"push": p.push_channels, "digest": p.digest_channel}),
                source: "config",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Whether the stored channel already says what the seed says (so a
    /// restart writes no audit row for an unchanged config).
    async fn channel_as_seeded(&self, c: &ChannelSeed) -> Result<bool, StoreError> {
        let Some(row) = sqlx::query("SELECT kind, project_id FROM channels WHERE id = $1")
            .bind(&c.id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(false);
        };
        if row.try_get::<String, _>(0)? != c.kind
            || row.try_get::<Option<String>, _>(1)? != c.project_id
        {
            return Ok(false);
        }
        let mut stored: Vec<(String, String)> =
            sqlx::query_as("SELECT platform, address FROM channel_bindings WHERE channel_id = $1")
                .bind(&c.id)
                .fetch_all(&self.pool)
                .await?;
        let mut wanted = c.bindings.clone();
        stored.sort();
        wanted.sort();
        Ok(stored == wanted)
    }

    async fn preferences_as_seeded(&self, p: &PreferencesSeed) -> Result<bool, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT push_channels, kind_channels, digest_channel, digest_time, brief_time, quiet_start, quiet_end, urgent_breaks_quiet FROM preferences WHERE person_id = $1",
        )
        .bind(&p.person_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(false);
        };
        let quiet = match (
            r.try_get::<Option<String>, _>(5)?,
            r.try_get::<Option<String>, _>(6)?,
        ) {
            (Some(s), Some(e)) => Some((s, e, r.try_get::<i64, _>(7)? != 0)),
            _ => None,
        };
        Ok(r.try_get::<String, _>(0)? == p.push_channels
            && r.try_get::<String, _>(1)? == p.kind_channels_json
            && r.try_get::<String, _>(2)? == p.digest_channel
            && r.try_get::<String, _>(3)? == p.digest_time
            && r.try_get::<String, _>(4)? == p.brief_time
            && quiet == p.quiet)
    }
}
