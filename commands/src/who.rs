//! Turning a name or mention typed in chat into a person or agent.

use crate::backend::Backend;
use crate::error::ServiceError;
use crate::model::{Assignee, Person};
use crate::spec::WhoRef;
use routing::ChannelKind;

/// Resolve `who` for a command sent from `platform` by `me`.
///
/// - `me` → the caller;
/// - a platform mention (`<@U123>`) → the person with that platform user ID;
/// - `agent:coder` → that agent;
/// - a bare name (`@alice`, `coder`) → the person with that orkhub handle or
///   the agent with that id; refused if it names both, so a typo can't pick
///   the wrong one silently.
pub async fn resolve<B: Backend + ?Sized>(
    backend: &B,
    platform: ChannelKind,
    me: &Person,
    who: &WhoRef,
) -> Result<Assignee, ServiceError> {
    match who {
        WhoRef::Me => Ok(Assignee::Person(me.id.clone())),
        WhoRef::Mention(uid) => match backend.person_by_platform(platform, uid).await? {
            Some(p) => Ok(Assignee::Person(p.id)),
            None => Err(ServiceError::UnknownAssignee(format!("<@{uid}>"))),
        },
        WhoRef::Name(name) => {
            if let Some(id) = name.strip_prefix("agent:") {
                return match backend.agent(id).await? {
                    Some(a) => Ok(Assignee::Agent(a.id)),
                    None => Err(ServiceError::UnknownAssignee(name.clone())),
                };
            }
            let person = backend.person(name).await?;
            let agent = backend.agent(name).await?;
            match (person, agent) {
                (Some(_), Some(_)) => Err(ServiceError::AmbiguousAssignee(name.clone())),
                (Some(p), None) => Ok(Assignee::Person(p.id)),
                (None, Some(a)) => Ok(Assignee::Agent(a.id)),
                (None, None) => Err(ServiceError::UnknownAssignee(name.clone())),
            }
        }
    }
}
