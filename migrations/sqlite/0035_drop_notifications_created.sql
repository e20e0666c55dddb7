-- notifications(created_at) had no reader: every query on notifications
-- finds them by id, by dedupe key (notifications_dedupe), by decision
-- (notifications_decision), or through deliveries (the console, digests,
-- the feed), and filters on created_at only after that. Each accepted
-- notification still paid for an entry in it: one more B-tree insert per
-- row, and one more page rewritten per ingest commit (SQLite's WAL, and
-- PostgreSQL's index inserts were the largest part of the server's CPU
-- per notification under bench/external.sh).
DROP INDEX IF EXISTS notifications_created;
