//! Who is who, in memory: people with their routing preferences and platform
//! addresses, and channels with their platform bindings. Built from config at
//! start (the config file is how an install is set up), so the hot ingest
//! path never queries for them.

use crate::config::Config;
use routing::{ChannelKind, Preferences};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone)]
pub struct PersonEntry {
    pub id: String,
    pub prefs: Preferences,
    pub email: Option<String>,
    pub identities: BTreeMap<ChannelKind, String>,
    /// Local wall-clock times of this person's daily digest and brief.
    pub digest_time: chrono::NaiveTime,
    pub brief_time: chrono::NaiveTime,
    /// Local weekdays the digest goes out; empty: every day.
    pub digest_days: Vec<chrono::Weekday>,
}

impl PersonEntry {
    /// This person's address on a channel, if they have one there.
    pub fn address(&self, channel: ChannelKind) -> Option<String> {
        match channel {
            ChannelKind::Web | ChannelKind::Console => Some(self.id.clone()),
            ChannelKind::Email => self.email.clone(),
            other => self.identities.get(&other).cloned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChannelEntry {
    pub id: String,
    pub bindings: BTreeMap<ChannelKind, String>,
}

#[derive(Debug, Default)]
pub struct Directory {
    people: HashMap<String, PersonEntry>,
    channels: HashMap<String, ChannelEntry>,
}

impl Directory {
    pub fn from_config(config: &Config) -> Directory {
        let people = config
            .people
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    PersonEntry {
                        id: p.id.clone(),
                        prefs: p.preferences(),
                        email: p.email.clone(),
                        identities: p.identities.clone(),
                        // Validated at load; the fallbacks only guard a
                        // config built in code without validate().
                        digest_time: crate::config::parse_hhmm(&p.digest_time)
                            .unwrap_or(chrono::NaiveTime::MIN),
                        brief_time: crate::config::parse_hhmm(&p.brief_time)
                            .unwrap_or(chrono::NaiveTime::MIN),
                        digest_days: p
                            .digest_days
                            .iter()
                            .filter_map(|d| d.trim().parse().ok())
                            .collect(),
                    },
                )
            })
            .collect();
        let channels = config
            .channels
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    ChannelEntry {
                        id: c.id.clone(),
                        bindings: c.bindings.clone(),
                    },
                )
            })
            .collect();
        Directory { people, channels }
    }

    pub fn person(&self, id: &str) -> Option<&PersonEntry> {
        self.people.get(id)
    }

    pub fn channel(&self, id: &str) -> Option<&ChannelEntry> {
        self.channels.get(id)
    }

    pub fn people(&self) -> impl Iterator<Item = &PersonEntry> {
        self.people.values()
    }
}
