//! Dependencies between tasks: an edge `(a, b)` means "task a needs task b".
//! Pure graph logic over the edge list the store returns.

use crate::error::ServiceError;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Check that adding "`task` needs `needs`" keeps the graph acyclic.
/// On a cycle, the error carries it as a path starting and ending at `task`,
/// e.g. `[3, 5, 3]` for "#3 → #5 → #3".
pub fn check_new_edge(edges: &[(i64, i64)], task: i64, needs: i64) -> Result<(), ServiceError> {
    if task == needs {
        return Err(ServiceError::SelfDependency(task));
    }
    if edges.contains(&(task, needs)) {
        return Err(ServiceError::AlreadyDepends { task, needs });
    }
    // The new edge closes a cycle iff `needs` already reaches `task`.
    if let Some(path) = shortest_path(edges, needs, task) {
        let mut cycle = vec![task];
        cycle.extend(path);
        return Err(ServiceError::Cycle { path: cycle });
    }
    Ok(())
}

/// Shortest path `from → ... → to` following "needs" edges (breadth-first,
/// neighbours in id order so the answer is deterministic).
fn shortest_path(edges: &[(i64, i64)], from: i64, to: i64) -> Option<Vec<i64>> {
    let mut next: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(*a).or_default().insert(*b);
    }
    let mut parent: BTreeMap<i64, i64> = BTreeMap::new();
    let mut seen = BTreeSet::from([from]);
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            let mut path = vec![to];
            let mut cur = to;
            while let Some(p) = parent.get(&cur) {
                path.push(*p);
                cur = *p;
            }
            path.reverse();
            return Some(path);
        }
        for n in next.get(&node).into_iter().flatten() {
            if seen.insert(*n) {
                parent.insert(*n, node);
                queue.push_back(*n);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_self_and_duplicates() {
        assert_eq!(
            check_new_edge(&[], 3, 3),
            Err(ServiceError::SelfDependency(3))
        );
        assert_eq!(
            check_new_edge(&[(3, 5)], 3, 5),
            Err(ServiceError::AlreadyDepends { task: 3, needs: 5 })
        );
    }

    #[test]
    fn shows_the_cycle() {
        // 3 needs 5; adding "5 needs 3" closes 5 → 3 → 5.
        let Err(e) = check_new_edge(&[(3, 5)], 5, 3) else {
            panic!("cycle")
        };
        assert_eq!(
            e,
            ServiceError::Cycle {
                path: vec![5, 3, 5]
            }
        );
        assert_eq!(
            e.to_string(),
            "That would make a cycle: #5 → #3 → #5 (→ means \"needs\")."
        );
        // Longer: 1 needs 2, 2 needs 3, 3 needs 4; adding "4 needs 1".
        let edges = [(1, 2), (2, 3), (3, 4), (2, 4)];
        assert_eq!(
            check_new_edge(&edges, 4, 1),
            Err(ServiceError::Cycle {
                path: vec![4, 1, 2, 4]
            })
        );
    }

    #[test]
    fn allows_diamonds() {
        let edges = [(1, 2), (1, 3), (2, 4)];
        assert_eq!(check_new_edge(&edges, 3, 4), Ok(()));
    }
}
