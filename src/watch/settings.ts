import { intVar } from '../config';
import type { Env } from '../env';
import type { WatchList } from './store';

/**
 * Settings for scheduled runs. Cron invocations get 15 minutes of wall time
 * and 30 s of CPU for intervals under an hour (docs/workers-platform.md);
 * fanout plans for 13 minutes so the last writes to D1 land in time.
 */
export const WATCH_DEFAULTS = {
  /** Most URLs a watch list may hold (its URLs are one D1 row, under D1's 2 MB per value). */
  maxWatchUrls: 5_000,
  /** Lists up to this many URLs run in the cron invocation; larger ones run as a job (README "Jobs"). */
  inlineUrls: 200,
  /** Runs kept per list; older ones are pruned in the same invocation. */
  retention: 100,
  /** Wall-time budget of one scheduled invocation, shared by the lists it runs. */
  budgetMs: 13 * 60_000,
  /** A list is not started with less budget than this left. */
  minListMs: 5_000,
} as const;

/** The name of the list that comes from the WATCH_URLS var. */
export const BUILT_IN_LIST = 'default';

export interface WatchSettings {
  maxWatchUrls: number;
  inlineUrls: number;
  retention: number;
  budgetMs: number;
  minListMs: number;
  notifyUrl: string | undefined;
  notifySecret: string | undefined;
}

/** Reads the watch settings from the environment; throws ConfigError naming a bad var. */
export function watchSettings(env: Env): WatchSettings {
  return {
    maxWatchUrls: intVar(env, 'MAX_WATCH_URLS', 1, WATCH_DEFAULTS.maxWatchUrls),
    inlineUrls: intVar(env, 'WATCH_INLINE_URLS', 1, WATCH_DEFAULTS.inlineUrls),
    retention: intVar(env, 'RUN_RETENTION', 1, WATCH_DEFAULTS.retention),
    budgetMs: WATCH_DEFAULTS.budgetMs,
    minListMs: WATCH_DEFAULTS.minListMs,
    notifyUrl: env.NOTIFY_URL?.trim() || undefined,
    notifySecret: env.NOTIFY_SECRET || undefined,
  };
}

/** The URLs of WATCH_URLS: separated by commas or whitespace. */
export function parseWatchUrls(raw: string | undefined): string[] {
  return (raw ?? '').split(/[\s,]+/).filter((url) => url !== '');
}

/** The built-in `default` list, when WATCH_URLS names any URL (default options, every tick). */
export function builtInList(env: Env): WatchList[] {
  const urls = parseWatchUrls(env.WATCH_URLS);
  if (urls.length === 0) return [];
  return [{ name: BUILT_IN_LIST, urls, options: {}, crons: null, createdAt: '', updatedAt: '', builtIn: true }];
}
