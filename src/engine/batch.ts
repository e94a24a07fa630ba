import { AbortedFailure, DeadlineFailure, failureFromVerdict, FetchFailure, LaneBroken } from '../errors';
import { checkUrl } from '../guard';
import { failedResult, type BatchResult, type PageResult } from '../result';
import type { PageContext, PageJob, Validators } from './fetch-page';
import { LanePicker } from './lane-picker';
import { localLane, planLanes, type Lane, type ShardOpener } from './lanes';
import { ENGINE, type FetchOptions } from './options';
import { runPool, type PoolTask } from './pool';
import { cacheable, defaultStore, freshness, ResultCache, type CacheStore } from './result-cache';
import { fetchRobots, HostSpacing, productToken, robotsCache, robotsFailure, type RobotsCache } from './robots';
import { HostTurns, type HostPermits } from './host-turns';
import { Semaphore } from './semaphore';

export interface BatchDeps {
  /** The fetch to use (the Worker's global fetch, or a test's). */
  fetch?: typeof fetch;
  /** Aborts the batch (the client went away); outstanding fetches are cancelled. */
  signal?: AbortSignal;
  /** Called once per input index as soon as its result is known (fastest first). */
  onResult?: (index: number, result: PageResult) => void;
  now?: () => number;
  random?: () => number;
  /** Waits before a retry (default: a timer); rejects when the signal aborts. For tests that record the waits. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Validators from an earlier check of a URL (by its input string), for conditional requests. */
  validators?: (url: string) => Validators | undefined;
  /** Opens scale-out shards (src/engine/lanes.ts); without it the batch stays in one invocation (6 header slots). */
  shards?: ShardOpener;
  /** Where robots.txt rules are kept (default: the isolate's cache); tests pass their own. */
  robots?: RobotsCache;
  /** The result cache's store (default: `caches.default`); null: no cache. */
  cacheStore?: CacheStore | null;
  /** The highest `maxAge` the deployment allows (entries are kept twice that long). */
  maxAgeLimitMs?: number;
  /** Keeps background work (a stale result's refresh) alive after the answer (`ctx.waitUntil`). */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Politeness shared with other invocations (jobs' consumers): a turn at the host for each request. */
  hosts?: HostPermits;
}

/** Requests one host gets at once across invocations, when the request names no `perHost`. */
export const SHARED_PER_HOST = 6;
/** How long a host that answered 429 or 503 without a Retry-After is left alone. */
export const HOST_BACKOFF_MS = 10_000;

/** The backoff a result asks of its host: its Retry-After on a 429 or 503, or HOST_BACKOFF_MS without one. */
function backoffOf(result: PageResult): number {
  if (result.error?.code !== 'http_status' || (result.status !== 429 && result.status !== 503)) return 0;
  return result.error.retryAfterMs ?? HOST_BACKOFF_MS;
}

/** One distinct URL of the batch and the input indexes that asked for it. */
interface Group {
  url: URL;
  indexes: number[];
}

/**
 * Fetches a batch of URLs with bounded parallelism and returns one result per
 * input URL, in input order, duplicates included. Never throws for a URL's
 * failure; stops at `deadlineMs` with every unfinished URL marked `deadline`.
 * Free of Hono and bindings: HTTP routes and the cron handler both call it.
 */
export async function runBatch(urls: readonly string[], options: FetchOptions, deps: BatchDeps = {}): Promise<BatchResult> {
  const now = deps.now ?? Date.now;
  const batchStart = now();
  const cut = cutSignal(options, deps.signal);
  const results = new ResultSlots(urls, deps.onResult);
  const groups = groupUrls(urls, options, results);

  const context: PageContext = {
    options,
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
    signal: cut.signal,
    headerGate: new Semaphore(ENGINE.headerSlots),
    parked: { count: 0 },
    deadlineAt: batchStart + options.deadlineMs,
    now,
    random: deps.random,
    sleep: deps.sleep,
  };
  const lanes = openLanes(groups.length, context, deps.shards);
  const picker = new LanePicker(lanes);
  const pending = pendingByHost(groups);
  let started = 0;

  const robots = options.respectRobots ? (deps.robots ?? robotsCache) : null;
  // Watch lists (hashText) never read the cache: they check what the page says now.
  const store = options.maxAge !== undefined && options.maxAge > 0 && !options.hashText ? (deps.cacheStore === undefined ? defaultStore() : deps.cacheStore) : null;
  const cache = store ? new ResultCache(store, deps.maxAgeLimitMs ?? options.maxAge!) : null;
  const cacheField = options.maxAge !== undefined;
  const settle = (group: Group, result: PageResult, info: PageResult['cache']) => {
    for (const index of group.indexes) results.settle(index, { ...result, url: urls[index]!, ...(cacheField ? { cache: info } : {}) });
  };
  const spacing = new HostSpacing(now, deps.sleep);
  const turns = deps.hosts ? new HostTurns(deps.hosts) : null;
  const tasks: PoolTask[] = groups.map((group) => ({
    key: group.url.hostname,
    run: async (release) => {
      const first = urls[group.indexes[0]!]!;
      const key = cache && !deps.validators?.(first) ? await cache.key(group.url, options) : null;
      if (cache && key) {
        const entry = await cache.get(key);
        const age = entry ? Math.max(0, now() - entry.storedAt) : 0;
        const state = entry ? freshness(entry, age, options.maxAge!) : 'expired';
        if (entry && state === 'fresh') return settle(group, entry.result, { status: 'hit', ageMs: age });
        if (entry && state === 'stale' && deps.waitUntil) {
          // Answered now from the cache; a fresh result replaces it in the background.
          deps.waitUntil(refresh(group.url.href, key, cache, options, { fetch: deps.fetch, now }));
          return settle(group, entry.result, { status: 'stale', ageMs: age });
        }
      }
      started++;
      let crawlDelayMs = 0;
      if (robots) {
        const { origin, host } = group.url;
        const rules = await robots.rules(origin, () =>
          fetchRobots(origin, productToken(options.userAgent), { fetch: context.fetch, userAgent: options.userAgent, allowPrivate: options.allowPrivate, signal: cut.signal }),
        );
        const refused = robotsFailure(group.url.href, rules);
        if (refused) return settle(group, failedResult(first, refused), { status: 'bypass', ageMs: null });
        // Crawl-delay: this host's URLs start that far apart in this batch.
        crawlDelayMs = rules.crawlDelayMs;
        await spacing.wait(host, crawlDelayMs, cut.signal);
      }
      // Across invocations too, when they share a gate (every job's consumers do).
      const host = group.url.host;
      const permit = turns ? await turns.take(host, { limit: options.perHost ?? SHARED_PER_HOST, intervalMs: crawlDelayMs }, cut.signal) : null;
      let turnGiven = false;
      const giveTurn = (backoffMs: number) => {
        if (!permit || turnGiven) return;
        turnGiven = true;
        turns!.give(host, permit, { backoffMs, intervalMs: crawlDelayMs, queued: pending.left(host) });
      };
      const job: PageJob = {
        url: first,
        target: group.url,
        queuedMs: now() - batchStart,
        validators: deps.validators?.(first),
        reuseConnection: pending.take(host) > 0,
      };
      // The turn, like the pool's slot, goes to the next URL as soon as this one's connection is done.
      const free = permit
        ? () => {
            giveTurn(0);
            release();
          }
        : release;
      let result: PageResult | undefined;
      try {
        result = await runOnLanes(job, lanes, picker, cut, free);
      } finally {
        giveTurn(result ? backoffOf(result) : 0);
      }
      if (cache && key && cacheable(result)) await cache.put(key, result, now());
      settle(group, result, cache && key ? { status: 'miss', ageMs: null } : { status: 'bypass', ageMs: null });
    },
    skip: () => {
      for (const index of group.indexes) results.settle(index, failedResult(urls[index]!, cut.reason()));
    },
  }));

  try {
    await runPool(tasks, { concurrency: options.concurrency, perKey: options.perHost, signal: cut.signal });
  } finally {
    cut.dispose();
    turns?.close();
    for (const lane of lanes) lane.close();
  }

  // Nothing is ever dropped: anything still missing gets the abort reason.
  const filled = results.fill(cut.reason());
  // A URL that never ran says so of the cache too.
  const final = cacheField ? filled.map((result) => (result.cache ? result : { ...result, cache: { status: 'bypass' as const, ageMs: null } })) : filled;
  const ok = final.filter((r) => r.ok).length;
  return {
    results: final,
    stats: {
      total: final.length,
      ok,
      failed: final.length - ok,
      fetched: started,
      durationMs: now() - batchStart,
      deadlineReached: cut.signal.reason instanceof DeadlineFailure,
      shards: lanes.length,
    },
  };
}

/** Fetches `url` again for the cache, after a stale answer (nothing of it reaches the caller). */
async function refresh(url: string, key: string, cache: ResultCache, options: FetchOptions, deps: { fetch: typeof fetch | undefined; now: () => number }): Promise<void> {
  const { results } = await runBatch([url], { ...options, maxAge: undefined, concurrency: 1 }, { fetch: deps.fetch, now: deps.now });
  const result = results[0]!;
  if (cacheable(result)) await cache.put(key, { ...result, url }, deps.now());
}

/** The batch's signal: aborts at the deadline (DeadlineFailure) or when the client goes (AbortedFailure). */
function cutSignal(options: FetchOptions, client: AbortSignal | undefined) {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(new DeadlineFailure(options.deadlineMs)), options.deadlineMs);
  const onClientGone = () => controller.abort(new AbortedFailure());
  if (client?.aborted) onClientGone();
  client?.addEventListener('abort', onClientGone, { once: true });
  return {
    signal: controller.signal,
    /** Why an unfinished URL did not finish: the abort reason (deadline, client gone). */
    reason(): FetchFailure {
      const reason: unknown = controller.signal.reason;
      return reason instanceof FetchFailure ? reason : new DeadlineFailure(options.deadlineMs);
    },
    dispose() {
      clearTimeout(deadline);
      client?.removeEventListener('abort', onClientGone);
    },
  };
}

/** One result per input index, each settled once and reported as it is. */
class ResultSlots {
  readonly #results: Array<PageResult | undefined>;

  constructor(
    private readonly urls: readonly string[],
    private readonly onResult: BatchDeps['onResult'],
  ) {
    this.#results = new Array(urls.length);
  }

  settle(index: number, result: PageResult): void {
    if (this.#results[index]) return;
    this.#results[index] = result;
    this.onResult?.(index, result);
  }

  /** Gives every index still without a result `reason`, and answers them all in input order. */
  fill(reason: FetchFailure): PageResult[] {
    this.urls.forEach((raw, index) => this.settle(index, failedResult(raw, reason)));
    return this.#results as PageResult[];
  }
}

/**
 * Guards every input once: a refused URL gets its result now; the rest are
 * grouped by URL so duplicates share one fetch and each still gets its own result.
 */
function groupUrls(urls: readonly string[], options: FetchOptions, results: ResultSlots): Group[] {
  const groups = new Map<string, Group>();
  urls.forEach((raw, index) => {
    const verdict = checkUrl(raw, { allowPrivate: options.allowPrivate });
    if (!verdict.ok) return results.settle(index, failedResult(raw, failureFromVerdict(verdict)));
    const group = groups.get(verdict.url.href);
    if (group) group.indexes.push(index);
    else groups.set(verdict.url.href, { url: verdict.url, indexes: [index] });
  });
  return [...groups.values()];
}

/**
 * Lane 0 is this invocation; with scale-out available, a shard per further 6
 * in flight. Shards are opened first, so their connects get header slots
 * before the local URLs take them all.
 */
function openLanes(distinct: number, context: PageContext, shards: ShardOpener | undefined): Lane[] {
  const { options, headerGate } = context;
  const capacities = shards ? planLanes(options.concurrency, distinct) : [options.concurrency];
  const extra = capacities.slice(1).map((capacity) => shards!(options, capacity, headerGate));
  return [localLane(capacities[0]!, context), ...extra];
}

/**
 * URLs not yet started, per host: while another is queued, a connection to
 * that host is worth keeping. `take` counts one URL as started and answers
 * how many are still queued behind it.
 */
function pendingByHost(groups: readonly Group[]) {
  const queued = new Map<string, number>();
  for (const { url } of groups) queued.set(url.host, (queued.get(url.host) ?? 0) + 1);
  return {
    take(host: string): number {
      const left = queued.get(host)! - 1;
      queued.set(host, left);
      return left;
    },
    /** URLs to `host` not started yet. */
    left: (host: string): number => queued.get(host) ?? 0,
  };
}

/**
 * Runs a URL on the lane with the most room. A URL whose shard broke off runs
 * again in this invocation, which cannot break the same way, so every URL
 * still gets a real result (GET is idempotent; it costs one more request).
 * The lane's room and the pool's slot go back together: when the URL's
 * connection is done (`free`, before extraction) or when it settles.
 */
async function runOnLanes(job: PageJob, lanes: readonly Lane[], picker: LanePicker, cut: ReturnType<typeof cutSignal>, release: () => void): Promise<PageResult> {
  let only: number | undefined;
  for (;;) {
    let lane: number;
    try {
      lane = await picker.take(cut.signal, only);
    } catch {
      return failedResult(job.url, cut.reason());
    }
    let held = true;
    const giveBack = () => {
      if (!held) return;
      held = false;
      picker.give(lane);
    };
    const free = () => {
      giveBack();
      release();
    };
    try {
      return await lanes[lane]!.run({ ...job, free }, cut.signal);
    } catch (error) {
      if (cut.signal.aborted) return failedResult(job.url, cut.reason());
      if (!(error instanceof LaneBroken)) throw error;
      picker.breakLane(lane);
      console.error(`fanout: ${error.message}; running ${job.url} here instead`);
      only = 0;
    } finally {
      giveBack();
    }
  }
}
