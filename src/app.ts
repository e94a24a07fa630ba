import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { stream } from 'hono/streaming';
import { authenticate } from './auth';
import { logBatch } from './batch-log';
import { engineFor } from './config';
import { VERSION } from './engine/options';
import { ConfigError, ProblemError, type ProblemKind } from './errors';
import { limitBody, methodNotAllowed, requireJson, validJson, validQuery, type AppEnv } from './http';
import { problem, problemResponse } from './problem';
import { queryToRequest, requestSchemaFor, type FetchRequest } from './schema';
import { firecrawlFields, firecrawlRoutes, isFirecrawlPath } from './firecrawl/routes';
import { jobRoutes } from './jobs/routes';
import { mcpRoutes } from './mcp/routes';
import { openApiRoutes } from './openapi/routes';
import { playgroundRoutes } from './playground/routes';
import { watchRoutes } from './watch/routes';

/** The HTTP API: routes only; the work is in engine/. */
export const app = new Hono<AppEnv>();

app.get('/health', (c) => c.json({ status: 'ok', service: 'fanout', version: VERSION }));

// Every API surface takes the same tokens and rate limits: the API, the Firecrawl-compatible /v2 and MCP.
app.use('/v1/*', authenticate);
app.use('/v2/*', authenticate);
app.use('/mcp', authenticate);

/**
 * While a batch runs, a space is written every HEARTBEAT_MS. Whitespace before
 * a JSON text is valid JSON, so a JSON body or an NDJSON line still parses.
 * It keeps idle-timing proxies from cutting long batches, and it lets the
 * runtime see a client that went away: workerd only notices a closed socket
 * when it writes to it (cloudflare/workerd#4185), and then aborts
 * `request.signal`, which cancels the outstanding fetches.
 */
export const HEARTBEAT_MS = 1000;

/** Runs a validated batch and answers JSON, or NDJSON lines as results finish when the client asks for it. */
async function answer(c: Context<AppEnv>, request: FetchRequest): Promise<Response> {
  const { urls, ...rest } = request;
  const engine = engineFor(c.env);
  const options = engine.options(rest);
  const ndjson = wantsNdjson(c.req.header('accept'));
  c.header('content-type', ndjson ? 'application/x-ndjson; charset=utf-8' : 'application/json; charset=utf-8');
  c.header('cache-control', 'no-store');
  c.header('x-content-type-options', 'nosniff');

  return stream(c, async (out) => {
    const gone = new AbortController();
    out.onAbort(() => gone.abort());
    // Writes go out one after another; a heartbeat never lands inside a line.
    let writes = Promise.resolve();
    const write = (text: string) => {
      writes = writes
        .then(() => (out.closed || out.aborted ? undefined : out.write(text).then(() => undefined)))
        .catch(() => gone.abort()); // a failed write means the client is gone
      return writes;
    };
    const heartbeat = setInterval(() => void write(' '), HEARTBEAT_MS);
    try {
      const batch = await engine.run(urls, options, {
        signal: AbortSignal.any([c.req.raw.signal, gone.signal]),
        waitUntil: (promise) => c.executionCtx.waitUntil(promise),
        onResult: ndjson ? (index, result) => void write(`${JSON.stringify({ index, ...result })}\n`) : undefined,
      });
      clearInterval(heartbeat);
      logBatch(c.get('client'), batch, { ndjson });
      await write(ndjson ? `${JSON.stringify({ stats: batch.stats })}\n` : JSON.stringify(batch));
    } finally {
      clearInterval(heartbeat);
    }
  });
}

/** True when the Accept header prefers NDJSON (application/x-ndjson or application/jsonl). */
function wantsNdjson(accept: string | undefined): boolean {
  return !!accept && /application\/(x-ndjson|ndjson|jsonl)/i.test(accept);
}

const api = app
  .post('/v1/fetch', limitBody, requireJson, validJson(requestSchemaFor), (c) => answer(c, c.req.valid('json')))
  .get('/v1/fetch', validQuery(requestSchemaFor, queryToRequest), (c) => answer(c, c.req.valid('query')))
  .route('/', watchRoutes)
  .route('/', jobRoutes);

/** The API's routes and their inputs, for Hono's typed client (`hc<AppType>`). */
export type AppType = typeof api;

app.all('/v1/fetch', methodNotAllowed(['GET', 'POST']));
app.all('/health', methodNotAllowed(['GET']));
app.route('/', playgroundRoutes);
app.route('/', firecrawlRoutes);
app.route('/', mcpRoutes);
app.route('/', openApiRoutes);

app.notFound((c) => problem('not-found', `no route for ${c.req.method} ${c.req.path}`, { errors: [{ field: 'path', message: 'unknown route' }] }));

/** Hono's own exceptions (malformed JSON from the validator, and the like), by status. */
const KIND_OF_STATUS: Record<number, ProblemKind> = {
  400: 'malformed-json',
  401: 'unauthorized',
  404: 'not-found',
  405: 'method-not-allowed',
  413: 'body-too-large',
  415: 'unsupported-media-type',
};

/** Any error as the problem to answer; a bug is logged (its detail never reaches the client). */
function problemOf(error: Error, c: Context<AppEnv>): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof HTTPException) {
    const kind = KIND_OF_STATUS[error.status] ?? (error.status >= 500 ? 'internal' : 'invalid-request');
    const detail = error.message || 'malformed request';
    return new ProblemError(kind, detail, kind === 'malformed-json' ? { errors: [{ field: 'body', message: detail }] } : {});
  }
  if (error instanceof ConfigError) {
    console.error(`fanout misconfigured: ${error.message}`);
    return new ProblemError('misconfigured', error.message);
  }
  console.error(`fanout internal error on ${c.req.method} ${c.req.path}:`, error);
  return new ProblemError('internal', 'internal error; the service log has the details');
}

// Every refusal is problem+json; on Firecrawl's paths (auth and rate limits included) with the fields its SDKs read.
app.onError((error, c) => problemResponse(problemOf(error, c), isFirecrawlPath(c.req.path) ? firecrawlFields : undefined));
