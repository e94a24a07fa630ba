/**
 * The Worker's bindings. Every value in `[vars]` arrives as a string and is
 * parsed by src/config.ts, which fails loudly (ConfigError, naming the var) on
 * a value that is not an integer in range. A var left unset keeps its default:
 * the maxima default to `DEFAULT_LIMITS` in src/engine/options.ts and the
 * watch settings to `WATCH_DEFAULTS` in src/watch/settings.ts, the one place
 * each number is written (README "Configuration" lists them).
 */
export interface Env {
  /** D1 database with watch lists, runs and per-URL state (migrations/). */
  DB: D1Database;
  /**
   * Durable Objects (class FetchShard) that run the shards of a batch whose
   * `concurrency` is above 6. Without the binding every batch stays in one
   * invocation.
   */
  SHARDS?: DurableObjectNamespace;
  /**
   * Durable Objects (class RateLimiter), one per API client with a
   * `ratePerMinute` (src/rate-limiter.ts). Without the binding no client is limited.
   */
  RATE_LIMITER?: DurableObjectNamespace<import('./rate-limiter').RateLimiter>;
  /** URLs (comma or whitespace separated) of the built-in watch list `default`. */
  WATCH_URLS?: string;
  /** Where a run with changes POSTs its summary. Passes the same URL guard as fetched URLs. */
  NOTIFY_URL?: string;
  /** Secret. Key of the HMAC-SHA256 signature in the notification's X-Fanout-Signature header. */
  NOTIFY_SECRET?: string;
  /** Runs kept per watch list (WATCH_DEFAULTS.retention). */
  RUN_RETENTION?: string;
  /** Most URLs per watch list (WATCH_DEFAULTS.maxWatchUrls). */
  MAX_WATCH_URLS?: string;
  /** Lists with more URLs than this run as jobs, not in the cron invocation (WATCH_DEFAULTS.inlineUrls). */
  WATCH_INLINE_URLS?: string;
  /** Secret. When set, every /v1/* route needs `Authorization: Bearer <API_TOKEN>` (or a token of API_TOKENS). */
  API_TOKEN?: string;
  /** Secret. JSON list of API clients, `[{ "name", "token", "ratePerMinute" }]` (src/clients.ts). */
  API_TOKENS?: string;
  /** "true" lets fanout fetch loopback/private addresses. Local development and tests only. */
  ALLOW_PRIVATE_HOSTS?: string;
  /** User-Agent sent to origins (DEFAULT_USER_AGENT names fanout, its version and its URL). */
  USER_AGENT?: string;
  /** Most URLs accepted in one batch (DEFAULT_LIMITS.maxUrls). */
  MAX_URLS?: string;
  /** Highest `concurrency` a caller may ask for (DEFAULT_LIMITS.maxConcurrency). */
  MAX_CONCURRENCY?: string;
  /** Highest `timeoutMs` per attempt (DEFAULT_LIMITS.maxTimeoutMs). */
  MAX_TIMEOUT_MS?: string;
  /** Highest `deadlineMs` per batch (DEFAULT_LIMITS.maxDeadlineMs). */
  MAX_DEADLINE_MS?: string;
  /** Highest `maxBytes` read per URL (DEFAULT_LIMITS.maxBytes). */
  MAX_BYTES?: string;
  /** Highest `retries` (DEFAULT_LIMITS.maxRetries). */
  MAX_RETRIES?: string;
  /** Highest `maxRedirects` (DEFAULT_LIMITS.maxRedirects). */
  MAX_REDIRECTS?: string;
  /** Highest `snippetLength` in characters (DEFAULT_LIMITS.maxSnippetLength). */
  MAX_SNIPPET_LENGTH?: string;
  MAX_CONTENT_CHARS?: string;
  /** Highest `maxAge` of the result cache, ms (DEFAULT_LIMITS.maxAge). */
  MAX_CACHE_AGE_MS?: string;
  /** `maxAge` for requests that give none, ms; unset or 0: the cache is used only when asked. */
  CACHE_MAX_AGE_MS?: string;
  /** "true": every request honours robots.txt, whatever its `respectRobots`. */
  RESPECT_ROBOTS?: string;
  /**
   * Durable Objects (class FetchJob), one per job: its state, counters and the
   * index of its results (src/jobs/job-object.ts; `jobObjects()` there types it).
   */
  JOBS?: DurableObjectNamespace;
  /** Durable Objects (class HostGate), one per host: per-host politeness across every job's consumers (src/jobs/host-gate.ts). */
  HOSTS?: DurableObjectNamespace;
  /** The queue a job's chunks go to; this Worker consumes it (src/jobs/consumer.ts). */
  JOBS_QUEUE?: Queue;
  /** R2 bucket for job results, one NDJSON object per recorded chunk. */
  RESULTS?: R2Bucket;
  /** Secret. Key of the HMAC-SHA256 signature on job webhooks (X-Fanout-Signature); without it jobs take no webhook. */
  WEBHOOK_SECRET?: string;
  /** Most URLs in one job (JOB_DEFAULTS.maxJobUrls). */
  MAX_JOB_URLS?: string;
  /** Days a job and its results are kept (JOB_DEFAULTS.retentionDays). */
  JOB_RETENTION_DAYS?: string;
  /** URLs per queue message (JOB_DEFAULTS.chunkUrls). */
  JOB_CHUNK_URLS?: string;
  /** A chunk not recorded this long after it was sent is sent again (JOB_DEFAULTS.redriveMs). */
  JOB_REDRIVE_MS?: string;
}
