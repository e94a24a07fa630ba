import { AbortedFailure, DeadlineFailure, FetchFailure } from '../errors';
import { checkUrl } from '../guard';
import { ENGINE, type FetchOptions } from '../options';
import { failedResult, fetchPage, type PageResult, type Validators } from './fetch-page';
import { runPool, type PoolTask } from './pool';
import { Semaphore } from './semaphore';

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

  let started = 0;
  const tasks: PoolTask[] = [...groups.values()].map(({ url, indexes }) => ({
    key: url.hostname,
    run: async () => {
      started++;
      const first = urls[indexes[0]!]!;
      const result = await fetchPage(first, url, context, deps.validators?.(first));
      for (const index of indexes) settle(index, { ...result, url: urls[index]! });
    },
    skip: () => {
      const reason = controller.signal.reason instanceof FetchFailure ? controller.signal.reason : new DeadlineFailure(options.deadlineMs);
      for (const index of indexes) settle(index, failedResult(urls[index]!, reason));
    },
  }));

  try {
    await runPool(tasks, { concurrency: options.concurrency, perKey: options.perHost, signal: controller.signal });
  } finally {
    clearTimeout(deadlineTimer);
    deps.signal?.removeEventListener('abort', onClientAbort);
  }

  // Nothing is ever dropped: anything still missing gets the abort reason.
  const reason = controller.signal.reason instanceof FetchFailure ? controller.signal.reason : new DeadlineFailure(options.deadlineMs);
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
    },
  };
}
