-- A delivery's notification must exist, checked once per statement instead
-- of once per row.
--
-- Why: the foreign key deliveries.notification_id → notifications ran
-- PostgreSQL's referential-integrity trigger for every delivery inserted:
-- a `SELECT 1 FROM notifications WHERE id = $1 FOR KEY SHARE`, each with an
-- executor started and stopped. Under bench/external.sh that was a fifth of
-- the server's CPU per notification (perf: AfterTriggerEndQuery →
-- SPI_execute_snapshot, 20.6%). One statement-level trigger over the
-- statement's new rows (a transition table) checks them all in one query.
--
-- What stays the same: an insert whose delivery names no notification
-- fails with SQLSTATE 23503 (foreign_key_violation, as before) and writes
-- nothing; so does changing a delivery's notification to a missing one;
-- deleting a notification deletes its deliveries (was ON DELETE CASCADE).
-- What differs: the check runs at the end of each statement (it did for
-- the constraint too: a notification inserted by the same statement
-- counts), and it takes no FOR KEY SHARE lock on the notification. Nothing
-- deletes a notification while a delivery for it is being written (the
-- hub never deletes notifications; a delete by hand still takes the
-- deliveries with it).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_notification_id_fkey;

CREATE FUNCTION deliveries_have_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orphan RECORD;
BEGIN
    -- OFFSET 0 keeps the NOT EXISTS a per-row probe of the primary key:
    -- a transition table has no statistics, and the anti-join the planner
    -- chose instead read the whole notifications table on every insert.
    SELECT d.id, d.notification_id INTO orphan
      FROM new_deliveries d
     WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = d.notification_id OFFSET 0)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'delivery % refers to notification %, which does not exist; nothing was written',
            orphan.id, orphan.notification_id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'deliveries';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER deliveries_have_notifications AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_have_notifications();

-- Moving a delivery to another notification (nothing in the hub does):
-- per row, as a trigger on one column cannot have a transition table.
CREATE FUNCTION delivery_keeps_a_notification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM notifications WHERE id = NEW.notification_id) THEN
        RAISE EXCEPTION 'delivery % refers to notification %, which does not exist; nothing was written',
            NEW.id, NEW.notification_id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'deliveries';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER delivery_keeps_a_notification AFTER UPDATE OF notification_id ON deliveries
    FOR EACH ROW EXECUTE FUNCTION delivery_keeps_a_notification();

-- The cascade the constraint had.
CREATE FUNCTION notifications_take_their_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM deliveries WHERE notification_id IN (SELECT id FROM gone_notifications);
    RETURN NULL;
END $$;

CREATE TRIGGER notifications_take_their_deliveries AFTER DELETE ON notifications
    REFERENCING OLD TABLE AS gone_notifications
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_take_their_deliveries();
