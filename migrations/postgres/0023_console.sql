-- issue 21: the web console's login links and sessions. Only the SHA-256
-- of each secret is stored, so a copy of the database lets nobody in.
-- A login link is single-use (used_at set by the one UPDATE that accepts
-- it) and expires; a session expires and is deleted at logout.
CREATE TABLE console_login_links (
    token_hash  TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX console_login_links_expiry ON console_login_links(expires_at);

-- csrf: the token every POST of this session must carry (a random value,
-- stored as is: it is not a credential on its own).
CREATE TABLE console_sessions (
    id_hash     TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_person ON console_sessions(person_id);

-- Unread state of each person's inbox: everything routed to them after
-- read_at is unread.
CREATE TABLE console_reads (
    person_id   TEXT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    read_at     BIGINT NOT NULL
);
