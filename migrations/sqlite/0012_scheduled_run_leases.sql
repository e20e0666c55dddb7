-- Scheduled runs (issue 6/7 follow-up).
-- lease_until: a brief claims its slot before it is built, so a second
-- instance (or a concurrent tick) never builds it again nor pays for a second
-- LLM summary. While it is being built the row holds a lease; NULL means the
-- run is done. A lease that ran out (the builder crashed) may be taken over.
ALTER TABLE scheduled_runs ADD COLUMN lease_until BIGINT;
-- covered_until: the end of the window a brief covered, so the next brief's
-- "since the last brief" starts exactly there (not at when it was claimed).
ALTER TABLE scheduled_runs ADD COLUMN covered_until BIGINT;
