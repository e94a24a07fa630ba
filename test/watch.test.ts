/**
 * The watch-list and runs API over HTTP, through the Worker's real fetch entry
 * point, against the local D1 simulator. Storage may be shared between tests,
 * so every test works on its own list names (and its own cron, so nobody
 * else's tick runs its lists) and never counts rows it did not make.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { WatchList } from '../src/watch/store';
import { expectProblem } from './helpers/problem';
import { call, jsonInit, latest, listRuns, watchHarness, withEnv } from './helpers/worker';
import { originUrl } from './origin/client';

// Day-of-week 1 is this file's (see watchHarness).
const { listName, putList, tick, watched } = watchHarness({ dayOfWeek: 1, scheduledTime: Date.UTC(2026, 10, 25, 12, 0) });

describe('PUT /v1/watchlists/:name', () => {
  it('Should create a list with 201, replace it with 200, and answer the stored list both times', async () => {
    const name = listName('crud');
    const first = await putList(name, { urls: ['http://example.com/a'], concurrency: 2, crons: ['*/30 * * * *'] });
    expect(first.status).toBe(201);
    const one = await first.json<WatchList>();
    expect(one).toEqual({
      name,
      urls: ['http://example.com/a'],
      options: { concurrency: 2 },
      crons: ['*/30 * * * *'],
      createdAt: expect.any(String),
      updatedAt: one.createdAt,
      builtIn: false,
    });

    const second = await putList(name, { urls: ['http://example.com/b', 'http://example.com/c'], timeoutMs: 5000 });
    expect(second.status).toBe(200);
    const two = await second.json<WatchList>();
    // Replaced, not merged: the old option and crons are gone; creation time stays.
    expect(two).toEqual({
      name,
      urls: ['http://example.com/b', 'http://example.com/c'],
      options: { timeoutMs: 5000 },
      crons: null,
      createdAt: one.createdAt,
      updatedAt: expect.any(String),
      builtIn: false,
    });

    const got = await call(`/v1/watchlists/${name}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(two);
  });

  it('Should accept a name of exactly 64 characters', async () => {
    const name = listName('n', 64);
    expect(name).toHaveLength(64);
    const res = await putList(name, { urls: ['http://example.com/'] });
    expect(res.status).toBe(201);
    expect((await res.json<WatchList>()).name).toBe(name);
  });

  it('Should answer 400 naming `body` for malformed JSON', async () => {
    await expectProblem(await putList(listName('bad'), '{"urls": ['), 400, 'body');
  });

  it('Should answer 415 naming `content-type` for a body that is not declared JSON', async () => {
    const res = await call(`/v1/watchlists/${listName('bad')}`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: '{"urls":["http://a/"]}' });
    await expectProblem(res, 415, 'content-type');
  });

  it.each([
    ['a name with a space', 'has%20space'],
    ['a name of 65 characters', 'a'.repeat(65)],
    ['a name starting with a dot', '.hidden'],
  ])('Should answer 400 naming `name` for %s', async (_, name) => {
    const res = await putList(name, { urls: ['http://example.com/'] });
    await expectProblem(res, 400, 'name');
    expect((await call(`/v1/watchlists/${name}`)).status).toBe(404);
  });

  it('Should answer 409 for the reserved name `default`', async () => {
    await expectProblem(await putList('default', { urls: ['http://example.com/'] }), 409, 'name');
  });

  it.each([
    [{ urls: ['http://a/'], crons: ['every minute'] }, 'crons[0]'],
    [{ urls: ['http://a/'], crons: ['*/30 * * * *', '0 * * *'] }, 'crons[1]'],
    [{ urls: ['http://a/'], crons: [] }, 'crons'],
    [{ urls: ['http://a/'], crons: '*/30 * * * *' }, 'crons'],
    [{ urls: ['http://a/'], concurreny: 3 }, 'concurreny'],
    [{ urls: ['http://a/'], timeoutMs: 1.5 }, 'timeoutMs'],
    [{ urls: [] }, 'urls'],
    [{ crons: null }, 'urls'],
  ])('Should answer 400 for %j naming %s', async (body, field) => {
    const name = listName('bad');
    const problem = await expectProblem(await putList(name, body), 400, field);
    expect(problem.errors?.[0]?.field).toBe(field);
    // Nothing was stored.
    expect((await call(`/v1/watchlists/${name}`)).status).toBe(404);
  });

  it('Should name an unknown option in the message', async () => {
    const problem = await expectProblem(await putList(listName('bad'), { urls: ['http://a/'], concurreny: 3 }), 400, 'concurreny');
    expect(problem.detail).toContain('concurreny');
  });

  it('Should answer 413 naming `urls` for more URLs than MAX_WATCH_URLS, and take exactly that many', async () => {
    const urls = ['http://a/1', 'http://a/2', 'http://a/3', 'http://a/4'];
    const name = listName('cap');
    const problem = await expectProblem(await putList(name, { urls }, { MAX_WATCH_URLS: '3' }), 413, 'urls');
    expect(problem.detail).toContain('3');
    expect((await call(`/v1/watchlists/${name}`)).status).toBe(404);
    expect((await putList(name, { urls: urls.slice(0, 3) }, { MAX_WATCH_URLS: '3' })).status).toBe(201);
  });

  it('Should answer 405 with Allow for a method the list route does not take', async () => {
    const res = await call(`/v1/watchlists/${listName('m')}`, jsonInit('POST', { urls: ['http://a/'] }));
    await expectProblem(res, 405, 'method');
    expect(res.headers.get('allow')).toBe('GET, PUT, DELETE');
  });
});

describe('GET and DELETE /v1/watchlists', () => {
  it('Should list stored lists with their urlCount instead of their URLs', async () => {
    const small = listName('list');
    const big = listName('list');
    expect((await putList(small, { urls: ['http://a/1'] })).status).toBe(201);
    expect((await putList(big, { urls: ['http://a/1', 'http://a/2', 'http://a/3'], crons: ['0 * * * *'] })).status).toBe(201);
    const res = await call('/v1/watchlists');
    expect(res.status).toBe(200);
    const { watchlists } = await res.json<{ watchlists: (Omit<WatchList, 'urls'> & { urls?: string[]; urlCount: number })[] }>();
    const mine = watchlists.filter((l) => l.name === small || l.name === big);
    expect(mine).toHaveLength(2);
    expect(mine.find((l) => l.name === small)).toMatchObject({ urlCount: 1, crons: null, builtIn: false });
    expect(mine.find((l) => l.name === big)).toMatchObject({ urlCount: 3, crons: ['0 * * * *'], builtIn: false });
    for (const list of mine) expect(list).not.toHaveProperty('urls');
  });

  it('Should answer 404 for a list that does not exist', async () => {
    await expectProblem(await call(`/v1/watchlists/${listName('none')}`), 404, 'name');
  });

  it('Should delete with 204, then answer 404 to GET and DELETE', async () => {
    const name = listName('del');
    expect((await putList(name, { urls: ['http://a/'] })).status).toBe(201);
    const res = await call(`/v1/watchlists/${name}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    await expectProblem(await call(`/v1/watchlists/${name}`), 404, 'name');
    await expectProblem(await call(`/v1/watchlists/${name}`, { method: 'DELETE' }), 404, 'name');
  });

  it('Should delete a list\'s runs with it', async () => {
    const { cron, name } = await watched('del-runs', (scope) => [originUrl(scope, 'page')]);
    await tick(cron);
    const { id } = await latest(name);
    expect((await call(`/v1/watchlists/${name}`, { method: 'DELETE' })).status).toBe(204);
    await expectProblem(await call(`/v1/runs/${id}`), 404, 'id');
    await expectProblem(await call(`/v1/runs/latest?watchlist=${name}`), 404, 'watchlist');
    // Nothing of the list is left in D1: no run results, no remembered URL state.
    const left = await env.DB.prepare(
      'SELECT (SELECT COUNT(*) FROM run_results WHERE run_id = ?1) AS results, (SELECT COUNT(*) FROM url_state WHERE watchlist = ?2) AS state',
    )
      .bind(id, name)
      .first<{ results: number; state: number }>();
    expect(left).toEqual({ results: 0, state: 0 });
  });
});

describe('the built-in list `default` (WATCH_URLS)', () => {
  it('Should show WATCH_URLS as `default`, builtIn, with its URL count', async () => {
    const res = await withEnv({ WATCH_URLS: 'http://a/ http://b/' }, '/v1/watchlists');
    const { watchlists } = await res.json<{ watchlists: (WatchList & { urlCount: number })[] }>();
    expect(watchlists.filter((l) => l.name === 'default')).toEqual([expect.objectContaining({ name: 'default', builtIn: true, urlCount: 2, crons: null })]);
    const one = await withEnv({ WATCH_URLS: 'http://a/ http://b/' }, '/v1/watchlists/default');
    expect(await one.json()).toMatchObject({ name: 'default', builtIn: true, urls: ['http://a/', 'http://b/'] });
  });

  it('Should split WATCH_URLS on commas and any whitespace', async () => {
    const res = await withEnv({ WATCH_URLS: ' http://a/,http://b/\n\thttp://c/ , ' }, '/v1/watchlists/default');
    expect((await res.json<WatchList>()).urls).toEqual(['http://a/', 'http://b/', 'http://c/']);
  });

  it('Should refuse to delete `default` with 409 while WATCH_URLS names URLs', async () => {
    await expectProblem(await withEnv({ WATCH_URLS: 'http://a/ http://b/' }, '/v1/watchlists/default', { method: 'DELETE' }), 409, 'name');
  });

  it('Should not list `default` when WATCH_URLS is empty', async () => {
    const res = await withEnv({ WATCH_URLS: '' }, '/v1/watchlists');
    const { watchlists } = await res.json<{ watchlists: WatchList[] }>();
    expect(watchlists.map((l) => l.name)).not.toContain('default');
    await expectProblem(await withEnv({ WATCH_URLS: '' }, '/v1/watchlists/default'), 404, 'name');
  });
});

describe('GET /v1/runs', () => {
  it('Should page through a list\'s runs newest first with limit and cursor', async () => {
    const { cron, name } = await watched('paging', (scope) => [originUrl(scope, 'page')]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      await tick(cron);
      ids.push((await latest(name)).id);
    }
    expect(new Set(ids).size).toBe(3);
    const newestFirst = [...ids].reverse();

    const page1 = await listRuns(name, 'limit=2');
    expect(page1.runs.map((r) => r.id)).toEqual(newestFirst.slice(0, 2));
    expect(page1.nextCursor).toBe(newestFirst[1]);
    for (const run of page1.runs) expect(run).toMatchObject({ watchlist: name, cron, scheduledTime: '2026-11-25T12:00:00.000Z' });

    const page2 = await listRuns(name, `limit=2&cursor=${page1.nextCursor}`);
    expect(page2.runs.map((r) => r.id)).toEqual(newestFirst.slice(2));
    expect(page2.nextCursor).toBeNull();

    // Without a limit, all three fit on one page.
    const all = await listRuns(name);
    expect(all.runs.map((r) => r.id)).toEqual(newestFirst);
    expect(all.nextCursor).toBeNull();
  });

  it.each(['0', '101', '1.5', 'ten', ''])('Should answer 400 naming `limit` for limit=%j', async (limit) => {
    await expectProblem(await call(`/v1/runs?limit=${limit}`), 400, 'limit');
  });

  it('Should answer 400 naming `cursor` for a cursor that is not a run id', async () => {
    await expectProblem(await call('/v1/runs?cursor=not-a-run-id'), 400, 'cursor');
  });

  it('Should answer 404 naming `watchlist` for the latest run of a list that never ran', async () => {
    const name = listName('never');
    expect((await putList(name, { urls: ['http://a/'] })).status).toBe(201);
    await expectProblem(await call(`/v1/runs/latest?watchlist=${name}`), 404, 'watchlist');
  });

  it('Should answer 404 naming `id` for an unknown run id', async () => {
    await expectProblem(await call('/v1/runs/000000000-00000000'), 404, 'id');
    await expectProblem(await call('/v1/runs/nope'), 404, 'id');
  });

  it('Should answer 400 naming `since` for /v1/changes with a time that is not ISO 8601', async () => {
    await expectProblem(await call('/v1/changes?since=yesterday'), 400, 'since');
  });
});

describe('auth', () => {
  it.each([
    ['GET', '/v1/watchlists'],
    ['GET', '/v1/watchlists/some-list'],
    ['PUT', '/v1/watchlists/some-list'],
    ['DELETE', '/v1/watchlists/some-list'],
    ['GET', '/v1/runs'],
    ['GET', '/v1/runs/latest'],
    ['GET', '/v1/changes'],
  ])('Should answer 401 to %s %s without the token', async (method, path) => {
    const init = method === 'PUT' ? jsonInit('PUT', { urls: ['http://a/'] }) : { method };
    const res = await withEnv({ API_TOKEN: 'secret-token' }, path, init);
    await expectProblem(res, 401, 'authorization');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('Should let the right token through', async () => {
    const name = listName('auth');
    const put = await withEnv({ API_TOKEN: 'secret-token' }, `/v1/watchlists/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: 'Bearer secret-token' },
      body: JSON.stringify({ urls: ['http://a/'] }),
    });
    expect(put.status).toBe(201);
    const list = await withEnv({ API_TOKEN: 'secret-token' }, '/v1/watchlists', { headers: { authorization: 'Bearer secret-token' } });
    expect(list.status).toBe(200);
  });
});
