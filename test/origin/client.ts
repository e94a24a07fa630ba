/**
 * Helpers for talking to the test origin from inside workerd (fetch and web APIs
 * only; the origin itself runs in Node, see ./server.ts).
 */
import { inject } from 'vitest';
import type { OriginStats } from './server';

export type { OriginLogEntry, OriginStats } from './server';

/** The origin listens on 127.0.0.1 and 127.0.0.2; tests treat them as different sites. */
function base(host = '127.0.0.1'): string {
  return `http://${host}:${inject('originPort')}`;
}

/**
 * URL of a test route in a scope, e.g. `originUrl(scope, 'page?title=Hi&delay=50')`.
 * `route` is everything after `/s/<scope>/`, query string included.
 */
export function originUrl(scope: string, route: string, host = '127.0.0.1'): string {
  return `${base(host)}/s/${scope}/${route.replace(/^\//, '')}`;
}

async function control(method: 'GET' | 'POST', action: string, scope: string): Promise<Response> {
  const res = await fetch(`${base()}/${action}/${scope}`, { method });
  if (!res.ok) throw new Error(`origin ${method} /${action}/${scope} answered ${res.status}: ${await res.text()}`);
  return res;
}

/** The origin's counters and request log for one scope. */
export async function stats(scope: string): Promise<OriginStats> {
  return (await control('GET', '__stats', scope)).json<OriginStats>();
}

/** Lets every request held at `gate` through, and every later one until `closeGate()`; resolves to how many were held. */
export async function release(scope: string): Promise<number> {
  return (await (await control('POST', '__release', scope)).json<{ released: number }>()).released;
}

/** Makes `gate` hold requests again. */
export async function closeGate(scope: string): Promise<void> {
  await (await control('POST', '__close-gate', scope)).arrayBuffer();
}

/** Forgets the scope's counters and log; requests still in flight no longer count. */
export async function resetScope(scope: string): Promise<void> {
  await (await control('POST', '__reset', scope)).arrayBuffer();
}

/** What `setVersion()` may set besides the version number. */
export interface VersionOptions {
  /** Replaces the version-dependent title. */
  title?: string;
  /** Replaces the version-dependent text. */
  body?: string;
  /** The status `versioned` answers with (e.g. 500 to make the page fail). @default 200 */
  status?: number;
}

/**
 * Makes `versioned?name=<name>` in the scope serve version `v` (every name starts at 1):
 * a new ETag, Last-Modified, title, description and text, or `status` instead of the page.
 */
export async function setVersion(scope: string, name: string, v: number, options: VersionOptions = {}): Promise<void> {
  const query = new URLSearchParams({ name, v: String(v) });
  if (options.title !== undefined) query.set('title', options.title);
  if (options.body !== undefined) query.set('body', options.body);
  if (options.status !== undefined) query.set('status', String(options.status));
  const res = await fetch(`${base()}/__version/${scope}?${query}`, { method: 'POST' });
  if (!res.ok) throw new Error(`origin POST /__version/${scope}?${query} answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/** Options for `waitFor()`. */
export interface WaitForOptions {
  /** @default 5000 */
  timeoutMs?: number;
  /** @default 10 */
  intervalMs?: number;
  /** Said in the timeout error, to tell which wait failed. */
  message?: string;
}

/** Polls `predicate` until it resolves true; throws after `timeoutMs`. */
export async function waitFor(predicate: () => Promise<boolean> | boolean, { timeoutMs = 5000, intervalMs = 10, message = 'condition' }: WaitForOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) throw new Error(`waitFor: ${message} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Polls the scope's stats until `check` holds, and returns those stats. */
export async function waitForStats(scope: string, check: (s: OriginStats) => boolean, options: WaitForOptions = {}): Promise<OriginStats> {
  let last: OriginStats | undefined;
  try {
    await waitFor(async () => check((last = await stats(scope))), options);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last stats: ${JSON.stringify({ ...last, log: last?.log.length })}`, { cause: err });
  }
  return last as OriginStats;
}

/** A fresh scope name, `prefix` plus a random suffix, so each test has its own counters. */
export function newScope(prefix: string): string {
  if (!/^[\w-]+$/.test(prefix)) throw new TypeError(`Expected \`prefix\` to be letters, digits, _ or -, got ${JSON.stringify(prefix)}`);
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** The origin URL of a fixture (test/fixtures/), served with `ct` as its Content-Type (none at all when undefined). */
export function fixtureUrl(scope: string, name: string, ct?: string): string {
  return originUrl(scope, `fixture/${name}${ct === undefined ? '' : `?ct=${encodeURIComponent(ct)}`}`);
}
