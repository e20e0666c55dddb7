-- issue 23: outbound webhooks and inbound GitHub.
-- Subscriptions: declared in config.toml (source 'config', rewritten on every
-- start) or created over the API (source 'api'). The signing secret is
-- stored as is: signing needs it (a hash would not do).
-- status: active; gone (the receiver answered 410); removed (no longer in
-- config.toml). Only active subscriptions get new deliveries.
CREATE TABLE webhook_subscriptions (
    id               TEXT PRIMARY KEY,
    url              TEXT NOT NULL,
    secret           TEXT NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('config','api')),
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','gone','removed')),
    max_attempts     BIGINT NOT NULL,
    base_backoff_ms  BIGINT NOT NULL,
    max_backoff_ms   BIGINT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- One row per event pattern: `task.*` is stored as prefix 'task.', `*` as
-- prefix '', `decision.resolved` as exact. Kept apart so the fan-out in the
-- event's own transaction is one INSERT ... SELECT (see store/webhooks.rs).
CREATE TABLE webhook_patterns (
    subscription_id  TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    pattern          TEXT NOT NULL,
    is_prefix        BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, pattern, is_prefix)
);

-- Each event for each matching subscription, written in the same
-- transaction as the thing the event is about. status: pending (due at
-- next_attempt_at), sending (claimed until lease_until), sent, dead.
CREATE TABLE webhook_deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id   TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_id          TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    body              TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending','sending','sent','dead')),
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    lease_until       BIGINT,
    last_status_code  BIGINT,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    sent_at           BIGINT
);
-- The sender's claim: each subscription's oldest live delivery.
CREATE INDEX webhook_deliveries_live ON webhook_deliveries (subscription_id, id)
    WHERE status IN ('pending','sending');
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (subscription_id, id);

-- Inbound GitHub: each X-GitHub-Delivery is run once.
CREATE TABLE github_deliveries (
    delivery_id  TEXT PRIMARY KEY,
    event        TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);

-- Which task an issue (or a review request) became, so closing the issue
-- completes that task.
CREATE TABLE github_tasks (
    repo     TEXT NOT NULL,
    ref      TEXT NOT NULL,  -- 'issue/<number>' or 'review/<pr>/<login>'
    task_id  BIGINT NOT NULL REFERENCES tasks(id),
    PRIMARY KEY (repo, ref)
);
