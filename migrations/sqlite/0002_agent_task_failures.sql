-- Tasks an agent could not carry through, for automatic assignment's
-- "past performance" score: completed / (completed + failed).
-- A row is written, in the same transaction as the move, when a task is
-- moved to `blocked` while an agent is its assignee; one row per agent and
-- task however often it is blocked. Completed counts come from `tasks`.
-- Identical on SQLite and PostgreSQL: keep both files in step.

CREATE TABLE agent_task_failures (
    agent_id  TEXT NOT NULL,
    task_id   BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    reason    TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (agent_id, task_id)
);
