import { app } from './app';
import type { Env } from './env';

export type { Env } from './env';

/** The Worker: the HTTP API (cron and queue handlers join here as they land). */
export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
