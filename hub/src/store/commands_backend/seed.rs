//! Writing people, agents, projects and approvers from config. The config
//! file is how an install is set up, so at start the hub makes the tables
//! say what it says. Each helper is one transaction, returns whether
//! anything changed, and writes an audit row (actor `system`, source
//! `config`) only when something did. A person or agent removed from config
//! keeps its row (tasks and the audit log refer to it) but loses its access:
//! a person their platform identities and approver rows (and is marked
//! `removed_at`), an agent its status (`disabled`: its keys are refused).
//! An identity or approver removed from config is removed.

use crate::store::{AuditRow, Store, StoreError, now_ms};
use commands::Role;
use routing::ChannelKind;
use serde_json::json;
use sqlx::error::ErrorKind;
use sqlx::{Any, Transaction};
use std::collections::BTreeSet;

/// A person as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonSeed {
    /// Orkhub handle, e.g. `alice`.
    pub id: String,
    pub display_name: String,
    pub role: Role,
    /// IANA zone name, e.g. `Europe/Kyiv`.
    pub time_zone: String,
    pub email: Option<String>,
    /// (platform, the platform's immutable user ID). These replace the
    /// person's stored identities; an ID stored for someone else moves to
    /// this person.
    pub identities: Vec<(ChannelKind, String)>,
}

/// An agent as configured. Its status is not config: it comes from
/// heartbeats (a new agent starts with the schema default, `active`).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSeed {
    pub id: String,
    pub description: String,
    pub capabilities: Vec<String>,
    pub daily_budget_usd: Option<f64>,
}

async fn audit_config(
    tx: &mut Transaction<'static, Any>,
    action: &str,
    resource: &str,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    Store::audit_in(
        tx,
        &AuditRow {
            actor: "system",
            action,
            resource,
            details,
            source: "config",
        },
    )
    .await
}

/// Insert the row if missing, else update it if it differs: whether it was
/// created (`Some(true)`), updated (`Some(false)`) or already so (`None`).
/// Both statements write first, so the transaction never has to upgrade a
/// read (SQLite in WAL mode would refuse that under a concurrent writer).
fn changed(created: u64, updated: u64) -> Option<bool> {
    match (created, updated) {
        (1.., _) => Some(true),
        (0, 1..) => Some(false),
        _ => None,
    }
}

/// An optional amount as two always-typed parameters (value, 1 if present):
/// the SQL reads it as `CASE WHEN $flag = 1 THEN $value END`. Binding an
/// `Option<f64>` directly is unsafe on PostgreSQL through sqlx 0.9's `Any`
/// driver: `None` is sent as a float4 NULL (`AnyValueKind::Null(Double)`
/// maps to `Option<f32>`), the statement is cached with that parameter type,
/// and the next call with `Some(x)` then fails with "incorrect binary data
/// format in bind parameter".
fn optional_f64(v: Option<f64>) -> (f64, i64) {
    (v.unwrap_or(0.0), i64::from(v.is_some()))
}

impl Store {
    /// Make the stored person match the config. True when anything changed.
    pub async fn upsert_person(&self, seed: &PersonSeed) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let created = sqlx::query(
            "INSERT INTO people (id, display_name, role, time_zone, email, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&seed.id)
        .bind(&seed.display_name)
        .bind(seed.role.as_str())
        .bind(&seed.time_zone)
        .bind(seed.email.as_deref())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let updated = if created == 0 {
            sqlx::query(
                "UPDATE people SET display_name = $2, role = $3, time_zone = $4, email = $5, \
                 updated_at = $6 WHERE id = $1 AND (display_name <> $2 OR role <> $3 \
                 OR time_zone <> $4 OR email IS DISTINCT FROM $5)",
            )
            .bind(&seed.id)
            .bind(&seed.display_name)
            .bind(seed.role.as_str())
            .bind(&seed.time_zone)
            .bind(seed.email.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            0
        };
        let restored = sqlx::query(
            "UPDATE people SET removed_at = NULL, updated_at = $2 WHERE id = $1 AND removed_at IS NOT NULL",
        )
        .bind(&seed.id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        let row = changed(created, updated + u64::from(restored));

        let stored: Vec<(String, String)> = sqlx::query_as(
            "SELECT platform, platform_user_id FROM person_identities WHERE person_id = $1",
        )
        .bind(&seed.id)
        .fetch_all(&mut *tx)
        .await?;
        let stored: BTreeSet<(String, String)> = stored.into_iter().collect();
        let wanted: BTreeSet<(String, String)> = seed
            .identities
            .iter()
            .map(|(p, u)| (p.as_str().to_string(), u.clone()))
            .collect();
        let removed: Vec<&(String, String)> = stored.difference(&wanted).collect();
        let added: Vec<&(String, String)> = wanted.difference(&stored).collect();
        for (platform, user) in &removed {
            sqlx::query(
                "DELETE FROM person_identities WHERE platform = $1 AND platform_user_id = $2",
            )
            .bind(platform)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        for (platform, user) in &added {
            sqlx::query(
                "INSERT INTO person_identities (platform, platform_user_id, person_id) \
                 VALUES ($1, $2, $3) ON CONFLICT (platform, platform_user_id) \
                 DO UPDATE SET person_id = excluded.person_id",
            )
            .bind(platform)
            .bind(user)
            .bind(&seed.id)
            .execute(&mut *tx)
            .await?;
        }
        if row.is_none() && added.is_empty() && removed.is_empty() {
            return Ok(false);
        }
        let action = if row == Some(true) {
            "person.create"
        } else {
            "person.update"
        };
        let ids = |v: &[&(String, String)]| -> Vec<String> {
            v.iter().map(|(p, u)| format!("{p}:{u}")).collect()
        };
        audit_config(
            &mut tx,
            action,
            &format!("person:{}", seed.id),
            json!({
                "display_name": seed.display_name,
                "role": seed.role,
                "time_zone": seed.time_zone,
                "email": seed.email,
                "identities_added": ids(&added),
                "identities_removed": ids(&removed),
                "restored": restored,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Make the stored agent match the config (description, capabilities,
    /// daily budget; not its status). True when anything changed.
    pub async fn upsert_agent(&self, seed: &AgentSeed) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let caps = serde_json::Value::from(seed.capabilities.clone()).to_string();
        let (budget, has_budget) = optional_f64(seed.daily_budget_usd);
        let created = sqlx::query(
            "INSERT INTO agents (id, description, capabilities, daily_budget_usd, created_at, updated_at) \
             VALUES ($1, $2, $3, CASE WHEN $5 = 1 THEN $4 END, $6, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&seed.id)
        .bind(&seed.description)
        .bind(&caps)
        .bind(budget)
        .bind(has_budget)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let updated = if created == 0 {
            sqlx::query(
                "UPDATE agents SET description = $2, capabilities = $3, \
                 daily_budget_usd = CASE WHEN $5 = 1 THEN $4 END, updated_at = $6 \
                 WHERE id = $1 AND (description <> $2 OR capabilities <> $3 \
                 OR daily_budget_usd IS DISTINCT FROM (CASE WHEN $5 = 1 THEN $4 END))",
            )
            .bind(&seed.id)
            .bind(&seed.description)
            .bind(&caps)
            .bind(budget)
            .bind(has_budget)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            0
        };
        // Back in the config after it was removed: its keys work again.
        let enabled = sqlx::query(
            "UPDATE agents SET status = 'active', updated_at = $2 WHERE id = $1 AND status = 'disabled'",
        )
        .bind(&seed.id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        let Some(created) = changed(created, updated + u64::from(enabled)) else {
            return Ok(false);
        };
        audit_config(
            &mut tx,
            if created {
                "agent.create"
            } else {
                "agent.update"
            },
            &format!("agent:{}", seed.id),
            json!({
                "description": seed.description,
                "capabilities": seed.capabilities,
                "daily_budget_usd": seed.daily_budget_usd,
                "re_enabled": enabled,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Make the stored project match the config (name, monthly budget).
    /// True when anything changed.
    pub async fn upsert_project(
        &self,
        id: &str,
        name: &str,
        budget_usd: Option<f64>,
    ) -> Result<bool, StoreError> {
        let (budget, has_budget) = optional_f64(budget_usd);
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let created = sqlx::query(
            "INSERT INTO projects (id, name, budget_usd, created_at, updated_at) \
             VALUES ($1, $2, CASE WHEN $4 = 1 THEN $3 END, $5, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(budget)
        .bind(has_budget)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let updated = if created == 0 {
            sqlx::query(
                "UPDATE projects SET name = $2, budget_usd = CASE WHEN $4 = 1 THEN $3 END, \
                 updated_at = $5 WHERE id = $1 AND (name <> $2 \
                 OR budget_usd IS DISTINCT FROM (CASE WHEN $4 = 1 THEN $3 END))",
            )
            .bind(id)
            .bind(name)
            .bind(budget)
            .bind(has_budget)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            0
        };
        let Some(created) = changed(created, updated) else {
            return Ok(false);
        };
        audit_config(
            &mut tx,
            if created {
                "project.create"
            } else {
                "project.update"
            },
            &format!("project:{id}"),
            json!({ "name": name, "budget_usd": budget_usd }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Make the approvers of decision `kind` exactly `person_ids` (besides
    /// owners and admins, who may always decide). Each must be a stored
    /// person (`StoreError::NotFound` otherwise, and nothing changes).
    /// True when anything changed.
    pub async fn set_approvers<S: AsRef<str>>(
        &self,
        kind: &str,
        person_ids: &[S],
    ) -> Result<bool, StoreError> {
        let wanted: BTreeSet<&str> = person_ids.iter().map(AsRef::as_ref).collect();
        let mut tx = self.pool.begin().await?;
        let mut added = Vec::new();
        for person in &wanted {
            let n = sqlx::query(
                "INSERT INTO decision_approvers (kind, person_id) VALUES ($1, $2) \
                 ON CONFLICT (kind, person_id) DO NOTHING",
            )
            .bind(kind)
            .bind(*person)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.kind() == ErrorKind::ForeignKeyViolation => {
                    StoreError::NotFound {
                        what: "person",
                        id: person.to_string(),
                    }
                }
                _ => StoreError::from(e),
            })?
            .rows_affected();
            if n > 0 {
                added.push(person.to_string());
            }
        }
        let stored: Vec<(String,)> =
            sqlx::query_as("SELECT person_id FROM decision_approvers WHERE kind = $1")
                .bind(kind)
                .fetch_all(&mut *tx)
                .await?;
        let mut removed = Vec::new();
        for (person,) in stored {
            if !wanted.contains(person.as_str()) {
                sqlx::query("DELETE FROM decision_approvers WHERE kind = $1 AND person_id = $2")
                    .bind(kind)
                    .bind(&person)
                    .execute(&mut *tx)
                    .await?;
                removed.push(person);
            }
        }
        if added.is_empty() && removed.is_empty() {
            return Ok(false);
        }
        audit_config(
            &mut tx,
            "approvers.set",
            &format!("approvers:{kind}"),
            json!({ "approvers": wanted, "added": added, "removed": removed }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Take away the access of every stored person not in `keep` (the
    /// config's people): their platform identities (so chat no longer knows
    /// them) and approver rows go, and `removed_at` is set (so they are not
    /// asked to decide, whatever their role). The row stays for history.
    /// One audited transaction per person; returns who lost anything.
    pub async fn remove_people_not_in<S: AsRef<str>>(
        &self,
        keep: &[S],
    ) -> Result<Vec<String>, StoreError> {
        let keep: BTreeSet<&str> = keep.iter().map(AsRef::as_ref).collect();
        let stored: Vec<(String,)> = sqlx::query_as("SELECT id FROM people ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut removed = Vec::new();
        for (id,) in stored {
            if !keep.contains(id.as_str()) && self.remove_person(&id).await? {
                removed.push(id);
            }
        }
        Ok(removed)
    }

    async fn remove_person(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let marked = sqlx::query(
            "UPDATE people SET removed_at = $2, updated_at = $2 WHERE id = $1 AND removed_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let identities: Vec<(String, String)> = sqlx::query_as(
            "DELETE FROM person_identities WHERE person_id = $1 RETURNING platform, platform_user_id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let approver_of: Vec<(String,)> =
            sqlx::query_as("DELETE FROM decision_approvers WHERE person_id = $1 RETURNING kind")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        if marked == 0 && identities.is_empty() && approver_of.is_empty() {
            return Ok(false);
        }
        audit_config(
            &mut tx,
            "person.remove",
            &format!("person:{id}"),
            json!({
                "why": "not in the config",
                "identities_removed": identities.iter().map(|(p, u)| format!("{p}:{u}")).collect::<Vec<_>>(),
                "approver_of": approver_of.into_iter().map(|(k,)| k).collect::<Vec<_>>(),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Disable every stored agent not in `keep` (the config's agents): its
    /// API keys are refused from now on. The row stays for history; an
    /// agent put back in the config is enabled again by
    /// [`Store::upsert_agent`]. One audited transaction per agent; returns
    /// the agents disabled now.
    pub async fn disable_agents_not_in<S: AsRef<str>>(
        &self,
        keep: &[S],
    ) -> Result<Vec<String>, StoreError> {
        let keep: BTreeSet<&str> = keep.iter().map(AsRef::as_ref).collect();
        let stored: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM agents WHERE status <> 'disabled' ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut disabled = Vec::new();
        for (id,) in stored {
            if keep.contains(id.as_str()) {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            let n = sqlx::query(
                "UPDATE agents SET status = 'disabled', updated_at = $2 WHERE id = $1 AND status <> 'disabled'",
            )
            .bind(&id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                continue;
            }
            audit_config(
                &mut tx,
                "agent.disable",
                &format!("agent:{id}"),
                json!({ "why": "not in the config; its API keys are refused" }),
            )
            .await?;
            tx.commit().await?;
            disabled.push(id);
        }
        Ok(disabled)
    }
}
