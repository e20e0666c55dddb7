-- Money as integer micro-dollars (1 USD = 1,000,000): a sum of many small
-- costs is exact on both engines, where DOUBLE PRECISION sums drift (and
-- differ with the order rows are added in). Existing figures are rounded
-- to the nearest micro-dollar; the daily roll-up is rebuilt from them.
ALTER TABLE costs ADD COLUMN usd_micros INTEGER NOT NULL DEFAULT 0;
UPDATE costs SET usd_micros = CAST(ROUND(usd * 1000000) AS INTEGER);
DROP INDEX costs_at_cover;
ALTER TABLE costs DROP COLUMN usd;
CREATE INDEX costs_at_cover ON costs(at, agent_id, project_id, usd_micros);

ALTER TABLE cost_daily ADD COLUMN usd_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cost_daily DROP COLUMN usd;
DELETE FROM cost_daily;
INSERT INTO cost_daily (day, agent_id, project_id, usd_micros, n)
SELECT (at / 86400000) * 86400000, agent_id, COALESCE(project_id, ''), SUM(usd_micros), COUNT(*)
FROM costs
GROUP BY (at / 86400000) * 86400000, agent_id, COALESCE(project_id, '');

-- The outbox claims live deliveries oldest first by ID (the order messages
-- were accepted in; hub/src/store/outbox.rs): this index walks them in that
-- order without sorting the whole backlog.
CREATE INDEX deliveries_live_id ON deliveries(id) WHERE status IN ('pending','sending');
