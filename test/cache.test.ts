/**
 * The result cache (`maxAge`, src/engine/result-cache.ts) on the Workers Cache
 * API: a cached result costs no request at the origin (counted there), a
 * stale one is answered while a fresh one is fetched in the background, a
 * failure is kept briefly, and watch lists never read it. Tests that move
 * time run the engine with their own clock and a store of their own.
 */
import { describe, expect, it } from 'vitest';
import { runBatch } from '../src/engine/batch';
import { normalizeOptions } from '../src/engine/options';
import { FAILURE_TTL_MS } from '../src/engine/result-cache';
import type { PageResult } from '../src/result';
import { expectProblem } from './helpers/problem';
import { call, fanout, latest, watchHarness } from './helpers/worker';
import { newScope, originUrl, stats } from './origin/client';

describe('the result cache through the Worker', () => {
  it('Should answer a second request from the cache, with no request at the origin', async () => {
    const scope = newScope('cache-hit');
    const url = originUrl(scope, 'page?title=Cached');
    const first = await fanout({ urls: [url], maxAge: 60_000 });
    expect(first.results[0]).toMatchObject({ ok: true, title: 'Cached', cache: { status: 'miss', ageMs: null } });
    const second = await fanout({ urls: [url, url], maxAge: 60_000 });
    for (const result of second.results) {
      expect(result).toMatchObject({ ok: true, url, title: 'Cached', snippet: first.results[0]!.snippet, cache: { status: 'hit' } });
      expect(result.cache!.ageMs).toBeGreaterThanOrEqual(0);
    }
    expect((await stats(scope)).requests).toBe(1);
    expect(second.stats.fetched).toBe(0);
  });

  it('Should key the cache by every option that changes a result', async () => {
    const scope = newScope('cache-key');
    const url = originUrl(scope, 'page?title=Keyed');
    await fanout({ urls: [url], maxAge: 60_000 });
    const other = await fanout({ urls: [url], maxAge: 60_000, snippetLength: 40 });
    expect(other.results[0]!.cache?.status).toBe('miss');
    expect(other.results[0]!.snippet!.length).toBeLessThanOrEqual(40);
    // Concurrency and timeouts do not change a result: still a hit.
    const same = await fanout({ urls: [url], maxAge: 60_000, concurrency: 2, timeoutMs: 5000 });
    expect(same.results[0]!.cache?.status).toBe('hit');
    expect((await stats(scope)).requests).toBe(2);
  });

  it('Should fetch fresh with maxAge 0 (bypass), and say nothing of the cache without maxAge', async () => {
    const scope = newScope('cache-bypass');
    const url = originUrl(scope, 'page?title=Fresh');
    await fanout({ urls: [url], maxAge: 60_000 });
    const bypass = await fanout({ urls: [url], maxAge: 0 });
    expect(bypass.results[0]!.cache).toEqual({ status: 'bypass', ageMs: null });
    const plain = await fanout({ urls: [url] });
    expect(plain.results[0]).not.toHaveProperty('cache');
    expect((await stats(scope)).requests).toBe(3);
  });

  it('Should take maxAge on GET and refuse one out of range, naming it', async () => {
    const scope = newScope('cache-get');
    const url = encodeURIComponent(originUrl(scope, 'page?title=Get'));
    await (await call(`/v1/fetch?url=${url}&maxAge=60000`)).text();
    const res = await call(`/v1/fetch?url=${url}&maxAge=60000`);
    const { results } = await res.json<{ results: PageResult[] }>();
    expect(results[0]!.cache?.status).toBe('hit');
    await expectProblem(await call(`/v1/fetch?url=${url}&maxAge=-1`), 400, 'maxAge');
    await expectProblem(await call(`/v1/fetch?url=${url}&maxAge=86400001`), 400, 'maxAge');
  });
});

/** A Cache API of this test's own, and a clock that only moves when told. */
function engineWithClock() {
  let clock = 5_000_000;
  const entries = new Map<string, string>();
  const store = {
    match: async (key: string) => (entries.has(key) ? new Response(entries.get(key)) : undefined),
    put: async (key: string, response: Response) => void entries.set(key, await response.text()),
  };
  const background: Promise<unknown>[] = [];
  const run = (urls: string[], maxAge: number) =>
    runBatch(urls, normalizeOptions({ maxAge, retries: 0 }, { userAgent: 'fanout-test', allowPrivate: true }), {
      now: () => clock,
      cacheStore: store,
      maxAgeLimitMs: 86_400_000,
      waitUntil: (promise) => void background.push(promise),
    });
  return { run, background, advance: (ms: number) => void (clock += ms), entries };
}

describe('the result cache over time', () => {
  it('Should answer a result older than maxAge but younger than twice it as stale, and refresh it in the background', async () => {
    const scope = newScope('cache-stale');
    const url = originUrl(scope, 'page?title=Stale');
    const engine = engineWithClock();
    await engine.run([url], 10_000);
    engine.advance(15_000);
    const stale = await engine.run([url], 10_000);
    expect(stale.results[0]).toMatchObject({ ok: true, cache: { status: 'stale', ageMs: 15_000 } });
    expect(engine.background).toHaveLength(1);
    await Promise.all(engine.background);
    expect((await stats(scope)).requests).toBe(2);
    // The refresh is what the next request gets, fresh.
    const after = await engine.run([url], 10_000);
    expect(after.results[0]!.cache).toEqual({ status: 'hit', ageMs: 0 });
    engine.advance(25_000);
    const expired = await engine.run([url], 10_000);
    expect(expired.results[0]!.cache?.status).toBe('miss');
    expect((await stats(scope)).requests).toBe(3);
  });

  it('Should keep a failure for FAILURE_TTL_MS at most, whatever maxAge says', async () => {
    const scope = newScope('cache-failure');
    const url = originUrl(scope, 'status/404');
    const engine = engineWithClock();
    await engine.run([url], 600_000);
    engine.advance(FAILURE_TTL_MS);
    const held = await engine.run([url], 600_000);
    expect(held.results[0]).toMatchObject({ ok: false, error: { code: 'http_status' }, cache: { status: 'hit' } });
    engine.advance(1);
    const again = await engine.run([url], 600_000);
    expect(again.results[0]!.cache?.status).toBe('miss');
    expect((await stats(scope)).requests).toBe(2);
  });
});

describe('watch lists and the cache', () => {
  const { tick, watched } = watchHarness({ dayOfWeek: 3, scheduledTime: Date.UTC(2026, 10, 25, 12, 0) });

  it('Should never read the cache, even when the deployment sets a default maxAge', async () => {
    const { scope, cron, name } = await watched('cache-watch', (scope) => [originUrl(scope, 'page?title=Watched')]);
    await tick(cron, { CACHE_MAX_AGE_MS: '600000' });
    await tick(cron, { CACHE_MAX_AGE_MS: '600000' });
    expect((await stats(scope)).requests).toBe(2);
    expect((await latest(name)).results[0]!.result.cache).toEqual({ status: 'bypass', ageMs: null });
  });
});
