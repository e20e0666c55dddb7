-- Indexes for the daily brief (issue 7). Each brief reads ranges and short
-- lists; these keep it inside 100 ms at 100,000 tasks and 1,000,000 cost
-- rows (see hub/benches/brief.rs). Identical on SQLite and PostgreSQL.

-- Spend per agent and project over [from, until): a range scan of this
-- covering index, never a table lookup per cost row.
CREATE INDEX costs_at_cover ON costs(at, agent_id, project_id, usd);

-- Activity since the last brief.
CREATE INDEX tasks_created_at ON tasks(created_at);
CREATE INDEX tasks_completed_at ON tasks(completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX audit_log_action_at ON audit_log(action, at);
CREATE INDEX decisions_decided_at ON decisions(decided_at) WHERE decided_at IS NOT NULL;

-- Overdue and SLA lists look only at open tasks.
CREATE INDEX tasks_open_due ON tasks(due_at) WHERE status <> 'completed' AND due_at IS NOT NULL;
CREATE INDEX tasks_open_priority ON tasks(priority, created_at) WHERE status <> 'completed';
-- Open tasks per assignee: the reader's own (with due dates) and each
-- agent's active count, answered from the index alone.
CREATE INDEX tasks_open_assignee ON tasks(assignee_id, assignee_kind, status, due_at) WHERE status <> 'completed';

-- Repeated failures in the last seven days.
CREATE INDEX agent_task_failures_at ON agent_task_failures(at);
