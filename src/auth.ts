import type { MiddlewareHandler } from 'hono';
import { clientFor, clientsFromEnv } from './clients';
import { ProblemError } from './errors';
import type { AppEnv } from './http';

/**
 * Auth for every API surface (/v1, /v2, /mcp): when API_TOKEN or API_TOKENS
 * names clients, a request needs one of their bearer tokens (compared in
 * constant time, src/clients.ts). The client's name is kept for the logs; its
 * rate limit, if it has one, is taken from its RateLimiter object before the
 * route runs.
 */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const clients = clientsFromEnv(c.env);
  c.set('client', null);
  if (clients.length === 0) return next();
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
  const client = presented ? await clientFor(clients, presented) : null;
  if (!client) {
    throw new ProblemError('unauthorized', 'a valid "Authorization: Bearer <token>" header is required', {
      errors: [{ field: 'authorization', message: 'missing or invalid bearer token' }],
      headers: { 'www-authenticate': `Bearer realm="fanout"${presented ? ', error="invalid_token"' : ''}` },
    });
  }
  c.set('client', client.name);
  if (client.ratePerMinute !== null && c.env.RATE_LIMITER) {
    const limiter = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(client.name));
    const { ok, retryAfterMs } = await limiter.take(client.ratePerMinute);
    if (!ok) {
      const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
      throw new ProblemError('rate-limited', `client ${client.name} is over its ${client.ratePerMinute} requests per minute; retry in ${seconds} s`, {
        errors: [{ field: 'authorization', message: `rate limit of ${client.ratePerMinute} per minute reached` }],
        headers: { 'retry-after': String(seconds) },
      });
    }
  }
  return next();
};
