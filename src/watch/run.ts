import { runBatch, type PageResult } from '../engine/batch';
import { durableShards } from '../engine/shards';
import type { Env } from '../env';
import { limitsFromEnv, normalizeOptions, serviceSettings } from '../options';
import { compare, type Content } from './diff';
import { notify, type NotifyOutcome } from './notify';
import { newRunId, WatchStore, type RunEntry, type RunRecord, type RunStats, type UrlMemory, type WatchList } from './store';
import { builtInList, watchSettings } from './settings';

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
}

/** The fields carried forward from the previous check when the origin answers 304. */
const CARRIED: (keyof Content)[] = ['finalUrl', 'title', 'description', 'lang', 'canonical', 'image', 'siteName', 'snippet', 'textHash'];

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
    if (left < settings.minListMs) {
      console.warn(`fanout cron: budget spent, watch list ${list.name} waits for the next tick`);
      continue;
    }
    try {
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
  const service = serviceSettings(env);
  const options = normalizeOptions(list.options, service, limitsFromEnv(env));
  options.hashText = true;
  // A run that reaches its deadline stores what finished; the rest are marked `deadline`.
  options.deadlineMs = Math.min(options.deadlineMs, budgetMs);

  const startedAt = run.now();
  const previous = await store.loadState(list.name);
  const batch = await runBatch(list.urls, options, {
    fetch: run.fetch,
    now: run.now,
    // Shards fetch with the global fetch; a run given its own fetch stays in one invocation.
    shards: env.SHARDS && !run.fetch ? durableShards(env.SHARDS) : undefined,
    validators: (url) => {
      const before = previous.get(url);
      return before?.ok ? { etag: before.etag, lastModified: before.lastModified } : undefined;
    },
  });

  const entries: RunEntry[] = [];
  const memory = new Map<string, UrlMemory>();
  const counts = { changed: 0, new: 0, failing: 0, recovered: 0, notModified: 0 };
  batch.results.forEach((raw, index) => {
    const before = previous.get(raw.url) ?? null;
    const notModified = raw.ok && raw.status === 304;
    const verdict = compare(before, raw, notModified);
    // A 304 carries the previous content forward, so the stored result reads like the page.
    const result: PageResult = notModified && before?.content ? ({ ...raw, ...pick(before.content, CARRIED) } as PageResult) : raw;
    entries.push({ index, url: raw.url, changed: verdict.changed, changes: verdict.changes, state: verdict.state, notModified, result });
    if (verdict.changed) counts.changed++;
    if (verdict.state === 'new') counts.new++;
    if (verdict.state === 'failing') counts.failing++;
    if (verdict.state === 'recovered') counts.recovered++;
    if (notModified) counts.notModified++;
    memory.set(raw.url, {
      url: raw.url,
      ok: raw.ok,
      // A failed check keeps the old validators, so the next good one can still be conditional.
      etag: raw.ok ? raw.etag : (before?.etag ?? null),
      lastModified: raw.ok ? raw.lastModified : (before?.lastModified ?? null),
      content: verdict.content,
    });
  });

  const finishedAt = run.now();
  const stats: RunStats = { ...batch.stats, ...counts };
  const record: RunRecord = {
    id: newRunId(startedAt),
    watchlist: list.name,
    cron: run.cron,
    scheduledTime: new Date(run.scheduledTime).toISOString(),
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    stats,
    changed: counts.changed,
    notification: null,
  };
  await store.saveRun(record, entries, [...memory.values()], list.urls, record.finishedAt);
  await store.prune(list.name, settings.retention);

  const notable = entries.filter((e) => e.changed || e.state === 'failing' || e.state === 'recovered');
  if (settings.notifyUrl && notable.length > 0) {
    record.notification = await sendNotification(env, record, notable, run.fetch);
    await store.setNotification(record.id, record.notification);
  }
  return record;
}

function pick<T extends object>(source: T, keys: (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) out[key] = source[key];
  return out;
}

async function sendNotification(env: Env, run: RunRecord, notable: RunEntry[], doFetch?: typeof fetch): Promise<NotifyOutcome> {
  const settings = watchSettings(env);
  const service = serviceSettings(env);
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
  const outcome = await notify(settings.notifyUrl!, settings.notifySecret, payload, { ...service, fetch: doFetch });
  if (!outcome.ok) console.warn(`fanout cron: notification for run ${run.id} failed: ${outcome.error}`);
  return outcome;
}
