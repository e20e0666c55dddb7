-- orkhub schema (SQLite). Times are UTC epoch milliseconds (BIGINT) so the same
-- queries run on SQLite and PostgreSQL through sqlx's Any driver.
-- Keep in step with migrations/postgres/0001_init.sql.

CREATE TABLE people (
    id             TEXT PRIMARY KEY,           -- handle, e.g. "alice"
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner','admin','member','viewer')),
    time_zone      TEXT NOT NULL DEFAULT 'UTC',
    email          TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- People are recognised by each platform's immutable user ID, never a display name.
CREATE TABLE person_identities (
    platform          TEXT NOT NULL,
    platform_user_id  TEXT NOT NULL,
    person_id         TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    PRIMARY KEY (platform, platform_user_id)
);
CREATE INDEX person_identities_person ON person_identities(person_id);

CREATE TABLE preferences (
    person_id              TEXT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    push_channels          TEXT NOT NULL DEFAULT 'console',  -- ordered, comma separated
    kind_channels          TEXT NOT NULL DEFAULT '{}',       -- JSON: kind -> [channel]
    digest_channel         TEXT NOT NULL DEFAULT 'email',
    digest_time            TEXT NOT NULL DEFAULT '08:00',     -- local wall clock
    brief_time             TEXT NOT NULL DEFAULT '09:00',
    quiet_start            TEXT,                              -- local wall clock, NULL = none
    quiet_end              TEXT,
    urgent_breaks_quiet    BIGINT NOT NULL DEFAULT 1,
    updated_at             BIGINT NOT NULL
);

CREATE TABLE agents (
    id                 TEXT PRIMARY KEY,      -- agent name
    description        TEXT NOT NULL DEFAULT '',
    capabilities       TEXT NOT NULL DEFAULT '[]', -- JSON array
    daily_budget_usd   DOUBLE PRECISION,
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','idle','offline','disabled')),
    last_heartbeat_at  BIGINT,
    heartbeat_note     TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,            -- public prefix shown in listings
    agent_id      TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    key_hash      TEXT NOT NULL UNIQUE,        -- SHA-256 of the whole key; the key itself is never stored
    scopes        TEXT NOT NULL,               -- space separated
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX api_keys_agent ON api_keys(agent_id);

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    budget_usd  DOUBLE PRECISION,              -- monthly
    deadline    BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE channels (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('project','direct','system')),
    project_id  TEXT REFERENCES projects(id) ON DELETE SET NULL,
    person_id   TEXT REFERENCES people(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Where a channel lives on each platform (chat id, channel id, address).
CREATE TABLE channel_bindings (
    channel_id  TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    platform    TEXT NOT NULL,
    address     TEXT NOT NULL,
    PRIMARY KEY (channel_id, platform)
);
CREATE INDEX channel_bindings_address ON channel_bindings(platform, address);

CREATE TABLE tasks (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    title                TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL,
    blocked_from         TEXT,
    priority             TEXT NOT NULL DEFAULT 'medium',
    project_id           TEXT REFERENCES projects(id) ON DELETE SET NULL,
    assignee_kind        TEXT CHECK (assignee_kind IN ('person','agent')),
    assignee_id          TEXT,
    due_at               BIGINT,
    acceptance_criteria  TEXT NOT NULL DEFAULT '',
    capabilities         TEXT NOT NULL DEFAULT '[]',
    created_by           TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    completed_at         BIGINT
);
CREATE INDEX tasks_status ON tasks(status);
CREATE INDEX tasks_assignee ON tasks(assignee_id, status);
CREATE INDEX tasks_project ON tasks(project_id, status);
CREATE INDEX tasks_due ON tasks(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX tasks_updated ON tasks(updated_at);

CREATE TABLE task_dependencies (
    task_id     BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    depends_on  BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (task_id, depends_on),
    CHECK (task_id <> depends_on)
);
CREATE INDEX task_dependencies_on ON task_dependencies(depends_on);

CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    context       TEXT NOT NULL,
    options       TEXT NOT NULL DEFAULT '[]',   -- JSON array
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved','denied','cancelled')),
    requested_by  TEXT NOT NULL,                -- agent id or person id
    task_id       BIGINT REFERENCES tasks(id) ON DELETE SET NULL,
    decided_by    TEXT,
    reasoning     TEXT,
    decided_at    BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX decisions_status ON decisions(status, created_at);

-- Approvers per decision kind, besides owners and admins.
CREATE TABLE decision_approvers (
    kind       TEXT NOT NULL,
    person_id  TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    PRIMARY KEY (kind, person_id)
);

-- Buttons carry a short opaque token; what it does is looked up here.
CREATE TABLE button_tokens (
    token        TEXT PRIMARY KEY,
    action       TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE costs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    TEXT NOT NULL,
    project_id  TEXT,
    task_id     BIGINT,
    model       TEXT NOT NULL,
    tokens_in   BIGINT NOT NULL DEFAULT 0,
    tokens_out  BIGINT NOT NULL DEFAULT 0,
    usd         DOUBLE PRECISION NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX costs_at ON costs(at);
CREATE INDEX costs_agent_at ON costs(agent_id, at);
CREATE INDEX costs_project_at ON costs(project_id, at);

CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,           -- time-ordered (ULID-like)
    source          TEXT NOT NULL,              -- agent id or "system"
    kind            TEXT NOT NULL,              -- event kind, e.g. "deploy.failed", "message"
    urgency         TEXT NOT NULL CHECK (urgency IN ('urgent','info','fyi')),
    recipient_kind  TEXT NOT NULL CHECK (recipient_kind IN ('person','channel')),
    recipient_id    TEXT NOT NULL,
    project_id      TEXT,
    title           TEXT,
    body            TEXT NOT NULL,
    fields          TEXT NOT NULL DEFAULT '[]', -- JSON
    decision_id     BIGINT,
    dedupe_key      TEXT,
    duplicate       BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);
CREATE INDEX notifications_dedupe ON notifications(recipient_id, dedupe_key, created_at) WHERE dedupe_key IS NOT NULL;
CREATE INDEX notifications_decision ON notifications(decision_id) WHERE decision_id IS NOT NULL;
CREATE INDEX notifications_created ON notifications(created_at);

-- The outbox: a row first, then the send, then the outcome on the row.
CREATE TABLE deliveries (
    id                   TEXT PRIMARY KEY,
    notification_id      TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    person_id            TEXT,
    channel              TEXT NOT NULL,          -- adapter kind
    address              TEXT NOT NULL,          -- platform address (chat id, email, person id for web)
    op                   TEXT NOT NULL DEFAULT 'send' CHECK (op IN ('send','edit')),
    target_message_id    TEXT,                    -- for op = 'edit': the platform message to change
    status               TEXT NOT NULL CHECK (status IN ('pending','sending','sent','held','digested','dead','skipped')),
    attempts             BIGINT NOT NULL DEFAULT 0,
    next_attempt_at      BIGINT NOT NULL,
    lease_until          BIGINT,
    fallbacks            TEXT NOT NULL DEFAULT '', -- remaining channels, comma separated
    platform_message_id  TEXT,
    last_error           TEXT,
    digest_id            TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    sent_at              BIGINT
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status IN ('pending','sending');
CREATE INDEX deliveries_notification ON deliveries(notification_id);
-- Per-chat order: an earlier unsent delivery to the same address holds later ones back.
CREATE INDEX deliveries_order ON deliveries(channel, address, id) WHERE status IN ('pending','sending');
CREATE INDEX deliveries_held ON deliveries(person_id, channel) WHERE status = 'held';

CREATE TABLE idempotency_keys (
    agent_id       TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status_code    BIGINT NOT NULL,
    response_body  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (agent_id, key)
);

-- Scheduled runs (digests, briefs) are claimed once per (job, slot) here,
-- so a restart or a second instance never sends twice.
CREATE TABLE scheduled_runs (
    job         TEXT NOT NULL,
    slot        TEXT NOT NULL,
    claimed_by  TEXT NOT NULL,
    claimed_at  BIGINT NOT NULL,
    PRIMARY KEY (job, slot)
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    resource  TEXT NOT NULL,
    details   TEXT NOT NULL DEFAULT '{}',
    source    TEXT NOT NULL
);
CREATE INDEX audit_log_resource ON audit_log(resource, at);
