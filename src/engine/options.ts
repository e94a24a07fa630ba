import { version } from '../../package.json';
import { CONTENT_FORMATS, type Format } from '../result';

/**
 * The engine's own options: what a batch runs with, the defaults a caller gets
 * by leaving an option out, the service-wide maxima a deployment may lower or
 * raise, and the fixed constants. The engine owns them (as lychee's library owns
 * its DEFAULT_*); the HTTP schema (src/schema.ts) and the env parsing
 * (src/config.ts) import them, never the other way round.
 */

/** The service version, from package.json: /health reports it and the default User-Agent names it. */
export const VERSION: string = version;

/** The User-Agent sent to origins unless the deployment sets USER_AGENT: names fanout and where to read about it. */
export const DEFAULT_USER_AGENT = `fanout/${VERSION} (+https://github.com/fanout-dev/fanout)`;

/** Per-request defaults. Each is the value a caller gets by leaving the option out. */
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
  /** Results name their metadata sources only when asked: `sources` is for link previews that choose. */
  provenance: false,
  /** robots.txt is honoured only when asked (or when the deployment forces it with RESPECT_ROBOTS). */
  respectRobots: false,
  /** Content formats (markdown, text, html) give the page's main content, not its whole body. */
  onlyMainContent: true,
  /** Characters of each content format: a long article (about 15,000 words) fits. */
  maxContentChars: 100_000,
} as const;

/**
 * `maxBytes` when a content format (markdown, text, html) is asked for and
 * `maxBytes` is not: many article pages carry 200 KB or more of markup and
 * scripts before the story, which 256 KiB would cut off.
 */
export const CONTENT_MAX_BYTES = 2_097_152;

/** Service-wide maxima; a deployment sets them with the vars named in `LIMIT_VARS` (src/config.ts). */
export interface Limits {
  maxUrls: number;
  maxConcurrency: number;
  maxTimeoutMs: number;
  maxDeadlineMs: number;
  maxBytes: number;
  maxRetries: number;
  maxRedirects: number;
  maxSnippetLength: number;
  maxContentChars: number;
  maxAge: number;
}

/** The maxima when a var is not set: the one place these numbers are written. */
export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxUrls: 100,
  maxConcurrency: 50,
  maxTimeoutMs: 60_000,
  maxDeadlineMs: 120_000,
  maxBytes: 5_242_880,
  maxRetries: 5,
  maxRedirects: 10,
  maxSnippetLength: 5_000,
  maxContentChars: 1_000_000,
  maxAge: 86_400_000,
};

/** Engine constants that are not per-request options. */
export const ENGINE = {
  /**
   * Workers let 6 outgoing connections wait for response headers per invocation;
   * a 7th waits in the runtime's queue (docs/workers-platform.md). fanout gates
   * the header phase itself at 6 so a URL's timeout starts only when it really
   * gets a slot.
   */
  headerSlots: 6,
  /** Longest `Retry-After` fanout will wait; a longer one ends the retries (politeness over speed). */
  retryAfterMaxMs: 10_000,
  /** Exponential backoff base and ceiling, with equal jitter. */
  backoffBaseMs: 250,
  backoffMaxMs: 5_000,
  /**
   * How long a scale-out shard may take to answer its WebSocket upgrade. A
   * Durable Object starts in milliseconds; one that has not answered by then
   * is given up, and its URLs run in the calling invocation instead.
   */
  shardConnectTimeoutMs: 5_000,
} as const;

/** The options a caller may set (every one optional), as the HTTP schema and watch lists hand them in. */
export interface RequestOptions {
  concurrency?: number | undefined;
  perHost?: number | undefined;
  timeoutMs?: number | undefined;
  deadlineMs?: number | undefined;
  maxBytes?: number | undefined;
  retries?: number | undefined;
  maxRedirects?: number | undefined;
  snippetLength?: number | undefined;
  /** Take the snippet from the text of the elements this CSS selector matches. */
  selector?: string | undefined;
  /** Take the window of text that best matches these words. */
  query?: string | undefined;
  /** Add `sources`: which tag gave each metadata field, and the other candidates. */
  provenance?: boolean | undefined;
  /** More than the default fields: see FORMATS (src/result.ts). */
  formats?: readonly Format[] | undefined;
  /** Content formats: the main content only (true), or the whole body. */
  onlyMainContent?: boolean | undefined;
  /** Read each host's robots.txt and skip what it refuses (`robots_disallowed`); honour its Crawl-delay. */
  respectRobots?: boolean | undefined;
  /** Answer from the result cache when its result is younger than this (ms); 0 fetches fresh. */
  maxAge?: number | undefined;
  /** Characters of each content format; longer content is cut at a block boundary. */
  maxContentChars?: number | undefined;
}

/** Settings of the deployment that are not request options. */
export interface ServiceSettings {
  userAgent: string;
  /** Let loopback and private addresses through the guard (local development and tests only). */
  allowPrivate: boolean;
  /** robots.txt is honoured for every request, whatever `respectRobots` says (RESPECT_ROBOTS). */
  forceRobots?: boolean | undefined;
  /** `maxAge` for requests that give none (CACHE_MAX_AGE_MS); 0 or unset: no cache unless asked. */
  defaultMaxAge?: number | undefined;
}

/** Options the engine runs with: every value filled in and checked. */
export interface FetchOptions extends ServiceSettings {
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
  provenance: boolean;
  formats: readonly Format[];
  onlyMainContent: boolean;
  maxContentChars: number;
  respectRobots: boolean;
  /** The result cache's `maxAge` (ms); undefined when the request is outside the cache (no `cache` field). */
  maxAge?: number | undefined;
  /** Hash all visible text into `textHash` (watch lists; not a request option). */
  hashText?: boolean;
}

/**
 * Fills in defaults: the one normalize step shared by every entry point (HTTP,
 * cron). A deployment may set a maximum below a default; the default then gives way.
 */
export function normalizeOptions(request: RequestOptions, settings: ServiceSettings, limits: Limits = DEFAULT_LIMITS): FetchOptions {
  return {
    concurrency: request.concurrency ?? Math.min(DEFAULTS.concurrency, limits.maxConcurrency),
    perHost: request.perHost ?? DEFAULTS.perHost,
    timeoutMs: request.timeoutMs ?? Math.min(DEFAULTS.timeoutMs, limits.maxTimeoutMs),
    deadlineMs: request.deadlineMs ?? Math.min(DEFAULTS.deadlineMs, limits.maxDeadlineMs),
    maxBytes: request.maxBytes ?? Math.min(wantsContent(request) ? CONTENT_MAX_BYTES : DEFAULTS.maxBytes, limits.maxBytes),
    retries: request.retries ?? Math.min(DEFAULTS.retries, limits.maxRetries),
    maxRedirects: request.maxRedirects ?? Math.min(DEFAULTS.maxRedirects, limits.maxRedirects),
    snippetLength: request.snippetLength ?? Math.min(DEFAULTS.snippetLength, limits.maxSnippetLength),
    selector: request.selector,
    query: request.query,
    provenance: request.provenance ?? DEFAULTS.provenance,
    formats: request.formats ?? [],
    onlyMainContent: request.onlyMainContent ?? DEFAULTS.onlyMainContent,
    maxContentChars: request.maxContentChars ?? Math.min(DEFAULTS.maxContentChars, limits.maxContentChars),
    respectRobots: settings.forceRobots === true || (request.respectRobots ?? DEFAULTS.respectRobots),
    maxAge: request.maxAge ?? (settings.defaultMaxAge ? Math.min(settings.defaultMaxAge, limits.maxAge) : undefined),
    userAgent: settings.userAgent,
    allowPrivate: settings.allowPrivate,
  };
}

function wantsContent(request: RequestOptions): boolean {
  return request.formats?.some((format) => (CONTENT_FORMATS as readonly Format[]).includes(format)) ?? false;
}
