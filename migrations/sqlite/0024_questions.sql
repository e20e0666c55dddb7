-- issue 22: agents ask people. A question is routed to one person
-- (addressed_to); how it is handled depends on the asking agent's
-- permission level: human-required (the person answers), supervised (an
-- LLM drafts, the person approves or replaces the draft), autonomous (the
-- LLM answers, the person is told). `mode` is how it is handled now: an
-- LLM failure lowers autonomous to supervised and supervised to
-- human-required. The first answer wins (compare-and-set on status).
CREATE TABLE questions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    text              TEXT NOT NULL,
    options           TEXT NOT NULL DEFAULT '[]',   -- JSON array
    context           TEXT,
    task_id           BIGINT REFERENCES tasks(id) ON DELETE SET NULL,
    asked_by          TEXT NOT NULL,                -- agent id
    addressed_to      TEXT NOT NULL,                -- person id
    permission_level  TEXT NOT NULL CHECK (permission_level IN ('autonomous','supervised','human-required')),
    mode              TEXT NOT NULL CHECK (mode IN ('autonomous','supervised','human-required')),
    status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','answered')),
    draft             TEXT,
    answer            TEXT,
    answered_by       TEXT,
    answered_via      TEXT CHECK (answered_via IN ('button','reply','command','llm','web')),
    deadline_at       BIGINT,
    callback_id       TEXT,                         -- webhook_subscriptions.id of its callback URL
    answered_at       BIGINT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX questions_status ON questions(status, created_at);

-- Every notification that shows a question (its request, the edits made
-- when it is answered): what an answer edits, and what a chat reply to one
-- of its messages answers.
CREATE TABLE question_copies (
    notification_id  TEXT PRIMARY KEY,
    question_id      BIGINT NOT NULL REFERENCES questions(id) ON DELETE CASCADE
);
CREATE INDEX question_copies_question ON question_copies(question_id);

-- A question's callback URL is a webhook subscription of its own, with no
-- event patterns (nothing fans out to it): the answer is queued to it
-- directly, so it is signed, retried and logged like every webhook. Not
-- listed among the webhooks.
ALTER TABLE webhook_subscriptions ADD COLUMN question_id BIGINT;

-- Who a project's questions go to when their task has no person assigned
-- ([[projects]] owner in config.toml; written on every start).
ALTER TABLE projects ADD COLUMN owner_id TEXT;
