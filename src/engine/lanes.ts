import type { PageResult } from '../result';
import { ENGINE, type FetchOptions } from './options';
import { fetchPage, type PageContext, type PageJob } from './fetch-page';
import type { Semaphore } from './semaphore';

/**
 * The lane plan. A batch whose `concurrency` is above one invocation's 6
 * header slots (docs/workers-platform.md) runs its URLs in lanes of at most 6
 * in flight each: lane 0 is the calling invocation itself, every other lane
 * is a shard, a Durable Object of its own (a fresh object per lane, so each is
 * a separate invocation with its own 6 connections, CPU, memory and
 * subrequest budget).
 *
 * The batch keeps one pool for all lanes (src/engine/batch.ts): URLs still
 * start in input order, `concurrency` and `perHost` hold for the whole batch,
 * and a lane that frees a slot takes the next URL, whichever lane it is
 * (src/engine/lane-picker.ts). A shard lane talks to its shard over one
 * WebSocket (src/engine/shard-lane.ts, shard-server.ts, shard-protocol.ts).
 */

/** Where URLs run: this invocation or a shard. */
export interface Lane {
  /** Most URLs the lane runs at once (at most ENGINE.headerSlots for a shard). */
  readonly capacity: number;
  /**
   * Fetches one URL. Resolves with its result (a failed URL is a result);
   * rejects with a LaneBroken when the lane itself failed, so the URL can run
   * elsewhere, or with the signal's reason when the batch was cut.
   */
  run(job: PageJob, signal: AbortSignal): Promise<PageResult>;
  /** Ends the lane: a shard cancels whatever it still has in flight. */
  close(): void;
}

/**
 * Opens a shard lane with room for `capacity` URLs, running with the batch's
 * `options`; `headerGate` is the caller's (opening one is a subrequest).
 */
export type ShardOpener = (options: FetchOptions, capacity: number, headerGate: Semaphore) => Lane;

/**
 * How many URLs each lane holds for a batch of `distinct` URLs, lane 0 first;
 * a single lane means the batch stays in one invocation.
 */
export function planLanes(concurrency: number, distinct: number): number[] {
  const inFlight = Math.max(1, Math.min(concurrency, distinct));
  const count = Math.ceil(inFlight / ENGINE.headerSlots);
  if (count <= 1) return [concurrency];
  return Array.from({ length: count }, (_, lane) => Math.floor(inFlight / count) + (lane < inFlight % count ? 1 : 0));
}

/** The lane of the calling invocation: fetchPage with the batch's own context. */
export function localLane(capacity: number, context: PageContext): Lane {
  return {
    capacity,
    run: (job) => fetchPage(job, context),
    close() {},
  };
}
