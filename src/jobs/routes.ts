import { toHex } from '../hex';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { stream } from 'hono/streaming';
import * as z from 'zod/mini';
import { limitsFromEnv, serviceSettings } from '../config';
import type { Env } from '../env';
import { ConfigError, ProblemError } from '../errors';
import { methodNotAllowed, readJson, validationProblem, validQuery, type AppEnv } from '../http';
import { perObject } from '../memo';
import { checkUrl } from '../guard';
import type { PageResult } from '../result';
import { buildRequestSchema, queryToRequest } from '../schema';
import { fieldName } from '../problem';
import { jobObjects, type Created, type FetchJob, type JobSpec } from './job-object';
import { JOB_ID, type JobStatus } from './protocol';
import { JobResults } from './results';
import { jobSettings, MAX_JOB_REQUEST_BYTES } from './settings';
import { DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS, type WebhookEvent } from './webhook';

/**
 * The jobs API: POST /v1/jobs takes the /v1/fetch body with up to
 * MAX_JOB_URLS URLs and answers at once; the work runs on the JOBS_QUEUE
 * (src/jobs/consumer.ts), the state in one FetchJob object per job
 * (src/jobs/job-object.ts), the results in R2. Same auth, validation and
 * problem+json errors as /v1/fetch. A job is visible only to the API client
 * that created it.
 */

/** Results per page of GET /v1/jobs/:id/results: default and maximum. */
export const RESULTS_PAGE = { default: 100, max: 1000 } as const;
/** Jobs per page of GET /v1/jobs: default and maximum. */
export const JOBS_PAGE = { default: 20, max: 100 } as const;
/** The longest Idempotency-Key accepted. */
const MAX_IDEMPOTENCY_KEY = 255;

/** Most bytes of a webhook's `metadata`, as JSON. */
const MAX_WEBHOOK_METADATA = 4096;

/** POST body: the /v1/fetch request with its URL cap raised to MAX_JOB_URLS, and an optional webhook. */
export const jobSchemaFor = perObject((env: Env) =>
  z.extend(buildRequestSchema({ ...limitsFromEnv(env), maxUrls: jobSettings(env).maxJobUrls }), {
    webhook: z.optional(
      z.strictObject(
        {
          url: z.string({ error: 'webhook.url must be a string' }).check(z.minLength(1, 'webhook.url must not be empty'), z.maxLength(2048, 'webhook.url must be at most 2048 characters')),
          events: z.optional(
            z
              .array(z.enum(WEBHOOK_EVENTS, { error: `each event must be one of ${WEBHOOK_EVENTS.join(', ')}` }), { error: 'webhook.events must be an array of event names' })
              .check(z.minLength(1, 'webhook.events must name at least one event')),
          ),
          metadata: z.optional(
            z
              .record(z.string(), z.unknown(), { error: 'webhook.metadata must be a JSON object' })
              .check(z.refine((value) => JSON.stringify(value).length <= MAX_WEBHOOK_METADATA, `webhook.metadata must be at most ${MAX_WEBHOOK_METADATA} bytes of JSON`)),
          ),
        },
        { error: 'webhook must be an object with a url' },
      ),
    ),
  }),
);

/** An integer in a query string, in [min, max]. */
const queryInt = (name: string, min: number, max: number) =>
  z.optional(
    z.pipe(
      z.pipe(z.string(), z.transform(Number)),
      z.int({ error: `${name} must be an integer` }).check(z.minimum(min, `${name} must be at least ${min}`), z.maximum(max, `${name} must be at most ${max}`)),
    ),
  );

export const resultsQuery = z.strictObject({
  cursor: queryInt('cursor', 0, Number.MAX_SAFE_INTEGER),
  limit: queryInt('limit', 1, RESULTS_PAGE.max),
  status: z.optional(z.enum(['ok', 'failed'], { error: 'status must be ok or failed' })),
});

export const listQuery = z.strictObject({
  cursor: z.optional(z.string().check(z.regex(/^\d{13}-[0-9a-f]{32}$/, 'cursor must be a nextCursor from this list'))),
  limit: queryInt('limit', 1, JOBS_PAGE.max),
});

/** POST /v1/jobs's body ceiling (MAX_JOB_REQUEST_BYTES), also a Firecrawl batch's. */
export const limitJobBody = bodyLimit({
  maxSize: MAX_JOB_REQUEST_BYTES,
  onError: () => {
    throw new ProblemError('body-too-large', `request body is over ${MAX_JOB_REQUEST_BYTES} bytes`, {
      errors: [{ field: 'body', message: `at most ${MAX_JOB_REQUEST_BYTES} bytes` }],
    });
  },
});

function namespace(env: Env): DurableObjectNamespace<FetchJob> {
  if (!env.JOBS || !env.JOBS_QUEUE || !env.RESULTS) throw new ConfigError('jobs need the JOBS, JOBS_QUEUE and RESULTS bindings; see README "Deploying"');
  return jobObjects(env);
}

function notFound(id: string): never {
  throw new ProblemError('not-found', `no job ${id}`, { errors: [{ field: 'id', message: 'no such job' }] });
}

/** The job's object, once the id is well formed and the job belongs to this client; 404 otherwise (never a new object for a bad id). */
export async function ownedJob(c: Context<AppEnv>, id: string) {
  if (!JOB_ID.test(id)) notFound(id);
  const ns = namespace(c.env);
  const stub = ns.get(ns.idFromName(id));
  const owner = await stub.owner();
  if (owner === undefined || owner !== c.get('client')) notFound(id);
  return stub;
}

const sha256 = async (text: string) => toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));

/** A job to create: its URLs, its options (the /v1/fetch body without `urls`), a validated webhook, the client's idempotency key. */
export interface JobRequest {
  urls: string[];
  options: Record<string, unknown>;
  webhook?: { url: string; events?: WebhookEvent[] | undefined; metadata?: Record<string, unknown> | undefined } | undefined;
  idempotencyKey?: string | undefined;
}

/**
 * Creates the job for a validated request, or finds the one an idempotency
 * key already names; the one path from a request to a job, for POST /v1/jobs
 * and Firecrawl's batch scrape (src/firecrawl/). Throws ProblemError for a bad
 * key or a key reused with another body.
 */
export async function createJob(c: Context<AppEnv>, { urls, options, webhook, idempotencyKey: key }: JobRequest): Promise<Created> {
  const ns = namespace(c.env);
  const settings = jobSettings(c.env);
  const client = c.get('client');
  if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY || /[^\x21-\x7e]/.test(key))) {
    throw new ProblemError('invalid-request', `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} visible ASCII characters`, {
      errors: [{ field: 'idempotency-key', message: `1 to ${MAX_IDEMPOTENCY_KEY} visible ASCII characters` }],
    });
  }
  // The same key from the same client names the same job; without a key every job is new.
  const id = key === undefined ? crypto.randomUUID().replaceAll('-', '') : (await sha256(`${client ?? ''}\n${key}`)).slice(0, 32);
  const spec: JobSpec = {
    id,
    client,
    urls,
    options: JSON.stringify(options),
    bodyHash: await sha256(JSON.stringify({ urls, options, webhook })),
    chunkUrls: settings.chunkUrls,
    retentionMs: settings.retentionMs,
    redriveMs: settings.redriveMs,
    maxSends: settings.maxSends,
    webhook: webhook ? { ...webhook, events: webhook.events ?? [...DEFAULT_WEBHOOK_EVENTS] } : null,
    userAgent: serviceSettings(c.env).userAgent,
  };
  const created = await ns.get(ns.idFromName(id)).create(spec);
  if (created.existing && !created.sameBody) {
    throw new ProblemError('conflict', 'this Idempotency-Key was used for a different request body', {
      errors: [{ field: 'idempotency-key', message: 'already used with another body' }],
    });
  }
  if (!created.existing && c.env.DB) {
    await c.env.DB.prepare('INSERT OR IGNORE INTO jobs (id, client, created_at, total) VALUES (?, ?, ?, ?)')
      .bind(id, client ?? '', Date.parse(created.job.createdAt), created.job.total)
      .run();
  }
  return created;
}

/** Links a client follows from a job. */
function links(c: Context<AppEnv>, job: JobStatus) {
  const base = new URL(c.req.url).origin;
  return { statusUrl: `${base}/v1/jobs/${job.id}`, resultsUrl: `${base}/v1/jobs/${job.id}/results` };
}

/**
 * Types the JSON form of POST /v1/jobs for `hc<AppType>` (a wrong option is a
 * compile error, as for /v1/fetch). It does nothing at run time: the route
 * reads its body itself, since it also takes text/plain and NDJSON URL lists.
 */
const jobJsonType: MiddlewareHandler<AppEnv, '/v1/jobs', { in: { json: z.input<ReturnType<typeof jobSchemaFor>> }; out: {} }> = (_c, next) => next();

/** The jobs routes, mounted by the app after its auth middleware (typed for `hc<AppType>`). */
export const jobRoutes = new Hono<AppEnv>()
  .post('/v1/jobs', jobJsonType, limitJobBody, async (c) => {
    const input = await jobInput(c);
    const parsed = z.safeParse(jobSchemaFor(c.env), input);
    if (!parsed.success) return validationProblem(parsed.error);
    const { urls, webhook, ...requested } = parsed.data;
    // Jobs honour robots.txt unless the request says otherwise: a job can send a host thousands of requests.
    const options = { ...requested, respectRobots: requested.respectRobots ?? true };
    const service = serviceSettings(c.env);
    if (webhook) {
      if (!c.env.WEBHOOK_SECRET) {
        throw new ProblemError('invalid-request', 'webhook: this deployment has no WEBHOOK_SECRET, so it sends no webhooks', {
          errors: [{ field: 'webhook', message: 'webhooks are off on this deployment (no WEBHOOK_SECRET)' }],
        });
      }
      const verdict = checkUrl(webhook.url, { allowPrivate: service.allowPrivate });
      if (!verdict.ok) throw new ProblemError('invalid-request', `webhook.url: ${verdict.message}`, { errors: [{ field: 'webhook.url', message: verdict.message }] });
    }
    const created = await createJob(c, { urls, options, webhook, idempotencyKey: c.req.header('idempotency-key') });
    const job = created.job;
    return c.json({ id: job.id, status: job.status, total: job.total, ...links(c, job) }, created.existing ? 200 : 202);
  })

  .get('/v1/jobs', validQuery(() => listQuery), async (c) => {
    namespace(c.env);
    if (!c.env.DB) throw new ConfigError('the D1 binding DB is missing; see README "Deploying"');
    const { cursor, limit = JOBS_PAGE.default } = c.req.valid('query');
    const [at, after] = cursor ? [Number(cursor.slice(0, 13)), cursor.slice(14)] : [Number.MAX_SAFE_INTEGER, ''];
    const { results } = await c.env.DB.prepare(
      `SELECT id, created_at FROM jobs WHERE client = ? AND (created_at < ? OR (created_at = ? AND id < ?))
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
      .bind(c.get('client') ?? '', at, at, after || 'g', limit + 1)
      .all<{ id: string; created_at: number }>();
    const page = results.slice(0, limit);
    const ns = namespace(c.env);
    const jobs: JobStatus[] = [];
    for (const job of await Promise.all(page.map((row) => ns.get(ns.idFromName(row.id)).status()))) if (job) jobs.push(job);
    const last = page.at(-1);
    return c.json({ jobs, nextCursor: results.length > limit && last ? `${String(last.created_at).padStart(13, '0')}-${last.id}` : null });
  })

  .get('/v1/jobs/:id', async (c) => c.json((await (await ownedJob(c, c.req.param('id'))).status())!))

  .delete('/v1/jobs/:id', async (c) => c.json((await (await ownedJob(c, c.req.param('id'))).cancel())!))

  .get('/v1/jobs/:id/results', validQuery(() => resultsQuery), async (c) => {
    const stub = await ownedJob(c, c.req.param('id'));
    const { cursor = 0, limit = RESULTS_PAGE.default, status } = c.req.valid('query');
    const keep = status === undefined ? () => true : (r: PageResult) => r.ok === (status === 'ok');
    const results = new JobResults(stub, c.env.RESULTS!);
    if (/application\/(x-ndjson|ndjson|jsonl)/i.test(c.req.header('accept') ?? '')) {
      c.header('content-type', 'application/x-ndjson; charset=utf-8');
      c.header('cache-control', 'no-store');
      return stream(c, async (out) => {
        let next: number | null = cursor;
        while (next !== null && !out.aborted) {
          const page = await results.page(next, RESULTS_PAGE.max, keep);
          if (page.results.length > 0) await out.write(page.results.map((r) => `${JSON.stringify(r)}\n`).join(''));
          if (page.waiting) {
            await out.write(`${JSON.stringify({ nextCursor: page.nextCursor, status: (await stub.status())!.status })}\n`);
            return;
          }
          next = page.nextCursor;
        }
        await out.write(`${JSON.stringify({ nextCursor: null, status: (await stub.status())!.status })}\n`);
      });
    }
    const page = await results.page(cursor, limit, keep);
    const job = (await stub.status())!;
    return c.json({ id: job.id, status: job.status, total: job.total, done: job.done, results: page.results, nextCursor: page.nextCursor });
  })

  .all('/v1/jobs', methodNotAllowed(['GET', 'POST']))
  .all('/v1/jobs/:id', methodNotAllowed(['GET', 'DELETE']))
  .all('/v1/jobs/:id/results', methodNotAllowed(['GET']));

/**
 * The job request from the body, by its Content-Type: a JSON object (the
 * /v1/fetch body); or a list of URLs, one per line, as `text/plain` (blank
 * lines and lines starting with `#` skipped) or NDJSON (each line a JSON
 * string, or an object with a `url`), with the options in the query string
 * as GET /v1/fetch takes them. Anything else is a 415.
 */
async function jobInput(c: Context<AppEnv>): Promise<unknown> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (/^application\/([\w.-]+\+)?json$/.test(type)) return readJson(c);
  const lists: Record<string, (line: string, n: number) => string> = {
    'text/plain': (line) => line,
    'application/x-ndjson': ndjsonUrl,
    'application/jsonl': ndjsonUrl,
  };
  const read = lists[type];
  if (!read) {
    throw new ProblemError('unsupported-media-type', `expected application/json, text/plain or application/x-ndjson, got ${JSON.stringify(type || '(none)')}`, {
      errors: [{ field: 'content-type', message: 'must be application/json, text/plain or application/x-ndjson' }],
    });
  }
  const { request, repeated } = queryToRequest(new URL(c.req.url).searchParams);
  if (repeated.length > 0) {
    const field = fieldName([repeated[0]!]);
    throw new ProblemError('invalid-request', `${field} was given more than once; give it once`, { errors: repeated.map((name) => ({ field: fieldName([name]), message: 'given more than once' })) });
  }
  if ('urls' in request) throw new ProblemError('invalid-request', 'urls: with a list body, the URLs come from the body', { errors: [{ field: 'urls', message: 'give the URLs in the body' }] });
  const urls: string[] = [];
  (await c.req.text()).split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || (type === 'text/plain' && line.startsWith('#'))) return;
    urls.push(read(line, i + 1));
  });
  return { ...request, urls };
}

/** One NDJSON line as a URL: a JSON string, or an object with a string `url`. */
function ndjsonUrl(line: string, n: number): string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ProblemError('malformed-json', `body line ${n} is not JSON`, { errors: [{ field: `body[${n}]`, message: 'not JSON' }] });
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { url?: unknown }).url === 'string') return (value as { url: string }).url;
  throw new ProblemError('invalid-request', `body line ${n}: a line is a JSON string or an object with a "url"`, { errors: [{ field: `body[${n}]`, message: 'a JSON string or {"url": ...}' }] });
}

