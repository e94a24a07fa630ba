import { Hono } from 'hono';
import { clientsFromEnv } from '../clients';
import { limitsFromEnv, serviceSettings } from '../config';
import { DEFAULTS, VERSION } from '../engine/options';
import type { Env } from '../env';
import { methodNotAllowed, type AppEnv } from '../http';
import { ERROR_HELP, FORMATS } from '../result';
import { playgroundPage, playgroundPolicy, type PlaygroundSettings } from './page';

/**
 * GET /: the playground, a page that runs a batch through POST /v1/fetch from
 * the browser and shows the NDJSON stream as it arrives. The page itself
 * needs no token (it holds no data); the API calls it makes do, when the
 * deployment has clients, and then the page shows a token field.
 */

/** What the page is told of this deployment; a malformed var throws ConfigError (a 500 naming it), as for the API. */
export function playgroundSettings(env: Env): PlaygroundSettings {
  const limits = limitsFromEnv(env);
  return {
    auth: clientsFromEnv(env).length > 0,
    limits: { maxUrls: limits.maxUrls, maxConcurrency: limits.maxConcurrency, maxTimeoutMs: limits.maxTimeoutMs },
    // A maximum below a default wins over it, as normalizeOptions does.
    defaults: { concurrency: Math.min(DEFAULTS.concurrency, limits.maxConcurrency), timeoutMs: Math.min(DEFAULTS.timeoutMs, limits.maxTimeoutMs) },
    formats: FORMATS,
    errorHelp: ERROR_HELP,
    userAgent: serviceSettings(env).userAgent,
    version: VERSION,
  };
}

export const playgroundRoutes = new Hono<AppEnv>()
  .get('/', async (c) => {
    const page = playgroundPage(playgroundSettings(c.env));
    c.header('content-security-policy', await playgroundPolicy());
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    // The page follows the deployment's vars; a cache may keep it only while revalidating.
    c.header('cache-control', 'no-cache');
    return c.html(page);
  })
  .all('/', methodNotAllowed(['GET']));
