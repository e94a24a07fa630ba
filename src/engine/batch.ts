import { AbortedFailure, DeadlineFailure, FetchFailure } from '../errors';
import { checkUrl } from '../guard';
import { ENGINE, type FetchOptions } from '../options';
import { failedResult, type PageJob, type PageResult, type Validators } from './fetch-page';
import { runPool, type PoolTask } from './pool';
import { Semaphore } from './semaphore';
import { LaneBroken, LanePicker, localLane, planLanes, type Lane, type ShardOpener } from './shards';

export type { PageResult } from './fetch-page';

/** Totals for a batch. */
export interface BatchStats {
  total: number;
  ok: number;
  failed: number;
  /** Distinct URLs whose fetch started (duplicates are fetched once; URLs still queued at the deadline are not counted). */
  fetched: number;
  durationMs: number;
  /** True when the deadline cut the batch short. */
  deadlineReached: boolean;
  /** Invocations the batch ran in: 1, or 1 + its shards when `concurrency` above 6 scaled it out (src/engine/shards.ts). */
  shards: number;
}

export interface BatchResult {
  results: PageResult[];
  stats: BatchStats;
}

export interface BatchDeps {
  /** The fetch to use (the Worker's global fetch, or a test's). */
  fetch?: typeof fetch;
  /** Aborts the batch (the client went away); outstanding fetches are cancelled. */
  signal?: AbortSignal;
  /** Called once per input index as soon as its result is known (fastest first). */
  onResult?: (index: number, result: PageResult) => void;
  now?: () => number;
  random?: () => number;
  /** Validators from an earlier check of a URL (by its input string), for conditional requests. */
  validators?: (url: string) => Validators | undefined;
  /** Opens scale-out shards (src/engine/shards.ts); without it the batch stays in one invocation (6 header slots). */
  shards?: ShardOpener;
}

/**
 * Fetches a batch of URLs with bounded parallelism and returns one result per
 * input URL, in input order, duplicates included. Never throws for a URL's
 * failure; stops at `deadlineMs` with every unfinished URL marked `deadline`.
 * Free of Hono and bindings: HTTP routes and the cron handler both call it.
 */
export async function runBatch(urls: readonly string[], options: FetchOptions, deps: BatchDeps = {}): Promise<BatchResult> {
  const now = deps.now ?? Date.now;
  const doFetch = deps.fetch ?? ((input, init) => fetch(input, init));
  const batchStart = now();
  const controller = new AbortController();
  const deadlineTimer = setTimeout(() => controller.abort(new DeadlineFailure(options.deadlineMs)), options.deadlineMs);
  const onClientAbort = () => controller.abort(new AbortedFailure());
  if (deps.signal?.aborted) onClientAbort();
  deps.signal?.addEventListener('abort', onClientAbort, { once: true });

  const results: Array<PageResult | undefined> = new Array(urls.length);
  const settle = (index: number, result: PageResult) => {
    if (results[index]) return;
    results[index] = result;
    deps.onResult?.(index, result);
  };

  // One task per distinct URL; duplicates share the fetch and each get their own result.
  const groups = new Map<string, { url: URL; indexes: number[] }>();
  urls.forEach((raw, index) => {
    const verdict = checkUrl(raw, { allowPrivate: options.allowPrivate });
    if (!verdict.ok) {
      settle(index, failedResult(raw, new FetchFailure(verdict.code, verdict.message)));
      return;
    }
    const group = groups.get(verdict.url.href);
    if (group) group.indexes.push(index);
    else groups.set(verdict.url.href, { url: verdict.url, indexes: [index] });
  });

  const headerGate = new Semaphore(ENGINE.headerSlots);
  const context = {
    options,
    fetch: doFetch,
    signal: controller.signal,
    headerGate,
    deadlineAt: batchStart + options.deadlineMs,
    batchStart,
    now,
    random: deps.random,
  };

  // Lanes: this invocation, plus a shard per further 6 in flight when scale-out is available.
  const distinct = [...groups.values()];
  const capacities = deps.shards ? planLanes(options.concurrency, distinct.length) : [options.concurrency];
  const shardInit = { options, deadlineMs: options.deadlineMs };
  // Shards are opened first, so their connects get header slots before the local URLs take them all.
  const shards = capacities.slice(1).map((capacity) => deps.shards!(shardInit, capacity, headerGate));
  const lanes: Lane[] = [localLane(capacities[0]!, context), ...shards];
  const picker = new LanePicker(lanes);

  /**
   * Runs a URL on the lane with the most room. A URL whose shard broke off runs
   * again in this invocation, which cannot break the same way, so every URL
   * still gets a real result (GET is idempotent; it costs one more request).
   */
  const runOnLanes = async (job: PageJob): Promise<PageResult> => {
    let only: number | undefined;
    for (;;) {
      let lane: number;
      try {
        lane = await picker.take(controller.signal, only);
      } catch {
        return failedResult(job.url, batchFailure(controller.signal, options));
      }
      const dispatchedAt = now();
      try {
        const result = await lanes[lane]!.run(job, controller.signal);
        if (lane === 0) return result;
        // A shard counts queue time from when it got the URL; the batch's part came first.
        return { ...result, timings: { ...result.timings, queuedMs: result.timings.queuedMs + (dispatchedAt - batchStart) } };
      } catch (error) {
        if (controller.signal.aborted) return failedResult(job.url, batchFailure(controller.signal, options));
        if (!(error instanceof LaneBroken)) throw error;
        picker.breakLane(lane);
        console.error(`fanout: ${error.message}; running ${job.url} here instead`);
        only = 0;
      } finally {
        picker.give(lane);
      }
    }
  };

  // URLs not yet started, per host: while more are queued, a connection to that host is worth keeping.
  const queuedByHost = new Map<string, number>();
  for (const group of distinct) queuedByHost.set(group.url.host, (queuedByHost.get(group.url.host) ?? 0) + 1);

  let started = 0;
  const tasks: PoolTask[] = distinct.map((group) => ({
    key: group.url.hostname,
    run: async () => {
      started++;
      const queued = queuedByHost.get(group.url.host)! - 1;
      queuedByHost.set(group.url.host, queued);
      const first = urls[group.indexes[0]!]!;
      const result = await runOnLanes({ url: first, target: group.url, validators: deps.validators?.(first), reuseConnection: queued > 0 });
      for (const index of group.indexes) settle(index, { ...result, url: urls[index]! });
    },
    skip: () => {
      const reason = batchFailure(controller.signal, options);
      for (const index of group.indexes) settle(index, failedResult(urls[index]!, reason));
    },
  }));

  try {
    await runPool(tasks, { concurrency: options.concurrency, perKey: options.perHost, signal: controller.signal });
  } finally {
    clearTimeout(deadlineTimer);
    deps.signal?.removeEventListener('abort', onClientAbort);
    for (const lane of lanes) lane.close();
  }

  // Nothing is ever dropped: anything still missing gets the abort reason.
  const reason = batchFailure(controller.signal, options);
  urls.forEach((raw, index) => settle(index, failedResult(raw, reason)));
  const final = results as PageResult[];
  const ok = final.filter((r) => r.ok).length;
  return {
    results: final,
    stats: {
      total: final.length,
      ok,
      failed: final.length - ok,
      fetched: started,
      durationMs: now() - batchStart,
      deadlineReached: controller.signal.reason instanceof DeadlineFailure,
      shards: lanes.length,
    },
  };
}

/** Why an unfinished URL did not finish: the batch's abort reason (deadline, client gone). */
function batchFailure(signal: AbortSignal, options: FetchOptions): FetchFailure {
  return signal.reason instanceof FetchFailure ? signal.reason : new DeadlineFailure(options.deadlineMs);
}
