import { runBatch, type BatchDeps } from './engine/batch';
import type { ShardOpener } from './engine/lanes';
import { DEFAULT_LIMITS, DEFAULT_USER_AGENT, normalizeOptions, type FetchOptions, type Limits, type RequestOptions, type ServiceSettings } from './engine/options';
import type { Env } from './env';
import type { BatchResult } from './result';
import { ConfigError } from './errors';
import { durableShards } from './durable-shards';
import { perObject } from './memo';

/**
 * The deployment's configuration, read from the environment: the one place
 * vars are parsed and the one place the environment meets the engine. The
 * defaults themselves live with the engine (src/engine/options.ts); a var
 * that is not set leaves them as they are.
 */

/** The var that sets each limit (wrangler.toml [vars], README "Configuration"). */
export const LIMIT_VARS = {
  maxUrls: 'MAX_URLS',
  maxConcurrency: 'MAX_CONCURRENCY',
  maxTimeoutMs: 'MAX_TIMEOUT_MS',
  maxDeadlineMs: 'MAX_DEADLINE_MS',
  maxBytes: 'MAX_BYTES',
  maxRetries: 'MAX_RETRIES',
  maxRedirects: 'MAX_REDIRECTS',
  maxSnippetLength: 'MAX_SNIPPET_LENGTH',
  maxContentChars: 'MAX_CONTENT_CHARS',
  maxAge: 'MAX_CACHE_AGE_MS',
} as const satisfies Record<keyof Limits, keyof Env>;

/** Limits that may be 0 (no retries, no redirects, no snippet); the rest must be at least 1. */
const ZERO_ALLOWED: ReadonlySet<keyof Limits> = new Set(['maxRetries', 'maxRedirects', 'maxSnippetLength']);

/** Vars that hold integers. */
type IntVar = (typeof LIMIT_VARS)[keyof Limits] | 'MAX_WATCH_URLS' | 'RUN_RETENTION' | 'CACHE_MAX_AGE_MS' | 'MAX_JOB_URLS' | 'JOB_RETENTION_DAYS' | 'JOB_CHUNK_URLS' | 'JOB_REDRIVE_MS' | 'WATCH_INLINE_URLS';

/**
 * An integer var: `fallback` when unset or empty, otherwise an integer of at
 * least `min`; anything else throws ConfigError naming the var and its value.
 */
export function intVar(env: Env, name: IntVar, min: number, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`Expected ${name} to be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The service-wide maxima of this environment; throws ConfigError naming a bad var. */
export const limitsFromEnv = perObject((env: Env): Limits => {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(LIMIT_VARS) as (keyof Limits)[]) {
    limits[key] = intVar(env, LIMIT_VARS[key], ZERO_ALLOWED.has(key) ? 0 : 1, DEFAULT_LIMITS[key]);
  }
  return limits;
});

/** Service-level settings that are not request options. */
export function serviceSettings(env: Env): ServiceSettings {
  return {
    userAgent: env.USER_AGENT?.trim() || DEFAULT_USER_AGENT,
    allowPrivate: env.ALLOW_PRIVATE_HOSTS?.trim().toLowerCase() === 'true',
    forceRobots: env.RESPECT_ROBOTS?.trim().toLowerCase() === 'true',
    defaultMaxAge: intVar(env, 'CACHE_MAX_AGE_MS', 0, 0),
  };
}

/** The engine as this deployment runs it, for the HTTP routes and the cron handler alike. */
export interface EngineSetup {
  /** A request's options with the deployment's defaults, maxima and settings filled in. */
  options(request: RequestOptions): FetchOptions;
  /** Scale-out over the SHARDS Durable Objects; undefined without the binding (one invocation per batch). */
  shards: ShardOpener | undefined;
  /** The deployment's maxima. */
  limits: Limits;
  /** Runs a batch with this deployment's scale-out and cache limit; `deps` adds the caller's signal, callbacks and the like. */
  run(urls: readonly string[], options: FetchOptions, deps?: Omit<BatchDeps, 'shards' | 'maxAgeLimitMs'>): Promise<BatchResult>;
}

export function engineFor(env: Env): EngineSetup {
  const limits = limitsFromEnv(env);
  const settings = serviceSettings(env);
  const shards = env.SHARDS ? durableShards(env.SHARDS) : undefined;
  return {
    options: (request) => normalizeOptions(request, settings, limits),
    limits,
    shards,
    run: (urls, options, deps = {}) => runBatch(urls, options, { ...deps, shards, maxAgeLimitMs: limits.maxAge }),
  };
}
