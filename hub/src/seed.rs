//! Bring what config.toml declares (people, agents, projects, channels,
//! approvers) into the database on start, so a new install is configured by
//! editing one file. Whoever is no longer declared loses their access: a
//! person their chat identities and approver rows, an agent its keys (it is
//! disabled); both rows stay for history, and the change is audited.

use crate::config::Config;
use crate::store::commands_backend::{AgentSeed, PersonSeed};
use crate::store::{ChannelSeed, PreferencesSeed, Store};

pub async fn apply(store: &Store, config: &Config) -> anyhow::Result<()> {
    for p in &config.projects {
        store
            .upsert_project(&p.id, p.name.as_deref().unwrap_or(&p.id), p.budget_usd)
            .await?;
        store.set_project_owner(&p.id, p.owner.as_deref()).await?;
    }
    for a in &config.agents {
        store
            .upsert_agent(&AgentSeed {
                id: a.id.clone(),
                description: a.description.clone(),
                capabilities: a.capabilities.clone(),
                daily_budget_usd: a.daily_budget_usd,
            })
            .await?;
    }
    for p in &config.people {
        store
            .upsert_person(&PersonSeed {
                id: p.id.clone(),
                display_name: p.display_name.clone().unwrap_or_else(|| p.id.clone()),
                role: p
                    .role
                    .parse()
                    .map_err(|e| anyhow::anyhow!("people.{}.role: {e}", p.id))?,
                time_zone: p.time_zone.clone(),
                email: p.email.clone(),
                identities: p.identities.iter().map(|(k, v)| (*k, v.clone())).collect(),
            })
            .await?;
        store
            .upsert_preferences(&PreferencesSeed {
                person_id: p.id.clone(),
                push_channels: crate::ingest::plan::join_channels(&p.push),
                kind_channels_json: serde_json::to_string(&p.by_kind)?,
                digest_channel: p.digest_channel.as_str().to_string(),
                digest_time: p.digest_time.clone(),
                brief_time: p.brief_time.clone(),
                quiet: p
                    .quiet_hours
                    .as_ref()
                    .map(|q| (q.start.clone(), q.end.clone(), q.urgent_breaks_through)),
            })
            .await?;
    }
    for c in &config.channels {
        store
            .upsert_channel(&ChannelSeed {
                id: c.id.clone(),
                kind: c.kind.clone(),
                project_id: c.project.clone(),
                bindings: c
                    .bindings
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                    .collect(),
            })
            .await?;
    }
    for (kind, people) in &config.approvers {
        store.set_approvers(kind, people).await?;
    }
    let people: Vec<&str> = config.people.iter().map(|p| p.id.as_str()).collect();
    for id in store.remove_people_not_in(&people).await? {
        tracing::warn!(person = %id, "not in the config any more: their chat identities and approver rights are removed");
    }
    let agents: Vec<&str> = config.agents.iter().map(|a| a.id.as_str()).collect();
    for id in store.disable_agents_not_in(&agents).await? {
        tracing::warn!(agent = %id, "not in the config any more: disabled, its API keys are refused");
    }
    Ok(())
}
