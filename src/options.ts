import * as z from 'zod/mini';
import type { Env } from './env';

/** The service version reported by /health and in the default User-Agent. */
export const VERSION = '0.1.0';

/**
 * Per-request defaults. Each is the value a caller gets by leaving the option out.
 */
export const DEFAULTS = {
  /** Workers allow 6 connections waiting for headers per invocation, so more buys little by default. */
  concurrency: 6,
  /** No per-host bound beyond `concurrency` unless asked (lychee-style politeness is opt-in). */
  perHost: undefined as number | undefined,
  /** Per attempt, headers and body both: long enough for slow pages, short enough to keep a batch moving. */
  timeoutMs: 10_000,
  /** Whole batch: the answer goes out by then with whatever finished. */
  deadlineMs: 30_000,
  /** 256 KiB holds the head and the first screens of nearly every page. */
  maxBytes: 262_144,
  /** One more try for transient failures (network errors, 408/429/5xx). */
  retries: 1,
  /** Browsers allow 20; 5 covers http->https->www->locale chains. */
  maxRedirects: 5,
  /** Characters of snippet text: a link preview's worth. */
  snippetLength: 300,
} as const;

/** Service-wide maxima, from wrangler.toml [vars]. */
export interface Limits {
  maxUrls: number;
  maxConcurrency: number;
  maxTimeoutMs: number;
  maxDeadlineMs: number;
  maxBytes: number;
  maxRetries: number;
  maxRedirects: number;
  maxSnippetLength: number;
}

/** The maxima used when a var is not set. */
export const DEFAULT_LIMITS: Limits = {
  maxUrls: 100,
  maxConcurrency: 50,
  maxTimeoutMs: 60_000,
  maxDeadlineMs: 120_000,
  maxBytes: 5_242_880,
  maxRetries: 5,
  maxRedirects: 10,
  maxSnippetLength: 5_000,
};

/** Engine constants that are not per-request options. */
export const ENGINE = {
  /**
   * Workers let 6 outgoing connections wait for response headers per invocation;
   * a 7th waits in the runtime's queue. fanout gates the header phase itself at 6
   * so a URL's timeout starts only when it really gets a slot.
   */
  headerSlots: 6,
  /** Longest `Retry-After` fanout will wait; a longer one ends the retries (politeness over speed). */
  retryAfterMaxMs: 10_000,
  /** Exponential backoff base and ceiling, with equal jitter. */
  backoffBaseMs: 250,
  backoffMaxMs: 5_000,
  /** Bytes scanned for `<meta charset>` (the HTML spec's prescan uses 1024; some pages put it later). */
  charsetPrescanBytes: 4096,
  /** Request body ceiling for POST /v1/fetch. */
  maxRequestBytes: 1_048_576,
  /**
   * How long a scale-out shard may take to answer its WebSocket upgrade. A
   * Durable Object starts in milliseconds; one that has not answered by then
   * is given up, and its URLs run in the calling invocation instead.
   */
  shardConnectTimeoutMs: 5_000,
} as const;

/** Options the engine runs with: every value filled in and checked. */
export interface FetchOptions {
  concurrency: number;
  perHost: number | undefined;
  timeoutMs: number;
  deadlineMs: number;
  maxBytes: number;
  retries: number;
  maxRedirects: number;
  snippetLength: number;
  selector: string | undefined;
  query: string | undefined;
  userAgent: string;
  allowPrivate: boolean;
  /** Hash all visible text into `textHash` (watch lists; not a request option). */
  hashText?: boolean;
}

const LIMIT_VARS: Record<keyof Limits, keyof Env> = {
  maxUrls: 'MAX_URLS',
  maxConcurrency: 'MAX_CONCURRENCY',
  maxTimeoutMs: 'MAX_TIMEOUT_MS',
  maxDeadlineMs: 'MAX_DEADLINE_MS',
  maxBytes: 'MAX_BYTES',
  maxRetries: 'MAX_RETRIES',
  maxRedirects: 'MAX_REDIRECTS',
  maxSnippetLength: 'MAX_SNIPPET_LENGTH',
};

/** Service misconfiguration: names the var and the value it got. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const limitsCache = new WeakMap<object, Limits>();

/** Reads the maxima from the environment; throws ConfigError naming a bad var. */
export function limitsFromEnv(env: Env): Limits {
  const cached = limitsCache.get(env);
  if (cached) return cached;
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, name] of Object.entries(LIMIT_VARS) as [keyof Limits, keyof Env][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    const min = key === 'maxRetries' || key === 'maxRedirects' || key === 'maxSnippetLength' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new ConfigError(`Expected ${name} to be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    }
    limits[key] = value;
  }
  limitsCache.set(env, limits);
  return limits;
}

/** The default User-Agent: names fanout and where to read about it. */
export const DEFAULT_USER_AGENT = `fanout/${VERSION} (+https://github.com/fanout-dev/fanout)`;

/** Service-level settings that are not request options. */
export function serviceSettings(env: Env): { userAgent: string; allowPrivate: boolean } {
  return {
    userAgent: env.USER_AGENT?.trim() || DEFAULT_USER_AGENT,
    allowPrivate: env.ALLOW_PRIVATE_HOSTS?.trim().toLowerCase() === 'true',
  };
}

/** True when lol-html (HTMLRewriter) accepts the selector. */
function isValidSelector(selector: string): boolean {
  try {
    new HTMLRewriter().on(selector, {});
    return true;
  } catch {
    return false;
  }
}

/** An optional integer option in [min, max]; the messages name the option. */
const int = (name: string, min: number, max: number) =>
  z.optional(
    z.int({ error: `${name} must be an integer` }).check(
      z.minimum(min, `${name} must be at least ${min}`),
      z.maximum(max, `${name} must be at most ${max}`),
    ),
  );

/**
 * Builds the request schema for these maxima. zod/mini keeps the Worker bundle
 * small (about 20 KB of zod instead of 90+ KB for the chained API).
 */
export function buildRequestSchema(limits: Limits) {
  return z.strictObject({
    urls: z
      .array(
        z.string({ error: 'each URL must be a string' }).check(z.maxLength(8192, 'a URL must be at most 8192 characters')),
        { error: (issue) => (issue.input === undefined ? 'urls is required' : 'urls must be an array of strings') },
      )
      .check(z.minLength(1, 'urls must hold at least one URL'), z.maxLength(limits.maxUrls, `at most ${limits.maxUrls} URLs per batch`)),
    concurrency: int('concurrency', 1, limits.maxConcurrency),
    perHost: int('perHost', 1, limits.maxConcurrency),
    timeoutMs: int('timeoutMs', 100, limits.maxTimeoutMs),
    deadlineMs: int('deadlineMs', 100, limits.maxDeadlineMs),
    maxBytes: int('maxBytes', 1, limits.maxBytes),
    retries: int('retries', 0, limits.maxRetries),
    maxRedirects: int('maxRedirects', 0, limits.maxRedirects),
    snippetLength: int('snippetLength', 0, limits.maxSnippetLength),
    selector: z.optional(
      z.string({ error: 'selector must be a string' }).check(
        z.trim(),
        z.minLength(1, 'selector must not be empty'),
        z.maxLength(1024, 'selector must be at most 1024 characters'),
        z.refine(isValidSelector, 'selector is not a CSS selector HTMLRewriter supports'),
      ),
    ),
    query: z.optional(
      z.string({ error: 'query must be a string' }).check(
        z.trim(),
        z.minLength(1, 'query must not be empty'),
        z.maxLength(1024, 'query must be at most 1024 characters'),
      ),
    ),
  }, { error: 'the request body must be a JSON object' });
}

export type FetchRequest = z.infer<ReturnType<typeof buildRequestSchema>>;

const NUMERIC_KEYS = new Set([
  'concurrency',
  'perHost',
  'timeoutMs',
  'deadlineMs',
  'maxBytes',
  'retries',
  'maxRedirects',
  'snippetLength',
]);

/**
 * Maps GET query parameters onto the POST body shape: `url` (repeatable) becomes
 * `urls`, numeric options are converted when they look like numbers (otherwise
 * left as strings so the schema names the field).
 */
export function queryToRequest(query: Record<string, string | string[]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    if (key === 'url' || key === 'urls') {
      const list = Array.isArray(value) ? value : [value];
      out.urls = [...((out.urls as string[] | undefined) ?? []), ...list];
    } else if (NUMERIC_KEYS.has(key)) {
      const one = Array.isArray(value) ? value[value.length - 1]! : value;
      out[key] = /^-?\d+(\.\d+)?$/.test(one.trim()) ? Number(one) : one;
    } else {
      out[key] = Array.isArray(value) ? value[value.length - 1] : value;
    }
  }
  return out;
}

const schemaCache = new WeakMap<Limits, ReturnType<typeof buildRequestSchema>>();

/** The request schema for an environment (built once per set of limits). */
export function requestSchemaFor(env: Env) {
  const limits = limitsFromEnv(env);
  let schema = schemaCache.get(limits);
  if (!schema) {
    schema = buildRequestSchema(limits);
    schemaCache.set(limits, schema);
  }
  return schema;
}

/** Fills in defaults: the one normalize step shared by every entry point (HTTP, cron). */
export function normalizeOptions(
  request: Omit<FetchRequest, 'urls'>,
  settings: { userAgent: string; allowPrivate: boolean },
  limits: Limits = DEFAULT_LIMITS,
): FetchOptions {
  // A deployment may set a maximum below a default; the default then gives way.
  return {
    concurrency: request.concurrency ?? Math.min(DEFAULTS.concurrency, limits.maxConcurrency),
    perHost: request.perHost ?? DEFAULTS.perHost,
    timeoutMs: request.timeoutMs ?? Math.min(DEFAULTS.timeoutMs, limits.maxTimeoutMs),
    deadlineMs: request.deadlineMs ?? Math.min(DEFAULTS.deadlineMs, limits.maxDeadlineMs),
    maxBytes: request.maxBytes ?? Math.min(DEFAULTS.maxBytes, limits.maxBytes),
    retries: request.retries ?? Math.min(DEFAULTS.retries, limits.maxRetries),
    maxRedirects: request.maxRedirects ?? Math.min(DEFAULTS.maxRedirects, limits.maxRedirects),
    snippetLength: request.snippetLength ?? Math.min(DEFAULTS.snippetLength, limits.maxSnippetLength),
    selector: request.selector,
    query: request.query,
    userAgent: settings.userAgent,
    allowPrivate: settings.allowPrivate,
  };
}
