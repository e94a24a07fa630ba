import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { stream } from 'hono/streaming';
import * as z from 'zod/mini';
import type { $ZodType } from 'zod/v4/core';
import { runBatch } from './engine/batch';
import { durableShards } from './engine/shards';
import type { Env } from './env';
import { limitBody, methodNotAllowed, requireJson, validate, type AppEnv } from './http';
import {
  ConfigError,
  limitsFromEnv,
  normalizeOptions,
  queryToRequest,
  requestSchemaFor,
  serviceSettings,
  VERSION,
  type FetchRequest,
} from './options';
import { ProblemException, problemResponse } from './problem';
import { registerWatchRoutes } from './watch/routes';

/** The GET form: query parameters are mapped onto the POST body shape, then the same schema runs. */
const querySchemas = new WeakMap<object, $ZodType>();
function querySchemaFor(env: Env): $ZodType {
  const base = requestSchemaFor(env);
  let schema = querySchemas.get(base);
  if (!schema) {
    schema = z.pipe(
      z.transform((value) => queryToRequest(value as Record<string, string | string[]>)),
      base,
    );
    querySchemas.set(base, schema);
  }
  return schema;
}

/** The HTTP API: routes only; the work is in engine/. */
export const app = new Hono<AppEnv>();

app.get('/health', (c) => c.json({ status: 'ok', service: 'fanout', version: VERSION }));

// Auth: when API_TOKEN is set, every /v1/* route needs it (compared in constant time by Hono's bearerAuth).
app.use('/v1/*', async (c, next) => {
  const token = c.env.API_TOKEN;
  if (!token) return next();
  try {
    return await bearerAuth<AppEnv>({ token, realm: 'fanout' })(c, next);
  } catch (error) {
    if (error instanceof HTTPException && (error.status === 401 || error.status === 400)) {
      const challenge = error.getResponse().headers.get('www-authenticate') ?? 'Bearer realm="fanout"';
      throw new ProblemException('unauthorized', 401, 'a valid "Authorization: Bearer <token>" header is required', {
        errors: [{ field: 'authorization', message: 'missing or invalid bearer token' }],
        headers: { 'www-authenticate': challenge },
      });
    }
    throw error;
  }
});

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
  const options = normalizeOptions(rest, serviceSettings(c.env), limitsFromEnv(c.env));
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
      const batch = await runBatch(urls, options, {
        signal: AbortSignal.any([c.req.raw.signal, gone.signal]),
        shards: c.env.SHARDS ? durableShards(c.env.SHARDS) : undefined,
        onResult: ndjson ? (index, result) => void write(`${JSON.stringify({ index, ...result })}\n`) : undefined,
      });
      clearInterval(heartbeat);
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

app.post('/v1/fetch', limitBody, requireJson, validate('json', requestSchemaFor), (c) => answer(c, c.req.valid('json' as never)));
app.get('/v1/fetch', validate('query', querySchemaFor), (c) => answer(c, c.req.valid('query' as never)));

app.all('/v1/fetch', methodNotAllowed(['GET', 'POST']));
registerWatchRoutes(app);
app.all('/health', methodNotAllowed(['GET']));

app.notFound((c) =>
  problemResponse('not-found', 404, `no route for ${c.req.method} ${c.req.path}`, {
    errors: [{ field: 'path', message: 'unknown route' }],
  }),
);

app.onError((error, c) => {
  if (error instanceof HTTPException) {
    if (error instanceof ProblemException) return error.getResponse();
    // Hono's own exceptions (malformed JSON from the validator, and the like) become problems too.
    const status = error.status;
    if (status === 400) {
      return problemResponse('malformed-json', 400, error.message || 'malformed request', {
        errors: [{ field: 'body', message: error.message || 'malformed request' }],
      });
    }
    return problemResponse(status >= 500 ? 'internal' : 'invalid-request', status, error.message || 'request failed');
  }
  if (error instanceof ConfigError) {
    console.error(`fanout misconfigured: ${error.message}`);
    return problemResponse('misconfigured', 500, error.message);
  }
  console.error(`fanout internal error on ${c.req.method} ${c.req.path}:`, error);
  return problemResponse('internal', 500, 'internal error; the service log has the details');
});
