-- issue 21: the console's Brief page for a date shows the brief that was
-- sent that day (its summary included) without rebuilding it: a rebuild
-- reads every table it summarises (about 100 ms on 100,000 tasks and
-- 1,000,000 costs for a past date) and can differ from what was sent.
-- One row per person and local date, written in the transaction that
-- queues the brief; rows older than a year are deleted as new ones come.
CREATE TABLE sent_briefs (
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    -- The brief's local date, YYYY-MM-DD (sorts as text).
    date TEXT NOT NULL,
    -- The neutral model as sent (neutral::brief::Brief, JSON).
    model TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (person_id, date)
);
