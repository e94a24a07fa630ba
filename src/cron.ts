import type { Env } from './env';
import { startsJobs, startWatchJob } from './jobs/watch-job';
import { runScheduled } from './watch/run';

/**
 * The cron trigger: every watch list that follows the firing cron is checked
 * through the same engine and defaults as /v1/fetch, and each run is stored
 * in D1 with what changed (src/watch/run.ts); a list too large for one
 * invocation runs as a job (src/jobs/watch-job.ts).
 */
export const scheduled: ExportedHandlerScheduledHandler<Env> = (controller, env, ctx) => {
  ctx.waitUntil(
    runScheduled(env, {
      cron: controller.cron,
      scheduledTime: controller.scheduledTime,
      // Lists over WATCH_INLINE_URLS run as jobs where the deployment has the job bindings.
      startJob: startsJobs(env) ? (list, run) => startWatchJob(env, list, run) : undefined,
    }).then(
      (runs) => console.log(`fanout cron ${controller.cron}: ${runs.length} watch list(s) run, ${runs.reduce((n, r) => n + r.stats.changed, 0)} change(s)`),
    ),
  );
};
