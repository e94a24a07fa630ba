import { Hono, type Context } from 'hono';
import { logBatch } from '../batch-log';
import { engineFor, limitsFromEnv, serviceSettings } from '../config';
import { ProblemError } from '../errors';
import { limitBody, methodNotAllowed, readJson, requireJson, type AppEnv } from '../http';
import type { JobStatus } from '../jobs/protocol';
import { JobResults } from '../jobs/results';
import { createJob, limitJobBody, ownedJob, RESULTS_PAGE } from '../jobs/routes';
import { jobSettings } from '../jobs/settings';
import type { Problem } from '../problem';
import { answered, scrapeFailure, toDocument } from './document';
import { batchRequest, scrapeRequest, type FirecrawlVersion } from './options';

/**
 * A Firecrawl-compatible subset of Firecrawl's v1 and v2 APIs, so its SDKs,
 * MCP server and loaders work against fanout by changing their API URL:
 * scrape (one URL, answered at once) and batch scrape (a fanout job, polled).
 * Firecrawl's other endpoints answer a Firecrawl-shaped 404 saying why.
 * Options map through ./options.ts, results through ./document.ts; errors are
 * fanout's problem+json with Firecrawl's `success: false` and `error` added
 * (firecrawlFields, applied by the app's error handler), which is what the SDKs read.
 */

/** Firecrawl's batch status calls `completed` what fanout's job calls `done`; queued and running are both `scraping`. */
const STATUS: Record<JobStatus['status'], 'scraping' | 'completed' | 'failed' | 'cancelled'> = {
  queued: 'scraping',
  running: 'scraping',
  completed: 'completed',
  cancelled: 'cancelled',
  failed: 'failed',
};

/** Results read per `GET .../errors` at most (its answer has no pages in Firecrawl's API). */
export const ERRORS_SCAN = 10_000;

/** `skip` and `limit` of a batch status page (Firecrawl's v1 SDK sets them); anything else is refused by name. */
function pageQuery(c: Context<AppEnv>): { skip: number; limit: number } {
  const page: { skip: number; limit: number } = { skip: 0, limit: RESULTS_PAGE.default };
  const bounds = { skip: [0, Number.MAX_SAFE_INTEGER], limit: [1, RESULTS_PAGE.max] } as const;
  for (const [key, raw] of new URL(c.req.url).searchParams) {
    if (key !== 'skip' && key !== 'limit') throw new ProblemError('invalid-request', `${key}: unknown parameter`, { errors: [{ field: key, message: `unknown parameter ${JSON.stringify(key)}` }] });
    const value = Number(raw);
    const [min, max] = bounds[key];
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new ProblemError('invalid-request', `${key}: ${key} must be an integer from ${min} to ${max}`, { errors: [{ field: key, message: `an integer from ${min} to ${max}` }] });
    }
    page[key] = value;
  }
  return page;
}

async function scrape(c: Context<AppEnv>, version: FirecrawlVersion): Promise<Response> {
  const { url, options } = scrapeRequest(await readJson(c), version, limitsFromEnv(c.env), serviceSettings(c.env));
  const engine = engineFor(c.env);
  const batch = await engine.run([url], engine.options(options), {
    signal: c.req.raw.signal,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  });
  logBatch(c.get('client'), batch, { via: 'firecrawl' });
  const result = batch.results[0]!;
  if (!answered(result)) {
    const failure = scrapeFailure(result);
    return c.json(failure.body, failure.status);
  }
  return c.json({ success: true, data: toDocument(result) });
}

async function startBatch(c: Context<AppEnv>, version: FirecrawlVersion): Promise<Response> {
  const { urls, invalidURLs, options } = batchRequest(await readJson(c), version, limitsFromEnv(c.env), jobSettings(c.env).maxJobUrls, serviceSettings(c.env));
  // A batch is a job, and jobs honour robots.txt (README "Jobs"); refused URLs are listed at .../errors as robotsBlocked.
  const created = await createJob(c, { urls, options: { ...options, respectRobots: true }, idempotencyKey: c.req.header('x-idempotency-key') });
  const id = created.job.id;
  return c.json({ success: true, id, url: `${new URL(c.req.url).origin}/${version}/batch/scrape/${id}`, ...(invalidURLs ? { invalidURLs } : {}) });
}

async function batchStatus(c: Context<AppEnv>, version: FirecrawlVersion): Promise<Response> {
  const { skip, limit } = pageQuery(c);
  const stub = await ownedJob(c, c.req.param('id')!);
  const page = await new JobResults(stub, c.env.RESULTS!).page(skip, limit, () => true);
  const job = (await stub.status())!;
  // `next` only when more results are recorded now: the SDKs follow it at once, and one that pointed at a
  // chunk still running would have them fetch the same empty page until the job ends.
  const next = page.nextCursor !== null && !page.waiting ? `${new URL(c.req.url).origin}/${version}/batch/scrape/${job.id}?skip=${page.nextCursor}&limit=${limit}` : undefined;
  return c.json({
    success: true,
    status: STATUS[job.status],
    total: job.total,
    completed: job.done,
    creditsUsed: 0,
    expiresAt: job.expiresAt,
    // Left out, not null, when there is no next page: v1's SDK follows `next` while the key exists.
    ...(next ? { next } : {}),
    data: page.results.filter(answered).map(toDocument),
  });
}

async function cancelBatch(c: Context<AppEnv>): Promise<Response> {
  const job = (await (await ownedJob(c, c.req.param('id')!)).cancel())!;
  return c.json({ success: true, status: STATUS[job.status] });
}

async function batchErrors(c: Context<AppEnv>): Promise<Response> {
  const stub = await ownedJob(c, c.req.param('id')!);
  const page = await new JobResults(stub, c.env.RESULTS!).page(0, ERRORS_SCAN, () => true);
  const errors = [];
  const robotsBlocked = [];
  for (const result of page.results) {
    if (answered(result) || !result.error) continue;
    if (result.error.code === 'robots_disallowed') robotsBlocked.push(result.url);
    else errors.push({ id: `${c.req.param('id')}-${result.index}`, url: result.url, code: result.error.code, error: result.error.message });
  }
  return c.json({ errors, robotsBlocked });
}

/**
 * Firecrawl's endpoints fanout does not serve (the ones its SDKs and MCP server
 * call), by the path after the version, and why. Each answers 404 in
 * Firecrawl's error shape naming the path and the reason, so a client shows
 * fanout's message (Firecrawl's MCP server puts it in the tool error) instead
 * of a bare "status code 404". `/v1/crawl/:id` is served: the v1 SDK polls
 * batches there.
 */
const NOT_SERVED: Readonly<Record<string, string>> = {
  crawl: 'fanout does not follow links to find pages; send the URLs as a batch scrape (POST /v2/batch/scrape)',
  map: "fanout does not list a site's URLs (no sitemaps, no link walking); it fetches the URLs it is given",
  search: 'fanout runs no web search; it fetches the URLs it is given',
  extract: 'fanout runs no language model, so it extracts no JSON',
  agent: 'fanout runs no language model, so it has no agent',
  'deep-research': 'fanout runs no language model, so it does no research',
  llmstxt: 'fanout runs no language model, so it writes no llms.txt',
  'scrape/:id/interact': 'fanout fetches pages over HTTP and runs no browser, so there is no page to interact with',
  browser: 'fanout fetches pages over HTTP and runs no browser',
  parse: 'fanout parses no uploaded files; it fetches URLs',
  monitor: "fanout's monitors are its watch lists (/v1/watchlists)",
  team: "fanout counts no credits or tokens (creditsUsed is always 0); its limits are the deployment's (MAX_URLS, the rate limiter)",
  'concurrency-check': "fanout's concurrency is the deployment's (MAX_CONCURRENCY), not a team's",
  feedback: 'fanout takes no feedback on results',
  index: 'fanout has no search index',
};

const FIRECRAWL_PATH = new RegExp(`^/v[12]/(scrape|batch/scrape|${Object.keys(NOT_SERVED).map((name) => name.replace(':id', '[^/]+')).join('|')})(/|$)`);

/** True for a path of Firecrawl's API, served or not (its errors carry Firecrawl's `error`; the app's auth uses it for 401 and 429). */
export function isFirecrawlPath(path: string): boolean {
  return FIRECRAWL_PATH.test(path);
}

/** Firecrawl's `success: false` and `error` (what its SDKs show), added to a problem document on Firecrawl's paths (src/app.ts). */
export function firecrawlFields(problem: Problem): Record<string, unknown> {
  return { success: false, error: problem.detail, ...problem };
}

/** The Firecrawl routes, mounted by the app after its auth middleware (/v1/*, /v2/*). */
export const firecrawlRoutes = new Hono<AppEnv>();

for (const version of ['v1', 'v2'] as const) {
  firecrawlRoutes
    .post(`/${version}/scrape`, limitBody, requireJson, (c) => scrape(c, version))
    .post(`/${version}/batch/scrape`, limitJobBody, requireJson, (c) => startBatch(c, version))
    .get(`/${version}/batch/scrape/:id`, (c) => batchStatus(c, version))
    .delete(`/${version}/batch/scrape/:id`, cancelBatch)
    .get(`/${version}/batch/scrape/:id/errors`, batchErrors)
    .all(`/${version}/scrape`, methodNotAllowed(['POST']))
    .all(`/${version}/batch/scrape`, methodNotAllowed(['POST']))
    .all(`/${version}/batch/scrape/:id`, methodNotAllowed(['GET', 'DELETE']))
    .all(`/${version}/batch/scrape/:id/errors`, methodNotAllowed(['GET']));
}
// v1's SDK waits for a batch (batchScrapeUrls) by polling the crawl status route: Firecrawl answers batches there too.
firecrawlRoutes.get('/v1/crawl/:id', (c) => batchStatus(c, 'v1')).all('/v1/crawl/:id', methodNotAllowed(['GET']));
// After the routes above, which serve /v1/crawl/:id. `.all` routes are no operations, so /openapi.json leaves them out.
for (const [name, why] of Object.entries(NOT_SERVED)) {
  const notServed = (c: Context<AppEnv>) => {
    throw new ProblemError('not-found', `no route for ${c.req.method} ${c.req.path}: ${why}`, { errors: [{ field: 'path', message: 'a Firecrawl endpoint fanout does not serve' }] });
  };
  for (const version of ['v1', 'v2'] as const) firecrawlRoutes.all(`/${version}/${name}`, notServed).all(`/${version}/${name}/*`, notServed);
}
