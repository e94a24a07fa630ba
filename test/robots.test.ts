/**
 * robots.txt (`respectRobots`, src/engine/robots.ts) against the test origin's
 * `/robots.txt` (test/origin/server.ts `robotsTxt`): 127.0.0.2's file refuses
 * `robots/private` and `robots/no-fanout` to fanout; 127.0.0.1's does the same
 * and asks for a Crawl-delay of 1 s, and can be made to answer 503, 404 or a
 * redirect. Tests that reach 127.0.0.1's file run the engine with their own
 * cache and a recorded clock, so nothing sleeps through the delay.
 */
import { afterEach, describe, expect, it, inject } from 'vitest';
import { runBatch, type BatchDeps } from '../src/engine/batch';
import { normalizeOptions } from '../src/engine/options';
import { RobotsCache } from '../src/engine/robots';
import { expectProblem } from './helpers/problem';
import { call, fanout, withEnv } from './helpers/worker';
import { newScope, originUrl, stats } from './origin/client';

const SECOND = '127.0.0.2';
const origin = (host = '127.0.0.1') => `http://${host}:${inject('originPort')}`;

async function robotsHits(): Promise<Record<string, number>> {
  return (await fetch(`${origin()}/__robots/hits`)).json();
}

async function robotsMode(mode: 'normal' | '503' | '404' | 'redirect'): Promise<void> {
  const res = await fetch(`${origin()}/__robots/${mode}`, { method: 'POST' });
  expect(res.status).toBe(200);
}

afterEach(async () => {
  await robotsMode('normal');
});

/** runBatch with a fresh robots cache, a clock that only moves when the batch sleeps, and every sleep recorded. */
async function runWithClock(urls: string[], input: Record<string, unknown> = {}) {
  let clock = 1_000_000;
  const sleeps: number[] = [];
  const deps: BatchDeps = {
    robots: new RobotsCache(() => clock),
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
  };
  const batch = await runBatch(urls, normalizeOptions({ respectRobots: true, retries: 0, ...input }, { userAgent: 'fanout/0.1.0 (+test)', allowPrivate: true }), deps);
  return { ...batch, sleeps };
}

describe('respectRobots through the Worker', () => {
  it('Should refuse what robots.txt refuses fanout, fetch the rest, and read the file once for the batch and the next', async () => {
    const scope = newScope('robots');
    const urls = ['robots/private', 'robots/private/open', 'robots/no-fanout', 'robots/others', 'page?title=Free'].map((route) => originUrl(scope, route, SECOND));
    const before = (await robotsHits())[SECOND] ?? 0;
    const { results } = await fanout({ urls, respectRobots: true });
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual(['robots_disallowed', 'ok', 'robots_disallowed', 'ok', 'ok']);
    expect(results[0]!.error).toMatchObject({ retryable: false, message: expect.stringContaining('robots.txt') });
    // The refused URLs never reached the origin.
    const routes = (await stats(scope)).log.map((entry) => entry.route).sort();
    expect(routes).toEqual(['page?title=Free', 'robots/others', 'robots/private/open']);
    await fanout({ urls: [originUrl(scope, 'page?title=Again', SECOND)], respectRobots: true });
    expect(((await robotsHits())[SECOND] ?? 0) - before).toBe(1);
  });

  it('Should leave robots.txt alone by default', async () => {
    const scope = newScope('robots-off');
    const before = await robotsHits();
    const { results } = await fanout({ urls: [originUrl(scope, 'robots/private', SECOND)] });
    expect(results[0]).toMatchObject({ ok: true, error: null });
    expect(await robotsHits()).toEqual(before);
  });

  it('Should honour robots.txt for every request when the deployment sets RESPECT_ROBOTS', async () => {
    const scope = newScope('robots-forced');
    const res = await withEnv({ RESPECT_ROBOTS: 'true' }, '/v1/fetch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ urls: [originUrl(scope, 'robots/no-fanout', SECOND)], respectRobots: false }),
    });
    const { results } = await res.json<{ results: { error: { code: string } | null }[] }>();
    expect(results[0]!.error?.code).toBe('robots_disallowed');
  });

  it('Should take respectRobots on GET and refuse a value that is not a boolean, naming it', async () => {
    const scope = newScope('robots-get');
    const url = encodeURIComponent(originUrl(scope, 'robots/private', SECOND));
    const res = await call(`/v1/fetch?url=${url}&respectRobots=true`);
    const { results } = await res.json<{ results: { error: { code: string } | null }[] }>();
    expect(results[0]!.error?.code).toBe('robots_disallowed');
    await expectProblem(await call(`/v1/fetch?url=${url}&respectRobots=maybe`), 400, 'respectRobots');
    await expectProblem(await call('/v1/fetch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls: ['http://a/'], respectRobots: 1 }) }), 400, 'respectRobots');
  });
});

describe('robots.txt in the engine', () => {
  it('Should start a host\'s URLs a Crawl-delay apart, and other hosts\' at once', async () => {
    const scope = newScope('robots-delay');
    const urls = [1, 2, 3].map((i) => originUrl(scope, `page?title=P${i}`)).concat(originUrl(scope, 'page?title=Other', SECOND));
    const { results, sleeps } = await runWithClock(urls, { concurrency: 1 });
    expect(results.every((r) => r.ok)).toBe(true);
    // 1 s between the three starts on 127.0.0.1; none before the first, none for 127.0.0.2.
    expect(sleeps).toEqual([1000, 1000]);
  });

  it('Should refuse every URL of a host whose robots.txt answers 5xx (RFC 9309: unreachable is "disallow all")', async () => {
    await robotsMode('503');
    const scope = newScope('robots-503');
    const { results } = await runWithClock([originUrl(scope, 'page?title=A'), originUrl(scope, 'robots/private/open')]);
    expect(results.map((r) => r.error?.code)).toEqual(['robots_disallowed', 'robots_disallowed']);
    expect(results[0]!.error!.message).toContain('503');
    expect((await stats(scope)).requests).toBe(0);
  });

  it('Should allow every URL of a host whose robots.txt answers 4xx (RFC 9309: unavailable)', async () => {
    await robotsMode('404');
    const scope = newScope('robots-404');
    const { results, sleeps } = await runWithClock([originUrl(scope, 'robots/private'), originUrl(scope, 'robots/no-fanout')]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(sleeps).toEqual([]);
  });

  it('Should follow a redirected robots.txt and use the file it ends at', async () => {
    await robotsMode('redirect');
    const scope = newScope('robots-redirect');
    const { results, sleeps } = await runWithClock([originUrl(scope, 'robots/private'), originUrl(scope, 'page?title=A'), originUrl(scope, 'page?title=B')], { concurrency: 1 });
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual(['robots_disallowed', 'ok', 'ok']);
    // 127.0.0.2's file has no Crawl-delay.
    expect(sleeps).toEqual([]);
  });
});
