-- Spend per week (seven UTC days from the Unix epoch, so each week starts
-- on a Thursday 00:00 UTC), agent and project, kept in the cost insert's
-- transaction beside cost_daily and cost_hourly (hub/src/store/costs.rs).
-- A month so far was up to 30 days of cost_daily, one row per agent,
-- project and day (16,500 on the benchmark's data, the slowest read of a
-- past date's brief); it is now whole weeks from here and at most half a
-- week of days at each end (hub/src/store/spend_plan.rs).
CREATE TABLE cost_weekly (
    week        BIGINT NOT NULL,            -- the week's start, Unix ms
    agent_id    TEXT NOT NULL,
    project_id  TEXT NOT NULL DEFAULT '',   -- '' = no project (a key column cannot be NULL)
    usd_micros  BIGINT NOT NULL,
    n           BIGINT NOT NULL,            -- cost rows summed
    PRIMARY KEY (week, agent_id, project_id)
);

INSERT INTO cost_weekly (week, agent_id, project_id, usd_micros, n)
SELECT (at / 604800000) * 604800000, agent_id, COALESCE(project_id, ''), SUM(usd_micros), COUNT(*)
FROM costs
GROUP BY (at / 604800000) * 604800000, agent_id, COALESCE(project_id, '');
