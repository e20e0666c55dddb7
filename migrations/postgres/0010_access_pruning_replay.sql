-- People removed from the config keep their row (tasks, decisions and the
-- audit log refer to them) but lose their access: at start their platform
-- identities and approver rows are deleted and the time is set here, which
-- also keeps them off the list of who is asked to decide.
ALTER TABLE people ADD COLUMN removed_at BIGINT;

-- Idempotency-Key answers older than server.idempotency_ttl_secs are pruned
-- in the background, by this.
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
