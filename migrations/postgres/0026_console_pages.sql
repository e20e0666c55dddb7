-- issue 21: the console's pages within 20 ms on 100,000 tasks, 1,000,000
-- costs and 200,000 notifications (hub/benches/console.rs).
-- A person's inbox reads the notifications routed to them newest first:
-- without this index it went through every delivery of everyone.
CREATE INDEX deliveries_person ON deliveries(person_id, notification_id);
-- The Agents page counts each agent's tasks by status from this index
-- alone (before, every task row of every agent was read).
CREATE INDEX tasks_agent_status ON tasks(assignee_kind, assignee_id, status);
