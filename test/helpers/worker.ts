/**
 * Helpers for tests that drive the Worker inside workerd: its fetch entry point
 * (`call`, `post`, `fanout`, `withEnv`) and its scheduled one with watch lists
 * (`watchHarness`). Problem documents are checked with ./problem.ts.
 */
import { env, exports } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, expect } from 'vitest';
import worker from '../../src/index';
import type { Env } from '../../src/env';
import type { BatchResult, PageResult } from '../../src/result';
import type { RunEntry, RunRecord } from '../../src/watch/store';
import { newScope } from '../origin/client';

/** The origin tests call the Worker on; any will do, the Worker does not look at it. */
export const BASE = 'http://fanout.test';

/** A request to the Worker through its real entry point, with the environment of wrangler.toml and vitest.config.ts. */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(`${BASE}${path}`, init);
}

/** Calls the Worker with a modified environment (vars and secrets a test needs to change). */
export async function withEnv(overrides: Partial<Env>, path: string, init?: RequestInit): Promise<Response> {
  return worker.fetch(new Request(`${BASE}${path}`, init), { ...(env as Env), ...overrides }, createExecutionContext());
}

/** A request with a JSON body: `body` as is when it is a string (to send malformed JSON), else JSON.stringify'd. */
export function jsonInit(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

/** What `post()` and `fanout()` may add to the request. */
export interface PostOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** POST /v1/fetch through the Worker's real entry point, whatever it answers. */
export function post(body: unknown, { headers, signal }: PostOptions = {}): Promise<Response> {
  return call('/v1/fetch', { ...jsonInit('POST', body, headers), signal });
}

/** POST /v1/fetch as JSON; fails the test (showing the body) on anything but 200. */
export async function fanout(body: Record<string, unknown>, options: PostOptions = {}): Promise<BatchResult> {
  const res = await post(body, options);
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<BatchResult>();
}

/** One URL through POST /v1/fetch (with `options`); fails the test unless its result is ok. */
export async function fetchOne(url: string, options: Record<string, unknown> = {}): Promise<PageResult> {
  const { results } = await fanout({ urls: [url], ...options });
  expect(results).toHaveLength(1);
  const result = results[0]!;
  expect(result.error, JSON.stringify(result.error)).toBeNull();
  expect(result.ok).toBe(true);
  return result;
}

/** A run as GET /v1/runs/:id and /v1/runs/latest answer it: the stored run with its entries. */
export type RunWithResults = RunRecord & { results: RunEntry[] };

async function okJson<T>(path: string): Promise<T> {
  const res = await call(path);
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
  return res.json<T>();
}

/** The newest run of `watchlist` (of the built-in list `default` without one); throws unless there is one. */
export function latest(watchlist?: string): Promise<RunWithResults> {
  return okJson(`/v1/runs/latest${watchlist === undefined ? '' : `?watchlist=${watchlist}`}`);
}

/** One run by id; throws unless it exists. */
export function getRun(id: string): Promise<RunWithResults> {
  return okJson(`/v1/runs/${id}`);
}

/** One page of GET /v1/runs, newest first; `query` is the rest of the query string (limit, cursor). */
export function listRuns(watchlist: string, query = ''): Promise<{ runs: RunRecord[]; nextCursor: string | null }> {
  return okJson(`/v1/runs?watchlist=${watchlist}${query ? `&${query}` : ''}`);
}

/** A list body as PUT /v1/watchlists/:name takes it. */
export type ListBody = { urls: string[]; crons?: string[] | null } & Record<string, unknown>;

/** A watch list made by `watched()`: the origin scope its URLs live in, the cron only it follows, its name and URLs. */
export interface Watched {
  scope: string;
  cron: string;
  name: string;
  urls: string[];
}

/**
 * Watch-list helpers for one test file. Every cron from `ownCron()` fires only on
 * `dayOfWeek`, which is the file's own: no other file's tick runs this file's lists
 * (D1 may be shared between files), and this file's ticks run nothing of another
 * file's but lists with `crons: null`. Call it once at the top of the file: it
 * registers an afterEach that deletes every list the file's tests created.
 */
export function watchHarness({ dayOfWeek, scheduledTime }: { dayOfWeek: number; scheduledTime: number }) {
  const created = new Set<string>();
  afterEach(async () => {
    for (const name of created) await (await call(`/v1/watchlists/${name}`, { method: 'DELETE' })).arrayBuffer();
    created.clear();
  });
  let cronCounter = 0;

  const harness = {
    /** The time every `tick()` is scheduled for. */
    scheduledTime,

    /** A cron expression no other test follows: minute and hour count up, the day of week is the file's. */
    ownCron(): string {
      cronCounter++;
      return `${cronCounter % 60} ${Math.floor(cronCounter / 60) % 24} * * ${dayOfWeek}`;
    },

    /** One scheduled invocation for `cron`, waited for to the end (its waitUntil work included). */
    async tick(cron: string, overrides: Partial<Env> = {}): Promise<void> {
      const controller = createScheduledController({ cron, scheduledTime });
      const ctx = createExecutionContext();
      await worker.scheduled(controller, { ...(env as Env), ...overrides }, ctx);
      await waitOnExecutionContext(ctx);
    },

    /** A list name no other test uses (`prefix` plus a random suffix, padded with x to `length`); deleted after the test. */
    listName(prefix: string, length = 0): string {
      const name = newScope(prefix).padEnd(length, 'x');
      created.add(name);
      return name;
    },

    /** PUT /v1/watchlists/:name, whatever it answers; with `overrides`, in a modified environment. */
    putList(name: string, body: unknown, overrides?: Partial<Env>): Promise<Response> {
      const path = `/v1/watchlists/${name}`;
      return overrides ? withEnv(overrides, path, jsonInit('PUT', body)) : call(path, jsonInit('PUT', body));
    },

    /** Creates a list under a fresh name (see `listName()`); throws unless the API answers 201. */
    async newList(prefix: string, body: ListBody): Promise<string> {
      const name = harness.listName(prefix);
      const res = await harness.putList(name, body);
      if (res.status !== 201) throw new Error(`PUT /v1/watchlists/${name} answered ${res.status}: ${await res.text()}`);
      return name;
    },

    /**
     * The usual arrangement: a fresh origin scope, the URLs `urlsIn` makes in it, a cron of
     * its own, and a list of those URLs that follows only that cron, with `options` besides.
     */
    async watched(prefix: string, urlsIn: (scope: string) => string[], options: Record<string, unknown> = {}): Promise<Watched> {
      const scope = newScope(prefix);
      const urls = urlsIn(scope);
      const cron = harness.ownCron();
      const name = await harness.newList(prefix, { urls, crons: [cron], ...options });
      return { scope, cron, name, urls };
    },
  };
  return harness;
}
