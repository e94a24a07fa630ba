/**
 * The JSON shape of a result: one home for the types every layer shares.
 * Extraction fills `PageFields`, the engine wraps them into a `PageResult`,
 * a batch counts them in `BatchStats`, and watch lists store and compare them.
 */

/** Every code a result's `error.code` can take; the README documents each. */
export const ERROR_CODES = [
  'invalid_url',
  'blocked',
  'timeout',
  'deadline',
  'network',
  'http_status',
  'too_many_redirects',
  'bad_redirect',
  'challenge',
  'robots_disallowed',
  'aborted',
  'cancelled',
  'unprocessed',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * What each error code means, in a sentence: for people reading a result (the
 * playground's error rows, the OpenAPI document). README "Errors" has the
 * whole story; a code without a line here is a compile error.
 */
export const ERROR_HELP: Record<ErrorCode, string> = {
  invalid_url: 'Not a URL fanout can fetch: not http(s), malformed, or with credentials in it.',
  blocked: 'The URL or a redirect hop points at a private, loopback or otherwise internal address, which fanout refuses.',
  timeout: 'No response headers, or no end of body, within timeoutMs.',
  deadline: "The batch's deadlineMs passed before this URL finished or started.",
  network: 'Connection refused or reset, a DNS or TLS failure, or a body that broke off.',
  http_status: 'The final status was not 2xx; status holds it (408, 429 and 5xx may pass if asked again later).',
  too_many_redirects: 'More than maxRedirects hops, or a redirect loop.',
  bad_redirect: 'A redirect without a Location header.',
  challenge: 'A bot-protection service answered with a challenge or captcha instead of the page.',
  robots_disallowed: "The host's robots.txt refuses the URL to fanout (respectRobots); it was never requested.",
  aborted: 'The client went away before the result.',
  cancelled: 'The job was cancelled before this URL ran.',
  unprocessed: "This URL's chunk of the job failed every delivery to a consumer.",
};

/** The JSON shape of a failure inside a result. */
export interface ResultError {
  code: ErrorCode;
  message: string;
  /** Whether asking again later may succeed (transient network trouble, 5xx, 429, timeouts). */
  retryable: boolean;
  /** For `challenge`: the bot-protection service that answered, when fanout can tell (src/challenge.ts). */
  vendor?: string;
  /** For `http_status` with a retryable status: the wait the origin's Retry-After asked for, in ms. */
  retryAfterMs?: number;
}

/**
 * What a caller may ask for beyond the default fields (`formats`); each adds
 * its field(s) to the result, and none costs anything unless asked for.
 */
export const FORMATS = ['markdown', 'text', 'html', 'links', 'jsonld', 'feed'] as const;
export type Format = (typeof FORMATS)[number];

/** The formats that write the page's content (its main content unless `onlyMainContent` is false). */
export const CONTENT_FORMATS = ['markdown', 'text', 'html'] as const satisfies readonly Format[];
export type ContentFormat = (typeof CONTENT_FORMATS)[number];

/** One `<a href>` of a page (the `links` format). */
export interface PageLink {
  /** Absolute http(s) URL, without its fragment. */
  url: string;
  /** The anchor's text, else its `title` or `aria-label`; null when it has none. */
  text: string | null;
  /** The `rel` attribute's tokens, lower case, space separated; null without one. */
  rel: string | null;
  /** True when the link stays on the page's site (the final URL's host, a leading `www.` ignored). */
  internal: boolean;
}

/** One item of a feed (the `feed` format). */
export interface FeedItem {
  id: string | null;
  title: string | null;
  link: string | null;
  /** ISO 8601. */
  published: string | null;
  updated: string | null;
  author: string | null;
  /** Plain text, at most 1,000 characters. */
  summary: string | null;
}

/** A feed body read into one shape, whatever its format (the `feed` format). */
export interface Feed {
  format: 'rss' | 'rdf' | 'atom' | 'json';
  title: string | null;
  link: string | null;
  description: string | null;
  updated: string | null;
  items: FeedItem[];
}

/** A feed a page advertises with `<link rel="alternate">`. */
export interface FeedLink {
  url: string;
  /** Its media type as the page gives it (`application/rss+xml`, `application/atom+xml`, `application/feed+json`, ...). */
  type: string;
  title: string | null;
}

/** The metadata fields whose source `provenance` names. */
export const METADATA_FIELDS = ['title', 'description', 'lang', 'canonical', 'image', 'siteName', 'author', 'published', 'modified', 'icon', 'type'] as const;
export type MetadataField = (typeof METADATA_FIELDS)[number];

/** Per field: the source that gave the value, and every source that offered one, in the order they are tried. */
export type Sources = Partial<Record<MetadataField, { from: string; candidates: { from: string; value: string }[] }>>;

/** The fields fanout reads from a page. */
export interface PageFields {
  title: string | null;
  description: string | null;
  snippet: string | null;
  lang: string | null;
  canonical: string | null;
  image: string | null;
  siteName: string | null;
  /** People who wrote the page, joined with ", " (never "By ...", never a URL). */
  author: string | null;
  /** ISO 8601: a date (`2024-03-05`) or a UTC date-time. */
  published: string | null;
  modified: string | null;
  /** The site's icon: the best `<link rel=icon|apple-touch-icon>`, else `/favicon.ico` (not fetched). */
  icon: string | null;
  /** og:type, or the JSON-LD @type of the page's main entity. */
  type: string | null;
  /** Feeds the page advertises. */
  feeds: FeedLink[];
  /** Hash of all visible text (only when `hashText` is asked for), to notice changes past the snippet. */
  textHash?: string;
  /** Where each metadata field came from (only with `provenance`). */
  sources?: Sources;
  /** Every link of the page, deduplicated, in page order (format `links`, HTML bodies). */
  links?: PageLink[];
  /** Every JSON-LD block of the page, parsed (format `jsonld`, HTML bodies). */
  jsonld?: unknown[];
  /** JSON-LD blocks that did not parse and were skipped (format `jsonld`). */
  jsonldSkipped?: number;
  /** The feed, when the body is one (format `feed`); null for any other body. */
  feed?: Feed | null;
  /** The main content as GitHub-flavoured Markdown (format `markdown`); null when the body has none. */
  markdown?: string | null;
  /** The main content as plain text, blocks separated by blank lines (format `text`). */
  text?: string | null;
  /** The main content as cleaned HTML (format `html`). */
  html?: string | null;
  /** True when a content format was cut at `maxContentChars` (present with any content format). */
  contentTruncated?: boolean;
}

/** What the result cache did for a URL (present when the request has a `maxAge`). */
export interface ResultCacheInfo {
  status: 'hit' | 'miss' | 'stale' | 'bypass';
  /** How old the answer is, for a hit or a stale answer; else null. */
  ageMs: number | null;
}

/** A page that gave nothing (a binary body, no body, a failure). */
export const EMPTY_FIELDS: Readonly<PageFields> = {
  title: null,
  description: null,
  snippet: null,
  lang: null,
  canonical: null,
  image: null,
  siteName: null,
  author: null,
  published: null,
  modified: null,
  icon: null,
  type: null,
  feeds: [],
};

/** One URL's answer. */
export interface PageResult extends PageFields {
  /** The URL as the caller gave it. */
  url: string;
  /** What the result cache did (only when the request has a `maxAge`). */
  cache?: ResultCacheInfo;
  /** True only for a final 2xx whose body was read. */
  ok: boolean;
  status: number | null;
  finalUrl: string | null;
  redirects: number;
  contentType: string | null;
  /** Canonical WHATWG encoding name the text was decoded with; null for binary bodies. */
  charset: string | null;
  /** The final response's ETag and Last-Modified headers (watch lists send them back as validators). */
  etag: string | null;
  lastModified: string | null;
  /** Body bytes read (after decompression). */
  bytes: number;
  /** True unless fanout saw the body's end. */
  truncated: boolean;
  attempts: number;
  /** From the first request sent to the result (queue time excluded). */
  durationMs: number;
  timings: {
    /** Waiting for a pool slot, a lane and a header slot before the first request went out. */
    queuedMs: number;
    /** From the final request being sent to its response headers. */
    ttfbMs: number | null;
    /** Reading and extracting the final body. */
    bodyMs: number | null;
  };
  error: ResultError | null;
}

/** Totals for a batch. */
export interface BatchStats {
  total: number;
  ok: number;
  failed: number;
  /** Distinct URLs whose fetch started (duplicates are fetched once; URLs still queued at the deadline are not counted). */
  fetched: number;
  durationMs: number;
  /** True when the deadline cut the batch short. */
  deadlineReached: boolean;
  /** Invocations the batch ran in: 1, or 1 + its shards when `concurrency` above 6 scaled it out. */
  shards: number;
}

/** A batch's answer: one result per input URL, in input order, and its totals. */
export interface BatchResult {
  results: PageResult[];
  stats: BatchStats;
}

/** A result with nothing known yet: every field present, empty, then `extra`. */
export function blankResult(url: string, extra: Partial<PageResult> = {}): PageResult {
  return {
    url,
    ok: false,
    status: null,
    finalUrl: null,
    redirects: 0,
    contentType: null,
    charset: null,
    etag: null,
    lastModified: null,
    ...EMPTY_FIELDS,
    bytes: 0,
    truncated: false,
    attempts: 0,
    durationMs: 0,
    timings: { queuedMs: 0, ttfbMs: null, bodyMs: null },
    error: null,
    ...extra,
  };
}

/** A result for a URL that failed before anything was read (a refused URL, the deadline, a network error). */
export function failedResult(url: string, failure: { toJSON(): ResultError }, extra: Partial<PageResult> = {}): PageResult {
  return blankResult(url, { error: failure.toJSON(), ...extra });
}
