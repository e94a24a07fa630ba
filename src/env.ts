/**
 * The Worker's bindings. Every value in `[vars]` arrives as a string; the
 * service-wide maxima are parsed by `limitsFromEnv` in options.ts, which fails
 * loudly on a value that is not a positive integer.
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
  /** URLs (comma or whitespace separated) of the built-in watch list `default`. */
  WATCH_URLS?: string;
  /** Where a run with changes POSTs its summary. Passes the same URL guard as fetched URLs. */
  NOTIFY_URL?: string;
  /** Secret. Key of the HMAC-SHA256 signature in the notification's X-Fanout-Signature header. */
  NOTIFY_SECRET?: string;
  /** Runs kept per watch list (default 100). */
  RUN_RETENTION?: string;
  /** Most URLs per watch list (default 200). */
  MAX_WATCH_URLS?: string;
  /** Secret. When set, every /v1/* route needs `Authorization: Bearer <API_TOKEN>`. */
  API_TOKEN?: string;
  /** "true" lets fanout fetch loopback/private addresses. Local development and tests only. */
  ALLOW_PRIVATE_HOSTS?: string;
  /** User-Agent sent to origins; should name fanout and a URL where operators can read about it. */
  USER_AGENT?: string;
  /** Most URLs accepted in one batch (default 100). */
  MAX_URLS?: string;
  /** Highest `concurrency` a caller may ask for (default 50). */
  MAX_CONCURRENCY?: string;
  /** Highest `timeoutMs` per attempt (default 60000). */
  MAX_TIMEOUT_MS?: string;
  /** Highest `deadlineMs` per batch (default 120000). */
  MAX_DEADLINE_MS?: string;
  /** Highest `maxBytes` read per URL (default 5242880 = 5 MiB). */
  MAX_BYTES?: string;
  /** Highest `retries` (default 5). */
  MAX_RETRIES?: string;
  /** Highest `maxRedirects` (default 10). */
  MAX_REDIRECTS?: string;
  /** Highest `snippetLength` in characters (default 5000). */
  MAX_SNIPPET_LENGTH?: string;
}
