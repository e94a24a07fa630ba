import type { ErrorCode } from '../result';

/**
 * What travels between a job's parts: the queue message (one chunk of a job),
 * and the job's state as the API shows it. The URLs themselves stay in the
 * job's Durable Object; a message carries only which chunk to run, so it is a
 * few dozen bytes whatever the URLs (the Queues limit is 128 KB per message).
 */

export const JOB_STATUSES = ['queued', 'running', 'completed', 'cancelled', 'failed'] as const;
export type JobStatusName = (typeof JOB_STATUSES)[number];

/** Messages per `sendBatch` call (the Queues limit is 100 messages and 256 KB per call). */
export const SEND_BATCH_MESSAGES = 100;

/** One chunk of a job: its URLs run in one consumer invocation. */
export interface ChunkMessage {
  v: 1;
  job: string;
  chunk: number;
}

/** A watch list's job is complete: store its run (src/watch/run.ts recordRun). */
export interface RunMessage {
  v: 1;
  job: string;
  run: true;
}

/** A queue message body as a chunk or a run to store, or null when it is neither (logged and acknowledged, never retried). */
export function messageOf(body: unknown): ChunkMessage | RunMessage | null {
  if (typeof body !== 'object' || body === null) return null;
  const { v, job, chunk, run } = body as Record<string, unknown>;
  if (v !== 1 || typeof job !== 'string' || !JOB_ID.test(job)) return null;
  if (run === true && chunk === undefined) return { v, job, run };
  if (!Number.isSafeInteger(chunk) || (chunk as number) < 0) return null;
  return { v, job, chunk: chunk as number };
}

/** A job that runs a watch list: which, and the tick that started it. */
export interface WatchSpec {
  list: string;
  cron: string | null;
  scheduledTime: number;
  startedAt: number;
}

/** A job id: 32 lower-case hex digits (a random UUID's, or an idempotency key's digest). */
export const JOB_ID = /^[0-9a-f]{32}$/;

/** GET /v1/jobs/:id. */
export interface JobStatus {
  id: string;
  status: JobStatusName;
  total: number;
  /** URLs with their one final result; exact at every moment. */
  done: number;
  ok: number;
  failed: number;
  /** Failed results by error code. */
  errors: Partial<Record<ErrorCode, number>>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  expiresAt: string;
}

/** How a chunk's results were recorded, as counted by its consumer. */
export interface ChunkSummary {
  ok: number;
  failed: number;
  errors: Partial<Record<ErrorCode, number>>;
}

/** A chunk as the results reader sees it, in input order. */
export type ChunkView =
  /** Recorded: its results are the R2 object `object`. */
  | { state: 'done'; first: number; last: number; object: string }
  /** Ended without running (cancelled, or failed every send): the reader writes each URL's result. */
  | { state: 'cancelled' | 'unprocessed'; first: number; last: number; urls: string[] }
  /** Not recorded yet. */
  | { state: 'queued'; first: number; last: number };
