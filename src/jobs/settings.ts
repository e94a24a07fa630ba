import { intVar } from '../config';
import type { Env } from '../env';

/**
 * Settings for jobs (README "Jobs"). A job's URLs go to the JOBS_QUEUE in
 * chunks; each chunk is one consumer invocation's work, so its size follows
 * one invocation's budget: 6 connections waiting for headers, the
 * subrequest limit (every retry and redirect hop is one), and 15 minutes of
 * wall time for a queue consumer (docs/workers-platform.md).
 */
export const JOB_DEFAULTS = {
  /** Most URLs in one job (MAX_JOB_URLS). */
  maxJobUrls: 100_000,
  /** Days a job and its results are kept after it is created (JOB_RETENTION_DAYS). */
  retentionDays: 7,
  /** URLs per queue message (JOB_CHUNK_URLS): 25 URLs with the default one retry make at most 50 requests, plus redirects and robots.txt. */
  chunkUrls: 25,
  /** A chunk sent this long ago and still not recorded is sent again by the job's alarm (JOB_REDRIVE_MS). */
  redriveMs: 10 * 60_000,
  /** Sends of a chunk (the first included) before its URLs get `unprocessed` results. */
  maxSends: 4,
} as const;

/** Request body ceiling for POST /v1/jobs: 100,000 URLs of about 300 bytes. */
export const MAX_JOB_REQUEST_BYTES = 32 * 1024 * 1024;

/** The queues in wrangler.toml: the consumer tells a dead letter from a chunk by its queue's name. */
export const JOB_QUEUE = 'fanout-jobs';
export const JOB_DEAD_LETTERS = 'fanout-jobs-dlq';

export interface JobSettings {
  maxJobUrls: number;
  retentionMs: number;
  chunkUrls: number;
  redriveMs: number;
  maxSends: number;
}

/** Reads the job settings from the environment; throws ConfigError naming a bad var. */
export function jobSettings(env: Env): JobSettings {
  return {
    maxJobUrls: intVar(env, 'MAX_JOB_URLS', 1, JOB_DEFAULTS.maxJobUrls),
    retentionMs: intVar(env, 'JOB_RETENTION_DAYS', 1, JOB_DEFAULTS.retentionDays) * 86_400_000,
    chunkUrls: intVar(env, 'JOB_CHUNK_URLS', 1, JOB_DEFAULTS.chunkUrls),
    redriveMs: intVar(env, 'JOB_REDRIVE_MS', 1, JOB_DEFAULTS.redriveMs),
    maxSends: JOB_DEFAULTS.maxSends,
  };
}
