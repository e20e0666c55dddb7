//! Who a question goes to: the person it names (`to`), else the task's
//! assignee when a person, else the owner of the task's project, else an
//! owner of the hub.

use crate::store::Store;
use commands::{Assignee, BackendError, Task};

/// Where a question's routing stopped, for the API's refusal.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("to: {0:?} is not a person in orkhub")]
    UnknownPerson(String),
    #[error(
        "nobody to ask: no `to`, no person assigned to the task or owning its project, and no owner is configured"
    )]
    Nobody,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The person to ask. `to` must name a current person; without it the
/// task's assignee is asked when a person, else its project's owner, else
/// the first owner by handle.
pub async fn recipient(
    store: &Store,
    to: Option<&str>,
    task: Option<&Task>,
) -> Result<String, RouteError> {
    if let Some(to) = to {
        return match store.current_person(to).await? {
            Some(p) => Ok(p),
            None => Err(RouteError::UnknownPerson(to.to_string())),
        };
    }
    if let Some(Assignee::Person(p)) = task.and_then(|t| t.assignee.as_ref()) {
        return Ok(p.clone());
    }
    if let Some(project) = task.and_then(|t| t.project.as_deref())
        && let Some(owner) = store.project_owner(project).await?
    {
        return Ok(owner);
    }
    store.first_current_owner().await?.ok_or(RouteError::Nobody)
}
