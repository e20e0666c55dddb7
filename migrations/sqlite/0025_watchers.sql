-- issue 22: watchers on a schedule (hub/src/watch/, SQL in hub/src/store/watch.rs).
-- Cron ticks are claimed in scheduled_runs (job 'watch:<name>', slot = the
-- tick's scheduled instant), like the brief and digest slots.

-- One row per SLA subject and escalation step reached: step 0 told the
-- responsible person, 1 their manager, 2 the admins, 3 the owners. The key
-- makes each step happen once across instances; `notified` lists who was
-- told (comma separated). A subject that is answered or resolved gets no
-- further rows, which is what stops the chain.
CREATE TABLE sla_escalations (
    kind       TEXT NOT NULL,      -- 'decision' (later 'question'), 'task_start', 'task_finish'
    object_id  TEXT NOT NULL,
    step       BIGINT NOT NULL,
    notified   TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (kind, object_id, step)
);

-- Budget alerts sent: once per subject, period and threshold.
CREATE TABLE budget_alerts (
    subject    TEXT NOT NULL,      -- 'agent:<id>' or 'project:<id>'
    period     TEXT NOT NULL,      -- UTC day '2026-12-04' (agents) or month '2026-12' (projects)
    threshold  BIGINT NOT NULL,    -- percent: 80 or 100
    spent_micros   BIGINT NOT NULL,
    budget_micros  BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (subject, period, threshold)
);

-- Anomalies currently open: a row appears when one is first detected (and
-- its notification is sent) and goes when it clears (and that is told).
CREATE TABLE anomaly_state (
    key          TEXT PRIMARY KEY, -- '<kind>:<subject>'
    kind         TEXT NOT NULL,
    message      TEXT NOT NULL,
    detected_at  BIGINT NOT NULL
);

-- An agent over its daily budget is paused for the rest of the UTC day; the
-- owners are asked once per agent and day whether it may continue (the
-- decision here). Approved: today's limit is raised by one more daily
-- budget; denied: paused until the next UTC midnight.
CREATE TABLE budget_pauses (
    agent_id     TEXT NOT NULL,
    day          TEXT NOT NULL,     -- UTC 'YYYY-MM-DD'
    decision_id  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (agent_id, day)
);
