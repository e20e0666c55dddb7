-- Which hub instance wrote a live feed event. An instance streams its own
-- events to its viewers in process, at once; from the table it reads only
-- the other instances' events (its own rows give up their sequence numbers
-- but not their payloads), so a single instance never reads its feed back.
ALTER TABLE feed_events ADD COLUMN origin TEXT NOT NULL DEFAULT '';
