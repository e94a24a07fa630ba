/**
 * Fetching behaviour of POST /v1/fetch, asserted where it happens: at the test
 * origin (test/origin/server.ts), which counts requests in flight, bytes sent and
 * sockets the client closed. Requests are held with `gate` and let go with
 * `release()`, and counters are polled with `waitForStats()`, so no test depends
 * on a wall-clock window. Waits before a retry are recorded through the engine's
 * injected `sleep` (`runRecorded()`) rather than slept through; real time appears
 * only where the rule is about time (timeouts, deadline), with generous margins.
 */
import { describe, expect, it } from 'vitest';
import { runBatch, type BatchDeps } from '../src/engine/batch';
import { normalizeOptions } from '../src/engine/options';
import { REUSE_DRAIN_BYTES } from '../src/engine/read-body';
import { shardLane } from '../src/engine/shard-lane';
import { serveShard } from '../src/engine/shard-server';
import type { BatchResult } from '../src/result';
import { fanout, post } from './helpers/worker';
import { newScope, originUrl, release, stats, waitForStats } from './origin/client';

const MIB = 1024 * 1024;

/** Engine options as a request would give them, for tests that call runBatch directly (the origin is on loopback). */
function engineOptions(input: Record<string, unknown>) {
  return normalizeOptions(input, { userAgent: 'fanout-test', allowPrivate: true });
}

/**
 * runBatch on the engine (see `engineOptions()`) with a `sleep` that records every wait asked for before a retry and
 * resolves at once, so a test checks the waits instead of sleeping through them; `deps` adds `random`, `now`, `fetch`.
 * Answers the batch and the waits, in order.
 */
async function runRecorded(urls: string[], input: Record<string, unknown>, deps: BatchDeps = {}) {
  const waits: number[] = [];
  const batch = await runBatch(urls, engineOptions(input), {
    ...deps,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  return { ...batch, waits };
}

/**
 * POSTs `body` through the Worker, drops the client once `inFlight` requests are at the origin,
 * and answers the origin's stats once nothing is left in flight there.
 */
async function dropClientAt(scope: string, body: Record<string, unknown>, inFlight: number) {
  const controller = new AbortController();
  const pending = post(body, { signal: controller.signal });
  pending.catch(() => {});
  await waitForStats(scope, (s) => s.inFlight === inFlight);
  controller.abort();
  return waitForStats(scope, (s) => s.inFlight === 0, { timeoutMs: 5000 });
}

/** What `releaseAndCheck()` expects of a batch held at the origin's gate. */
interface HeldBatch {
  /** Requests to hold at the gate (all of them in flight) before the release; leave out when the test got there itself. */
  hold?: number;
  /** Requests the origin got in all. */
  requests: number;
  /** Most requests in flight at the origin at once, over the whole batch. */
  maxInFlight: number;
  /** The same per host, for tests about `perHost`. */
  maxInFlightByHost?: Record<string, number>;
  /** The title of the held route's page. @default 'gate' */
  title?: string;
}

/**
 * The hold-and-release drill for a batch of `gate` (or `gate-body`) URLs: waits until `hold` requests are held
 * at the origin and checks that no more than those were ever in flight there, releases them, then checks that
 * every URL got its own ok result in input order and the origin's totals. Answers the batch for further checks.
 */
async function releaseAndCheck(scope: string, urls: string[], answer: Promise<BatchResult>, expected: HeldBatch): Promise<BatchResult> {
  const { hold, requests, maxInFlight, maxInFlightByHost, title = 'gate' } = expected;
  if (hold !== undefined) {
    const held = await waitForStats(scope, (s) => s.held === hold && s.inFlight === hold);
    expect(held.maxInFlight).toBe(hold);
    if (maxInFlightByHost) expect(held.maxInFlightByHost).toEqual(maxInFlightByHost);
  }
  await release(scope);
  const batch = await answer;
  expect(batch.results.map((r) => r.url)).toEqual(urls);
  expect(batch.results.map((r) => [r.ok, r.title, r.error])).toEqual(urls.map(() => [true, title, null]));
  const after = await stats(scope);
  expect({ requests: after.requests, maxInFlight: after.maxInFlight }).toEqual({ requests, maxInFlight });
  if (maxInFlightByHost) expect(after.maxInFlightByHost).toEqual(maxInFlightByHost);
  return batch;
}

/** `n` distinct URLs of one route (distinct, so the engine does not fold them into one fetch). */
function many(scope: string, route: string, n: number, host?: string): string[] {
  const sep = route.includes('?') ? '&' : '?';
  return Array.from({ length: n }, (_, i) => originUrl(scope, `${route}${sep}i=${i}`, host));
}

describe('concurrency', () => {
  it('Should never have more than `concurrency` requests in flight at the origin', async () => {
    const scope = newScope('conc4');
    const urls = many(scope, 'gate', 20);
    await releaseAndCheck(scope, urls, fanout({ urls, concurrency: 4 }), { hold: 4, requests: 20, maxInFlight: 4 });
  });

  it('Should default to 6 requests in flight when `concurrency` is left out', async () => {
    const scope = newScope('conc-default');
    const urls = many(scope, 'gate', 20);
    await releaseAndCheck(scope, urls, fanout({ urls }), { hold: 6, requests: 20, maxInFlight: 6 });
  });

  it('Should let at most 6 requests wait for headers at once in one invocation, even with a higher `concurrency`', async () => {
    // On the engine without shards: one invocation's limit (the Worker scales out past it, see `scale-out`).
    const scope = newScope('header-gate');
    const urls = many(scope, 'gate', 12);
    // `gate` sends its whole (small) answer with the headers, so only the header phase is ever in flight.
    const { stats: totals } = await releaseAndCheck(scope, urls, runBatch(urls, engineOptions({ concurrency: 12 })), { hold: 6, requests: 12, maxInFlight: 6 });
    expect(totals.shards).toBe(1);
  });

  it('Should not count bodies being read against the header-phase gate: `concurrency` bounds them', async () => {
    const scope = newScope('body-gate');
    const urls = many(scope, 'gate-body', 12);
    // All 12 have their headers and are stuck mid-body at once: the gate of 6 covers only the header phase.
    const { results } = await releaseAndCheck(scope, urls, fanout({ urls, concurrency: 12 }), { hold: 12, requests: 12, maxInFlight: 12, title: 'gate-body' });
    expect(results[0]!.snippet).toBe('Start of the body. Rest of the body.');
  });

  it('Should never have more than `perHost` requests in flight to one host', async () => {
    const scope = newScope('perhost');
    const urls = [...many(scope, 'gate', 6, '127.0.0.1'), ...many(scope, 'gate', 6, '127.0.0.2')];
    const maxInFlightByHost = { '127.0.0.1': 2, '127.0.0.2': 2 };
    await releaseAndCheck(scope, urls, fanout({ urls, concurrency: 6, perHost: 2 }), { hold: 4, requests: 12, maxInFlight: 4, maxInFlightByHost });
  });
});

describe('scale-out', () => {
  it('Should hold `concurrency` requests past 6 in flight by running extra shards in Durable Objects', async () => {
    const scope = newScope('shards12');
    const urls = many(scope, 'gate', 30);
    // Two invocations (this one and one FetchShard) with 6 header slots each.
    const { stats: totals } = await releaseAndCheck(scope, urls, fanout({ urls, concurrency: 12 }), { hold: 12, requests: 30, maxInFlight: 12 });
    expect(totals).toMatchObject({ total: 30, ok: 30, failed: 0, fetched: 30, shards: 2 });
  });

  it('Should keep `perHost` for the whole batch across shards', async () => {
    const scope = newScope('shards-perhost');
    const urls = [...many(scope, 'gate', 12, '127.0.0.1'), ...many(scope, 'gate', 12, '127.0.0.2')];
    const maxInFlightByHost = { '127.0.0.1': 8, '127.0.0.2': 8 };
    const { stats: totals } = await releaseAndCheck(scope, urls, fanout({ urls, concurrency: 24, perHost: 8 }), { hold: 16, requests: 24, maxInFlight: 16, maxInFlightByHost });
    expect(totals.shards).toBeGreaterThan(1);
  });

  it('Should give every input exactly one result across shards: duplicates fetched once, bad URLs answered in place', async () => {
    const scope = newScope('shards-mixed');
    const pages = many(scope, 'page', 20);
    const urls = [pages[0]!, 'not a url', ...pages, pages[7]!, 'ftp://example.com/', pages[19]!];
    const { results, stats: totals } = await fanout({ urls, concurrency: 18 });
    expect(results.map((r) => r.url)).toEqual(urls);
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual(urls.map((u) => (u.startsWith('http://127') ? 'ok' : 'invalid_url')));
    expect(results[0]!.title).toBe(results[2]!.title);
    expect(totals).toMatchObject({ total: 25, ok: 23, failed: 2, fetched: 20, shards: 3 });
    expect((await stats(scope)).requests).toBe(20);
  });

  it('Should stream NDJSON lines from every shard, one per input index, then the stats', async () => {
    const scope = newScope('shards-ndjson');
    const urls = many(scope, 'page', 14);
    const res = await post({ urls, concurrency: 14 }, { headers: { accept: 'application/x-ndjson' } });
    const lines = (await res.text()).trim().split('\n').map((line) => JSON.parse(line));
    const last = lines.pop();
    expect(last.stats).toMatchObject({ total: 14, ok: 14, shards: 3 });
    expect(lines.map((l) => l.index).sort((a, b) => a - b)).toEqual(urls.map((_, i) => i));
    expect(lines.every((l) => l.url === urls[l.index] && l.ok)).toBe(true);
  });

  it('Should end every shard\'s fetches at `deadlineMs` and mark what was unfinished `deadline`', async () => {
    const scope = newScope('shards-deadline');
    const urls = [...many(scope, 'page', 6), ...many(scope, 'hang', 6)];
    const { results, stats: totals } = await fanout({ urls, concurrency: 12, deadlineMs: 1500, timeoutMs: 20_000 });
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual([...Array(6).fill('ok'), ...Array(6).fill('deadline')]);
    expect(totals).toMatchObject({ deadlineReached: true, shards: 2 });
    // The hanging requests in both invocations were cancelled, not left to run.
    const s = await waitForStats(scope, (s) => s.inFlight === 0 && s.closedEarly === 6);
    expect(s.requests).toBe(12);
  });

  it('Should cancel every shard\'s outstanding fetches when the client goes away', async () => {
    const scope = newScope('shards-disconnect');
    const s = await dropClientAt(scope, { urls: many(scope, 'hang', 12), concurrency: 12, timeoutMs: 15_000, deadlineMs: 30_000 }, 12);
    expect(s.closedEarly).toBe(12);
  });

  it('Should run again in this invocation what a broken shard had in flight, so every URL still gets a real result', async () => {
    const scope = newScope('shards-broken');
    const options = engineOptions({ concurrency: 12 });
    const urls = many(scope, 'gate', 12);
    // The real protocol on both ends of a WebSocketPair in this isolate; the test breaks the connection as a reset object would.
    let shardEnd: WebSocket | undefined;
    const batch = runBatch(urls, options, {
      shards: (init, capacity) => {
        const { 0: client, 1: server } = new WebSocketPair();
        server.accept();
        client.accept();
        serveShard(server);
        shardEnd = server;
        return shardLane(Promise.resolve(client), init, capacity);
      },
    });
    await waitForStats(scope, (s) => s.held === 12);
    shardEnd!.close(1011, 'object reset');
    // The shard's own fetches are cancelled at the origin; its URLs wait for room in this invocation.
    const broken = await waitForStats(scope, (s) => s.closedEarly === 6 && s.inFlight === 6);
    expect(broken.requests).toBe(12);
    const { stats: totals } = await releaseAndCheck(scope, urls, batch, { requests: 18, maxInFlight: 12 });
    expect(totals).toMatchObject({ total: 12, ok: 12, fetched: 12, shards: 2 });
  });

  it('Should give up on a shard that does not answer within the connect timeout and run its URLs here', async () => {
    const scope = newScope('shards-silent');
    const options = engineOptions({ concurrency: 12 });
    const urls = many(scope, 'page', 12);
    const { results, stats: totals } = await runBatch(urls, options, {
      shards: (init, capacity) => shardLane(new Promise(() => {}), init, capacity, 300),
    });
    expect(results.every((r, i) => r.ok && r.url === urls[i])).toBe(true);
    expect(totals).toMatchObject({ ok: 12, shards: 2 });
    expect((await stats(scope)).requests).toBe(12);
  });

  it('Should not wait for a shard that is still opening when the batch reaches its deadline', async () => {
    const scope = newScope('shards-opening');
    const options = engineOptions({ concurrency: 12, deadlineMs: 800 });
    const urls = many(scope, 'page', 12);
    const { results, stats: totals } = await runBatch(urls, options, {
      shards: (init, capacity) => shardLane(new Promise(() => {}), init, capacity, 60_000),
    });
    // The local lane answered its six; the six given to the silent shard end with the batch.
    expect(results.filter((r) => r.ok)).toHaveLength(6);
    expect(results.filter((r) => r.error?.code === 'deadline')).toHaveLength(6);
    expect(totals).toMatchObject({ deadlineReached: true, shards: 2 });
  });
});

describe('timeouts and deadline', () => {
  it('Should end an attempt with `timeout` when headers do not come within `timeoutMs`, and close the connection', async () => {
    const scope = newScope('hang');
    const { results } = await fanout({ urls: [originUrl(scope, 'hang')], timeoutMs: 300 });
    expect(results[0]).toMatchObject({ ok: false, status: null, error: { code: 'timeout' } });
    const s = await waitForStats(scope, (s) => s.closedEarly >= 1 && s.inFlight === 0);
    expect(s.requests).toBe(1);
  });

  it('Should cut a body that trickles past `timeoutMs` with `timeout`, keeping the status, and close the connection', async () => {
    const scope = newScope('trickle');
    const { results } = await fanout({ urls: [originUrl(scope, 'trickle?interval=100')], timeoutMs: 500 });
    expect(results[0]).toMatchObject({ ok: false, status: 200, error: { code: 'timeout' } });
    expect(results[0]!.error!.message).toMatch(/body/);
    await waitForStats(scope, (s) => s.closedEarly >= 1 && s.inFlight === 0);
  });

  it('Should start a URL\'s timeout when it is sent, not while it waits in the queue', async () => {
    const scope = newScope('queued');
    // One at a time: each answers in ~300 ms, well within 800 ms, but the fourth waits ~900 ms before it leaves.
    const urls = many(scope, 'page?delay=300', 4);
    const { results } = await fanout({ urls, concurrency: 1, timeoutMs: 800 });
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'ok']);
    const s = await stats(scope);
    expect(s.maxInFlight).toBe(1);
    // The premise: the last one really was sent after a timeout counted from the batch start would have passed.
    expect(s.log[3]!.t).toBeGreaterThanOrEqual(800);
  });

  it('Should answer at `deadlineMs` with finished results kept and unfinished ones marked `deadline`', async () => {
    const scope = newScope('deadline');
    const urls = [originUrl(scope, 'page?title=Done'), ...many(scope, 'hang', 2)];
    const { results, stats: batch } = await fanout({ urls, deadlineMs: 1000, timeoutMs: 10_000 });
    expect(results[0]).toMatchObject({ ok: true, title: 'Done' });
    expect(results.slice(1).map((r) => r.error?.code)).toEqual(['deadline', 'deadline']);
    expect(batch).toMatchObject({ total: 3, ok: 1, failed: 2, deadlineReached: true });
    await waitForStats(scope, (s) => s.closedEarly >= 2 && s.inFlight === 0);
  });

  it('Should mark URLs still queued at the deadline as `deadline` without sending them', async () => {
    const scope = newScope('deadline-queue');
    const { results, stats: batch } = await fanout({ urls: many(scope, 'hang', 3), concurrency: 1, deadlineMs: 1000, timeoutMs: 10_000 });
    expect(results.map((r) => r.error?.code)).toEqual(['deadline', 'deadline', 'deadline']);
    expect(results.map((r) => r.url)).toEqual(many(scope, 'hang', 3));
    expect(batch.deadlineReached).toBe(true);
    const s = await waitForStats(scope, (s) => s.closedEarly >= 1 && s.inFlight === 0);
    expect(s.requests).toBe(1);
  });

  it('Should report a bounded wait as `timeout`, not `deadline`, when the deadline is far off', async () => {
    const scope = newScope('timeout-not-deadline');
    const { results, stats: batch } = await fanout({ urls: [originUrl(scope, 'hang')], timeoutMs: 200, deadlineMs: 30_000 });
    expect(results[0]!.error).toMatchObject({ code: 'timeout', retryable: true });
    expect(results[0]!.attempts).toBe(1);
    expect(batch.deadlineReached).toBe(false);
  });
});

describe('network errors and retries', () => {
  // Through the Worker's real entry point, waiting through the real backoff (at most 250 ms for a first retry).
  it('Should retry a 503 through POST /v1/fetch and succeed on the second attempt', async () => {
    const scope = newScope('flaky');
    const { results } = await fanout({ urls: [originUrl(scope, 'flaky?fails=1&code=503')] });
    expect(results[0]).toMatchObject({ ok: true, status: 200, attempts: 2, title: 'recovered', error: null });
    expect((await stats(scope)).log.map((e) => e.status)).toEqual([503, 200]);
  });

  it('Should make exactly one attempt with `retries: 0`', async () => {
    const scope = newScope('retries0');
    const { results } = await fanout({ urls: [originUrl(scope, 'flaky?fails=1&code=503')], retries: 0 });
    expect(results[0]).toMatchObject({ ok: false, status: 503, attempts: 1, error: { code: 'http_status' } });
    expect((await stats(scope)).log.map((e) => e.status)).toEqual([503]);
  });

  // From here on, on the engine with a recorded `sleep`: the rule is the wait itself, so the test checks the waits asked for.
  it.each([
    [125, 0],
    [250, 1],
  ])('Should wait %i ms before retrying a 503 when the jitter draws %i (equal jitter on the 250 ms base), then succeed', async (ms, draw) => {
    const scope = newScope('backoff');
    const { results, waits } = await runRecorded([originUrl(scope, 'flaky?fails=1&code=503')], {}, { random: () => draw });
    expect(waits).toEqual([ms]);
    expect(results[0]).toMatchObject({ ok: true, status: 200, attempts: 2, title: 'recovered' });
    expect((await stats(scope)).log.map((e) => e.status)).toEqual([503, 200]);
  });

  it('Should retry a reset connection once by default, after a 125 ms backoff (jitter 0), then report it as retryable `network`', async () => {
    const scope = newScope('reset');
    const { results, waits } = await runRecorded([originUrl(scope, 'reset')], {}, { random: () => 0 });
    expect(waits).toEqual([125]);
    expect(results[0]).toMatchObject({ ok: false, status: null, attempts: 2, error: { code: 'network', retryable: true } });
    expect((await stats(scope)).requests).toBe(2);
  });

  it('Should give up after `retries` + 1 attempts, doubling the backoff each time (125, 250, 500 ms at jitter 0), with a retryable `http_status`', async () => {
    const scope = newScope('flaky5');
    const { results, waits } = await runRecorded([originUrl(scope, 'flaky?fails=5&code=503')], { retries: 3 }, { random: () => 0 });
    expect(waits).toEqual([125, 250, 500]);
    expect(results[0]).toMatchObject({ ok: false, status: 503, attempts: 4, error: { code: 'http_status', retryable: true } });
    expect((await stats(scope)).log.map((e) => e.status)).toEqual([503, 503, 503, 503]);
  });

  it('Should not wait or retry after a 404', async () => {
    const scope = newScope('404');
    const { results, waits } = await runRecorded([originUrl(scope, 'status/404')], {});
    expect(waits).toEqual([]);
    expect(results[0]).toMatchObject({ ok: false, status: 404, attempts: 1, error: { code: 'http_status', retryable: false } });
    expect((await stats(scope)).log.map((e) => e.status)).toEqual([404]);
  });

  it.each([1, 10])('Should wait exactly the `Retry-After: %i` seconds a 429 asks for (the cap is 10 s), instead of the backoff, then retry', async (seconds) => {
    const scope = newScope('retry-after');
    // At jitter 1 the backoff would be 250 ms: only `Retry-After` gives the wait below.
    const { results, waits } = await runRecorded([originUrl(scope, `retry-after?fails=1&seconds=${seconds}`)], {}, { random: () => 1 });
    expect(waits).toEqual([seconds * 1000]);
    expect(results[0]).toMatchObject({ ok: true, attempts: 2, title: 'after 429' });
    expect((await stats(scope)).log.map((e) => e.status)).toEqual([429, 200]);
  });

  it.each([11, 60])('Should neither wait nor retry when `Retry-After: %i` asks for longer than the 10 s cap', async (seconds) => {
    const scope = newScope('retry-after-long');
    // The deadline is far enough off that only the cap can stop the wait.
    const { results, waits, stats: batch } = await runRecorded([originUrl(scope, `retry-after?fails=1&seconds=${seconds}`)], { deadlineMs: 120_000 });
    expect(waits).toEqual([]);
    expect(results[0]).toMatchObject({ ok: false, status: 429, attempts: 1, error: { code: 'http_status', retryable: true } });
    expect(batch.deadlineReached).toBe(false);
    expect((await stats(scope)).log.map((e) => e.status)).toEqual([429]);
  });

  it.each([
    { at: 1999, waits: [1000], result: { ok: true, status: 200, attempts: 2 }, statuses: [429, 200] },
    // Without the wait, the 429 it had is the answer, not `deadline`.
    { at: 2000, waits: [], result: { ok: false, status: 429, attempts: 1, error: { code: 'http_status' } }, statuses: [429] },
  ])('Should wait for `Retry-After: 1` only if the wait ends before the deadline: a 429 at $at ms of a 3000 ms deadline waits $waits', async ({ at, waits: expected, result, statuses }) => {
    const scope = newScope('retry-after-deadline');
    // The batch's clock starts at 0 and reads `at` once the origin has answered.
    let clock = 0;
    const fetchAt = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await fetch(input, init);
      clock = at;
      return response;
    }) as typeof fetch;
    const { results, waits, stats: batch } = await runRecorded([originUrl(scope, 'retry-after?fails=1&seconds=1')], { deadlineMs: 3000 }, { now: () => clock, fetch: fetchAt });
    expect(waits).toEqual(expected);
    expect(results[0]).toMatchObject(result);
    expect(batch.deadlineReached).toBe(false);
    expect((await stats(scope)).log.map((e) => e.status)).toEqual(statuses);
  });

  // runRecorded()'s sleep never rejects, so it cannot show the abort path. This one rejects with the signal's reason when
  // the batch signal aborts, as the real one does, and never ends by itself: only the abort can end the wait.
  it('Should stop retrying as soon as the batch signal aborts during the wait, sending nothing more and keeping the 503 it had', async () => {
    const scope = newScope('abort-wait');
    const controller = new AbortController();
    const waits: number[] = [];
    let asked!: () => void;
    const waiting = new Promise<void>((resolve) => (asked = resolve));
    const sleep = (ms: number, signal: AbortSignal) => {
      waits.push(ms);
      asked();
      return new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    };
    const batch = runBatch([originUrl(scope, 'flaky?fails=1&code=503')], engineOptions({}), { signal: controller.signal, sleep, random: () => 0 });
    // A batch that ends without asking for a wait fails the check on `waits` below instead of hanging here.
    await Promise.race([waiting, batch]);
    controller.abort();
    const { results, stats: totals } = await batch;
    expect(waits).toEqual([125]);
    expect(results[0]).toMatchObject({ ok: false, status: 503, attempts: 1, error: { code: 'http_status' } });
    expect(totals.deadlineReached).toBe(false);
    expect((await stats(scope)).log.map((e) => e.status)).toEqual([503]);
  });
});

describe('redirects', () => {
  it('Should follow redirects by hand and report the chain', async () => {
    const scope = newScope('redirect');
    const { results } = await fanout({ urls: [originUrl(scope, 'redirect?n=3')] });
    expect(results[0]).toMatchObject({ ok: true, redirects: 3, title: 'end of chain', url: originUrl(scope, 'redirect?n=3') });
    expect(results[0]!.finalUrl).toBe(originUrl(scope, 'redirect?n=0'));
    expect((await stats(scope)).requests).toBe(4);
  });

  it('Should stop with `too_many_redirects` past `maxRedirects`', async () => {
    const scope = newScope('redirect-max');
    const { results } = await fanout({ urls: [originUrl(scope, 'redirect?n=3')], maxRedirects: 2 });
    expect(results[0]).toMatchObject({ ok: false, redirects: 2, error: { code: 'too_many_redirects' } });
    // Two hops followed, the third refused without being requested.
    expect((await stats(scope)).requests).toBe(3);
  });

  it('Should end a redirect loop as `too_many_redirects`', async () => {
    const scope = newScope('loop');
    const { results } = await fanout({ urls: [originUrl(scope, 'loop')] });
    expect(results[0]).toMatchObject({ ok: false, error: { code: 'too_many_redirects' } });
    expect((await stats(scope)).requests).toBe(6);
  });

  it('Should report a redirect without Location as `bad_redirect`', async () => {
    const scope = newScope('redirect-bare');
    const { results } = await fanout({ urls: [originUrl(scope, 'redirect-bare')] });
    expect(results[0]).toMatchObject({ ok: false, status: 302, error: { code: 'bad_redirect' } });
  });

  it('Should refuse a redirect hop to a blocked address without requesting it (engine, private hosts refused)', async () => {
    // ALLOW_PRIVATE_HOSTS is "true" for the Worker under test (the origin is on 127.0.0.1), so the hop check
    // is exercised on the engine itself with a fetch that stands in for a public site's open redirect.
    const requested: string[] = [];
    const fakeFetch = (async (input: RequestInfo | URL) => {
      requested.push(String(input));
      return new Response(null, { status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } });
    }) as typeof fetch;
    const options = normalizeOptions({}, { userAgent: 'fanout-test', allowPrivate: false });
    const { results } = await runBatch(['https://public.example/start'], options, { fetch: fakeFetch });
    expect(results[0]).toMatchObject({ ok: false, status: 302, redirects: 0, error: { code: 'blocked' } });
    expect(results[0]!.error!.message).toMatch(/redirect/);
    expect(results[0]!.error!.message).toContain('169.254.169.254');
    expect(requested).toEqual(['https://public.example/start']);
  });
});

describe('body', () => {
  it('Should read at most `maxBytes` of a 200 MB page and make the origin stop sending at once', async () => {
    const scope = newScope('huge');
    // A held `gate` keeps the batch (and the invocation) alive, so the close seen below is fanout
    // cancelling the body at the cap, not the runtime tearing down a finished invocation.
    // A query needs the whole page searched, so only the byte cap can stop the read here.
    const answer = fanout({ urls: [originUrl(scope, 'huge?mb=200'), originUrl(scope, 'gate')], query: 'needle' });
    const s = await waitForStats(scope, (s) => s.closedEarly === 1 && s.held === 1 && s.inFlight === 1);
    expect(s.bytesSent).toBeLessThan(16 * MIB);
    await release(scope);
    const { results } = await answer;
    expect(results[0]).toMatchObject({ ok: true, truncated: true, bytes: 262_144, title: 'Huge page' });
    expect(results[1]).toMatchObject({ ok: true, title: 'gate' });
  });

  it('Should stop reading once the head is read and the snippet is full, well before `maxBytes`', async () => {
    const scope = newScope('early');
    const answer = fanout({ urls: [originUrl(scope, 'huge?mb=200'), originUrl(scope, 'gate')], maxBytes: 5_242_880 });
    const s = await waitForStats(scope, (s) => s.closedEarly === 1 && s.held === 1 && s.inFlight === 1);
    expect(s.bytesSent).toBeLessThan(16 * MIB);
    await release(scope);
    const { results } = await answer;
    expect(results[0]).toMatchObject({ ok: true, truncated: true, title: 'Huge page' });
    expect(results[0]!.snippet!.length).toBeGreaterThan(150);
    // One read buffer or so, not the 5 MiB the cap would allow.
    expect(results[0]!.bytes).toBeLessThan(262_144);
  });

  it('Should read a short remainder to the end after an early stop while more URLs for the host are queued, so one connection serves them all', async () => {
    const scope = newScope('reuse');
    const urls = many(scope, 'page?size=30000', 4);
    const { results } = await fanout({ urls, concurrency: 1 });
    // Early stop had what it needed from each page; the rest was read (not parsed) to free the
    // connection for the next URL. The last one has no next URL, so it is cancelled as usual.
    expect(results.slice(0, 3).map((r) => [r.ok, r.bytes, r.truncated])).toEqual(urls.slice(0, 3).map(() => [true, 30_000, false]));
    expect(results[3]).toMatchObject({ ok: true, truncated: true });
    expect(results[3]!.bytes).toBeLessThan(30_000);
    expect(results.every((r) => r.snippet!.length > 150)).toBe(true);
    const s = await stats(scope);
    expect(s.log.map((e) => e.connection)).toEqual(Array(4).fill(s.log[0]!.connection));
  });

  describe('read first, parse after', () => {
    /**
     * runBatch at concurrency 1 over `urls`, recording in order when each URL's fetch is called and when each result
     * is made, so a test sees whether the next request went out before the previous page was extracted.
     */
    async function order(urls: string[], input: Record<string, unknown> = {}) {
      const events: string[] = [];
      const batch = runBatch(urls, engineOptions({ concurrency: 1, ...input }), {
        fetch: (request, init) => {
          events.push(`fetch ${urls.indexOf(String(request))}`);
          return fetch(request, init);
        },
        onResult: (index) => events.push(`result ${index}`),
      });
      return { batch, events };
    }

    it('Should send the next request to the host before extracting a small page that was read whole', async () => {
      const scope = newScope('read-first');
      const urls = [originUrl(scope, 'page?size=20000'), originUrl(scope, 'gate')];
      const { batch, events } = await order(urls);
      // The page's slot went to the gate before its result was made; the origin never saw two at once.
      const s = await waitForStats(scope, (s) => s.held === 1);
      expect(events.slice(0, 2)).toEqual(['fetch 0', 'fetch 1']);
      expect(s.maxInFlight).toBe(1);
      await release(scope);
      const { results } = await batch;
      expect(events).toEqual(['fetch 0', 'fetch 1', 'result 0', 'result 1']);
      expect(results[0]).toMatchObject({ ok: true, title: 'Test page', truncated: false });
      // Every byte the origin sent for it (the gate had sent nothing yet when `s` was taken).
      expect(results[0]!.bytes).toBe(s.bytesSent);
      expect(results[0]!.snippet!.length).toBeGreaterThan(150);
      // Read whole, the page left its connection open for the next request.
      expect(new Set(s.log.map((e) => e.connection)).size).toBe(1);
    });

    it.each([
      ['larger than the drain allowance', ['page?size=100000', 'gate'], '127.0.0.1'],
      ['compressed (its length says nothing of what it holds)', ['gzip', 'gate'], '127.0.0.1'],
      ['with no next URL for its host', ['page?size=20000', 'gate'], '127.0.0.2'],
    ])('Should extract a page %s before the next request, holding its slot', async (_, [first, second], secondHost) => {
      const scope = newScope('stream-first');
      const urls = [originUrl(scope, first!), originUrl(scope, second!, secondHost)];
      const { batch, events } = await order(urls);
      await waitForStats(scope, (s) => s.held === 1);
      expect(events).toEqual(['fetch 0', 'result 0', 'fetch 1']);
      await release(scope);
      const { results } = await batch;
      expect(results.map((r) => r.ok)).toEqual([true, true]);
    });

    it('Should still end a page read whole with `timeout` when its declared body stalls', async () => {
      const scope = newScope('read-first-stall');
      const urls = [originUrl(scope, 'gate-body?declare=1'), originUrl(scope, 'page?size=3000')];
      const { results } = await runBatch(urls, engineOptions({ concurrency: 1, timeoutMs: 400, retries: 0 }));
      expect(results[0]).toMatchObject({ ok: false, status: 200, error: { code: 'timeout', message: 'no end of body within 400 ms' } });
      expect(results[1]).toMatchObject({ ok: true, title: 'Test page' });
      expect((await stats(scope)).closedEarly).toBe(1);
    });
  });

  it('Should cancel after an early stop when the remainder is large, even with more URLs for the host queued', async () => {
    const scope = newScope('no-reuse-huge');
    // One page at a time to 127.0.0.1 (perHost 1), so the first two each have another page queued behind them. The held
    // `gate` is on the other host: it keeps the batch (and the invocation) alive, so the closes seen below are fanout
    // cancelling, not the runtime tearing down a finished invocation. maxBytes is at its 5 MiB maximum, so the early
    // stop, not the cap, is what ends each read.
    const pages = many(scope, 'huge?mb=200', 3);
    const answer = fanout({ urls: [...pages, originUrl(scope, 'gate', '127.0.0.2')], concurrency: 2, perHost: 1, maxBytes: 5 * MIB });
    const s = await waitForStats(scope, (s) => s.closedEarly === 3 && s.held === 1 && s.inFlight === 1);
    expect(s.bytesSent).toBeLessThan(3 * 16 * MIB);
    // Each page's connection was closed, not kept for the next one.
    const pageConnections = s.log.filter((e) => e.host === '127.0.0.1').map((e) => e.connection);
    expect(new Set(pageConnections).size).toBe(3);
    await release(scope);
    const { results } = await answer;
    expect(results.slice(0, 3).every((r) => r.ok && r.truncated && r.title === 'Huge page')).toBe(true);
    // What was read: the head and snippet, then at most the 64 KiB remainder allowance.
    expect(results.slice(0, 3).every((r) => r.bytes < 256 * 1024)).toBe(true);
    expect(results[3]).toMatchObject({ ok: true, title: 'gate' });
  });

  it('Should cancel at once after an early stop when no other URL for the host is queued', async () => {
    const scope = newScope('no-reuse-last');
    // 64 MiB, far more than socket and runtime buffers hold, so only a cancel ends it early. The held `gate` is on the
    // other host: it keeps the batch (and the invocation) alive without queueing a URL for the page's host, so the close
    // seen below is fanout cancelling, not the runtime tearing down a finished invocation. maxBytes is at its 5 MiB
    // maximum, so the early stop, not the cap, is what ends the read.
    const answer = fanout({ urls: [originUrl(scope, 'huge?mb=64'), originUrl(scope, 'gate', '127.0.0.2')], maxBytes: 5 * MIB });
    const s = await waitForStats(scope, (s) => s.closedEarly === 1 && s.held === 1 && s.inFlight === 1);
    expect(s.bytesSent).toBeLessThan(16 * MIB);
    await release(scope);
    const { results } = await answer;
    expect(results[0]).toMatchObject({ ok: true, truncated: true, title: 'Huge page' });
    // The head and snippet, then the END_PEEK_BYTES look for the end, and no more: draining the remainder for a
    // next URL would have read REUSE_DRAIN_BYTES past the stop.
    expect(results[0]!.bytes).toBeLessThan(REUSE_DRAIN_BYTES);
    expect(results[1]).toMatchObject({ ok: true, title: 'gate' });
  });

  it('Should cut a page at `maxBytes` and say it is truncated', async () => {
    const scope = newScope('maxbytes');
    const { results } = await fanout({ urls: [originUrl(scope, 'page?size=5000')], maxBytes: 1000 });
    expect(results[0]).toMatchObject({ ok: true, bytes: 1000, truncated: true });
  });

  it('Should read a page smaller than `maxBytes` whole, not truncated', async () => {
    const scope = newScope('small');
    const { results } = await fanout({ urls: [originUrl(scope, 'page?size=5000')], maxBytes: 6000 });
    expect(results[0]).toMatchObject({ ok: true, bytes: 5000, truncated: false });
  });

  // Here and in the next test, a `query` the page does not hold needs the whole page searched: only the cap or the body's end stops the read.
  it('Should read a page exactly `maxBytes` long whole, not truncated, with the origin sending all of it', async () => {
    const scope = newScope('exact');
    const { results } = await fanout({ urls: [originUrl(scope, 'page?size=5000')], maxBytes: 5000, query: 'needle' });
    expect(results[0]).toMatchObject({ ok: true, bytes: 5000, truncated: false });
    const s = await waitForStats(scope, (s) => s.inFlight === 0);
    expect({ closedEarly: s.closedEarly, bytesSent: s.bytesSent }).toEqual({ closedEarly: 0, bytesSent: 5000 });
  });

  it.each([5001, 50_000])('Should cut a page of %i bytes at `maxBytes` 5000 exactly and say it is truncated', async (size) => {
    const scope = newScope('over-cap');
    const { results } = await fanout({ urls: [originUrl(scope, `page?size=${size}`)], maxBytes: 5000, query: 'needle' });
    expect(results[0]).toMatchObject({ ok: true, bytes: 5000, truncated: true });
  });
});

describe('requests', () => {
  it('Should send a User-Agent that names fanout and a URL', async () => {
    const scope = newScope('ua');
    const { results } = await fanout({ urls: [originUrl(scope, 'echo-headers')] });
    expect(results[0]!.ok).toBe(true);
    const ua = (await stats(scope)).log[0]!.headers['user-agent'];
    expect(ua).toContain('fanout/');
    expect(ua).toMatch(/https?:\/\//);
  });

  it('Should answer a batch of 100 mixed URLs with 100 results in input order, fetching duplicates once', async () => {
    const scope = newScope('batch100');
    const urls: string[] = [];
    const expected: Array<{ code: string | null; title?: string }> = [];
    for (let i = 0; i < 100; i++) {
      if (i === 99) {
        urls.push(originUrl(scope, 'hang'));
        expected.push({ code: 'timeout' });
      } else if (i % 10 === 3) {
        urls.push(urls[i - 3]!); // a duplicate of an earlier page
        expected.push(expected[i - 3]!);
      } else if (i % 10 === 5) {
        urls.push(originUrl(scope, `status/404?i=${i}`));
        expected.push({ code: 'http_status' });
      } else if (i % 10 === 7) {
        urls.push(i % 20 === 7 ? `not a url ${i}` : `ftp://example.com/${i}`);
        expected.push({ code: 'invalid_url' });
      } else {
        urls.push(originUrl(scope, `page?title=Page%20${i}`));
        expected.push({ code: null, title: `Page ${i}` });
      }
    }
    const distinctValid = new Set(urls.filter((u) => u.startsWith('http://'))).size;

    const { results, stats: batch } = await fanout({ urls, timeoutMs: 1000 });
    expect(results).toHaveLength(100);
    expect(results.map((r) => r.url)).toEqual(urls);
    results.forEach((r, i) => {
      expect(r.error?.code ?? null, `result ${i}`).toBe(expected[i]!.code);
      if (expected[i]!.title) expect(r.title, `result ${i}`).toBe(expected[i]!.title);
    });
    const okCount = expected.filter((e) => e.code === null).length;
    expect(batch).toMatchObject({ total: 100, ok: okCount, failed: 100 - okCount, fetched: distinctValid });
    expect(batch.ok + batch.failed).toBe(100);
    const s = await waitForStats(scope, (s) => s.inFlight === 0);
    expect(s.requests).toBe(distinctValid);
  });
});

describe('client disconnect', () => {
  // Through the Worker: workerd itself cancels an invocation's subrequests when its caller aborts, so
  // this holds the observable rule (the origin sees every connection closed) whatever fanout wires up.
  it('Should cancel the outstanding fetches when the client goes away', async () => {
    const scope = newScope('disconnect');
    const s = await dropClientAt(scope, { urls: many(scope, 'hang', 4), timeoutMs: 15_000, deadlineMs: 30_000 }, 4);
    expect(s.closedEarly).toBe(4);
  });

  // On the engine: the batch's own signal (what app.ts passes as the request signal) must cancel the fetches.
  it('Should cancel outstanding fetches and mark every unfinished URL `aborted` when the batch signal aborts', async () => {
    const scope = newScope('abort-engine');
    const controller = new AbortController();
    const options = engineOptions({ concurrency: 2, timeoutMs: 15_000 });
    const urls = many(scope, 'hang', 4);
    const batch = runBatch(urls, options, { signal: controller.signal });
    await waitForStats(scope, (s) => s.inFlight === 2);
    controller.abort();
    const { results, stats: totals } = await batch;
    expect(results.map((r) => r.error?.code)).toEqual(['aborted', 'aborted', 'aborted', 'aborted']);
    expect(totals.deadlineReached).toBe(false);
    const s = await waitForStats(scope, (s) => s.inFlight === 0 && s.closedEarly === 2);
    // The two queued URLs were never sent.
    expect(s.requests).toBe(2);
  });
});
