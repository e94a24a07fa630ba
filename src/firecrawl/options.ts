import { DEFAULTS, type Limits, type RequestOptions } from '../engine/options';
import { ProblemError } from '../errors';
import { checkUrl } from '../guard';
import type { Format } from '../result';

/**
 * Firecrawl's scrape options (v1 and v2 bodies, as @mendable/firecrawl-js
 * sends them) turned into fanout's request options. Every option Firecrawl
 * documents has a rule here: honoured (mapped onto fanout's option), accepted
 * because its value is what fanout always does, or refused with a 400 that
 * names it. An option no rule knows is refused by name too: nothing is ever
 * silently ignored.
 */

export type FirecrawlVersion = 'v1' | 'v2';

/** Firecrawl formats fanout writes, and the fanout format each one is. */
const FORMATS: Readonly<Record<string, Format>> = { markdown: 'markdown', html: 'html', links: 'links' };

/** Why each Firecrawl format fanout does not write is refused. */
const NO_FORMAT: Readonly<Record<string, string>> = {
  rawHtml: 'fanout keeps no raw HTML (it streams the body through its extractor); ask for html, the cleaned main content',
  screenshot: 'fanout runs no browser, so it takes no screenshots',
  'screenshot@fullPage': 'fanout runs no browser, so it takes no screenshots',
  json: 'fanout runs no language model, so it extracts no JSON',
  extract: 'fanout runs no language model, so it extracts no JSON',
  summary: 'fanout runs no language model, so it writes no summaries',
  changeTracking: "fanout's change tracking is its watch lists (/v1/watchlists), not a format",
};

/** A 400 naming `field`. */
function refuse(field: string, message: string): never {
  throw new ProblemError('invalid-request', `${field}: ${message}`, { errors: [{ field, message }] });
}

function bool(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') refuse(field, `${field} must be true or false`);
  return value;
}

function int(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) refuse(field, `${field} must be an integer`);
  if (value < min) refuse(field, `${field} must be at least ${min}`);
  if (value > max) refuse(field, `${field} must be at most ${max}`);
  return value;
}

function array(field: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) refuse(field, `${field} must be an array`);
  return value;
}

/** What the rules write as they read the body. */
interface Reading {
  version: FirecrawlVersion;
  limits: Limits;
  options: RequestOptions;
  /** Options that only make sense once the whole body is read (checked by `finish`). */
  storeInCache?: boolean;
  zeroDataRetention?: boolean;
  /** The scrape's URL, as read. */
  url?: string;
  /** The batch's URLs, as given (checked once the whole body is read). */
  urls?: string[];
  /** Whether a batch leaves invalid URLs out (and lists them) instead of refusing the request. */
  ignoreInvalid?: boolean;
  /** The batch's URL cap. */
  maxUrls?: number;
  /** The deployment's guard setting, for the URL checks. */
  policy?: UrlPolicy;
}

type Rule = (value: unknown, field: string, reading: Reading) => void;

/** Accepted when `ok(value)` holds (fanout already behaves so); otherwise a 400 saying `why`. */
const acceptIf =
  (ok: (value: unknown) => boolean, why: string): Rule =>
  (value, field) => {
    if (!ok(value)) refuse(field, why);
  };
const isFalse = (value: unknown) => value === false;
const isEmpty = (value: unknown) => (Array.isArray(value) && value.length === 0) || (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
const refused = (why: string): Rule => acceptIf(() => false, why);
const label: Rule = (value, field) => {
  if (typeof value !== 'string') refuse(field, `${field} must be a string`);
};
const NO_BROWSER = 'fanout fetches pages over HTTP and runs no browser';
const NO_LLM = 'fanout runs no language model';

/** Rules for the scrape options both versions share. */
const SHARED: Readonly<Record<string, Rule>> = {
  formats(value, field, reading) {
    const formats = new Set<Format>();
    array(field, value).forEach((item, i) => {
      const name = typeof item === 'object' && item !== null && 'type' in item ? (item as { type: unknown }).type : item;
      const at = `${field}[${i}]`;
      if (typeof name !== 'string') refuse(at, 'a format is a name or an object with a type');
      if (typeof item === 'object' && Object.keys(item as object).length > 1 && FORMATS[name]) refuse(at, `format ${JSON.stringify(name)} takes no options`);
      const format = FORMATS[name];
      if (!format) refuse(at, `format ${JSON.stringify(name)} is not supported: ${NO_FORMAT[name] ?? 'fanout writes markdown, html and links'}`);
      formats.add(format);
    });
    reading.options.formats = [...formats];
  },
  onlyMainContent(value, field, reading) {
    reading.options.onlyMainContent = bool(field, value);
  },
  includeTags: acceptIf(isEmpty, "fanout cannot keep only chosen tags in the content (its selector option picks the snippet, not the content); send no includeTags"),
  excludeTags: acceptIf(isEmpty, 'fanout cannot remove chosen tags from the content (onlyMainContent already drops navigation, banners, sidebars and footers); send no excludeTags'),
  timeout(value, field, reading) {
    const timeout = int(field, value, 1000, reading.limits.maxTimeoutMs);
    reading.options.timeoutMs = timeout;
    reading.options.deadlineMs = Math.min(reading.limits.maxDeadlineMs, Math.max(DEFAULTS.deadlineMs, timeout));
  },
  maxAge(value, field, reading) {
    // A result younger than the deployment's limit is younger than any longer maxAge too: the cap honours the request.
    reading.options.maxAge = Math.min(int(field, value, 0, Number.MAX_SAFE_INTEGER), reading.limits.maxAge);
  },
  storeInCache(value, field, reading) {
    reading.storeInCache = bool(field, value);
  },
  headers: acceptIf(isEmpty, 'fanout sends its own request headers; custom headers are not supported'),
  waitFor: acceptIf((value) => value === 0, `${NO_BROWSER}: there is nothing to wait for; send waitFor 0 or none`),
  actions: acceptIf(isEmpty, `${NO_BROWSER}, so it cannot click, type, scroll or screenshot`),
  mobile: acceptIf(isFalse, `${NO_BROWSER}, so it has no mobile viewport`),
  proxy: acceptIf((value) => value === 'basic' || value === 'auto', 'fanout fetches from Cloudflare directly; only "basic" (and "auto", which is basic here) are supported'),
  location: refused('fanout fetches from the Cloudflare location that runs it; it cannot choose a country or languages'),
  skipTlsVerification: acceptIf(isFalse, 'Workers always verify TLS certificates'),
  blockAds: (value, field) => void bool(field, value), // fanout loads no scripts, frames or images: there are no ads to block or to let through
  removeBase64Images: acceptIf((value) => value === true, 'fanout always leaves base64 (data:) images out of its content'),
  auditMetadata: refused('fanout has no audit log for it; its logs name the API client'),
  origin: label,
  integration: label,
};

/** Rules only v1 bodies have. */
const V1: Readonly<Record<string, Rule>> = {
  parsePDF: acceptIf(isFalse, 'fanout does not parse PDFs (it reads HTML, XML, JSON and text)'),
  extract: refused(NO_LLM),
  jsonOptions: refused(NO_LLM),
  changeTrackingOptions: refused("fanout's change tracking is its watch lists (/v1/watchlists)"),
  agent: refused(NO_LLM),
};

/** Rules only v2 bodies have. */
const V2: Readonly<Record<string, Rule>> = {
  parsers: acceptIf(isEmpty, 'fanout does not parse PDFs or images; send parsers: [] or none'),
  fastMode: (value, field) => void bool(field, value), // fanout's fetch is always the fast one: one HTTP request, no browser
  useMock: refused('fanout has no mock responses'),
  minAge: refused('fanout cannot promise an answer from its cache only'),
  lockdown: acceptIf(isFalse, 'fanout has no lockdown mode'),
  redactPII: acceptIf(isFalse, `${NO_LLM}, so it redacts nothing`),
  threatProtection: refused('fanout has no threat protection policy (its guard refuses private addresses)'),
  profile: refused(`${NO_BROWSER}, so it has no browser profiles`),
  domainTools: acceptIf(isFalse, 'fanout has no domain tools'),
  toolDetail: refused('fanout has no domain tools'),
  onlyCleanContent: acceptIf(isFalse, `${NO_LLM}, so it cannot clean content further`),
  safeMode: acceptIf(isFalse, 'fanout has no safe mode'),
};

/** Firecrawl's `http://` default for a URL written without a scheme (`example.com/page`). */
export function withScheme(url: string): string {
  return /^[a-z][a-z\d+.-]*:\/\//i.test(url) ? url : `http://${url}`;
}

/** Reads every key of `body` with `rules`; an unknown key is refused by name. */
function read(body: Record<string, unknown>, rules: Readonly<Record<string, Rule>>, reading: Reading): void {
  const version = reading.version === 'v1' ? V1 : V2;
  for (const [key, value] of Object.entries(body)) {
    const rule = Object.hasOwn(rules, key) ? rules[key] : Object.hasOwn(SHARED, key) ? SHARED[key] : Object.hasOwn(version, key) ? version[key] : undefined;
    if (!rule) refuse(key, `unknown option ${JSON.stringify(key)} for Firecrawl's ${reading.version} API`);
    if (value !== undefined) rule(value, key, reading);
  }
}

/** The options after the whole body: Firecrawl's defaults where it said nothing, and the checks that need more than one option. */
function finish(reading: Reading): RequestOptions {
  const { options } = reading;
  options.formats ??= ['markdown'];
  // Firecrawl documents carry no snippet; leaving it out keeps results (and job storage) small.
  options.snippetLength = 0;
  const cached = (options.maxAge ?? 0) > 0;
  if (reading.storeInCache === false) {
    if (cached) refuse('storeInCache', 'fanout keeps every result it may answer from its cache; with storeInCache false send no maxAge (or 0)');
    options.maxAge = 0;
  }
  if (reading.zeroDataRetention === true) {
    if (cached) refuse('zeroDataRetention', 'a result answered from the cache is kept in it; with zeroDataRetention send no maxAge (or 0)');
    options.maxAge = 0;
  }
  return options;
}

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) refuse('body', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Where the URL checks come from: the deployment's guard setting. */
export interface UrlPolicy {
  allowPrivate: boolean;
}

/** Rules only scrape bodies have. */
const SCRAPE: Readonly<Record<string, Rule>> = {
  url(value, field, reading) {
    if (typeof value !== 'string' || value.trim() === '') refuse(field, 'url must be a non-empty string');
    const url = withScheme(value.trim());
    const verdict = checkUrl(url, reading.policy!);
    if (!verdict.ok) refuse(field, verdict.message);
    reading.url = url;
  },
  zeroDataRetention(value, field, reading) {
    reading.zeroDataRetention = bool(field, value);
  },
};

/** POST /v1/scrape and /v2/scrape: the one URL and fanout's options; throws a 400 naming what it cannot take. */
export function scrapeRequest(body: unknown, version: FirecrawlVersion, limits: Limits, policy: UrlPolicy): { url: string; options: RequestOptions } {
  const reading: Reading = { version, limits, options: {}, policy };
  read(object(body), SCRAPE, reading);
  if (reading.url === undefined) refuse('url', 'url is required');
  return { url: reading.url, options: finish(reading) };
}

/** Rules only batch bodies have. */
const BATCH: Readonly<Record<string, Rule>> = {
  urls(value, field, reading) {
    const urls = array(field, value);
    if (urls.length === 0) refuse(field, 'urls must hold at least one URL');
    const max = reading.maxUrls!;
    if (urls.length > max) throw new ProblemError('too-many-urls', `at most ${max} URLs per batch`, { errors: [{ field, message: `at most ${max} URLs per batch` }] });
    reading.urls = urls.map((url, i) => (typeof url === 'string' ? url.trim() : refuse(`${field}[${i}]`, 'each URL must be a string')));
  },
  ignoreInvalidURLs(value, field, reading) {
    reading.ignoreInvalid = bool(field, value);
  },
  maxConcurrency(value, field, reading) {
    reading.options.concurrency = int(field, value, 1, reading.limits.maxConcurrency);
  },
  webhook: refused("fanout's job webhooks have their own events and signature (POST /v1/jobs); Firecrawl webhooks are not supported"),
  appendToId: refused('a fanout job cannot grow after it is created'),
  zeroDataRetention: acceptIf(isFalse, 'a batch is a fanout job, whose results are kept in R2 until the job expires (JOB_RETENTION_DAYS)'),
};

/** What a batch scrape body becomes: the job's URLs and options, and the URLs left out as invalid (with ignoreInvalidURLs). */
export interface BatchRequest {
  urls: string[];
  invalidURLs: string[] | undefined;
  options: RequestOptions;
}

/**
 * POST /v1/batch/scrape and /v2/batch/scrape. `ignoreInvalidURLs` defaults
 * as in Firecrawl: true in v2 (invalid URLs are left out and listed), false in
 * v1 (an invalid URL refuses the request, naming it).
 */
export function batchRequest(body: unknown, version: FirecrawlVersion, limits: Limits, maxUrls: number, policy: UrlPolicy): BatchRequest {
  const reading: Reading = { version, limits, options: {}, policy, maxUrls, ignoreInvalid: version === 'v2' };
  read(object(body), BATCH, reading);
  const given = reading.urls;
  if (given === undefined) refuse('urls', 'urls is required');
  const urls: string[] = [];
  const invalid: string[] = [];
  given.forEach((raw, i) => {
    const verdict = checkUrl(withScheme(raw), policy);
    if (verdict.ok) urls.push(withScheme(raw));
    else if (reading.ignoreInvalid) invalid.push(raw);
    else refuse(`urls[${i}]`, verdict.message);
  });
  if (urls.length === 0) refuse('urls', 'no valid URLs: every URL was invalid');
  return { urls, invalidURLs: reading.ignoreInvalid ? invalid : undefined, options: finish(reading) };
}

/** The options each route reads, by name (the OpenAPI document lists them): its own, then the scrape options of its version. */
export function optionNames(version: FirecrawlVersion, route: 'scrape' | 'batch'): string[] {
  return [...new Set([...Object.keys(route === 'scrape' ? SCRAPE : BATCH), ...Object.keys(SHARED), ...Object.keys(version === 'v1' ? V1 : V2)])];
}
