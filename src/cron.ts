import type { Env } from './env';
import { runScheduled } from './watch/run';

/**
 * The cron trigger: every watch list that follows the firing cron is checked
 * through the same engine and defaults as /v1/fetch, and each run is stored
 * in D1 with what changed (src/watch/run.ts).
 */
export const scheduled: ExportedHandlerScheduledHandler<Env> = (controller, env, ctx) => {
  ctx.waitUntil(
    runScheduled(env, { cron: controller.cron, scheduledTime: controller.scheduledTime }).then(
      (runs) => console.log(`fanout cron ${controller.cron}: ${runs.length} watch list(s) run, ${runs.reduce((n, r) => n + r.stats.changed, 0)} change(s)`),
    ),
  );
};
