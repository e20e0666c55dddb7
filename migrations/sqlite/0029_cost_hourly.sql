-- Spend per UTC hour, agent and project, kept in the cost insert's
-- transaction beside cost_daily (hub/src/store/costs.rs). A day or month in
-- the company's time zone ([budgets] time_zone) starts at a local midnight:
-- in a zone a whole number of hours off UTC its partial UTC days are whole
-- UTC hours, summed from here instead of from every cost row of those
-- hours (hub/src/store/brief.rs, `spend_pieces`).
CREATE TABLE cost_hourly (
    hour        BIGINT NOT NULL,            -- the UTC hour's start, Unix ms
    agent_id    TEXT NOT NULL,
    project_id  TEXT NOT NULL DEFAULT '',   -- '' = no project (a key column cannot be NULL)
    usd_micros  BIGINT NOT NULL,
    n           BIGINT NOT NULL,            -- cost rows summed
    PRIMARY KEY (hour, agent_id, project_id)
);

INSERT INTO cost_hourly (hour, agent_id, project_id, usd_micros, n)
SELECT (at / 3600000) * 3600000, agent_id, COALESCE(project_id, ''), SUM(usd_micros), COUNT(*)
FROM costs
GROUP BY (at / 3600000) * 3600000, agent_id, COALESCE(project_id, '');
