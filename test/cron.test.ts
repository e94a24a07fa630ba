/**
 * The scheduled handler: watch lists run through the Worker's real `scheduled`
 * entry point against the test origin, with local D1, and read back over the
 * HTTP API. Each test follows its own cron expression, so no other test's tick
 * runs its lists; what the origin saw is the evidence, not timings.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord, RunEntry, RunRecord } from '../src/watch/store';
import { signatureFor } from './helpers/signature';
import { call, getRun, latest, listRuns, watchHarness, type RunWithResults } from './helpers/worker';
import { newScope, originUrl, setVersion, stats, waitFor, waitForStats, type OriginLogEntry } from './origin/client';

// Day-of-week 2 is this file's (test/watch.test.ts has 1; see watchHarness).
const { newList, ownCron, putList, scheduledTime, tick, watched } = watchHarness({ dayOfWeek: 2, scheduledTime: Date.UTC(2026, 10, 25, 12, 30) });

/** GET /v1/changes for one list, from `since` on. */
async function changes(watchlist: string, since = '1970-01-01T00:00:00Z'): Promise<ChangeRecord[]> {
  const res = await call(`/v1/changes?watchlist=${watchlist}&since=${encodeURIComponent(since)}`);
  expect(res.status).toBe(200);
  return (await res.json<{ changes: ChangeRecord[] }>()).changes;
}

/** The origin's log entries for one route of a scope (the route is matched up to its query). */
async function logOf(scope: string, route: string): Promise<OriginLogEntry[]> {
  return (await stats(scope)).log.filter((entry) => entry.route === route || entry.route.startsWith(`${route}?`));
}

describe('change detection', () => {
  it('Should flag the page whose content changed, name the fields, and leave the other page unflagged', async () => {
    const { scope, cron, name, urls: [a, b] } = await watched('diff', (scope) => [originUrl(scope, 'versioned?name=a'), originUrl(scope, 'versioned?name=b')]);

    await tick(cron);
    const first = await latest(name);
    expect(first).toMatchObject({ watchlist: name, cron, scheduledTime: new Date(scheduledTime).toISOString(), stats: { changed: 0 } });
    expect(first.results.map(({ url, state, changed, changes }) => ({ url, state, changed, changes }))).toEqual([
      { url: a, state: 'new', changed: false, changes: [] },
      { url: b, state: 'new', changed: false, changes: [] },
    ]);
    expect(first.stats).toMatchObject({ total: 2, ok: 2, new: 2, changed: 0 });
    expect(first.results[0]!.result.title).toBe('a v1');

    await setVersion(scope, 'a', 2);
    await tick(cron);
    const second = await latest(name);
    expect(second.id).not.toBe(first.id);
    const [entryA, entryB] = second.results;
    expect(entryA).toMatchObject({ url: a, state: 'ok', changed: true, changes: ['title', 'description', 'snippet', 'textHash'] });
    expect(entryA!.result).toMatchObject({ ok: true, status: 200, title: 'a v2', etag: '"a-v2"' });
    expect(entryA!.result.snippet).toContain('version 2 of a');
    expect(entryB).toMatchObject({ url: b, state: 'ok', changed: false, changes: [] });
    expect(second.stats.changed).toBe(1);
    expect(second.stats).toMatchObject({ changed: 1, new: 0 });

    const listed = await changes(name);
    expect(listed).toEqual([expect.objectContaining({ runId: second.id, watchlist: name, url: a, changes: ['title', 'description', 'snippet', 'textHash'], title: 'a v2' })]);
    // `since` is inclusive of the run's start and excludes anything earlier.
    expect((await changes(name, second.startedAt)).map((c) => c.runId)).toEqual([second.id]);
    expect(await changes(name, new Date(Date.parse(second.startedAt) + 1).toISOString())).toEqual([]);
  });

  it('Should never flag a page that did not change, over three full fetches', async () => {
    // No validators, so every run fetches and compares the whole page (a 304 would prove nothing).
    const { scope, cron, name, urls } = await watched('same', (scope) => [
      originUrl(scope, 'versioned?name=plain&etag=0&lm=0'),
      originUrl(scope, 'versioned?name=deep&deep=1&etag=0&lm=0'),
      originUrl(scope, 'page?title=Same'),
      originUrl(scope, 'text'),
      originUrl(scope, 'json'),
    ]);
    const runs: RunWithResults[] = [];
    for (let i = 0; i < 3; i++) {
      await tick(cron);
      runs.push(await latest(name));
    }
    expect(new Set(runs.map((r) => r.id)).size).toBe(3);
    for (const run of runs) {
      expect(run.results.map((e) => e.result.ok)).toEqual([true, true, true, true, true]);
      expect(run.results.map((e) => ({ changed: e.changed, changes: e.changes, notModified: e.notModified }))).toEqual(
        urls.map(() => ({ changed: false, changes: [], notModified: false })),
      );
      expect(run.stats.changed).toBe(0);
    }
    expect(runs.map((r) => r.results.map((e) => e.state))).toEqual([urls.map(() => 'new'), urls.map(() => 'ok'), urls.map(() => 'ok')]);
    expect(await changes(name)).toEqual([]);
    // Every run fetched every page in full: 3 unconditional GETs per URL.
    const log = (await stats(scope)).log;
    expect(log).toHaveLength(15);
    for (const entry of log) expect(entry.headers['if-none-match'] ?? entry.headers['if-modified-since']).toBeUndefined();
  });

  it('Should flag a change past the snippet through textHash alone', async () => {
    const { scope, cron, name } = await watched('deep', (scope) => [originUrl(scope, 'versioned?name=d&deep=1')]);
    await tick(cron);
    const first = (await latest(name)).results[0]!;
    expect(first.result.ok).toBe(true);
    expect(first.result.textHash).toEqual(expect.any(String));
    // The changing text sits past the snippet.
    expect(first.result.snippet).not.toContain('version 1');

    await setVersion(scope, 'd', 2);
    await tick(cron);
    const second = (await latest(name)).results[0]!;
    expect(second).toMatchObject({ changed: true, changes: ['textHash'], state: 'ok', notModified: false });
    expect(second.result).toMatchObject({ status: 200, title: first.result.title, description: first.result.description, snippet: first.result.snippet });
    expect(second.result.textHash).not.toBe(first.result.textHash);
  });
});

describe('conditional re-checks', () => {
  it('Should send If-None-Match, count a 304 as unchanged, and carry the previous content forward', async () => {
    const { scope, cron, name } = await watched('etag', (scope) => [originUrl(scope, 'versioned?name=p')]);

    await tick(cron);
    const first = await latest(name);
    expect(first.results[0]!.result).toMatchObject({ status: 200, etag: '"p-v1"', lastModified: expect.any(String), title: 'p v1' });

    await tick(cron);
    const second = await latest(name);
    const log = await logOf(scope, 'versioned');
    expect(log.map((e) => [e.headers['if-none-match'], e.status])).toEqual([
      [undefined, 200],
      ['"p-v1"', 304],
    ]);
    expect(log[1]!.headers['if-modified-since']).toBe(first.results[0]!.result.lastModified);

    const entry = second.results[0]!;
    expect(entry).toMatchObject({ notModified: true, changed: false, changes: [], state: 'ok' });
    const before = first.results[0]!.result;
    expect(entry.result).toMatchObject({
      ok: true,
      status: 304,
      error: null,
      etag: '"p-v1"',
      title: before.title,
      description: before.description,
      snippet: before.snippet,
      textHash: before.textHash,
    });
    expect(second.stats).toMatchObject({ notModified: 1, changed: 0, ok: 1, failed: 0 });
  });

  it('Should scale a list with `concurrency` above 6 out to shards and still send each URL its own validators', async () => {
    const { scope, cron, name } = await watched(
      'etag-shards',
      (scope) => Array.from({ length: 12 }, (_, i) => originUrl(scope, `versioned?name=s${i}`)),
      { concurrency: 12 },
    );

    await tick(cron);
    expect((await latest(name)).stats).toMatchObject({ ok: 12, shards: 2 });
    await tick(cron);
    const second = await latest(name);
    expect(second.stats).toMatchObject({ ok: 12, notModified: 12, changed: 0, shards: 2 });
    const log = await logOf(scope, 'versioned');
    // Every URL, whichever invocation fetched it, sent back the ETag of its own first answer.
    const sent = new Map(log.filter((e) => e.status === 304).map((e) => [e.route, e.headers['if-none-match']]));
    expect(sent.size).toBe(12);
    for (const [route, etag] of sent) expect(etag).toBe(`"${/name=(s\d+)/.exec(route)![1]}-v1"`);
  });

  it('Should send If-Modified-Since when the page has no ETag, and take its 304', async () => {
    const { scope, cron, name } = await watched('lm', (scope) => [originUrl(scope, 'versioned?name=q&etag=0')]);
    await tick(cron);
    const lastModified = (await latest(name)).results[0]!.result.lastModified;
    expect(lastModified).toEqual(expect.any(String));
    await tick(cron);
    const log = await logOf(scope, 'versioned');
    expect(log.map((e) => [e.headers['if-none-match'], e.headers['if-modified-since'], e.status])).toEqual([
      [undefined, undefined, 200],
      [undefined, lastModified, 304],
    ]);
    expect((await latest(name)).results[0]).toMatchObject({ notModified: true, changed: false, result: { status: 304, title: 'q v1' } });
  });

  it('Should compare a page that changes after a 304 with the content carried forward', async () => {
    const { scope, cron, name } = await watched('after304', (scope) => [originUrl(scope, 'versioned?name=r')]);
    await tick(cron);
    await tick(cron);
    expect((await latest(name)).results[0]!.notModified).toBe(true);

    await setVersion(scope, 'r', 2);
    await tick(cron);
    const third = await latest(name);
    expect(third.results[0]).toMatchObject({ notModified: false, changed: true, changes: ['title', 'description', 'snippet', 'textHash'] });
    // The new version's validators replace the old ones: the fourth check is a 304 for v2.
    await tick(cron);
    const log = await logOf(scope, 'versioned');
    expect(log.map((e) => [e.headers['if-none-match'], e.status])).toEqual([
      [undefined, 200],
      ['"r-v1"', 304],
      ['"r-v1"', 200],
      ['"r-v2"', 304],
    ]);
    expect((await latest(name)).results[0]).toMatchObject({ notModified: true, changed: false, result: { title: 'r v2' } });
  });
});

describe('replacing a list', () => {
  it('Should not flag unchanged pages after PUT changes how snippets are taken', async () => {
    // No validators: the second run fetches the page in full and compares it.
    const { scope, cron, name, urls } = await watched('reput', (scope) => [originUrl(scope, 'versioned?name=s&etag=0&lm=0')]);
    await tick(cron);
    const before = (await latest(name)).results[0]!;
    expect(before.result.snippet!.length).toBeGreaterThan(40);

    expect((await putList(name, { urls, crons: [cron], snippetLength: 20 })).status).toBe(200);
    await tick(cron);
    const after = (await latest(name)).results[0]!;
    // The page is byte for byte the same (origin version 1 both times); only the list's options moved.
    expect((await logOf(scope, 'versioned')).map((e) => e.status)).toEqual([200, 200]);
    expect(after.result.snippet!.length).toBeLessThanOrEqual(20);
    expect(after).toMatchObject({ changed: false, changes: [] });
  });

  it('Should not carry a snippet taken under the old options through a 304 after PUT changes them', async () => {
    const { cron, name, urls } = await watched('reput304', (scope) => [originUrl(scope, 'versioned?name=t')]);
    await tick(cron);
    expect((await putList(name, { urls, crons: [cron], snippetLength: 20 })).status).toBe(200);
    await tick(cron);
    const after = (await latest(name)).results[0]!;
    // snippetLength 20 is the list's option now; a stored result must honour it, 304 or not.
    expect(after.result.snippet!.length).toBeLessThanOrEqual(20);
  });
});

describe('URL states', () => {
  it('Should move a URL through new, failing, still_failing and recovered, without flagging unchanged content', async () => {
    const { scope, cron, name } = await watched('states', (scope) => [originUrl(scope, 'versioned?name=f')], { retries: 0 });
    const entries: RunEntry[] = [];
    const statsSeen: RunRecord['stats'][] = [];
    const step = async () => {
      await tick(cron);
      const run = await latest(name);
      entries.push(run.results[0]!);
      statsSeen.push(run.stats);
    };

    await step();
    await setVersion(scope, 'f', 2, { status: 500 });
    await step();
    await step();
    // Back to the first version's content: recovered, and not a change.
    await setVersion(scope, 'f', 1);
    await step();

    expect(entries.map((e) => [e.state, e.changed, e.result.ok, e.result.status])).toEqual([
      ['new', false, true, 200],
      ['failing', false, false, 500],
      ['still_failing', false, false, 500],
      ['recovered', false, true, 200],
    ]);
    expect(entries[1]!.result.error).toMatchObject({ code: 'http_status' });
    expect(statsSeen.map((s) => [s.failing, s.recovered])).toEqual([
      [0, 0],
      [1, 0],
      [0, 0],
      [0, 1],
    ]);
    // The origin saw one request per run (retries: 0), so each state came from its own check.
    expect((await logOf(scope, 'versioned')).map((e) => e.status)).toEqual([200, 500, 500, 200]);
  });

  it('Should flag a recovered page whose content differs from the last good check', async () => {
    const { scope, cron, name } = await watched('recover-diff', (scope) => [originUrl(scope, 'versioned?name=g')], { retries: 0 });
    await tick(cron);
    await setVersion(scope, 'g', 2, { status: 500 });
    await tick(cron);
    await setVersion(scope, 'g', 3);
    await tick(cron);
    expect((await latest(name)).results[0]).toMatchObject({ state: 'recovered', changed: true, changes: ['title', 'description', 'snippet', 'textHash'] });
  });
});

describe('which lists a tick runs', () => {
  it('Should run a list with crons only on its own cron, and a list without crons on both ticks with one request per run', async () => {
    const hourly = newScope('hourly');
    const always = newScope('always');
    const onlyHourly = await newList('hourly', { urls: [originUrl(hourly, 'page')], crons: ['0 * * * *'] });
    const everyTick = await newList('always', { urls: [originUrl(always, 'page')], crons: null });

    await tick('*/30 * * * *');
    expect((await call(`/v1/runs/latest?watchlist=${onlyHourly}`)).status).toBe(404);
    expect((await stats(hourly)).requests).toBe(0);

    await tick('0 * * * *');
    expect(await latest(onlyHourly)).toMatchObject({ cron: '0 * * * *', stats: { ok: 1 } });
    expect((await stats(hourly)).requests).toBe(1);

    // Other files' ticks may run `everyTick` too (no crons, and D1 may be shared), and one may be between
    // its fetch and its stored run: read both until they agree, then compare what was read together.
    let seen = { runs: [] as RunRecord[], requests: -1 };
    await waitFor(
      async () => {
        seen = { runs: (await listRuns(everyTick, 'limit=100')).runs, requests: (await stats(always)).requests };
        return seen.requests === seen.runs.length;
      },
      { message: 'one origin request per stored run' },
    ).catch(() => {});
    expect(seen.requests).toBe(seen.runs.length);
    // This test's two ticks are among those runs, once each.
    const ours = seen.runs.filter((r) => r.scheduledTime === new Date(scheduledTime).toISOString()).map((r) => r.cron);
    expect(ours.sort()).toEqual(['*/30 * * * *', '0 * * * *']);
  });

  it('Should run the built-in list from WATCH_URLS as `default`, the list runs/latest reads without a name', async () => {
    const scope = newScope('builtin');
    const urls = [originUrl(scope, 'page?title=One'), originUrl(scope, 'page?title=Two')];
    await tick(ownCron(), { WATCH_URLS: urls.join(', ') });
    const run = await latest();
    expect(run.watchlist).toBe('default');
    expect(run.results.map((e) => [e.url, e.result.title])).toEqual([
      [urls[0], 'One'],
      [urls[1], 'Two'],
    ]);
    expect((await stats(scope)).requests).toBe(2);
  });
});

describe('RUN_RETENTION', () => {
  it('Should fail the tick loudly, naming RUN_RETENTION, when it is not a positive integer, and store no run', async () => {
    const { scope, cron, name } = await watched('badcfg', (scope) => [originUrl(scope, 'page')]);
    await expect(tick(cron, { RUN_RETENTION: '0' })).rejects.toThrow(/RUN_RETENTION/);
    expect((await call(`/v1/runs/latest?watchlist=${name}`)).status).toBe(404);
    expect((await stats(scope)).requests).toBe(0);
  });

  it('Should keep the newest RUN_RETENTION runs of a list and answer 404 for the pruned ones', async () => {
    const { cron, name } = await watched('retain', (scope) => [originUrl(scope, 'page')]);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      await tick(cron, { RUN_RETENTION: '2' });
      ids.push((await latest(name)).id);
    }
    expect(new Set(ids).size).toBe(4);
    const { runs } = await listRuns(name);
    expect(runs.map((r) => r.id)).toEqual([ids[3], ids[2]]);
    for (const id of ids.slice(0, 2)) expect((await call(`/v1/runs/${id}`)).status).toBe(404);
    // The kept runs still have their results.
    expect((await getRun(ids[2]!)).results).toHaveLength(1);
    // And the pruned runs' results are gone from D1 too, not just unreachable through the API.
    const { results } = await env.DB.prepare('SELECT run_id, COUNT(*) AS n FROM run_results WHERE run_id IN (SELECT value FROM json_each(?1)) GROUP BY run_id ORDER BY run_id')
      .bind(JSON.stringify(ids))
      .all<{ run_id: string; n: number }>();
    expect(results).toEqual([
      { run_id: ids[2], n: 1 },
      { run_id: ids[3], n: 1 },
    ]);
  });
});

describe('notifications', () => {
  // Retries, backoff and Retry-After are tested on notify() itself, with an injected sleep (test/notify.test.ts).
  const SECRET = 's3cret';

  it('Should POST one signed summary for a run with changes and none for a run without', async () => {
    const hookScope = newScope('notify-hook');
    const { scope: pages, cron, name, urls: [url] } = await watched('notify', (scope) => [originUrl(scope, 'versioned?name=n'), originUrl(scope, 'versioned?name=steady')]);
    const notifyEnv = { NOTIFY_URL: originUrl(hookScope, 'hook'), NOTIFY_SECRET: SECRET };

    await tick(cron, notifyEnv);
    expect((await latest(name)).notification).toBeNull();
    expect((await stats(hookScope)).requests).toBe(0);

    await setVersion(pages, 'n', 2);
    await tick(cron, notifyEnv);
    const run = await latest(name);
    const hooks = (await stats(hookScope)).log;
    expect(hooks).toHaveLength(1);
    const hook = hooks[0]!;
    expect(hook.method).toBe('POST');
    expect(hook.allHeaders?.['content-type']).toMatch(/^application\/json/);
    const signature = hook.allHeaders?.['x-fanout-signature'];
    expect(signature).toBe(await signatureFor(SECRET, hook.body!));
    expect(signature).not.toBe(await signatureFor('wrong', hook.body!));

    const payload = JSON.parse(hook.body!) as { event: string; run: { id: string; watchlist: string }; changes: { url: string; changed: boolean; changes: string[]; title: string }[] };
    expect(payload.event).toBe('fanout.run.changes');
    expect(payload.run).toMatchObject({ id: run.id, watchlist: name });
    expect(payload.changes).toEqual([expect.objectContaining({ url, changed: true, title: 'n v2', changes: expect.arrayContaining(['title']) })]);
    expect(run.notification).toEqual({ ok: true, attempts: 1, status: 200, error: null });
    expect((await getRun(run.id)).notification).toEqual(run.notification);

    await tick(cron, notifyEnv);
    expect((await latest(name)).stats.changed).toBe(0);
    expect((await stats(hookScope)).requests).toBe(1);
  });

  it('Should not POST to a NOTIFY_URL the URL guard refuses, and record why', async () => {
    const hookScope = newScope('guard-hook');
    const { cron, name } = await watched('notify-guard', (scope) => [originUrl(scope, 'versioned?name=y')]);
    const notifyEnv = { NOTIFY_URL: originUrl(hookScope, 'hook'), NOTIFY_SECRET: SECRET };
    await tick(cron, notifyEnv);
    // With private hosts refused, the page fails (a state change worth telling) and so does the notify URL.
    await tick(cron, { ...notifyEnv, ALLOW_PRIVATE_HOSTS: 'false' });
    const run = await latest(name);
    expect(run.results[0]).toMatchObject({ state: 'failing', result: { error: { code: 'blocked' } } });
    expect(run.notification).toMatchObject({ ok: false, attempts: 0 });
    expect(run.notification!.error).toContain('NOTIFY_URL');
    expect((await stats(hookScope)).requests).toBe(0);
  });
});

describe('deadline', () => {
  it('Should store a run that hit its deadline, with the unfinished URL marked `deadline` and the others kept', async () => {
    const { scope, cron, name } = await watched(
      'deadline',
      (scope) => [originUrl(scope, 'page?title=Before'), originUrl(scope, 'hang'), originUrl(scope, 'page?title=After', '127.0.0.2')],
      { deadlineMs: 500 },
    );
    await tick(cron);
    const run = await latest(name);
    expect(run.results.map((e) => [e.result.ok, e.result.error?.code ?? null, e.result.title])).toEqual([
      [true, null, 'Before'],
      [false, 'deadline', null],
      [true, null, 'After'],
    ]);
    expect(run.stats).toMatchObject({ total: 3, ok: 2, failed: 1, deadlineReached: true });
    // The hang request really went out, and the deadline cancelled it.
    const seen = await waitForStats(scope, (s) => s.inFlight === 0);
    expect(seen.log.map((e) => e.route)).toContain('hang');
    expect(seen.closedEarly).toBe(1);
  });
});
