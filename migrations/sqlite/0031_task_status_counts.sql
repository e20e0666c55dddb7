-- How many tasks are in each status, kept by triggers in the writing
-- transaction: the console's whole board shows each column's count, and
-- counting them from the (status) index read every task (4 ms on 100,000
-- tasks, the board's largest cost). SQLite only: it has one writer at a
-- time, so the few rows here cannot deadlock; on PostgreSQL concurrent
-- writers would queue (or deadlock) on them, and the board counts from
-- the index there (store/commands_backend/board.rs).
CREATE TABLE task_status_counts (
    status  TEXT PRIMARY KEY,
    n       BIGINT NOT NULL
);
INSERT INTO task_status_counts (status, n) SELECT status, COUNT(*) FROM tasks GROUP BY status;

CREATE TRIGGER task_status_counted_in AFTER INSERT ON tasks
BEGIN
    INSERT INTO task_status_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER task_status_counted_out AFTER DELETE ON tasks
BEGIN
    UPDATE task_status_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER task_status_recounted AFTER UPDATE OF status ON tasks
    WHEN OLD.status IS NOT NEW.status
BEGIN
    UPDATE task_status_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO task_status_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
