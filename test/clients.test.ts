/**
 * API clients (src/clients.ts): several bearer tokens from API_TOKENS, each
 * with a name and an optional rate limit kept in its RateLimiter Durable
 * Object (src/rate-limiter.ts), and the one log line per batch that names
 * the client, never its token.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectProblem } from './helpers/problem';
import { withEnv } from './helpers/worker';
import { newScope, originUrl } from './origin/client';

const run = (tag: string) => `${tag}-${crypto.randomUUID().slice(0, 8)}`;

/** API_TOKENS for clients named after `tag` (each test its own names, so their rate limiters start full). */
function clientsFor(tag: string) {
  const acme = { name: run(`acme-${tag}`), token: `acme-token-${crypto.randomUUID()}`, ratePerMinute: 2 };
  const free = { name: run(`free-${tag}`), token: `free-token-${crypto.randomUUID()}` };
  return { acme, free, env: { API_TOKENS: JSON.stringify([acme, free]) } };
}

function batch(env: Record<string, string>, token: string | null, urls = ['ftp://not-fetched/']) {
  return withEnv(env, '/v1/fetch', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ urls }),
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('API clients', () => {
  it('Should let each client of API_TOKENS in with its own token, and API_TOKEN as "default"', async () => {
    const { acme, free, env } = clientsFor('in');
    const legacy = `legacy-token-${crypto.randomUUID()}`;
    for (const token of [acme.token, free.token, legacy]) expect((await batch({ ...env, API_TOKEN: legacy }, token)).status).toBe(200);
  });

  it.each([
    ['no Authorization header', null],
    ['a token no client has', 'not-a-client-token-at-all'],
    ['a client token with a character more', 'EXTRA'],
  ])('Should answer 401 naming authorization for %s', async (_, given) => {
    const { acme, env } = clientsFor('out');
    const token = given === 'EXTRA' ? `${acme.token}x` : given;
    const res = await batch(env, token);
    await expectProblem(res, 401, 'authorization');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="fanout"/);
  });

  it('Should answer 429 with Retry-After once a client passes its rate, and leave other clients alone', async () => {
    const { acme, free, env } = clientsFor('rate');
    expect((await batch(env, acme.token)).status).toBe(200);
    expect((await batch(env, acme.token)).status).toBe(200);
    const limited = await batch(env, acme.token);
    const problem = await expectProblem(limited, 429, 'authorization');
    expect(problem.detail).toContain(acme.name);
    // The bucket refills 2 per minute: the next request is about 30 s away.
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(29);
    expect(retryAfter).toBeLessThanOrEqual(30);
    // A client without a rate, and the same limit under another name, are not affected.
    for (let i = 0; i < 4; i++) expect((await batch(env, free.token)).status).toBe(200);
  });

  it.each([
    ['text that is not JSON', 'not json'],
    ['an entry without a token', '[{"name":"a"}]'],
    ['a short token', '[{"name":"a","token":"short"}]'],
    ['a rate that is not a positive integer', '[{"name":"a","token":"0123456789abcdef0","ratePerMinute":0.5}]'],
    ['two clients with one name', '[{"name":"a","token":"0123456789abcdef0"},{"name":"a","token":"0123456789abcdef1"}]'],
  ])('Should answer 500 misconfigured naming API_TOKENS for %s, without the token', async (_, value) => {
    const res = await batch({ API_TOKENS: value }, '0123456789abcdef0');
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).toContain('API_TOKENS');
    expect(body).not.toContain('0123456789abcdef');
  });
});

describe('the log line per batch', () => {
  it('Should log one JSON line per batch with the client name, counts by error code, duration and shards, and no token or URL', async () => {
    const { acme, env } = clientsFor('log');
    const scope = newScope('log-line');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const urls = [originUrl(scope, 'page?title=A'), 'ftp://no/', 'not a url', originUrl(scope, 'status/404')];
    const res = await batch(env, acme.token, urls);
    await res.text();
    const lines = log.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('"event":"batch"'));
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({ event: 'batch', client: acme.name, urls: 4, ok: 1, failed: 3, errors: { invalid_url: 2, http_status: 1 }, shards: 1, deadlineReached: false, cache: {}, ndjson: false });
    expect(entry.durationMs).toEqual(expect.any(Number));
    expect(lines[0]).not.toContain(acme.token);
    expect(lines[0]).not.toContain(scope);
  });

  it('Should count the results by cache status', async () => {
    const scope = newScope('log-cache');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const url = originUrl(scope, 'page?title=C');
    const once = (urls: string[]) => withEnv({}, '/v1/fetch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls, maxAge: 60_000 }) }).then((res) => res.text());
    await once([url]);
    await once([url, originUrl(scope, 'page?title=D')]);
    const entries = log.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('"event":"batch"')).map((line) => JSON.parse(line));
    expect(entries.map((entry) => entry.cache)).toEqual([{ miss: 1 }, { hit: 1, miss: 1 }]);
    expect(entries[1].client).toBeNull();
  });
});
