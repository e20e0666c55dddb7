//! Who a question goes to: the person it names (`to`), else the task's
//! assignee when a person, else an owner of the hub.

use crate::store::Store;
use commands::{Assignee, BackendError, Task};

/// Where a question's routing stopped, for the API's refusal.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("to: {0:?} is not a person in orkhub")]
    UnknownPerson(String),
    #[error("nobody to ask: no `to`, the task has no person assigned, and no owner is configured")]
    Nobody,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The person to ask. `to` must name a current person; without it the
/// task's assignee is asked when a person, else the first owner by handle.
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
    store.first_current_owner().await?.ok_or(RouteError::Nobody)
}
