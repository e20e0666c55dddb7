//! Dependency cycles among open tasks. The command layer refuses edges that
//! close a cycle (commands::deps::check_new_edge), but rows can still form
//! one (edits outside orkhub, tasks reopened); the brief reports each cycle
//! once, as the path of task ids starting at its smallest id.

use std::collections::{BTreeMap, BTreeSet};

/// Every elementary cycle found by one depth-first pass (one per strongly
/// connected component's back edge), each rotated to start at its smallest
/// id, sorted. Deterministic for a given edge set.
pub fn find_cycles(edges: &[(i64, i64)]) -> Vec<Vec<i64>> {
    let mut next: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for &(a, b) in edges {
        next.entry(a).or_default().insert(b);
    }
    let mut state: BTreeMap<i64, u8> = BTreeMap::new(); // 1 = on stack, 2 = done
    let mut found: BTreeSet<Vec<i64>> = BTreeSet::new();
    let nodes: Vec<i64> = next.keys().copied().collect();
    for start in nodes {
        if state.contains_key(&start) {
            continue;
        }
        // Iterative DFS: (node, its successors still to visit).
        let mut path: Vec<i64> = vec![start];
        let mut stack: Vec<Vec<i64>> = vec![succ(&next, start)];
        state.insert(start, 1);
        while let Some(todo) = stack.last_mut() {
            match todo.pop() {
                Some(n) => match state.get(&n) {
                    None => {
                        state.insert(n, 1);
                        path.push(n);
                        stack.push(succ(&next, n));
                    }
                    Some(1) => {
                        // Back edge: the cycle is the path from n to here.
                        if let Some(pos) = path.iter().position(|x| *x == n) {
                            found.insert(rotate(&path[pos..]));
                        }
                    }
                    _ => {}
                },
                None => {
                    stack.pop();
                    if let Some(done) = path.pop() {
                        state.insert(done, 2);
                    }
                }
            }
        }
    }
    found.into_iter().collect()
}

fn succ(next: &BTreeMap<i64, BTreeSet<i64>>, n: i64) -> Vec<i64> {
    // Reversed so pop() visits the smallest id first.
    next.get(&n)
        .map(|s| s.iter().rev().copied().collect())
        .unwrap_or_default()
}

fn rotate(cycle: &[i64]) -> Vec<i64> {
    let min = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, v)| **v)
        .map(|(i, _)| i)
        .unwrap_or(0);
    cycle[min..]
        .iter()
        .chain(cycle[..min].iter())
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cycle_in_a_chain_or_a_diamond() {
        assert!(find_cycles(&[(1, 2), (2, 3), (1, 3), (3, 4)]).is_empty());
    }

    #[test]
    fn finds_each_cycle_once_from_its_smallest_id() {
        let c = find_cycles(&[(5, 3), (3, 9), (9, 5), (1, 2), (2, 1), (9, 10)]);
        assert_eq!(c, vec![vec![1, 2], vec![3, 9, 5]]);
    }
}
