//! The dependency edges that could lie on a cycle, for the brief's
//! dependency-cycle anomaly, kept between briefs until a dependency
//! changes. Finding them costs two index lookups per edge (5 ms on the
//! benchmark's 20,000 edges, a quarter of a past date's brief); briefs are
//! read far more often than dependencies change.
//!
//! Whether they changed is the database's `dependency_generation` counter
//! (migration 0030), counted up by triggers on every insert, update and
//! delete of `task_dependencies`, whoever writes: the command layer, a
//! script, another instance on the same PostgreSQL database.

use super::{Store, StoreError};
use std::sync::{Arc, Mutex};

type Edges = Arc<[(i64, i64)]>;

/// The edges read at a counter value.
#[derive(Debug, Default)]
pub(crate) struct CachedEdges {
    kept: Mutex<Option<(i64, Edges)>>,
}

impl CachedEdges {
    fn get(&self, generation: i64) -> Option<Edges> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        match &*kept {
            Some((g, edges)) if *g == generation => Some(Arc::clone(edges)),
            _ => None,
        }
    }

    fn put(&self, generation: i64, edges: Edges) {
        *self.kept.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, edges));
    }
}

impl Store {
    /// Every edge `(task, needs)` whose task something depends on and
    /// which needs a task that depends on something: only such an edge can
    /// lie on a cycle; the rest (most edges) are dropped in the database.
    pub(crate) async fn cycle_candidate_edges(&self) -> Result<Edges, StoreError> {
        // The counter first: a change committed between the two reads
        // leaves edges newer than the counter they are kept under, and the
        // next brief, seeing the counter moved, reads them again.
        let (generation,): (i64,) =
            sqlx::query_as("SELECT n FROM dependency_generation WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        if let Some(edges) = self.dependency_edges.get(generation) {
            return Ok(edges);
        }
        let edges: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT d.task_id, d.depends_on FROM task_dependencies d \
             WHERE EXISTS (SELECT 1 FROM task_dependencies i WHERE i.depends_on = d.task_id) \
               AND EXISTS (SELECT 1 FROM task_dependencies o WHERE o.task_id = d.depends_on)",
        )
        .fetch_all(&self.pool)
        .await?;
        let edges: Edges = edges.into();
        self.dependency_edges.put(generation, Arc::clone(&edges));
        Ok(edges)
    }
}
