/**
 * The typed client (client/index.mjs): Hono's hc<AppType> over the app's own
 * route types, retries that honour Retry-After, and NDJSON as an async
 * iterator. Requests go through the Worker's real entry point in workerd; the
 * waits before retries are recorded, not slept through.
 */
import { createExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { hc } from 'hono/client';
import { createClient, FanoutError, type AppType } from '../client/index.mjs';
import type { Env } from '../src/env';
import worker from '../src/index';
import { BASE } from './helpers/worker';
import { newScope, originUrl, stats } from './origin/client';

const viaWorker = (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init));

describe('the typed client', () => {
  it('Should type every route from the app: a wrong option or an unknown one does not compile, a right one answers', async () => {
    const { api } = createClient(BASE, { fetch: viaWorker });
    // @ts-expect-error concurrency is a number
    void api.v1.fetch.$post({ json: { urls: ['ftp://a.test/'], concurrency: 'x' } }).catch(() => {});
    // @ts-expect-error no option is called concurreny
    void api.v1.fetch.$post({ json: { urls: ['ftp://a.test/'], concurreny: 3 } }).catch(() => {});
    const scope = newScope('client-api');
    const res = await api.v1.fetch.$post({ json: { urls: [originUrl(scope, 'page?title=Typed')], concurrency: 2 } });
    // The same type, exported for hc itself.
    const bare = hc<AppType>(BASE, { fetch: viaWorker });
    // @ts-expect-error maxBytes is a number
    void bare.v1.fetch.$post({ json: { urls: ['ftp://a.test/'], maxBytes: '1k' } }).catch(() => {});
    // A job's JSON body is typed too, its webhook included.
    // @ts-expect-error webhook.url is required
    void bare.v1.jobs.$post({ json: { urls: ['ftp://a.test/'], webhook: { events: ['job.completed'] } } }).catch(() => {});
    // @ts-expect-error no webhook event is called job.done
    void bare.v1.jobs.$post({ json: { urls: ['ftp://a.test/'], webhook: { url: 'https://h.test/', events: ['job.done'] } } }).catch(() => {});
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ results: [{ ok: true, title: 'Typed' }] });
  });

  it('Should give each result as soon as it finishes with stream(), and the whole batch with fetch()', async () => {
    const scope = newScope('client-stream');
    const urls = [originUrl(scope, 'page?title=A'), originUrl(scope, 'page?title=B'), 'ftp://example.com/x'];
    const fanout = createClient(BASE, { fetch: viaWorker });
    const seen: [number, string | null][] = [];
    for await (const result of fanout.stream(urls)) seen.push([result.index, result.title]);
    expect(seen.sort((a, b) => a[0] - b[0])).toEqual([[0, 'A'], [1, 'B'], [2, null]]);
    const { results, stats: totals } = await fanout.fetch(urls, { snippetLength: 10 });
    expect(results.map((r) => r.url)).toEqual(urls);
    expect(totals).toMatchObject({ total: 3, ok: 2 });
    expect((await stats(scope)).requests).toBe(4);
  });

  it('Should ask again after the Retry-After of a 429, then give up with the problem after its retries', async () => {
    const clients = JSON.stringify([{ name: 'slow', token: 'slow-token-0123456789', ratePerMinute: 1 }]);
    const waits: number[] = [];
    const fanout = createClient(BASE, {
      token: 'slow-token-0123456789',
      retries: 2,
      sleep: async (ms) => void waits.push(ms),
      fetch: async (input, init) => worker.fetch(new Request(input, init), { ...(env as Env), API_TOKENS: clients }, createExecutionContext()),
    });
    const first = await fanout.fetch(['ftp://example.com/a']);
    expect(first.results).toHaveLength(1);
    // The bucket of one request a minute is empty: 429 with Retry-After, asked again twice, then the error.
    const error = await fanout.fetch(['ftp://example.com/b']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FanoutError);
    expect(error).toMatchObject({ status: 429, problem: { type: 'urn:fanout:problem:rate-limited', field: 'authorization' } });
    expect(waits).toHaveLength(2);
    // The Worker asked for about a minute (seconds, rounded up); the client waits that long, at most 60 s.
    expect(waits.every((ms) => ms >= 55_000 && ms <= 60_000)).toBe(true);
  });

  it('Should retry a 503 and answer the result once the service is back', async () => {
    let calls = 0;
    const waits: number[] = [];
    const fanout = createClient(BASE, {
      sleep: async (ms) => void waits.push(ms),
      fetch: async (input, init) => {
        // The first answer is the one a busy gateway gives; then the Worker answers.
        if (calls++ === 0) return new Response('busy', { status: 503, headers: { 'retry-after': '2' } });
        return viaWorker(input, init);
      },
    });
    const { results } = await fanout.fetch(['ftp://example.com/x']);
    expect(results[0]).toMatchObject({ ok: false, error: { code: 'invalid_url' } });
    expect(waits).toEqual([2000]);
  });
});
