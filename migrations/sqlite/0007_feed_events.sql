-- Schema parity with PostgreSQL. A SQLite hub is a single instance and
-- publishes its live feed in process, so this table stays empty there.
CREATE TABLE feed_events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     BIGINT NOT NULL,
    event  TEXT NOT NULL
);
