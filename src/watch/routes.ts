import { Hono, type Context } from 'hono';
import * as z from 'zod/mini';
import { limitsFromEnv } from '../config';
import type { Env } from '../env';
import { ConfigError, ProblemError } from '../errors';
import { bodyLimit } from 'hono/body-limit';
import { methodNotAllowed, requireJson, validJson, validQuery, type AppEnv } from '../http';
import { perObject } from '../memo';
import { buildRequestSchema } from '../schema';
import { BUILT_IN_LIST, builtInList, watchSettings } from './settings';
import { WatchStore, type WatchList } from './store';

/**
 * The watch-list API: lists in D1, their runs, and what changed. Same auth,
 * validation and problem+json errors as /v1/fetch.
 */

/** Watch list names: URL-safe, short. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A cron expression as [triggers] crons writes it: five fields (Cloudflare's syntax, UTC). */
const CRON = /^\S+( \S+){4}$/;
/** Runs per page of GET /v1/runs: default and maximum. */
export const RUNS_PAGE = { default: 20, max: 100 } as const;
/** Changes per answer of GET /v1/changes: default and maximum. */
export const CHANGES_PAGE = { default: 100, max: 1000 } as const;
/** GET /v1/changes without `since` looks this far back. */
export const CHANGES_DEFAULT_WINDOW_MS = 24 * 60 * 60_000;

/** PUT body: the /v1/fetch request (its URL cap lowered to MAX_WATCH_URLS) plus `crons`. */
export const listSchemaFor = perObject((env: Env) =>
  z.extend(buildRequestSchema({ ...limitsFromEnv(env), maxUrls: watchSettings(env).maxWatchUrls }), {
    crons: z.optional(
      z.nullable(
        z
          .array(z.string({ error: 'each cron must be a string' }).check(z.trim(), z.regex(CRON, 'a cron expression has five fields, e.g. "*/30 * * * *"')), {
            error: 'crons must be an array of cron expressions or null',
          })
          .check(z.minLength(1, 'crons must name at least one cron, or be null for every tick'), z.maxLength(10, 'at most 10 crons')),
      ),
    ),
  }),
);

/** A page size in a query string: an integer in [1, max]. */
const pageLimit = (max: number) =>
  z.optional(
    z.pipe(
      z.pipe(z.string(), z.transform(Number)),
      z.int({ error: 'limit must be an integer' }).check(z.minimum(1, 'limit must be at least 1'), z.maximum(max, `limit must be at most ${max}`)),
    ),
  );

export const runsQuery = z.strictObject({
  watchlist: z.optional(z.string()),
  limit: pageLimit(RUNS_PAGE.max),
  cursor: z.optional(z.string().check(z.regex(/^[0-9a-z]{9}-[0-9a-f]{8}$/, 'cursor must be a run id from nextCursor'))),
});

export const changesQuery = z.strictObject({
  watchlist: z.optional(z.string()),
  since: z.optional(z.string().check(z.refine((v) => !Number.isNaN(Date.parse(v)), 'since must be an ISO 8601 time, e.g. 2026-11-25T00:00:00Z'))),
  limit: pageLimit(CHANGES_PAGE.max),
});

function store(c: Context<AppEnv>): WatchStore {
  if (!c.env.DB) throw new ConfigError('the D1 binding DB is missing; see README "Deploying"');
  return new WatchStore(c.env.DB);
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new ProblemError('invalid-request', `name: ${JSON.stringify(name)} is not a watch list name (letters, digits, ".", "_", "-"; at most 64)`, {
      errors: [{ field: 'name', message: 'letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit' }],
    });
  }
}

function notFound(what: string, field: string): never {
  throw new ProblemError('not-found', `no ${what}`, { errors: [{ field, message: `no ${what}` }] });
}

/** The built-in list (from WATCH_URLS) or a stored one. */
async function findList(c: Context<AppEnv>, name: string): Promise<WatchList | null> {
  if (name === BUILT_IN_LIST) {
    const [builtIn] = builtInList(c.env);
    if (builtIn) return builtIn;
  }
  return store(c).getList(name);
}

/** Request body ceiling for PUT /v1/watchlists/:name: MAX_WATCH_URLS URLs of a few hundred bytes. */
export const MAX_WATCHLIST_BYTES = 4 * 1024 * 1024;
/** A list's URLs are one D1 value (JSON), and D1 holds at most 2 MB per value: this leaves room. */
export const MAX_WATCHLIST_URL_BYTES = 1_800_000;

const limitListBody = bodyLimit({
  maxSize: MAX_WATCHLIST_BYTES,
  onError: () => {
    throw new ProblemError('body-too-large', `request body is over ${MAX_WATCHLIST_BYTES} bytes`, { errors: [{ field: 'body', message: `at most ${MAX_WATCHLIST_BYTES} bytes` }] });
  },
});

/** Adds the watch-list routes to the app (after its auth middleware). */
/** The watch-list routes, mounted by the app after its auth middleware (typed for `hc<AppType>`). */
export const watchRoutes = new Hono<AppEnv>()
  .put('/v1/watchlists/:name', limitListBody, requireJson, validJson(listSchemaFor), async (c) => {
    const name = c.req.param('name');
    checkName(name);
    if (name === BUILT_IN_LIST) {
      throw new ProblemError('conflict', `"${BUILT_IN_LIST}" is the built-in list from the WATCH_URLS var; choose another name`, {
        errors: [{ field: 'name', message: 'reserved' }],
      });
    }
    const { urls, crons, ...options } = c.req.valid('json');
    if (JSON.stringify(urls).length > MAX_WATCHLIST_URL_BYTES) {
      throw new ProblemError('body-too-large', `urls: a list's URLs are kept as one D1 value, at most ${MAX_WATCHLIST_URL_BYTES} bytes of JSON`, {
        errors: [{ field: 'urls', message: `at most ${MAX_WATCHLIST_URL_BYTES} bytes of JSON in all` }],
      });
    }
    const { list, created } = await store(c).putList({ name, urls, options, crons: crons ?? null }, new Date().toISOString());
    return c.json(list, created ? 201 : 200);
  })

  .get('/v1/watchlists', async (c) => {
    const lists = [...builtInList(c.env), ...(await store(c).listLists())];
    return c.json({
      watchlists: lists.map(({ urls, ...list }) => ({ ...list, urlCount: urls.length })),
    });
  })

  .get('/v1/watchlists/:name', async (c) => {
    const list = await findList(c, c.req.param('name'));
    return list ? c.json(list) : notFound(`watch list ${JSON.stringify(c.req.param('name'))}`, 'name');
  })

  .delete('/v1/watchlists/:name', async (c) => {
    const name = c.req.param('name');
    if (name === BUILT_IN_LIST && builtInList(c.env).length > 0) {
      throw new ProblemError('conflict', `"${BUILT_IN_LIST}" comes from the WATCH_URLS var; change the var to change it`, {
        errors: [{ field: 'name', message: 'built in' }],
      });
    }
    return (await store(c).deleteList(name)) ? c.body(null, 204) : notFound(`watch list ${JSON.stringify(name)}`, 'name');
  })

  .get('/v1/runs', validQuery(() => runsQuery), async (c) => {
    const query = c.req.valid('query');
    const page = await store(c).listRuns({ watchlist: query.watchlist, limit: query.limit ?? RUNS_PAGE.default, cursor: query.cursor });
    return c.json(page);
  })

  .get('/v1/runs/latest', async (c) => {
    const name = c.req.query('watchlist') ?? BUILT_IN_LIST;
    const run = await store(c).latestRun(name);
    return run ? c.json(run) : notFound(`run yet for watch list ${JSON.stringify(name)}`, 'watchlist');
  })

  .get('/v1/runs/:id', async (c) => {
    const run = await store(c).getRun(c.req.param('id'));
    return run ? c.json(run) : notFound(`run ${JSON.stringify(c.req.param('id'))}`, 'id');
  })

  .get('/v1/changes', validQuery(() => changesQuery), async (c) => {
    const query = c.req.valid('query');
    const since = query.since ? new Date(query.since).toISOString() : new Date(Date.now() - CHANGES_DEFAULT_WINDOW_MS).toISOString();
    const changes = await store(c).changesSince({ since, watchlist: query.watchlist, limit: query.limit ?? CHANGES_PAGE.default });
    return c.json({ since, changes });
  })

  .all('/v1/watchlists', methodNotAllowed(['GET']))
  .all('/v1/watchlists/:name', methodNotAllowed(['GET', 'PUT', 'DELETE']))
  .all('/v1/runs', methodNotAllowed(['GET']))
  .all('/v1/runs/:id', methodNotAllowed(['GET']))
  .all('/v1/changes', methodNotAllowed(['GET']));
