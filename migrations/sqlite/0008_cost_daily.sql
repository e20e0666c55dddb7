-- Spend per UTC day, agent and project, kept in the cost insert's
-- transaction (hub/src/store/costs.rs). The daily brief sums whole UTC days
-- from here and reads raw `costs` rows only for the partial days at its
-- local-midnight edges (hub/src/store/brief.rs): a month of spend is then a
-- few hundred rows per day instead of every cost row.
CREATE TABLE cost_daily (
    day         BIGINT NOT NULL,            -- UTC midnight, Unix ms
    agent_id    TEXT NOT NULL,
    project_id  TEXT NOT NULL DEFAULT '',   -- '' = no project (a key column cannot be NULL)
    usd         DOUBLE PRECISION NOT NULL,
    n           BIGINT NOT NULL,            -- cost rows summed
    PRIMARY KEY (day, agent_id, project_id)
);

INSERT INTO cost_daily (day, agent_id, project_id, usd, n)
SELECT (at / 86400000) * 86400000, agent_id, COALESCE(project_id, ''), SUM(usd), COUNT(*)
FROM costs
GROUP BY (at / 86400000) * 86400000, agent_id, COALESCE(project_id, '');
