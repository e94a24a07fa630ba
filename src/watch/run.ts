import { engineFor, serviceSettings } from '../config';
import { runBatch } from '../engine/batch';
import type { Env } from '../env';
import type { BatchStats, PageResult } from '../result';
import { compare, type Content } from './diff';
import { notify, type NotifyOutcome } from './notify';
import { builtInList, watchSettings } from './settings';
import { newRunId, WatchStore, type RunEntry, type RunRecord, type RunStats, type StoredPrevious, type UrlMemory, type WatchList } from './store';

/**
 * Scheduled runs: every watch list that follows the firing cron goes through
 * the same engine and defaults as /v1/fetch, one list after another (the 6
 * header slots are per invocation, so lists in parallel would only queue).
 */

/** What a scheduled invocation needs besides the environment. */
export interface ScheduledRun {
  cron: string | null;
  scheduledTime: number;
  now?: () => number;
  fetch?: typeof fetch;
  /**
   * Starts a list too large for this invocation as a job (src/jobs/watch-job.ts);
   * without it (no job bindings) every list runs here.
   */
  startJob?: ((list: WatchList, run: ScheduledRun & { now: () => number }) => Promise<unknown>) | undefined;
}

/** The fields carried forward from the previous check when the origin answers 304. */
const CARRIED: (keyof Content)[] = ['finalUrl', 'title', 'description', 'lang', 'canonical', 'image', 'siteName', 'author', 'published', 'modified', 'icon', 'type', 'snippet', 'textHash'];

/** Runs every list that follows `run.cron` (all of them when it is null); returns the stored runs. */
export async function runScheduled(env: Env, run: ScheduledRun): Promise<RunRecord[]> {
  const now = run.now ?? Date.now;
  const settings = watchSettings(env);
  const store = new WatchStore(env.DB);
  const lists = [...builtInList(env), ...(await store.listLists())].filter(
    (list) => run.cron === null || list.crons === null || list.crons.includes(run.cron),
  );
  const started = now();
  const done: RunRecord[] = [];
  for (const list of lists) {
    const left = settings.budgetMs - (now() - started);
    try {
      // A list too large for this invocation runs as a job; its run is stored when the job completes.
      if (list.urls.length > settings.inlineUrls && run.startJob) {
        await run.startJob(list, { ...run, now });
        continue;
      }
      if (left < settings.minListMs) {
        console.warn(`fanout cron: budget spent, watch list ${list.name} waits for the next tick`);
        continue;
      }
      done.push(await runWatchlist(env, store, list, { ...run, now }, left));
    } catch (error) {
      // One list's failure (a D1 error, say) must not cost the lists after it their run.
      console.error(`fanout cron: watch list ${list.name} failed:`, error);
    }
  }
  return done;
}

/** Runs one list: fetch with validators, compare with the previous run, store, prune, notify. */
export async function runWatchlist(
  env: Env,
  store: WatchStore,
  list: WatchList,
  run: ScheduledRun & { now: () => number },
  budgetMs: number,
): Promise<RunRecord> {
  const settings = watchSettings(env);
  const engine = engineFor(env);
  const options = engine.options(list.options);
  options.hashText = true;
  // A run that reaches its deadline stores what finished; the rest are marked `deadline`.
  options.deadlineMs = Math.min(options.deadlineMs, budgetMs);

  const startedAt = run.now();
  const previous = await store.loadState(list.name);
  const batch = await runBatch(list.urls, options, {
    fetch: run.fetch,
    now: run.now,
    // Shards fetch with the global fetch; a run given its own fetch stays in one invocation.
    shards: run.fetch ? undefined : engine.shards,
    validators: (url) => {
      const before = previous.get(url);
      return before?.ok ? { etag: before.etag, lastModified: before.lastModified } : undefined;
    },
  });

  return recordRun(env, store, { name: list.name, urls: list.urls }, { cron: run.cron, scheduledTime: run.scheduledTime, startedAt, finishedAt: run.now(), fetch: run.fetch }, batch.results, batch.stats, previous);
}

/** When a run started and ended, and the fetch its notification goes through. */
export interface RunTimes {
  cron: string | null;
  scheduledTime: number;
  startedAt: number;
  finishedAt: number;
  fetch?: typeof fetch | undefined;
  /** The run's id; a new one when absent (a job's run uses one made from the job, so it is stored once). */
  runId?: string | undefined;
}

/**
 * Stores a list's run from its results (in input order): compared with the
 * previous run, saved with each URL's new state, older runs pruned, and the
 * notification sent. Inline runs and runs that ran as jobs end here alike.
 */
export async function recordRun(
  env: Env,
  store: WatchStore,
  list: Pick<WatchList, 'name' | 'urls'>,
  times: RunTimes,
  results: readonly PageResult[],
  stats: BatchStats,
  known?: Map<string, StoredPrevious>,
): Promise<RunRecord> {
  const settings = watchSettings(env);
  const previous = known ?? (await store.loadState(list.name));
  const entries = results.map((result, index) => entryFor(index, result, previous.get(result.url) ?? null));
  const record: RunRecord = {
    id: times.runId ?? newRunId(times.startedAt),
    watchlist: list.name,
    cron: times.cron,
    scheduledTime: new Date(times.scheduledTime).toISOString(),
    startedAt: new Date(times.startedAt).toISOString(),
    finishedAt: new Date(times.finishedAt).toISOString(),
    stats: { ...stats, ...countEntries(entries) },
    notification: null,
  };
  const memory = entries.map((entry) => memoryOf(entry, previous.get(entry.url) ?? null));
  await store.saveRun(record, entries, dedupeByUrl(memory), list.urls, record.finishedAt);
  await store.prune(list.name, settings.retention);

  const notable = entries.filter((e) => e.changed || e.state === 'failing' || e.state === 'recovered');
  if (settings.notifyUrl && notable.length > 0) {
    record.notification = await sendNotification(env, record, notable, times.fetch);
    await store.setNotification(record.id, record.notification);
  }
  return record;
}

/** One URL's entry: how it moved since the previous run; a 304 carries the previous content forward. */
function entryFor(index: number, raw: PageResult, before: StoredPrevious | null): RunEntry & { content: Content | null } {
  const notModified = raw.ok && raw.status === 304;
  const verdict = compare(before, raw, notModified);
  // A 304 carries the previous content forward, so the stored result reads like the page.
  const result: PageResult = notModified && before?.content ? ({ ...raw, ...pick(before.content, CARRIED) } as PageResult) : raw;
  return { index, url: raw.url, changed: verdict.changed, changes: verdict.changes, state: verdict.state, notModified, result, content: verdict.content };
}

/** The run's counts, computed from its entries. */
function countEntries(entries: readonly RunEntry[]): Omit<RunStats, keyof BatchStats> {
  const count = (test: (entry: RunEntry) => boolean) => entries.filter(test).length;
  return {
    changed: count((e) => e.changed),
    new: count((e) => e.state === 'new'),
    failing: count((e) => e.state === 'failing'),
    recovered: count((e) => e.state === 'recovered'),
    notModified: count((e) => e.notModified),
  };
}

/** What to remember of a URL for the next run. A failed check keeps the old validators, so the next good one can still be conditional. */
function memoryOf(entry: RunEntry & { content: Content | null }, before: StoredPrevious | null): UrlMemory {
  const { result } = entry;
  return {
    url: entry.url,
    ok: result.ok,
    etag: result.ok ? result.etag : (before?.etag ?? null),
    lastModified: result.ok ? result.lastModified : (before?.lastModified ?? null),
    content: entry.content,
  };
}

/** A URL listed twice is remembered once (the last entry wins, as it would in a map). */
function dedupeByUrl(memory: UrlMemory[]): UrlMemory[] {
  return [...new Map(memory.map((m) => [m.url, m])).values()];
}

function pick<T extends object>(source: T, keys: (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) out[key] = source[key];
  return out;
}

async function sendNotification(env: Env, run: RunRecord, notable: RunEntry[], doFetch?: typeof fetch): Promise<NotifyOutcome> {
  const settings = watchSettings(env);
  const payload = {
    event: 'fanout.run.changes',
    run: { id: run.id, watchlist: run.watchlist, cron: run.cron, scheduledTime: run.scheduledTime, startedAt: run.startedAt, finishedAt: run.finishedAt, stats: run.stats },
    changes: notable.map((e) => ({
      url: e.url,
      state: e.state,
      changed: e.changed,
      changes: e.changes,
      status: e.result.status,
      finalUrl: e.result.finalUrl,
      title: e.result.title,
      snippet: e.result.snippet,
      error: e.result.error,
    })),
  };
  const outcome = await notify(settings.notifyUrl!, settings.notifySecret, payload, { ...serviceSettings(env), fetch: doFetch });
  if (!outcome.ok) console.warn(`fanout cron: notification for run ${run.id} failed: ${outcome.error}`);
  return outcome;
}
