//! The daily brief's reads: counts, sums grouped by agent and project, and
//! short lists, for one [`briefs::Window`]. Every statement is a range or
//! list over an index added in migration 0004; they run concurrently on the
//! pool, so a brief costs the slowest of them, not their sum.

use super::spend_plan;
use super::{Store, StoreError, from_ms};
use briefs::Window;
use briefs::input::{
    ActivityCounts, AgentRow, BriefInput, DecisionRow, FailureRow, MadeDecision, MyTasks,
    NamedTask, ProjectRow, QuestionRow, ReaderScope, SpendRow, TaskRow,
};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Statuses in which an agent is working on a task.
const ACTIVE: &str = "('assigned','in_progress','review')";

/// One agent's and project's spend over a read: micro-dollars, cost rows.
type SpendSum = (String, Option<String>, i64, i64);

const TASK_COLUMNS: &str =
    "id, title, status, priority, project_id, assignee_id, due_at, created_at";

impl Store {
    /// Everything the brief for `w` needs, read concurrently.
    pub async fn brief_input(&self, w: &Window, list_limit: i64) -> Result<BriefInput, StoreError> {
        let since = w.since.timestamp_millis();
        let until = w.until.timestamp_millis();
        // All at once: on a pool of several connections the brief costs
        // about its slowest read.
        let (
            activity,
            mine,
            (overdue, overdue_total),
            (sla_breaches, sla_total),
            spend,
            agents,
            projects,
            (pending_decisions, pending_total),
            repeated_failures,
            open_edges,
            reader,
            (completed, decided),
            (waiting_questions, waiting_questions_total),
            done_since,
        ) = futures::try_join!(
            self.brief_activity(since, until),
            self.brief_mine(&w.person, w.overdue_before_ms, as_of(w)),
            self.brief_overdue(w.overdue_before_ms, as_of(w), list_limit),
            self.brief_sla(w, list_limit),
            self.brief_spend(w),
            self.brief_agents(),
            self.brief_projects(),
            self.brief_pending(as_of(w), list_limit),
            self.brief_failures(w.week_start.timestamp_millis(), until),
            self.brief_open_edges(),
            self.brief_reader(&w.person),
            self.brief_named_activity(since, until, list_limit),
            self.brief_questions(&w.person, as_of(w), list_limit),
            self.brief_done_since_if_past(w, list_limit),
        )?;
        let limit = usize::try_from(list_limit).unwrap_or(0);
        let mine = MyTasks {
            open: mine.open + done_since.mine.open,
            overdue: mine.overdue + done_since.mine.overdue,
        };
        // Earliest due first, at most `limit`, across both halves.
        let mut overdue = overdue;
        overdue.extend(done_since.overdue);
        overdue.sort_by_key(|t| (t.due_at, t.id));
        overdue.truncate(limit);
        let overdue_total = overdue_total + done_since.overdue_total;
        // Oldest first.
        let mut sla_breaches = sla_breaches;
        sla_breaches.extend(done_since.sla);
        sla_breaches.sort_by_key(|t| (t.created_at, t.id));
        sla_breaches.truncate(limit);
        let sla_total = sla_total + done_since.sla_total;
        Ok(BriefInput {
            waiting_questions,
            waiting_questions_total,
            reader,
            completed,
            decided,
            activity,
            mine,
            overdue,
            overdue_total,
            sla_breaches,
            sla_total,
            spend,
            agents,
            projects,
            pending_decisions,
            pending_total,
            repeated_failures,
            open_edges,
        })
    }

    /// Each read of [`Store::brief_input`] alone, timed (for the benchmark:
    /// which one dominates).
    pub async fn brief_profile(
        &self,
        w: &Window,
        list_limit: i64,
    ) -> Result<Vec<(&'static str, std::time::Duration)>, StoreError> {
        let since = w.since.timestamp_millis();
        let until = w.until.timestamp_millis();
        let mut out = Vec::new();
        macro_rules! timed {
            ($name:expr, $e:expr) => {{
                let t = std::time::Instant::now();
                $e.await?;
                out.push(($name, t.elapsed()));
            }};
        }
        timed!("activity", self.brief_activity(since, until));
        timed!(
            "mine",
            self.brief_mine(&w.person, w.overdue_before_ms, as_of(w))
        );
        timed!(
            "overdue",
            self.brief_overdue(w.overdue_before_ms, as_of(w), list_limit)
        );
        timed!("sla", self.brief_sla(w, list_limit));
        timed!("done_since", self.brief_done_since_if_past(w, list_limit));
        timed!("spend", self.brief_spend(w));
        timed!("agents", self.brief_agents());
        timed!("projects", self.brief_projects());
        timed!("pending", self.brief_pending(as_of(w), list_limit));
        timed!(
            "questions",
            self.brief_questions(&w.person, as_of(w), list_limit)
        );
        timed!(
            "failures",
            self.brief_failures(w.week_start.timestamp_millis(), until)
        );
        timed!("open_edges", self.brief_open_edges());
        Ok(out)
    }

    /// Where `person`'s last brief before `before_ms` ended its window, if
    /// they had one: the next brief's activity starts exactly there, so
    /// nothing between two briefs falls in neither. (Runs from before the
    /// window end was stored count from when they were claimed.)
    pub async fn last_brief_until(
        &self,
        person: &str,
        before_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        // Slots are "person:date"; ';' sorts right after ':', so this range
        // is exactly this person's slots (no LIKE, so '%' in an id is harmless).
        let row: (Option<i64>,) = sqlx::query_as(
            "SELECT MAX(COALESCE(covered_until, claimed_at)) FROM scheduled_runs \
             WHERE job = 'brief' AND slot >= $1 AND slot < $2 AND lease_until IS NULL \
               AND COALESCE(covered_until, claimed_at) < $3",
        )
        .bind(format!("{person}:"))
        .bind(format!("{person};"))
        .bind(before_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.0)
    }

    async fn brief_activity(&self, since: i64, until: i64) -> Result<ActivityCounts, StoreError> {
        let r = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM tasks WHERE created_at >= $1 AND created_at < $2), \
               (SELECT COUNT(*) FROM tasks WHERE completed_at >= $1 AND completed_at < $2), \
               (SELECT COUNT(*) FROM audit_log WHERE action = 'task.move' AND at >= $1 AND at < $2), \
               (SELECT COUNT(*) FROM decisions WHERE decided_at >= $1 AND decided_at < $2)",
        )
        .bind(since)
        .bind(until)
        .fetch_one(&self.pool)
        .await?;
        Ok(ActivityCounts {
            tasks_created: r.try_get(0)?,
            tasks_completed: r.try_get(1)?,
            tasks_moved: r.try_get(2)?,
            decisions_made: r.try_get(3)?,
        })
    }

    /// The reader's tasks open now (and, for a past cut-off, created
    /// before it; those completed since come from [`Store::brief_done_since`]).
    async fn brief_mine(
        &self,
        person: &str,
        overdue_before: i64,
        past: Option<i64>,
    ) -> Result<MyTasks, StoreError> {
        let filter = open_now(past, 3);
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_at < $2 THEN 1 ELSE 0 END), 0) FROM tasks \
             WHERE assignee_id = $1 AND assignee_kind = 'person' AND {filter}"
        )))
        .bind(person)
        .bind(overdue_before);
        let r = match past {
            Some(until) => r.bind(until),
            None => r,
        }
        .fetch_one(&self.pool)
        .await?;
        Ok(MyTasks {
            open: r.try_get(0)?,
            overdue: r.try_get(1)?,
        })
    }

    /// Open tasks due before `before`, earliest due first (see
    /// [`Store::brief_mine`] for a past cut-off).
    async fn brief_overdue(
        &self,
        before: i64,
        past: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<TaskRow>, i64), StoreError> {
        let filter = format!(
            "{} AND due_at IS NOT NULL AND due_at < $1",
            open_now(past, 2)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE {filter} ORDER BY due_at, id LIMIT {limit}"
        )))
        .bind(before);
        let count = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM tasks WHERE {filter}"
        )))
        .bind(before);
        let (rows, count) = match past {
            Some(until) => (rows.bind(until), count.bind(until)),
            None => (rows, count),
        };
        let list = rows
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(task_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((list, count.fetch_one(&self.pool).await?.0))
    }

    /// Open urgent and high tasks past their SLA, oldest first. Per
    /// priority, so each half is a range of the partial (priority,
    /// created_at) index rather than an OR over the whole table (see
    /// [`Store::brief_mine`] for a past cut-off).
    async fn brief_sla(&self, w: &Window, limit: i64) -> Result<(Vec<TaskRow>, i64), StoreError> {
        let mut list = Vec::new();
        let mut total = 0;
        let past = as_of(w);
        let filter = format!(
            "{} AND priority = $1 AND created_at < $2",
            open_now(past, 3)
        );
        for (priority, before) in [
            ("urgent", w.sla_urgent_before.timestamp_millis()),
            ("high", w.sla_high_before.timestamp_millis()),
        ] {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {TASK_COLUMNS} FROM tasks WHERE {filter} ORDER BY created_at, id LIMIT {limit}"
            )))
            .bind(priority)
            .bind(before);
            let count = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM tasks WHERE {filter}"
            )))
            .bind(priority)
            .bind(before);
            let (rows, count) = match past {
                Some(until) => (rows.bind(until), count.bind(until)),
                None => (rows, count),
            };
            for r in &rows.fetch_all(&self.pool).await? {
                list.push(task_row(r)?);
            }
            total += count.fetch_one(&self.pool).await?.0;
        }
        // Oldest first across both priorities, at most `limit`.
        list.sort_by_key(|t| (t.created_at, t.id));
        list.truncate(usize::try_from(limit).unwrap_or(0));
        Ok((list, total))
    }

    async fn brief_done_since_if_past(
        &self,
        w: &Window,
        limit: i64,
    ) -> Result<DoneSince, StoreError> {
        match as_of(w) {
            Some(until) => self.brief_done_since(w, until, limit).await,
            None => Ok(DoneSince::default()),
        }
    }

    /// For a past cut-off, the tasks open at it that have been completed
    /// since: what they add to the reader's tasks, the overdue list and the
    /// SLA list. One statement reads the tasks completed since the cut-off
    /// (7,000 for a date 30 days back in the benchmark) once, without their
    /// titles — SQLite from the covering index `tasks_done_cover` alone —
    /// and the counts and each list's first `limit` are worked out here;
    /// then one more reads the rows of those few. Before, one statement
    /// counted and each non-empty list read them all again: three scans,
    /// 7.6 ms of a past brief's reads on PostgreSQL.
    ///
    /// Every column but `completed_at` is written so that no index can
    /// serve it (`+x` on a number, `x || ''` on text: SQLite's documented
    /// way to steer its planner, plain expressions on PostgreSQL):
    /// otherwise SQLite took `tasks_status`, `tasks_due` or
    /// `tasks_created_at` and read all 75,000 completed tasks of the
    /// benchmark (a past date's brief took 100 ms).
    async fn brief_done_since(
        &self,
        w: &Window,
        until: i64,
        limit: i64,
    ) -> Result<DoneSince, StoreError> {
        let rows = sqlx::query(
            "SELECT id, +created_at, +due_at, priority, assignee_kind, assignee_id FROM tasks \
             WHERE status || '' = 'completed' AND completed_at >= $1 AND +created_at < $1",
        )
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        let cut = DoneSinceCut {
            sla_urgent_before: w.sla_urgent_before.timestamp_millis(),
            sla_high_before: w.sla_high_before.timestamp_millis(),
            overdue_before: w.overdue_before_ms,
            person: &w.person,
        };
        let mut tally = DoneSinceTally::default();
        for r in &rows {
            tally.add(
                &cut,
                &DoneTask {
                    id: r.try_get(0)?,
                    created_at: r.try_get(1)?,
                    due_at: r.try_get(2)?,
                    priority: r.try_get(3)?,
                    assignee_kind: r.try_get(4)?,
                    assignee_id: r.try_get(5)?,
                },
            );
        }
        let (sla_ids, overdue_ids) = tally.firsts(usize::try_from(limit).unwrap_or(0));
        let mut by_id = std::collections::HashMap::new();
        let wanted: std::collections::BTreeSet<i64> =
            sla_ids.iter().chain(&overdue_ids).copied().collect();
        if !wanted.is_empty() {
            // Integers only, so written into the statement.
            let list = wanted
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id IN ({list})");
            for r in &sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await?
            {
                let t = task_row(r)?;
                by_id.insert(t.id, t);
            }
        }
        let rows_of = |ids: &[i64]| -> Vec<TaskRow> {
            ids.iter().filter_map(|id| by_id.get(id).cloned()).collect()
        };
        Ok(DoneSince {
            sla: rows_of(&sla_ids),
            overdue: rows_of(&overdue_ids),
            sla_total: tally.sla.len() as i64,
            overdue_total: tally.overdue.len() as i64,
            mine: tally.mine,
        })
    }

    /// Spend per agent and project today, this month and over the week
    /// before today, from the earlier of the month's and the week's start to
    /// the cut-off. The range is cut at every boundary (the person's local
    /// midnights) and each stretch between two cuts is read from the
    /// roll-ups and the cost rows (see spend_plan.rs), so each stretch's
    /// sums count wholly into the buckets it lies in. The reads run
    /// concurrently.
    async fn brief_spend(&self, w: &Window) -> Result<Vec<SpendRow>, StoreError> {
        let day = w.day_start.timestamp_millis();
        let month = w.month_start.timestamp_millis();
        let week = w.week_start.timestamp_millis();
        let from = month.min(week);
        // Up to and including the cut-off's millisecond: a cost answered
        // 201 in the same millisecond the brief starts (stamped by the same
        // clock) was recorded before it and belongs in it. Without this, a
        // brief right after 20,000 costs of $0.0001 showed 1.9999.
        let until = w.until.timestamp_millis() + 1;
        let plan = spend_plan::plan(from, until, &[day, month, week]);
        let sums = self.spend_reads(&plan).await?;
        // Summed exactly in micro-dollars (dollars only at the end), with
        // the cost rows counted so that an agent whose sums were all taken
        // away again (it spent only outside the range) shows no row.
        #[derive(Default)]
        struct Buckets {
            today: i64,
            week: i64,
            month: i64,
            rows: i64,
        }
        let mut rows: std::collections::BTreeMap<(String, Option<String>), Buckets> =
            std::collections::BTreeMap::new();
        for term in &plan.terms {
            for (agent_id, project_id, micros, n) in &sums[term.read] {
                let b = rows
                    .entry((agent_id.clone(), project_id.clone()))
                    .or_default();
                let micros = term.sign * micros;
                if term.stretch >= day {
                    b.today += micros;
                } else if term.stretch >= week {
                    b.week += micros;
                }
                if term.stretch >= month {
                    b.month += micros;
                }
                b.rows += term.sign * n;
            }
        }
        Ok(rows
            .into_iter()
            .filter(|(_, b)| b.rows > 0)
            .map(|((agent_id, project_id), b)| SpendRow {
                agent_id,
                project_id,
                today_usd: super::usd_from_micros(b.today),
                month_usd: super::usd_from_micros(b.month),
                week_usd: super::usd_from_micros(b.week),
            })
            .collect())
    }

    /// Spend in micro-dollars per agent and project over [from, to),
    /// exact for any bounds (a budget period in the company's zone), read
    /// from the roll-ups and the cost rows (see spend_plan.rs).
    pub async fn spend_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, Option<String>, i64)>, StoreError> {
        let plan = spend_plan::plan(from, to, &[]);
        let sums = self.spend_reads(&plan).await?;
        let mut total: std::collections::BTreeMap<(String, Option<String>), (i64, i64)> =
            std::collections::BTreeMap::new();
        for term in &plan.terms {
            for (agent, project, micros, n) in &sums[term.read] {
                let t = total.entry((agent.clone(), project.clone())).or_default();
                t.0 += term.sign * micros;
                t.1 += term.sign * n;
            }
        }
        Ok(total
            .into_iter()
            .filter(|(_, (_, n))| *n > 0)
            .map(|((a, p), (m, _))| (a, p, m))
            .collect())
    }

    /// Every read of `plan`, concurrently, in its order.
    async fn spend_reads(
        &self,
        plan: &spend_plan::SpendPlan,
    ) -> Result<Vec<Vec<SpendSum>>, StoreError> {
        futures::future::try_join_all(plan.reads.iter().map(|r| self.spend_read(r))).await
    }

    /// Spend in micro-dollars and the number of cost rows per agent and
    /// project over the read's range, from its grain's table.
    async fn spend_read(&self, read: &spend_plan::Read) -> Result<Vec<SpendSum>, StoreError> {
        // CAST: PostgreSQL sums BIGINT as NUMERIC, which the Any driver
        // cannot read.
        let sql = match read.grain.rollup() {
            Some(super::costs::Rollup { table, bucket, .. }) => format!(
                "SELECT agent_id, NULLIF(project_id, ''), CAST(SUM(usd_micros) AS BIGINT), \
                   CAST(SUM(n) AS BIGINT) FROM {table} \
                 WHERE {bucket} >= $1 AND {bucket} < $2 GROUP BY agent_id, project_id"
            ),
            None => "SELECT agent_id, project_id, CAST(SUM(usd_micros) AS BIGINT), \
                       CAST(COUNT(*) AS BIGINT) FROM costs \
                     WHERE at >= $1 AND at < $2 GROUP BY agent_id, project_id"
                .to_string(),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(read.from)
            .bind(read.to)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    async fn brief_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT a.id, a.status, a.daily_budget_usd, a.last_heartbeat_at, a.heartbeat_note, \
               (SELECT COUNT(*) FROM tasks t WHERE t.assignee_id = a.id \
                  AND t.assignee_kind = 'agent' AND t.status <> 'completed' AND t.status IN {ACTIVE}) \
             FROM agents a ORDER BY a.id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentRow {
                    id: r.try_get(0)?,
                    status: r.try_get(1)?,
                    daily_budget_usd: r.try_get(2)?,
                    last_heartbeat_at: r.try_get::<Option<i64>, _>(3)?.map(from_ms),
                    heartbeat_note: r.try_get(4)?,
                    active_tasks: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn brief_projects(&self) -> Result<Vec<ProjectRow>, StoreError> {
        let rows = sqlx::query("SELECT id, name, budget_usd, deadline FROM projects ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ProjectRow {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    budget_usd: r.try_get(2)?,
                    deadline: r.try_get::<Option<i64>, _>(3)?.map(from_ms),
                })
            })
            .collect()
    }

    /// Decisions pending at the cut-off: still pending now, and (for a past
    /// cut-off) those decided since, created before it.
    /// Questions asked of `person` and unanswered at the cut-off (now, or
    /// a past `until`: asked before it and answered at or after it), oldest
    /// first, and how many in all.
    async fn brief_questions(
        &self,
        person: &str,
        past: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<QuestionRow>, i64), StoreError> {
        let state = match past {
            None => "status = 'pending'",
            Some(_) => {
                "created_at < $2 AND (status = 'pending' OR (status = 'answered' AND answered_at >= $2))"
            }
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, text, asked_by, task_id, created_at FROM questions \
             WHERE addressed_to = $1 AND {state} ORDER BY created_at, id LIMIT {limit}"
        )))
        .bind(person);
        let count = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM questions WHERE addressed_to = $1 AND {state}"
        )))
        .bind(person);
        let (rows, count) = match past {
            Some(until) => (rows.bind(until), count.bind(until)),
            None => (rows, count),
        };
        let list = rows
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| -> Result<QuestionRow, StoreError> {
                Ok(QuestionRow {
                    id: r.try_get(0)?,
                    text: r.try_get(1)?,
                    asked_by: r.try_get(2)?,
                    task_id: r.try_get(3)?,
                    created_at: from_ms(r.try_get(4)?),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((list, count.fetch_one(&self.pool).await?.0))
    }

    async fn brief_pending(
        &self,
        past: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<DecisionRow>, i64), StoreError> {
        let states: &[&str] = match past {
            None => &["status = 'pending'"],
            Some(_) => &[
                "status = 'pending' AND created_at < $1",
                "status <> 'pending' AND decided_at >= $1 AND created_at < $1",
            ],
        };
        let mut list = Vec::new();
        let mut total = 0;
        for state in states {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, kind, context, requested_by, task_id, created_at FROM decisions \
                 WHERE {state} ORDER BY created_at, id LIMIT {limit}"
            )));
            let count = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM decisions WHERE {state}"
            )));
            let (rows, count) = match past {
                Some(until) => (rows.bind(until), count.bind(until)),
                None => (rows, count),
            };
            for r in &rows.fetch_all(&self.pool).await? {
                list.push(DecisionRow {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    context: r.try_get(2)?,
                    requested_by: r.try_get(3)?,
                    task_id: r.try_get(4)?,
                    created_at: from_ms(r.try_get(5)?),
                });
            }
            total += count.fetch_one(&self.pool).await?.0;
        }
        list.sort_by_key(|d| (d.created_at, d.id));
        list.truncate(usize::try_from(limit).unwrap_or(0));
        Ok((list, total))
    }

    async fn brief_failures(&self, from: i64, until: i64) -> Result<Vec<FailureRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT agent_id, reason, COUNT(*) AS n, MAX(at) FROM agent_task_failures \
             WHERE at >= $1 AND at < $2 GROUP BY agent_id, reason HAVING COUNT(*) >= 2 \
             ORDER BY n DESC, agent_id, reason",
        )
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FailureRow {
                    agent_id: r.try_get(0)?,
                    reason: r.try_get(1)?,
                    count: r.try_get(2)?,
                    last_at: from_ms(r.try_get(3)?),
                })
            })
            .collect()
    }

    /// Dependency edges for cycle detection, without the edges of completed
    /// tasks that sit on a cycle (a cycle through a completed task no longer
    /// blocks anyone). Joining every edge to `tasks` would cost a lookup per
    /// edge; cycles are rare, so only the tasks on found cycles are checked.
    async fn brief_open_edges(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut edges: Vec<(i64, i64)> = self.cycle_candidate_edges().await?.to_vec();
        loop {
            let mut on_cycles: Vec<i64> = briefs::cycles::find_cycles(&edges)
                .into_iter()
                .flatten()
                .collect();
            on_cycles.sort_unstable();
            on_cycles.dedup();
            if on_cycles.is_empty() {
                return Ok(edges);
            }
            let mut done: Vec<i64> = Vec::new();
            for chunk in on_cycles.chunks(500) {
                let sql = format!(
                    "SELECT id FROM tasks WHERE status = 'completed' AND id IN ({})",
                    super::placeholders::list(self.dialect, 1, chunk.len())
                );
                let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                done.extend(q.fetch_all(&self.pool).await?.into_iter().map(|r| r.0));
            }
            if done.is_empty() {
                return Ok(edges);
            }
            edges.retain(|(a, b)| !done.contains(a) && !done.contains(b));
        }
    }
}

/// The cut-off to reconstruct task and decision state at, for a brief whose
/// window ended before it was built (a past `?date=`, a catch-up): tasks
/// created after it are left out and tasks completed (decisions decided)
/// after it count as still open (pending). None for a brief of now, whose
/// reads stay on the open-task indexes alone.
///
/// What the schema cannot reconstruct is as of now: a task's status,
/// priority, assignee and due date; agents' heartbeats, statuses, active
/// task counts and budgets; project budgets; dependency cycles.
fn as_of(w: &Window) -> Option<i64> {
    (w.until < w.generated_at).then(|| w.until.timestamp_millis())
}

/// The filter for tasks open now, and for a past cut-off also created
/// before it (bound to placeholder `n`): the half of "open at the
/// cut-off" that the open-task indexes serve. The other half, tasks
/// completed since, is [`Store::brief_done_since`].
fn open_now(past: Option<i64>, n: usize) -> String {
    match past {
        None => "status <> 'completed'".into(),
        Some(_) => format!("status <> 'completed' AND created_at < ${n}"),
    }
}

/// What the tasks open at a past cut-off and completed since add to the
/// brief (see [`Store::brief_done_since`]).
#[derive(Debug, Default)]
struct DoneSince {
    mine: MyTasks,
    overdue: Vec<TaskRow>,
    overdue_total: i64,
    sla: Vec<TaskRow>,
    sla_total: i64,
}

/// One task completed since a past cut-off, as the done-since read has it.
struct DoneTask {
    id: i64,
    created_at: i64,
    due_at: Option<i64>,
    priority: String,
    assignee_kind: String,
    assignee_id: Option<String>,
}

/// What the brief's lists count as of the cut-off.
struct DoneSinceCut<'a> {
    sla_urgent_before: i64,
    sla_high_before: i64,
    overdue_before: i64,
    person: &'a str,
}

/// The done-since tasks sorted into the brief's lists as they are read:
/// (order key, ID) per list, the reader's counts.
#[derive(Default)]
struct DoneSinceTally {
    sla: Vec<(i64, i64)>,
    overdue: Vec<(i64, i64)>,
    mine: MyTasks,
}

impl DoneSinceTally {
    /// The same rules as the open-task reads: an SLA breach is an urgent
    /// task created before the urgent cut-off or a high one before the
    /// high cut-off; overdue is due before the overdue cut-off.
    fn add(&mut self, cut: &DoneSinceCut<'_>, t: &DoneTask) {
        let sla = (t.priority == "urgent" && t.created_at < cut.sla_urgent_before)
            || (t.priority == "high" && t.created_at < cut.sla_high_before);
        let overdue = t.due_at.filter(|d| *d < cut.overdue_before);
        let mine = t.assignee_kind == "person" && t.assignee_id.as_deref() == Some(cut.person);
        if sla {
            self.sla.push((t.created_at, t.id));
        }
        if let Some(due) = overdue {
            self.overdue.push((due, t.id));
        }
        if mine {
            self.mine.open += 1;
            if overdue.is_some() {
                self.mine.overdue += 1;
            }
        }
    }

    /// The first `limit` IDs of each list: SLA oldest first, overdue
    /// earliest due first (ties by ID).
    fn firsts(&mut self, limit: usize) -> (Vec<i64>, Vec<i64>) {
        let first = |list: &mut Vec<(i64, i64)>| {
            list.sort_unstable();
            list.iter().take(limit).map(|(_, id)| *id).collect()
        };
        (first(&mut self.sla), first(&mut self.overdue))
    }
}

fn task_row(r: &AnyRow) -> Result<TaskRow, StoreError> {
    Ok(TaskRow {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        status: r.try_get(2)?,
        priority: r.try_get(3)?,
        project_id: r.try_get(4)?,
        assignee: r.try_get(5)?,
        due_at: r.try_get::<Option<i64>, _>(6)?.map(from_ms),
        created_at: from_ms(r.try_get(7)?),
        days_late: None,
    })
}

impl Store {
    /// Which decisions `person` may decide: every kind for owners and
    /// admins, else the kinds they approve.
    async fn brief_reader(&self, person: &str) -> Result<ReaderScope, StoreError> {
        let role: Option<(String,)> = sqlx::query_as("SELECT role FROM people WHERE id = $1")
            .bind(person)
            .fetch_optional(&self.pool)
            .await?;
        let kinds: Vec<(String,)> = sqlx::query_as(
            "SELECT kind FROM decision_approvers WHERE person_id = $1 ORDER BY kind",
        )
        .bind(person)
        .fetch_all(&self.pool)
        .await?;
        Ok(ReaderScope {
            all_kinds: role.is_some_and(|(r,)| r == "owner" || r == "admin"),
            kinds: kinds.into_iter().map(|(k,)| k).collect(),
        })
    }

    /// Tasks completed and decisions made in `[since, until)`, oldest
    /// first, at most `limit` of each.
    async fn brief_named_activity(
        &self,
        since: i64,
        until: i64,
        limit: i64,
    ) -> Result<(Vec<NamedTask>, Vec<MadeDecision>), StoreError> {
        let tasks: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, title FROM tasks WHERE completed_at >= $1 AND completed_at < $2 \
             ORDER BY completed_at, id LIMIT $3",
        )
        .bind(since)
        .bind(until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let decided: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, kind, status, decided_by FROM decisions WHERE decided_at >= $1 AND decided_at < $2 \
             ORDER BY decided_at, id LIMIT $3",
        )
        .bind(since)
        .bind(until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok((
            tasks
                .into_iter()
                .map(|(id, title)| NamedTask { id, title })
                .collect(),
            decided
                .into_iter()
                .map(|(id, kind, status, decided_by)| MadeDecision {
                    id,
                    kind,
                    status,
                    decided_by,
                })
                .collect(),
        ))
    }
}

/// Who a brief is for, as stored: name, zone and local brief time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BriefPerson {
    pub id: String,
    pub display_name: String,
    pub time_zone: String,
    /// "HH:MM"; the default when the person has no preferences row.
    pub brief_time: String,
}

impl Store {
    pub async fn brief_person(&self, id: &str) -> Result<Option<BriefPerson>, StoreError> {
        let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT p.id, p.display_name, p.time_zone, f.brief_time FROM people p \
             LEFT JOIN preferences f ON f.person_id = p.id WHERE p.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(id, display_name, time_zone, brief_time)| BriefPerson {
                id,
                display_name,
                time_zone,
                brief_time: brief_time.unwrap_or_else(|| "09:00".into()),
            }),
        )
    }

    /// Complete `by`'s reservation of `("brief", slot)` (see
    /// [`Store::reserve_slot`]), recording the window's end, and queue the
    /// brief's notification and deliveries — one transaction. False: the
    /// reservation was lost (its lease ran out and another instance took
    /// the slot over) and nothing was written. The brief itself is kept as
    /// sent (`sent`; always given but by tests of the queueing alone), for
    /// the console's Brief page of its date.
    pub async fn queue_brief(
        &self,
        slot: &str,
        by: &str,
        covered_until_ms: i64,
        sent: Option<&briefs::Brief>,
        notification: &super::NewNotification,
        deliveries: &[super::NewDelivery],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !Self::complete_slot(&mut tx, "brief", slot, by, Some(covered_until_ms)).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        self.insert_notifications_in(&mut tx, std::slice::from_ref(notification), deliveries)
            .await?;
        if let Some(brief) = sent {
            Self::record_sent_brief_in(&mut tx, brief, notification.created_at).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

impl Store {
    /// The owner whose brief the API shows when no person is named.
    pub async fn first_owner(&self) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM people WHERE role = 'owner' ORDER BY id LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.0))
    }
}

impl Store {
    /// Ids of the notifications of `kind` for person `recipient`, oldest
    /// first (how many briefs a person got; tests and operators).
    pub async fn notification_ids(
        &self,
        recipient: &str,
        kind: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM notifications WHERE recipient_kind = 'person' AND recipient_id = $1 \
             AND kind = $2 ORDER BY id",
        )
        .bind(recipient)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: i64, created_at: i64, due_at: Option<i64>, priority: &str, who: &str) -> DoneTask {
        let (kind, id_of) = who.split_once(':').unwrap_or(("person", who));
        DoneTask {
            id,
            created_at,
            due_at,
            priority: priority.to_string(),
            assignee_kind: kind.to_string(),
            assignee_id: Some(id_of.to_string()),
        }
    }

    #[test]
    fn done_since_tasks_fall_into_the_lists_by_the_cut_off_rules() {
        let cut = DoneSinceCut {
            sla_urgent_before: 100,
            sla_high_before: 50,
            overdue_before: 1000,
            person: "ceo",
        };
        let mut tally = DoneSinceTally::default();
        for t in [
            task(1, 90, None, "urgent", "ceo"), // SLA (urgent, before 100)
            task(2, 60, Some(999), "high", "agent:ceo"), // overdue, not SLA (high after 50)
            task(3, 40, Some(1000), "high", "ceo"), // SLA; due at the cut-off: not overdue
            task(4, 40, Some(5), "low", "person:ceo"), // overdue, mine
            task(5, 100, Some(5), "urgent", "bob"), // overdue; urgent at the cut-off: not SLA
            task(6, 40, None, "medium", "ceo"), // nothing but mine
        ] {
            tally.add(&cut, &t);
        }
        assert_eq!(
            tally.mine,
            MyTasks {
                open: 4,
                overdue: 1
            }
        );
        assert_eq!((tally.sla.len(), tally.overdue.len()), (2, 3));
        // Oldest first, earliest due first, ties by ID; at most `limit`.
        assert_eq!(tally.firsts(2), (vec![3, 1], vec![4, 5]));
    }
}
