-- Send slots shared by every instance (hub/src/store/send_slots.rs): per
-- key (a chat, or a whole bot on one platform) the start of its current
-- window, in microseconds of the database's clock, and how many slots were
-- handed out since (a window holds `size` of them; later ones go to the
-- windows after it).
CREATE TABLE send_slots (
    key     TEXT PRIMARY KEY,
    next_at BIGINT NOT NULL,
    used    BIGINT NOT NULL
);
