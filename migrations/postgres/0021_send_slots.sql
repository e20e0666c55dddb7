-- Send slots shared by every instance (hub/src/store/send_slots.rs): per
-- key (a chat, or a whole bot on one platform) the earliest time, in
-- microseconds of the database's clock, at which its next send may go.
CREATE TABLE send_slots (
    key     TEXT PRIMARY KEY,
    next_at BIGINT NOT NULL
);
