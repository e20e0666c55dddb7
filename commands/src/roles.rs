//! Who may do what. People have roles (Viewer < Member < Admin < Owner);
//! agents calling the API have scopes; the system may do anything.

use crate::error::ServiceError;
use crate::model::{Actor, ActorKind, Decision, DecisionOutcome, Role, Scope};
use crate::spec::Access;

/// Require a person's role or an agent's scope for `action`.
pub fn require(actor: &Actor, action: &str, role: Role, scope: Scope) -> Result<(), ServiceError> {
    match &actor.kind {
        ActorKind::System => Ok(()),
        ActorKind::Person(p) if p.role >= role => Ok(()),
        ActorKind::Person(p) => Err(ServiceError::forbidden_role(action, role, p.role)),
        ActorKind::Agent { scopes, .. } => {
            // Writing implies reading.
            let ok = scopes.contains(&scope)
                || (scope == Scope::TasksRead && scopes.contains(&Scope::TasksWrite));
            if ok {
                Ok(())
            } else {
                Err(ServiceError::Forbidden {
                    action: action.to_string(),
                    needs: format!("the `{}` scope", scope.as_str()),
                    have: scopes_text(scopes),
                })
            }
        }
    }
}

fn scopes_text(scopes: &[Scope]) -> String {
    if scopes.is_empty() {
        "this API key has no scopes".to_string()
    } else {
        let list: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        format!("this API key has: {}", list.join(", "))
    }
}

/// Check the coarse access rule of a command before running it. Approver
/// commands pass here and are checked against the decision later, because
/// the approver lists depend on the decision's kind.
pub fn require_access(actor: &Actor, action: &str, access: Access) -> Result<(), ServiceError> {
    match access {
        Access::Role(role) => {
            let scope = if role > Role::Viewer {
                Scope::TasksWrite
            } else {
                Scope::TasksRead
            };
            require(actor, action, role, scope)
        }
        Access::Approver | Access::Addressee => Ok(()),
    }
}

/// May `actor` approve or deny `decision`? Admins and owners may resolve any
/// decision; other people only the kinds they are listed as approvers for.
/// Agents need the `decisions:resolve` scope and may not answer their own
/// requests (an agent approving its own deploy would defeat the point).
pub fn may_resolve(
    actor: &Actor,
    decision: &Decision,
    outcome: DecisionOutcome,
    approvers: &[String],
) -> Result<(), ServiceError> {
    let action = outcome.verb();
    match &actor.kind {
        ActorKind::System => Ok(()),
        ActorKind::Person(p) => {
            if p.role >= Role::Admin || approvers.contains(&p.id) {
                Ok(())
            } else {
                Err(ServiceError::Forbidden {
                    action: action.to_string(),
                    needs: format!(
                        "the admin role or approver rights for `{}` decisions",
                        decision.kind
                    ),
                    have: format!("you are {}", p.role.with_article()),
                })
            }
        }
        ActorKind::Agent { scopes, .. } => {
            if !scopes.contains(&Scope::DecisionsResolve) {
                return Err(ServiceError::Forbidden {
                    action: action.to_string(),
                    needs: "the `decisions:resolve` scope".to_string(),
                    have: scopes_text(scopes),
                });
            }
            if decision.requested_by == actor.name() {
                return Err(ServiceError::Forbidden {
                    action: action.to_string(),
                    needs: "someone other than the requester".to_string(),
                    have: "an agent can't answer its own request".to_string(),
                });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DecisionStatus, Person};
    use chrono::Utc;

    fn person(role: Role) -> Actor {
        Actor::person(
            Person {
                id: "pat".into(),
                display_name: "Pat".into(),
                role,
            },
            "test",
        )
    }

    fn decision(kind: &str) -> Decision {
        Decision {
            id: 7,
            kind: kind.into(),
            context: "ship it?".into(),
            options: vec![],
            status: DecisionStatus::Pending,
            requested_by: "agent:deployer".into(),
            task_id: None,
            decided_by: None,
            reasoning: None,
            created_at: Utc::now(),
            decided_at: None,
        }
    }

    #[test]
    fn roles_gate_actions() {
        assert!(
            require(
                &person(Role::Viewer),
                "task new",
                Role::Member,
                Scope::TasksWrite
            )
            .is_err()
        );
        assert!(
            require(
                &person(Role::Member),
                "task new",
                Role::Member,
                Scope::TasksWrite
            )
            .is_ok()
        );
        assert!(
            require(
                &person(Role::Owner),
                "task new",
                Role::Member,
                Scope::TasksWrite
            )
            .is_ok()
        );
        let Err(e) = require(
            &person(Role::Viewer),
            "task new",
            Role::Member,
            Scope::TasksWrite,
        ) else {
            panic!("viewer refused")
        };
        assert_eq!(
            e.to_string(),
            "`task new` needs the member role; you are a viewer."
        );
    }

    #[test]
    fn scopes_gate_agents() {
        let reader = Actor::agent("bot", vec![Scope::TasksRead]);
        let writer = Actor::agent("bot", vec![Scope::TasksWrite]);
        assert!(require(&reader, "task new", Role::Member, Scope::TasksWrite).is_err());
        assert!(require(&writer, "task list", Role::Viewer, Scope::TasksRead).is_ok());
    }

    #[test]
    fn approvers() {
        let d = decision("deploy");
        let approve = DecisionOutcome::Approve;
        assert!(may_resolve(&person(Role::Admin), &d, approve, &[]).is_ok());
        assert!(may_resolve(&person(Role::Member), &d, approve, &["pat".into()]).is_ok());
        let Err(e) = may_resolve(&person(Role::Member), &d, approve, &["sam".into()]) else {
            panic!("member refused")
        };
        assert_eq!(
            e.to_string(),
            "`approve` needs the admin role or approver rights for `deploy` decisions; you are a member."
        );
        let own = Actor::agent("deployer", vec![Scope::DecisionsResolve]);
        assert!(may_resolve(&own, &d, approve, &[]).is_err());
        let other = Actor::agent("reviewer", vec![Scope::DecisionsResolve]);
        assert!(may_resolve(&other, &d, approve, &[]).is_ok());
        assert!(may_resolve(&Actor::agent("x", vec![]), &d, approve, &[]).is_err());
    }
}
