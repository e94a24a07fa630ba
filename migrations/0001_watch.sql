-- Watch lists, runs and per-URL state for scheduled re-checks (issue: cron watch lists).
-- Applied by `npm run dev`, by the tests, and before deploy with
-- `npx wrangler d1 migrations apply fanout --remote`.

CREATE TABLE watchlists (
  name        TEXT PRIMARY KEY,
  urls        TEXT NOT NULL,             -- JSON array of URL strings
  options     TEXT NOT NULL,             -- JSON object: the /v1/fetch options
  crons       TEXT,                      -- JSON array of cron expressions; NULL = every tick
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

CREATE TABLE runs (
  id              TEXT PRIMARY KEY,      -- time-sortable: newer ids sort after older ones
  watchlist       TEXT NOT NULL,
  cron            TEXT,
  scheduled_time  TEXT NOT NULL,
  started_at      TEXT NOT NULL,
  finished_at     TEXT NOT NULL,
  stats           TEXT NOT NULL,         -- JSON: batch stats plus change counts
  changed         INTEGER NOT NULL,      -- URLs whose content changed in this run
  notification    TEXT                   -- JSON: outcome of the NOTIFY_URL call, if any
);
CREATE INDEX runs_by_watchlist ON runs (watchlist, id);

CREATE TABLE run_results (
  run_id   TEXT NOT NULL,
  idx      INTEGER NOT NULL,
  url      TEXT NOT NULL,
  changed  INTEGER NOT NULL,             -- 1 when the content changed against the previous run
  changes  TEXT NOT NULL,                -- JSON array of changed field names
  state    TEXT NOT NULL,                -- new | ok | failing | recovered | still_failing
  result   TEXT NOT NULL,                -- JSON result, as /v1/fetch gives it
  PRIMARY KEY (run_id, idx)
);
CREATE INDEX run_results_changed ON run_results (changed, run_id);

-- What the last run saw of each URL: validators for conditional requests and
-- the last good content to compare against.
CREATE TABLE url_state (
  watchlist      TEXT NOT NULL,
  url            TEXT NOT NULL,
  ok             INTEGER NOT NULL,       -- whether the last check succeeded
  etag           TEXT,
  last_modified  TEXT,
  content        TEXT,                   -- JSON of the compared fields from the last good check
  updated_at     TEXT NOT NULL,
  PRIMARY KEY (watchlist, url)
);
