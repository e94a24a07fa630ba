import { serviceSettings } from '../config';
import type { Env } from '../env';
import type { ScheduledRun } from '../watch/run';
import type { WatchList } from '../watch/store';
import { jobObjects } from './job-object';
import { jobSettings } from './settings';

/** A deployment with the job bindings runs large watch lists as jobs. */
export function startsJobs(env: Env): boolean {
  return Boolean(env.JOBS && env.JOBS_QUEUE && env.RESULTS);
}

/**
 * Starts a watch list's run as a job: its URLs go through the job queue (each
 * chunk with the validators of its URLs' last check, and the text hash), and
 * once the job completes a consumer stores the run (consumer.ts storeRun).
 */
export async function startWatchJob(env: Env, list: WatchList, run: ScheduledRun & { now: () => number }): Promise<string> {
  const jobs = jobSettings(env);
  const id = crypto.randomUUID().replaceAll('-', '');
  const ns = jobObjects(env);
  await ns.get(ns.idFromName(id)).create({
    id,
    client: null,
    urls: list.urls,
    options: JSON.stringify(list.options),
    bodyHash: id,
    chunkUrls: jobs.chunkUrls,
    retentionMs: jobs.retentionMs,
    redriveMs: jobs.redriveMs,
    maxSends: jobs.maxSends,
    webhook: null,
    userAgent: serviceSettings(env).userAgent,
    watch: { list: list.name, cron: run.cron, scheduledTime: run.scheduledTime, startedAt: run.now() },
  });
  console.log(`fanout cron: watch list ${list.name} (${list.urls.length} URLs) runs as job ${id.slice(0, 8)}`);
  return id;
}
