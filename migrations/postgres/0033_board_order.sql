-- The console's board reads each column's newest tasks: `status = $1
-- [AND project_id = $4] AND id < $2 ORDER BY id DESC LIMIT 25`. SQLite's
-- indexes end in the rowid, which is the task ID, so (project_id, status)
-- already gives a project's column in ID order. PostgreSQL's does not: it
-- read every task of the column (7,500 completed tasks of project p3 in
-- the benchmark) to sort them. With the ID last, each column is its first
-- 25 index entries. The (project_id, status) index stays for the counts:
-- it is the smaller one to scan.
CREATE INDEX tasks_project_status_id ON tasks(project_id, status, id);
