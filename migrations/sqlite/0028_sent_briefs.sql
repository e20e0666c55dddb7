-- issue 21: the console's Brief page for a date shows the brief that was
-- sent that day (its summary included) without rebuilding it: a rebuild
-- reads every table it summarises (about 100 ms on 100,000 tasks and
-- 1,000,000 costs for a past date) and can differ from what was sent.
-- One row per person and local date, written in the transaction that
-- queues the brief; rows older than a year are deleted as new ones come.
CREATE TABLE sent_briefs (
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    -- The brief's local date, YYYY-MM-DD (sorts as text).
    date TEXT NOT NULL,
    -- The neutral model as sent (neutral::brief::Brief, JSON).
    model TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (person_id, date)
);

-- A past date's brief (a date never sent) counts what was open at its
-- cut-off: open tasks created before it, and tasks completed since. With
-- created_at in the open-task indexes and a covering index of completed
-- tasks, those counts read no table row (hub/benches/brief.rs with
-- ORKHUB_BENCH_DAYS_BACK=30: mine, overdue and SLA were 8.7, 18.5 and
-- 11.4 ms against 0.3, 0.7 and 0.5 for today's brief).
DROP INDEX tasks_open_assignee;
CREATE INDEX tasks_open_assignee ON tasks(assignee_id, assignee_kind, status, due_at, created_at) WHERE status <> 'completed';
DROP INDEX tasks_open_due;
CREATE INDEX tasks_open_due ON tasks(due_at, created_at) WHERE status <> 'completed' AND due_at IS NOT NULL;
CREATE INDEX tasks_done_cover ON tasks(completed_at, status, created_at, due_at, priority, assignee_kind, assignee_id)
    WHERE completed_at IS NOT NULL;
