-- Jobs by client, newest first, for GET /v1/jobs. The job itself lives in its FetchJob
-- Durable Object; this row only lists it (client '' when the deployment has no API tokens).
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  client TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  total INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_client ON jobs (client, created_at DESC, id DESC);
