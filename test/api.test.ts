import { describe, expect, it } from 'vitest';
import type { BatchResult } from '../src/result';
import { expectProblem } from './helpers/problem';
import { call, jsonInit, post, withEnv } from './helpers/worker';
import { newScope, originUrl, release, waitForStats } from './origin/client';

describe('GET /health', () => {
  it('Should answer 200 with the version, without auth even when a token is set', async () => {
    const res = await withEnv({ API_TOKEN: 'secret-token' }, '/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', service: 'fanout', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });
});

describe('request validation', () => {
  it('Should answer 400 naming `body` for malformed JSON', async () => {
    await expectProblem(await post('{"urls": ['), 400, 'body');
  });

  it('Should answer 415 for a body that is not JSON', async () => {
    const res = await call('/v1/fetch', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'http://a' });
    await expectProblem(res, 415, 'content-type');
  });

  it.each([
    [{}, 'urls'],
    [['http://a'], 'body'],
    [{ urls: 'http://a' }, 'urls'],
    [{ urls: [] }, 'urls'],
    [{ urls: [42] }, 'urls[0]'],
    [{ urls: ['http://a'], concurrency: 0 }, 'concurrency'],
    [{ urls: ['http://a'], concurrency: 51 }, 'concurrency'],
    [{ urls: ['http://a'], concurrency: 'six' }, 'concurrency'],
    [{ urls: ['http://a'], timeoutMs: 1.5 }, 'timeoutMs'],
    [{ urls: ['http://a'], maxBytes: 6_000_000 }, 'maxBytes'],
    [{ urls: ['http://a'], retries: -1 }, 'retries'],
    [{ urls: ['http://a'], selector: 'p[' }, 'selector'],
    [{ urls: ['http://a'], concurreny: 3 }, 'concurreny'],
  ])('Should answer 400 for %j naming %s', async (body, field) => {
    const problem = await expectProblem(await post(body), 400, field);
    expect(problem.errors?.length).toBeGreaterThan(0);
  });

  it('Should name an unknown option in the message', async () => {
    const problem = await expectProblem(await post({ urls: ['http://a'], concurreny: 3 }), 400, 'concurreny');
    expect(problem.detail).toContain('concurreny');
  });

  it('Should answer 413 for more URLs than MAX_URLS', async () => {
    const urls = Array.from({ length: 101 }, (_, i) => `http://example.com/${i}`);
    await expectProblem(await post({ urls }), 413, 'urls');
  });

  it('Should follow a lower MAX_URLS set in the environment', async () => {
    const res = await withEnv({ MAX_URLS: '2' }, '/v1/fetch', jsonInit('POST', { urls: ['http://a/1', 'http://a/2', 'http://a/3'] }));
    const problem = await expectProblem(res, 413, 'urls');
    expect(problem.detail).toContain('2');
  });

  it('Should answer 413 for a request body over 1 MiB', async () => {
    const body = JSON.stringify({ urls: ['http://example.com/'], query: 'x'.repeat(1_100_000) });
    await expectProblem(await post(body), 413, 'body');
  });

  it('Should answer 404 problem+json for an unknown route and 405 with Allow for a wrong method', async () => {
    await expectProblem(await call('/nope'), 404, 'path');
    const res = await call('/v1/fetch', { method: 'DELETE' });
    await expectProblem(res, 405, 'method');
    expect(res.headers.get('allow')).toBe('GET, POST');
    // On Firecrawl's paths the same refusal carries the fields its SDKs read.
    const firecrawl = await call('/v2/scrape', { method: 'GET' });
    const problem = await expectProblem(firecrawl, 405, 'method');
    expect(problem).toMatchObject({ success: false, error: problem.detail });
    expect(firecrawl.headers.get('allow')).toBe('POST');
    expect(await (await call('/v1/fetch', { method: 'DELETE' })).json()).not.toHaveProperty('success');
  });

  it('Should turn a per-URL problem into that URL\'s result, not a 400', async () => {
    const res = await post({ urls: ['ftp://x', 'not a url', 'http://user:pw@example.com/', 'http://127.0.0.1/'] });
    expect(res.status).toBe(200);
    const { results } = await res.json<BatchResult>();
    expect(results.map((r) => r.error?.code)).toEqual(['invalid_url', 'invalid_url', 'invalid_url', expect.any(String)]);
  });

  it('Should refuse private addresses as `blocked` when ALLOW_PRIVATE_HOSTS is not "true"', async () => {
    const scope = newScope('blocked');
    const urls = [originUrl(scope, 'page'), 'http://2130706433/', 'http://[::ffff:127.0.0.1]/', 'http://localhost/', 'http://169.254.169.254/latest/meta-data/'];
    const res = await withEnv({ ALLOW_PRIVATE_HOSTS: 'false' }, '/v1/fetch', jsonInit('POST', { urls }));
    const { results } = await res.json<BatchResult>();
    expect(results.map((r) => r.error?.code)).toEqual(['blocked', 'blocked', 'blocked', 'blocked', 'blocked']);
    const seen = await waitForStats(scope, () => true);
    expect(seen.requests).toBe(0);
  });
});

describe('auth', () => {
  const init = (authorization?: string): RequestInit => jsonInit('POST', { urls: ['ftp://only-invalid'] }, authorization ? { authorization } : {});

  it('Should answer 401 problem+json without a token, with a wrong one, and with a malformed header', async () => {
    for (const header of [undefined, 'Bearer wrong', 'Basic abc', 'Bearer']) {
      const res = await withEnv({ API_TOKEN: 'secret-token' }, '/v1/fetch', init(header));
      await expectProblem(res, 401, 'authorization');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('Should let the right token through, on GET too', async () => {
    const res = await withEnv({ API_TOKEN: 'secret-token' }, '/v1/fetch', init('Bearer secret-token'));
    expect(res.status).toBe(200);
    const get = await withEnv({ API_TOKEN: 'secret-token' }, '/v1/fetch?url=ftp%3A%2F%2Fx', { headers: { authorization: 'Bearer secret-token' } });
    expect(get.status).toBe(200);
  });
});

describe('GET /v1/fetch', () => {
  it('Should take repeated url parameters and options as query parameters', async () => {
    const scope = newScope('get');
    const qs = new URLSearchParams([
      ['url', originUrl(scope, 'page?title=One')],
      ['url', originUrl(scope, 'page?title=Two')],
      ['snippetLength', '40'],
      ['timeoutMs', '5000'],
    ]);
    const res = await call(`/v1/fetch?${qs}`);
    expect(res.status).toBe(200);
    const { results, stats } = await res.json<BatchResult>();
    expect(results.map((r) => r.title)).toEqual(['One', 'Two']);
    expect(results[0]!.snippet!.length).toBeLessThanOrEqual(40);
    expect(stats.total).toBe(2);
  });

  it('Should answer 400 naming the query parameter that is not a number', async () => {
    await expectProblem(await call(`/v1/fetch?url=http://a/&timeoutMs=soon`), 400, 'timeoutMs');
    await expectProblem(await call('/v1/fetch'), 400, 'urls');
  });

  it.each(['__proto__', 'constructor', 'concurreny'])('Should refuse the unknown parameter %s by name, as POST refuses it in a body', async (name) => {
    const get = await expectProblem(await call(`/v1/fetch?url=http://a/&${name}=1`), 400, name);
    expect(get.detail).toContain(`unknown option "${name}"`);
    await expectProblem(await post(`{"urls": ["http://a/"], "${name}": 1}`), 400, name);
  });

  it.each([
    ['timeoutMs=5000&timeoutMs=soon', 'timeoutMs'],
    ['timeoutMs=soon&timeoutMs=5000', 'timeoutMs'],
    ['snippetLength=10&snippetLength=10', 'snippetLength'],
    ['selector=p&selector=h1', 'selector'],
    // Found by test/fuzz.test.ts (seed 1967900107): an empty name was named "" before.
    ['=&=', '[""]'],
  ])('Should refuse a single-valued option given twice (%s), whatever the order', async (query, field) => {
    const problem = await expectProblem(await call(`/v1/fetch?url=http://a/&${query}`), 400, field);
    expect(problem.detail).toContain('more than once');
  });
});

it.each([
  ['GET with an empty parameter name', () => call('/v1/fetch?url=http://a/&=1')],
  ['POST with an empty key', () => call('/v1/fetch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"urls":["http://a/"],"":1}' })],
])('Should name an empty option name as [""], not body (%s)', async (_, send) => {
  const problem = await expectProblem(await send(), 400, '[""]');
  expect(problem.detail).toContain('unknown option ""');
});

describe('NDJSON streaming', () => {
  it('Should stream each result as it finishes, fastest first, with its index, then a stats line', async () => {
    const scope = newScope('ndjson');
    const urls = [originUrl(scope, 'gate'), originUrl(scope, 'page?title=Fast')];
    const res = await post({ urls }, { headers: { accept: 'application/x-ndjson' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    const nextLine = async () => {
      for (;;) {
        const at = buffered.indexOf('\n');
        if (at !== -1) {
          const line = buffered.slice(0, at);
          buffered = buffered.slice(at + 1);
          return JSON.parse(line);
        }
        const { done, value } = await reader.read();
        if (done) throw new Error(`stream ended; left: ${buffered}`);
        buffered += value;
      }
    };
    const first = await nextLine();
    expect(first).toMatchObject({ index: 1, title: 'Fast', ok: true });
    // The gate URL is still held at the origin while the first line is already here.
    const held = await waitForStats(scope, (s) => s.inFlight === 1);
    expect(held.inFlight).toBe(1);
    await release(scope);
    expect(await nextLine()).toMatchObject({ index: 0, title: 'gate', ok: true });
    expect(await nextLine()).toMatchObject({ stats: { total: 2, ok: 2, failed: 0 } });
    expect((await reader.read()).done).toBe(true);
  });
});
