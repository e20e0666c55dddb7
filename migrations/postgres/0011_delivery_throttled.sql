-- Retries a platform asked for (a 429 with its retry-after). They are counted
-- in `attempts` like any try, but not against `max_attempts`: a chat that is
-- only being paced is not failing, and its message must still be delivered.
ALTER TABLE deliveries ADD COLUMN throttled BIGINT NOT NULL DEFAULT 0;
