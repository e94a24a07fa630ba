import { app } from './app';
import { scheduled } from './cron';
import type { Env } from './env';

export type { Env } from './env';
/** The Durable Object class behind the SHARDS binding (scale-out past 6 connections). */
export { FetchShard } from './fetch-shard';
/** The Durable Object class behind the RATE_LIMITER binding (one per rate-limited API client). */
export { RateLimiter } from './rate-limiter';

/** The Worker: the HTTP API and the cron trigger, both over the same engine. */
export default {
  fetch: app.fetch,
  scheduled,
} satisfies ExportedHandler<Env>;
