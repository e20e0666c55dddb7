-- issue 22: questions joined to the watchers. The brief's "Needs you" lists
-- the questions waiting for its reader, and the SLA check reads pending
-- questions: both by the person asked and the status.
CREATE INDEX questions_addressed ON questions(addressed_to, status, created_at);
