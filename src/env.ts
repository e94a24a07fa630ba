/**
 * The Worker's bindings. Every value in `[vars]` arrives as a string; the
 * service-wide maxima are parsed by `limitsFromEnv` in options.ts, which fails
 * loudly on a value that is not a positive integer.
 */
export interface Env {
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
