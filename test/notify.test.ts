/**
 * notify() on its own, against the test origin's `hook` receiver: retries,
 * backoff and Retry-After, with an injected `sleep` that records each wait and
 * returns at once, and `random: () => 0`, so every backoff is the low end of its
 * equal-jitter range. What the receiver got (statuses, bodies, signatures) is
 * read from the origin's log. The whole path, a scheduled run with changes
 * POSTing a signed summary, is in test/cron.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { notify } from '../src/watch/notify';
import { signatureFor } from './helpers/signature';
import { newScope, originUrl, stats } from './origin/client';

const SECRET = 's3cret';
const PAYLOAD = { event: 'fanout.run.changes', run: { id: 'run-1', watchlist: 'news' }, changes: [{ url: 'https://example.com/', changes: ['title'] }] };

/** notify() to `hook?<knobs>` in a fresh scope; answers the outcome, the waits asked for, and the receiver's log. */
async function notifyHook(knobs: string) {
  const scope = newScope('hook');
  const waits: number[] = [];
  const outcome = await notify(originUrl(scope, `hook?${knobs}`), SECRET, PAYLOAD, {
    allowPrivate: true,
    userAgent: 'fanout-test',
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0,
  });
  const { log } = await stats(scope);
  return { outcome, waits, log };
}

describe('notify', () => {
  it('Should retry a 503 twice, waiting 500 then 1000 ms (backoff at random 0), and succeed on the third attempt with the same signed body', async () => {
    const { outcome, waits, log } = await notifyHook('fails=2');
    expect(outcome).toEqual({ ok: true, attempts: 3, status: 200, error: null });
    expect(waits).toEqual([500, 1000]);
    expect(log.map((e) => [e.method, e.status])).toEqual([
      ['POST', 503],
      ['POST', 503],
      ['POST', 200],
    ]);
    for (const entry of log) {
      expect(JSON.parse(entry.body!)).toEqual(PAYLOAD);
      expect(entry.allHeaders).toMatchObject({ 'content-type': expect.stringMatching(/^application\/json/), 'user-agent': 'fanout-test' });
      expect(entry.allHeaders?.['x-fanout-signature']).toBe(await signatureFor(SECRET, entry.body!));
    }
  });

  it('Should give up after two retries when the receiver keeps answering 503, and report the last status', async () => {
    const { outcome, waits, log } = await notifyHook('fails=5');
    expect(outcome).toEqual({ ok: false, attempts: 3, status: 503, error: 'answered 503' });
    expect(waits).toEqual([500, 1000]);
    expect(log).toHaveLength(3);
  });

  it('Should not retry a 501', async () => {
    const { outcome, waits, log } = await notifyHook('fails=1&code=501');
    expect(outcome).toEqual({ ok: false, attempts: 1, status: 501, error: 'answered 501' });
    expect(waits).toEqual([]);
    expect(log.map((e) => e.status)).toEqual([501]);
  });

  it.each([
    [1, 503],
    [10, 429],
  ])('Should wait the `Retry-After: %i` seconds a %i asks for, instead of the backoff, then retry', async (seconds, code) => {
    const { outcome, waits, log } = await notifyHook(`fails=1&code=${code}&seconds=${seconds}`);
    expect(outcome).toEqual({ ok: true, attempts: 2, status: 200, error: null });
    expect(waits).toEqual([seconds * 1000]);
    expect(log.map((e) => e.status)).toEqual([code, 200]);
  });

  it.each([11, 60])('Should not retry when `Retry-After: %i` asks for longer than the 10 s cap', async (seconds) => {
    const { outcome, waits, log } = await notifyHook(`fails=1&seconds=${seconds}`);
    expect(outcome).toEqual({ ok: false, attempts: 1, status: 503, error: 'answered 503' });
    expect(waits).toEqual([]);
    expect(log).toHaveLength(1);
  });
});
