-- Send slots shared by every instance (hub/src/store/send_slots.rs). Used
-- on PostgreSQL only (SQLite is single-instance and paces in-process); kept
-- here so both schemas stay alike.
CREATE TABLE send_slots (
    key     TEXT PRIMARY KEY,
    next_at INTEGER NOT NULL,
    used    INTEGER NOT NULL
);
