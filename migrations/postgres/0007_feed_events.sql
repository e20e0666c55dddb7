-- The live feed across instances: a web delivery's event is written here and
-- announced with NOTIFY orkhub_feed (its seq as payload: NOTIFY payloads are
-- limited to 8000 bytes, events are not). Every instance LISTENs, reads the
-- rows after the last seq it saw — which also catches up after a reconnect —
-- and streams them to its own viewers. Rows are pruned after a few minutes.
CREATE TABLE feed_events (
    seq    BIGSERIAL PRIMARY KEY,
    at     BIGINT NOT NULL,
    event  TEXT NOT NULL
);
