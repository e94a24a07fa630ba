import { app } from './app';
import { scheduled } from './cron';
import { consumeQueue } from './jobs/consumer';
import type { Env } from './env';

export type { Env } from './env';
/** The Durable Object class behind the SHARDS binding (scale-out past 6 connections). */
export { FetchShard } from './fetch-shard';
/** The Durable Object class behind the RATE_LIMITER binding (one per rate-limited API client). */
export { RateLimiter } from './rate-limiter';
/** The Durable Object class behind the JOBS binding (one per job). */
export { FetchJob } from './jobs/job-object';
/** The Durable Object class behind the HOSTS binding (one per host, shared by every job's consumers). */
export { HostGate } from './jobs/host-gate';

/** The Worker: the HTTP API, the cron trigger and the jobs' queue consumer, all over the same engine. */
export default {
  fetch: app.fetch,
  scheduled,
  queue: (batch, env) => consumeQueue(batch, env),
} satisfies ExportedHandler<Env>;
