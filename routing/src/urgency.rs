use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How soon a notification must reach a person.
///
/// `urgent` is pushed now, `info` waits for the person's digest, `fyi` goes to
/// the web feed only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Urgency {
    Fyi,
    Info,
    Urgent,
}

impl Urgency {
    pub const ALL: [Urgency; 3] = [Urgency::Urgent, Urgency::Info, Urgency::Fyi];

    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Urgent => "urgent",
            Urgency::Info => "info",
            Urgency::Fyi => "fyi",
        }
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown urgency {0:?}: expected one of urgent, info, fyi")]
pub struct UnknownUrgency(pub String);

impl FromStr for Urgency {
    type Err = UnknownUrgency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "urgent" => Ok(Urgency::Urgent),
            "info" => Ok(Urgency::Info),
            "fyi" => Ok(Urgency::Fyi),
            _ => Err(UnknownUrgency(s.to_string())),
        }
    }
}
