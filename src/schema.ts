import * as z from 'zod/mini';
import { limitsFromEnv, type EngineSetup } from './config';
import type { Limits, RequestOptions } from './engine/options';
import { FORMATS } from './result';
import type { Env } from './env';
import { plainQuery, type QueryObject } from './http';
import { perObject } from './memo';

/**
 * The HTTP request schema: the /v1/fetch body (also the body of a watch list)
 * and the GET form's mapping onto it. The numbers come from the deployment's
 * limits; the options it checks are the engine's (RequestOptions).
 */

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

/** An optional non-empty text option of at most 1024 characters. */
const text = (name: string, ...checks: Parameters<ReturnType<typeof z.string>['check']>) =>
  z.optional(
    z.string({ error: `${name} must be a string` }).check(
      z.trim(),
      z.minLength(1, `${name} must not be empty`),
      z.maxLength(1024, `${name} must be at most 1024 characters`),
      ...checks,
    ),
  );

/** The longest URL accepted, in characters. */
export const MAX_URL_LENGTH = 8192;

/**
 * Builds the request schema for these maxima. zod/mini keeps the Worker bundle
 * small (about 20 KB of zod instead of 90+ KB for the chained API).
 */
export function buildRequestSchema(limits: Limits) {
  return z.strictObject(
    {
      urls: z
        .array(z.string({ error: 'each URL must be a string' }).check(z.maxLength(MAX_URL_LENGTH, `a URL must be at most ${MAX_URL_LENGTH} characters`)), {
          error: (issue) => (issue.input === undefined ? 'urls is required' : 'urls must be an array of strings'),
        })
        .check(z.minLength(1, 'urls must hold at least one URL'), z.maxLength(limits.maxUrls, `at most ${limits.maxUrls} URLs per batch`)),
      concurrency: int('concurrency', 1, limits.maxConcurrency),
      perHost: int('perHost', 1, limits.maxConcurrency),
      timeoutMs: int('timeoutMs', 100, limits.maxTimeoutMs),
      deadlineMs: int('deadlineMs', 100, limits.maxDeadlineMs),
      maxBytes: int('maxBytes', 1, limits.maxBytes),
      retries: int('retries', 0, limits.maxRetries),
      maxRedirects: int('maxRedirects', 0, limits.maxRedirects),
      snippetLength: int('snippetLength', 0, limits.maxSnippetLength),
      selector: text('selector', z.refine(isValidSelector, 'selector is not a CSS selector HTMLRewriter supports')),
      query: text('query'),
      provenance: z.optional(z.boolean({ error: 'provenance must be true or false' })),
      onlyMainContent: z.optional(z.boolean({ error: 'onlyMainContent must be true or false' })),
      respectRobots: z.optional(z.boolean({ error: 'respectRobots must be true or false' })),
      maxAge: int('maxAge', 0, limits.maxAge),
      maxContentChars: int('maxContentChars', 1, limits.maxContentChars),
      formats: z.optional(
        z
          .array(z.enum(FORMATS, { error: `each format must be one of ${FORMATS.join(', ')}` }), { error: 'formats must be an array of format names' })
          .check(z.refine((list) => new Set(list).size === list.length, 'formats must not name a format twice')),
      ),
    },
    { error: 'the request body must be a JSON object' },
  );
}

export type FetchRequest = z.infer<ReturnType<typeof buildRequestSchema>>;

/** The schema's options are the engine's: a compile error here means the two drifted apart. */
const _sameOptions = (request: Omit<FetchRequest, 'urls'>): RequestOptions => request;
void _sameOptions;

/**
 * A line per option, with this deployment's defaults: what the MCP tools'
 * JSON Schema (all a model sees of them) and the OpenAPI document say of each
 * (README "Options" says more).
 */
export function optionHelp(engine: EngineSetup): Record<keyof FetchRequest, string> {
  const defaults = engine.options({});
  const withContent = engine.options({ formats: ['markdown'] });
  return {
    urls: 'The http(s) URLs to fetch. Results come back one per URL, in this order.',
    concurrency: `Most URLs in flight at once (default ${defaults.concurrency}).`,
    perHost: 'Most URLs in flight to one hostname (default: no bound beyond concurrency).',
    timeoutMs: `Time for each attempt at a URL: redirects, headers and body (default ${defaults.timeoutMs}).`,
    deadlineMs: `Time for the whole batch; unfinished URLs then fail with \`deadline\` (default ${defaults.deadlineMs}).`,
    maxBytes: `Body bytes read per URL (default ${defaults.maxBytes}, or ${withContent.maxBytes} with a content format).`,
    retries: `Extra attempts for transient failures (default ${defaults.retries}).`,
    maxRedirects: `Redirect hops followed (default ${defaults.maxRedirects}).`,
    snippetLength: `Characters of snippet; 0 for none (default ${defaults.snippetLength}).`,
    selector: 'CSS selector: the snippet is the text of the matching elements.',
    query: 'Words: the snippet is the window of visible text that best matches them.',
    provenance: 'Add `sources`: which tag gave each metadata field.',
    onlyMainContent: 'Content formats give the main content (true, default) or everything visible (false).',
    respectRobots: `Skip URLs the host's robots.txt refuses fanout (default ${defaults.respectRobots}).`,
    maxAge: `Answer from the result cache when its result is younger than this many ms; 0 fetches fresh (default ${defaults.maxAge ?? 'unset: no cache'}).`,
    maxContentChars: `Characters of each content format per page (default ${defaults.maxContentChars}).`,
    formats: 'More than title, description and snippet: markdown, text, html (the content), links, jsonld, feed.',
  };
}

/** The request schema for an environment's limits. */
export const requestSchemaFor = perObject((env: Env) => buildRequestSchema(limitsFromEnv(env)));

/** GET options that are numbers in the schema: the query's text is converted when it looks like one. */
const NUMERIC_KEYS: ReadonlySet<string> = new Set(['concurrency', 'perHost', 'timeoutMs', 'deadlineMs', 'maxBytes', 'retries', 'maxRedirects', 'snippetLength', 'maxContentChars', 'maxAge']);

/** GET options that are booleans in the schema: `true` and `false` are converted (anything else is left for the schema to name). */
const BOOLEAN_KEYS: ReadonlySet<string> = new Set(['provenance', 'onlyMainContent', 'respectRobots']);

/** Query parameters that may repeat: each `url` (or `urls`) adds a URL. */
const REPEATABLE: ReadonlySet<string> = new Set(['url', 'urls']);

/** List options on GET: repeated, or comma separated (`formats=links,jsonld`). */
const LIST_KEYS: ReadonlySet<string> = new Set(['formats']);

/**
 * Maps GET /v1/fetch's query parameters onto the POST body shape, so the same
 * schema judges both: each `url` (or `urls`) adds a URL; numeric options are
 * converted when they look like numbers (otherwise left as text, so the schema
 * names the field); everything else is passed as given (plainQuery), unknown
 * names included, and a single-valued option given twice is listed as repeated.
 */
export function queryToRequest(params: URLSearchParams): QueryObject {
  const urls: string[] = [];
  const lists = new Map<string, string[]>();
  const rest = new URLSearchParams();
  for (const [key, value] of params) {
    if (REPEATABLE.has(key)) urls.push(value);
    else if (LIST_KEYS.has(key)) lists.set(key, [...(lists.get(key) ?? []), ...value.split(',').map((item) => item.trim()).filter(Boolean)]);
    else rest.append(key, value);
  }
  const { request, repeated } = plainQuery(rest);
  for (const [key, values] of lists) request[key] = values;
  for (const key of Object.keys(request)) {
    const value = request[key] as string;
    if (NUMERIC_KEYS.has(key) && /^-?\d+(\.\d+)?$/.test(value.trim())) request[key] = Number(value);
    else if (BOOLEAN_KEYS.has(key) && (value === 'true' || value === 'false')) request[key] = value === 'true';
  }
  if (urls.length > 0) request.urls = urls;
  return { request, repeated };
}
