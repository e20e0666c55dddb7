//! `[budgets]`: the time zone budget periods follow. An agent's daily
//! budget and a project's monthly budget reset at this zone's midnight —
//! the company's day, not UTC's — in the budget watcher's alerts and
//! pauses, `GET /api/v1/agents/me`, the brief's spend and the console's
//! Costs page alike.

use super::PersonConfig;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetsConfig {
    /// An IANA time zone (e.g. Europe/Kyiv). Unset: the time zone of the
    /// first owner in `[[people]]`, else UTC.
    pub time_zone: Option<String>,
}

impl BudgetsConfig {
    /// The zone budget periods follow (see [`BudgetsConfig::time_zone`]).
    /// The config was validated: a zone that does not parse is UTC here.
    pub fn zone(&self, people: &[PersonConfig]) -> Tz {
        let name = self.time_zone.as_deref().or_else(|| {
            people
                .iter()
                .find(|p| p.role == "owner")
                .map(|p| p.time_zone.as_str())
        });
        name.and_then(|n| n.parse().ok()).unwrap_or(Tz::UTC)
    }
}

pub fn validate(b: &BudgetsConfig) -> Result<(), String> {
    match &b.time_zone {
        Some(tz) if tz.parse::<Tz>().is_err() => Err(format!(
            "budgets.time_zone = {tz:?}: not an IANA time zone (e.g. Europe/Kyiv)"
        )),
        _ => Ok(()),
    }
}
