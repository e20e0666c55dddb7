-- A counter that every change of task_dependencies counts up, kept by a
-- trigger so that no writer can forget it (the command layer, the API, a
-- script, another instance). The brief's dependency-cycle check reads the
-- candidate edges once and keeps them until the counter moves
-- (store/brief.rs): reading them costs a lookup per edge, and dependencies
-- change far less often than briefs are read.
CREATE TABLE dependency_generation (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   BIGINT NOT NULL
);
INSERT INTO dependency_generation (id, n) VALUES (1, 0);

CREATE FUNCTION count_dependency_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dependency_generation SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
-- Once per statement: a bulk insert of 20,000 edges counts one change.
CREATE TRIGGER task_dependencies_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON task_dependencies
    FOR EACH STATEMENT EXECUTE FUNCTION count_dependency_change();
