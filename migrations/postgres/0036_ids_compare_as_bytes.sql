-- Notification and delivery IDs compare as bytes (COLLATE "C"), as they
-- already do on SQLite (BINARY).
--
-- Why: a text column takes the database's collation, and PostgreSQL 15
-- compares under any collation but "C"/"POSIX" through the C library's
-- strcoll (copying both values to NUL-terminated buffers first), even
-- for `C.UTF-8`. Every accepted notification inserts its ID into
-- notifications_pkey and its deliveries' into deliveries_pkey,
-- deliveries_notification and deliveries_person: each insert compares the
-- new ID with those on its way down each B-tree. Under bench/external.sh
-- postgres, strcoll, varstr_cmp, the strcmp after it and the locale
-- lookup took some 5% of the server's CPU per notification.
--
-- The IDs are ASCII (`n_`/`d_`, then lowercase hex: hub/src/ids.rs), so
-- their order is the same under every collation: no query's answer
-- changes. question_copies.notification_id is joined with the others, and
-- takes the same collation so those joins can use its primary key. The
-- indexes on these columns are rebuilt; the tables are not rewritten.
-- The trigger on deliveries.notification_id (0034) names the column, so
-- it is set aside while the column changes and put back as it was.
DROP TRIGGER delivery_keeps_a_notification ON deliveries;
ALTER TABLE notifications ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE deliveries
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN notification_id TYPE TEXT COLLATE "C";
ALTER TABLE question_copies ALTER COLUMN notification_id TYPE TEXT COLLATE "C";
CREATE TRIGGER delivery_keeps_a_notification AFTER UPDATE OF notification_id ON deliveries
    FOR EACH ROW EXECUTE FUNCTION delivery_keeps_a_notification();
