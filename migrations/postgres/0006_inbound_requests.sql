-- Requests from chat platforms that must run at most once even when the
-- platform sends them again (Slack retries a slash command or button press
-- it thinks timed out, with X-Slack-Retry-Num). The first copy claims its
-- key; the reply is kept so a retry can be answered with it. Rows older
-- than a day are pruned (Slack retries within minutes).
-- Identical on SQLite and PostgreSQL: keep both files in step.

CREATE TABLE inbound_requests (
    platform     TEXT NOT NULL,
    request_key  TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    reply        TEXT,
    PRIMARY KEY (platform, request_key)
);
CREATE INDEX inbound_requests_received ON inbound_requests(received_at);
