//! The task lifecycle.
//!
//! ```text
//! from          allowed to
//! created     → planning, ready, assigned, blocked
//! planning    → ready, assigned, blocked
//! ready       → assigned, blocked
//! assigned    → in_progress, blocked
//! in_progress → review, completed, blocked
//! review      → in_progress, completed, blocked
//! blocked     → the status it was blocked from (`unblock`)
//! completed   → nothing (terminal)
//! ```
//!
//! `blocked` remembers where the task was (`Task::blocked_from`) and
//! `unblock` returns it there, so unblocking never loses progress or skips
//! the dependency check (a task blocked while `assigned` still has to be
//! started, which checks dependencies). A task without a remembered status
//! (written by something else) unblocks to `ready`.
//!
//! Assignment is not a plain move: it sets `assigned` from created, planning,
//! ready or assigned (a reassignment), and keeps the status of a task that is
//! in progress, in review or blocked (handing over work in flight). Completed
//! tasks can't be reassigned.

use crate::error::ServiceError;
use crate::model::{Task, TaskStatus};

use TaskStatus::*;

/// Statuses a task may move to from `from`. For `blocked`, see
/// [`allowed_moves`], which knows where the task came from.
pub fn table(from: TaskStatus) -> &'static [TaskStatus] {
    match from {
        Created => &[Planning, Ready, Assigned, Blocked],
        Planning => &[Ready, Assigned, Blocked],
        Ready => &[Assigned, Blocked],
        Assigned => &[InProgress, Blocked],
        InProgress => &[Review, Completed, Blocked],
        Review => &[InProgress, Completed, Blocked],
        Blocked => &[],
        Completed => &[],
    }
}

/// Where `unblock` sends a blocked task.
pub fn unblock_target(task: &Task) -> TaskStatus {
    match task.blocked_from {
        // Never back into blocked or completed, whatever a store says.
        Some(s) if s != Blocked && s != Completed => s,
        _ => Ready,
    }
}

/// The moves allowed for this task right now.
pub fn allowed_moves(task: &Task) -> Vec<TaskStatus> {
    if task.status == Blocked {
        vec![unblock_target(task)]
    } else {
        table(task.status).to_vec()
    }
}

/// Refuse a move the table does not allow, listing the ones it does.
pub fn check_move(task: &Task, to: TaskStatus) -> Result<(), ServiceError> {
    if task.status == Completed {
        return Err(ServiceError::TaskClosed(task.id));
    }
    let allowed = allowed_moves(task);
    if allowed.contains(&to) {
        Ok(())
    } else {
        Err(ServiceError::IllegalMove {
            task: task.id,
            from: task.status,
            to,
            allowed,
        })
    }
}

/// The status a task takes when (re)assigned.
pub fn status_after_assignment(task: &Task) -> Result<TaskStatus, ServiceError> {
    match task.status {
        Created | Planning | Ready | Assigned => Ok(Assigned),
        InProgress | Review | Blocked => Ok(task.status),
        Completed => Err(ServiceError::TaskClosed(task.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Priority;
    use chrono::Utc;

    fn task(status: TaskStatus, blocked_from: Option<TaskStatus>) -> Task {
        Task {
            id: 3,
            title: "t".into(),
            status,
            blocked_from,
            priority: Priority::Medium,
            project: None,
            assignee: None,
            due: None,
            capabilities: vec![],
            created_by: "alice".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn happy_path_is_allowed() {
        let path = [
            Created, Planning, Ready, Assigned, InProgress, Review, Completed,
        ];
        for w in path.windows(2) {
            assert!(
                check_move(&task(w[0], None), w[1]).is_ok(),
                "{:?} -> {:?}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn blocked_from_anywhere_but_completed() {
        for s in TaskStatus::ALL {
            let r = check_move(&task(s, None), Blocked);
            assert_eq!(r.is_ok(), !matches!(s, Blocked | Completed), "{s:?}");
        }
    }

    #[test]
    fn unblock_returns_where_it_was() {
        let t = task(Blocked, Some(InProgress));
        assert_eq!(allowed_moves(&t), [InProgress]);
        assert!(check_move(&t, InProgress).is_ok());
        assert!(check_move(&t, Completed).is_err());
        assert_eq!(unblock_target(&task(Blocked, None)), Ready);
        assert_eq!(unblock_target(&task(Blocked, Some(Completed))), Ready);
    }

    #[test]
    fn illegal_move_lists_the_allowed_ones() {
        let Err(e) = check_move(&task(Created, None), InProgress) else {
            panic!("refused")
        };
        assert_eq!(
            e.to_string(),
            "Task #3 is `created`, so it can't move to `in_progress`. From `created` it can go to: \
             planning, ready, assigned (`task assign 3 <@who|auto>`), blocked (`task block 3`)."
        );
        assert_eq!(
            check_move(&task(Completed, None), Review),
            Err(ServiceError::TaskClosed(3))
        );
    }

    #[test]
    fn assignment_status() {
        assert_eq!(status_after_assignment(&task(Ready, None)), Ok(Assigned));
        assert_eq!(
            status_after_assignment(&task(InProgress, None)),
            Ok(InProgress)
        );
        assert!(status_after_assignment(&task(Completed, None)).is_err());
    }
}
