/**
 * Jobs (src/jobs/): POST /v1/jobs through the Worker's real entry point, the
 * chunks through the local Queues simulator to the Worker's real queue
 * consumer, state in the FetchJob Durable Object (local SQLite storage),
 * results in the local R2 simulator, fetches at the test origin. Counts are
 * checked where they happen: requests at the origin, objects in R2, rows in
 * the job's object.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Env } from '../src/env';
import { runBatch } from '../src/engine/batch';
import { normalizeOptions } from '../src/engine/options';
import { consumeQueue, runChunk, storeRun } from '../src/jobs/consumer';
import { startWatchJob } from '../src/jobs/watch-job';
import { hostPermits, type HostGate } from '../src/jobs/host-gate';
import { jobObjects, type FetchJob, type JobSpec } from '../src/jobs/job-object';
import type { JobStatus } from '../src/jobs/protocol';
import type { PageResult } from '../src/result';
import { call, jsonInit, listRuns, watchHarness, withEnv } from './helpers/worker';
import type { RunEntry, RunRecord } from '../src/watch/store';
import { expectProblem as problemIn } from './helpers/problem';
import { newScope, originUrl, release, setVersion, stats, waitFor, waitForStats } from './origin/client';

type Indexed = PageResult & { index: number };

/** A problem+json answer of `kind` naming `field`. */
async function expectProblem(res: Response, status: number, kind: string, field: string): Promise<void> {
  expect((await problemIn(res, status, field)).type).toBe(`urn:fanout:problem:${kind}`);
}

function many(scope: string, route: string, n: number): string[] {
  const sep = route.includes('?') ? '&' : '?';
  return Array.from({ length: n }, (_, i) => originUrl(scope, `${route}${sep}i=${i}`));
}

/**
 * POST /v1/jobs. Jobs honour robots.txt by default, and the test origin's robots.txt for 127.0.0.1 asks
 * for a 1 s Crawl-delay, so tests not about robots.txt say `respectRobots: false`.
 */
async function submit(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await call('/v1/jobs', jsonInit('POST', { respectRobots: false, ...body }, headers));
  const text = await res.clone().text();
  expect([200, 202], text).toContain(res.status);
  return { status: res.status, body: await res.json<{ id: string; status: string; total: number; statusUrl: string; resultsUrl: string }>() };
}

async function status(id: string): Promise<JobStatus> {
  const res = await call(`/v1/jobs/${id}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<JobStatus>();
}

/** Polls the job until `check` holds; every status seen must be consistent (never running with every result in). */
async function waitForJob(id: string, check: (job: JobStatus) => boolean, timeoutMs = 15_000): Promise<JobStatus> {
  let last: JobStatus | undefined;
  await waitFor(
    async () => {
      last = await status(id);
      expect(last.done).toBeLessThanOrEqual(last.total);
      expect(last.ok + last.failed).toBe(last.done);
      if (last.done === last.total) expect(['completed', 'cancelled', 'failed']).toContain(last.status);
      return check(last);
    },
    { timeoutMs, intervalMs: 50, message: `job ${id}` },
  );
  return last!;
}

/** Every result of a job, paged with `limit`. */
async function allResults(id: string, limit = 1000, query = ''): Promise<Indexed[]> {
  const out: Indexed[] = [];
  let cursor: number | null = 0;
  while (cursor !== null) {
    const res = await call(`/v1/jobs/${id}/results?cursor=${cursor}&limit=${limit}${query}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const page: { results: Indexed[]; nextCursor: number | null } = await res.json();
    out.push(...page.results);
    if (page.nextCursor !== null) expect(page.nextCursor).toBeGreaterThan(cursor);
    cursor = page.nextCursor;
  }
  return out;
}

async function objectsOf(id: string): Promise<string[]> {
  const listed = await env.RESULTS!.list({ prefix: `jobs/${id}/` });
  return listed.objects.map((o) => o.key);
}

/** Makes every chunk of the job look sent long ago (past any re-drive delay), in its own storage: a clock moved on, without waiting. */
async function ageChunks(stub: DurableObjectStub<FetchJob>): Promise<void> {
  await runInDurableObject(stub, (_, state) => void state.storage.sql.exec('UPDATE chunks SET sent_at = 0'));
}

/** A job made directly in its object, with settings a test needs (fewer sends). */
async function directJob(urls: string[], overrides: Partial<Omit<JobSpec, 'webhook'>> = {}) {
  const id = crypto.randomUUID().replaceAll('-', '');
  const stub = jobObjects(env).get(jobObjects(env).idFromName(id));
  await stub.create({
    id,
    client: null,
    urls,
    options: JSON.stringify({ retries: 0, timeoutMs: 30_000 }),
    bodyHash: 'h',
    chunkUrls: 25,
    retentionMs: 86_400_000,
    redriveMs: 600_000,
    maxSends: 4,
    webhook: null,
    userAgent: 'fanout-test',
    ...overrides,
  });
  return { id, stub };
}

describe('POST /v1/jobs', () => {
  it('Should run a 2,000-URL job to completion with exactly one result per URL, in input order, none fetched twice', async () => {
    const scope = newScope('job-2000');
    const urls = many(scope, 'page?size=600', 2000);
    const { status: code, body } = await submit({ urls, snippetLength: 40 });
    expect(code).toBe(202);
    expect(body).toMatchObject({ status: 'queued', total: 2000, statusUrl: expect.stringContaining(`/v1/jobs/${body.id}`) });
    const job = await waitForJob(body.id, (j) => j.status === 'completed', 60_000);
    expect(job).toMatchObject({ total: 2000, done: 2000, ok: 2000, failed: 0, errors: {} });
    expect(job.finishedAt).not.toBeNull();
    const results = await allResults(body.id);
    expect(results.map((r) => r.index)).toEqual(urls.map((_, i) => i));
    expect(results.every((r, i) => r.url === urls[i] && r.ok && r.title === 'Test page')).toBe(true);
    // At the origin: each URL once. In R2: one object per chunk of 25.
    expect((await stats(scope)).requests).toBe(2000);
    expect(await objectsOf(body.id)).toHaveLength(80);
  }, 90_000);

  it('Should give an invalid URL in the list its own `invalid_url` result, not refuse the job', async () => {
    const scope = newScope('job-invalid');
    const urls = [originUrl(scope, 'page'), 'not a url', 'ftp://example.com/x'];
    const { body } = await submit({ urls });
    const job = await waitForJob(body.id, (j) => j.status === 'completed');
    expect(job).toMatchObject({ done: 3, ok: 1, failed: 2, errors: { invalid_url: 2 } });
    const failed = await allResults(body.id, 10, '&status=failed');
    expect(failed.map((r) => [r.index, r.error?.code])).toEqual([
      [1, 'invalid_url'],
      [2, 'invalid_url'],
    ]);
    expect((await allResults(body.id, 10, '&status=ok')).map((r) => r.index)).toEqual([0]);
  });

  it('Should answer the same job for the same Idempotency-Key and body, 409 for another body, a new job without a key', async () => {
    const scope = newScope('job-idem');
    const body = { urls: many(scope, 'page', 3) };
    const first = await submit(body, { 'idempotency-key': `k-${scope}` });
    const again = await submit(body, { 'idempotency-key': `k-${scope}` });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    await expectProblem(await call('/v1/jobs', jsonInit('POST', { respectRobots: false, urls: many(scope, 'page', 4) }, { 'idempotency-key': `k-${scope}` })), 409, 'conflict', 'idempotency-key');
    const other = await submit(body);
    expect(other.body.id).not.toBe(first.body.id);
    await waitForJob(first.body.id, (j) => j.status === 'completed');
    await waitForJob(other.body.id, (j) => j.status === 'completed');
    // The resubmission fetched nothing: three URLs for the keyed job, three for the unkeyed one.
    expect((await stats(scope)).requests).toBe(6);
  });

  it('Should honour robots.txt by default, unlike /v1/fetch, and not when the job says respectRobots: false', async () => {
    const scope = newScope('job-robots');
    // 127.0.0.2's robots.txt disallows /s/*/robots/private to fanout and asks for no Crawl-delay.
    const urls = [originUrl(scope, 'robots/private', '127.0.0.2'), originUrl(scope, 'robots/public', '127.0.0.2')];
    const polite = await submit({ urls, respectRobots: undefined });
    const rude = await submit({ urls, respectRobots: false });
    await waitForJob(polite.body.id, (j) => j.status === 'completed');
    await waitForJob(rude.body.id, (j) => j.status === 'completed');
    expect((await allResults(polite.body.id)).map((r) => r.error?.code ?? 'ok')).toEqual(['robots_disallowed', 'ok']);
    expect((await allResults(rude.body.id)).map((r) => r.error?.code ?? 'ok')).toEqual(['ok', 'ok']);
    // The disallowed page was requested once: by the job that said respectRobots: false.
    expect((await stats(scope)).log.filter((e) => e.route === 'robots/private')).toHaveLength(1);
  });

  it('Should take the URLs as text/plain or NDJSON lines, with the options in the query string', async () => {
    const scope = newScope('job-lines');
    const urls = many(scope, 'page', 3);
    const text = await call('/v1/jobs?respectRobots=false&snippetLength=20', {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: `# nightly list\n${urls[0]}\r\n\n  ${urls[1]}  \n${urls[2]}\n`,
    });
    expect(text.status, await text.clone().text()).toBe(202);
    const ndjson = await call('/v1/jobs?respectRobots=false', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify(urls[0])}\n${JSON.stringify({ url: urls[1] })}\n\n${JSON.stringify(urls[2])}`,
    });
    expect(ndjson.status, await ndjson.clone().text()).toBe(202);
    for (const res of [text, ndjson]) {
      const { id, total } = await res.json<{ id: string; total: number }>();
      expect(total).toBe(3);
      await waitForJob(id, (j) => j.status === 'completed');
      const results = await allResults(id);
      expect(results.map((r) => r.url)).toEqual(urls);
      if (res === text) expect(results.every((r) => r.snippet!.length <= 20)).toBe(true);
    }
  });

  it.each([
    ['an NDJSON line that is not JSON', 'application/x-ndjson', '"http://a.test/"\n{oops', '', 400, 'malformed-json', 'body[2]'],
    ['an NDJSON object without a url', 'application/x-ndjson', '{"href": "http://a.test/"}', '', 400, 'invalid-request', 'body[1]'],
    ['an unknown query option', 'text/plain', 'http://a.test/', '?concurreny=3', 400, 'invalid-request', 'concurreny'],
    ['URLs in the query as well', 'text/plain', 'http://a.test/', '?url=http://b.test/', 400, 'invalid-request', 'urls'],
    ['another media type', 'application/xml', '<urls/>', '', 415, 'unsupported-media-type', 'content-type'],
  ])('Should refuse %s naming the field', async (_, type, body, query, code, kind, field) => {
    await expectProblem(await call(`/v1/jobs${query}`, { method: 'POST', headers: { 'content-type': type }, body }), code, kind, field);
  });

  it.each([
    ['a missing urls', {}, 400, 'invalid-request', 'urls'],
    ['a bad option', { urls: ['http://a.test/'], concurrency: 0 }, 400, 'invalid-request', 'concurrency'],
    ['an unknown option', { urls: ['http://a.test/'], webhok: {} }, 400, 'invalid-request', 'webhok'],
  ])('Should refuse %s with problem+json naming the field', async (_, body, code, kind, field) => {
    await expectProblem(await call('/v1/jobs', jsonInit('POST', body)), code, kind, field);
  });

  it('Should refuse more than MAX_JOB_URLS URLs with 413 naming urls, and a bad Idempotency-Key with 400', async () => {
    const res = await withEnv({ MAX_JOB_URLS: '3' }, '/v1/jobs', jsonInit('POST', { urls: ['http://a.test/1', 'http://a.test/2', 'http://a.test/3', 'http://a.test/4'] }));
    await expectProblem(res, 413, 'too-many-urls', 'urls');
    await expectProblem(await call('/v1/jobs', jsonInit('POST', { urls: ['http://a.test/'] }, { 'idempotency-key': 'a b' })), 400, 'invalid-request', 'idempotency-key');
  });
});

describe('reading jobs', () => {
  it('Should answer 404 for an unknown or malformed id, and 400 naming a bad results parameter', async () => {
    await expectProblem(await call(`/v1/jobs/${'0'.repeat(32)}`), 404, 'not-found', 'id');
    await expectProblem(await call('/v1/jobs/nope'), 404, 'not-found', 'id');
    const scope = newScope('job-query');
    const { body } = await submit({ urls: [originUrl(scope, 'page')] });
    await expectProblem(await call(`/v1/jobs/${body.id}/results?limit=0`), 400, 'invalid-request', 'limit');
    await expectProblem(await call(`/v1/jobs/${body.id}/results?status=maybe`), 400, 'invalid-request', 'status');
  });

  it('Should stream every result as NDJSON in input order, then a line with the end', async () => {
    const scope = newScope('job-ndjson');
    const urls = many(scope, 'page', 60);
    const { body } = await submit({ urls });
    await waitForJob(body.id, (j) => j.status === 'completed');
    const res = await call(`/v1/jobs/${body.id}/results`, { headers: { accept: 'application/x-ndjson' } });
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await res.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.slice(0, 60).map((r) => r.index)).toEqual(urls.map((_, i) => i));
    expect(lines[60]).toEqual({ nextCursor: null, status: 'completed' });
  });

  it('Should list the jobs of this client newest first', async () => {
    const scope = newScope('job-list');
    const a = await submit({ urls: [originUrl(scope, 'page?n=1')] });
    const b = await submit({ urls: [originUrl(scope, 'page?n=2')] });
    const res = await call('/v1/jobs?limit=100');
    const { jobs } = await res.json<{ jobs: JobStatus[] }>();
    const ids = jobs.map((j) => j.id);
    expect(ids).toContain(a.body.id);
    expect(ids).toContain(b.body.id);
  });

  it('Should forget a job at its expiry: its status, results, objects and listing row', async () => {
    const scope = newScope('job-expiry');
    const { body } = await submit({ urls: many(scope, 'page', 3) });
    await waitForJob(body.id, (j) => j.status === 'completed');
    const stub = jobObjects(env).get(jobObjects(env).idFromName(body.id));
    await runInDurableObject(stub, (_, state) => void state.storage.sql.exec('UPDATE job SET expires_at = 0'));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await expectProblem(await call(`/v1/jobs/${body.id}`), 404, 'not-found', 'id');
    await expectProblem(await call(`/v1/jobs/${body.id}/results`), 404, 'not-found', 'id');
    expect(await objectsOf(body.id)).toHaveLength(0);
    expect((await env.DB.prepare('SELECT COUNT(*) AS n FROM jobs WHERE id = ?').bind(body.id).first<{ n: number }>())!.n).toBe(0);
  });

  it('Should show a job only to the API client that created it', async () => {
    const clients = JSON.stringify([
      { name: 'alice', token: 'alice-token-0123456789' },
      { name: 'bob', token: 'bob-token-0123456789' },
    ]);
    const scope = newScope('job-owner');
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const created = await withEnv({ API_TOKENS: clients }, '/v1/jobs', jsonInit('POST', { urls: [originUrl(scope, 'page')] }, as('alice-token-0123456789')));
    expect(created.status).toBe(202);
    const { id } = await created.json<{ id: string }>();
    expect((await withEnv({ API_TOKENS: clients }, `/v1/jobs/${id}`, { headers: as('alice-token-0123456789') })).status).toBe(200);
    await expectProblem(await withEnv({ API_TOKENS: clients }, `/v1/jobs/${id}`, { headers: as('bob-token-0123456789') }), 404, 'not-found', 'id');
  });
});

describe('exactly once', () => {
  it('Should drop a redelivered chunk: no second fetch, no second object, counters unchanged', async () => {
    const scope = newScope('job-redeliver');
    const { body } = await submit({ urls: many(scope, 'page', 30) });
    const before = await waitForJob(body.id, (j) => j.status === 'completed');
    // Both chunks delivered again, as the queue may after a lost acknowledgement.
    await runChunk({ v: 1, job: body.id, chunk: 0 }, env as Env);
    await runChunk({ v: 1, job: body.id, chunk: 1 }, env as Env);
    expect(await status(body.id)).toEqual(before);
    expect((await stats(scope)).requests).toBe(30);
    expect(await objectsOf(body.id)).toHaveLength(2);
    const stub = jobObjects(env).get(jobObjects(env).idFromName(body.id));
    expect(await stub.record(0, 'jobs/x/late.ndjson', { ok: 25, failed: 0, errors: {} })).toBe(false);
    expect((await allResults(body.id)).map((r) => r.index)).toEqual([...Array(30).keys()]);
  });

  it('Should lose and duplicate nothing when the first delivery of each chunk dies after writing its results, before recording them; expiry deletes every object', async () => {
    const scope = newScope('job-dies');
    // The local queue runs one delivery at a time: a job held at the gate keeps it busy, so the chunk below is
    // delivered here, by hand, as the queue would deliver it (first a consumer that dies, then a retry).
    const blocker = await directJob([originUrl(scope, 'gate?blocker=1')]);
    await waitForStats(scope, (s) => s.held === 1);
    const { id, stub } = await directJob(many(scope, 'page', 30));
    const real = jobObjects(env);
    // The first delivery's object write goes through; its record call dies with the invocation.
    const dying = {
      idFromName: (name: string) => real.idFromName(name),
      get: (objectId: DurableObjectId) => {
        const job = real.get(objectId);
        return { claim: (chunk: number) => job.claim(chunk), status: () => job.status(), record: async () => Promise.reject(new Error('the invocation was killed')) };
      },
    };
    // Both chunks (25 and 5 URLs): the first delivery of each dies, the second is the queue's retry.
    const deliver = async (attempts: number, jobs: unknown) => {
      const batch = createMessageBatch<unknown>('fanout-jobs', [0, 1].map((chunk) => ({ id: `c${chunk}-m${attempts}`, timestamp: new Date(), attempts, body: { v: 1, job: id, chunk } })));
      await consumeQueue(batch, { ...(env as Env), JOBS: jobs as DurableObjectNamespace });
      return getQueueResult(batch, createExecutionContext());
    };
    expect((await deliver(1, dying)).retryMessages.map((m) => m.msgId)).toEqual(['c0-m1', 'c1-m1']);
    expect(await stub.status()).toMatchObject({ done: 0 });
    expect(await objectsOf(id)).toHaveLength(2); // written, never recorded
    expect((await deliver(2, real)).explicitAcks).toEqual(['c0-m2', 'c1-m2']);
    expect(await stub.status()).toMatchObject({ status: 'completed', done: 30, ok: 30, failed: 0 });
    expect((await allResults(id)).map((r) => r.index)).toEqual([...Array(30).keys()]);
    expect(await objectsOf(id)).toHaveLength(4);
    // At expiry the job's storage goes, and every object under its prefix, the orphan included.
    await runInDurableObject(stub, (_, state) => void state.storage.sql.exec('UPDATE job SET expires_at = 0'));
    await runDurableObjectAlarm(stub);
    expect(await objectsOf(id)).toHaveLength(0);
    expect(await stub.status()).toBeNull();
    await release(scope);
    await waitFor(async () => (await blocker.stub.status())!.status === 'completed', { timeoutMs: 10_000 });
  });

  it('Should send a silent chunk again from the alarm, and fetch nothing on the extra delivery', async () => {
    const scope = newScope('job-redrive');
    const { id, stub } = await directJob([originUrl(scope, 'gate')]);
    // The first delivery is held at the origin; the alarm finds the chunk silent and sends it again.
    await waitForStats(scope, (s) => s.held === 1);
    await ageChunks(stub);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const sends = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ sends: number }>('SELECT sends FROM chunks').one().sends);
    expect(sends).toBe(2);
    await release(scope);
    await waitFor(async () => (await stub.status())!.status === 'completed', { timeoutMs: 10_000 });
    // The local queue delivers in order: once a job submitted now completes, the second delivery has run.
    const marker = await submit({ urls: [originUrl(scope, 'page')] });
    await waitForJob(marker.body.id, (j) => j.status === 'completed');
    expect((await stats(scope)).log.filter((e) => e.route.startsWith('gate'))).toHaveLength(1);
    expect(await objectsOf(id)).toHaveLength(1);
    expect(await stub.status()).toMatchObject({ total: 1, done: 1, ok: 1 });
  });

  it('Should end a chunk that was sent its last time and never recorded with `unprocessed` results', async () => {
    const scope = newScope('job-spent');
    const { id, stub } = await directJob([originUrl(scope, 'gate'), originUrl(scope, 'gate?n=2')], { maxSends: 1 });
    await waitForStats(scope, (s) => s.held === 2);
    await ageChunks(stub);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // Not one URL could be run: the job failed, rather than completed.
    expect(await stub.status()).toMatchObject({ status: 'failed', done: 2, failed: 2, errors: { unprocessed: 2 } });
    await release(scope);
    // The held delivery finishes after the chunk ended: it is not recorded, and its object is deleted.
    await waitFor(async () => (await stats(scope)).inFlight === 0);
    await waitFor(async () => (await objectsOf(id)).length === 0, { timeoutMs: 5000 });
    const res = await call(`/v1/jobs/${id}/results`);
    const page = await res.json<{ results: Indexed[] }>();
    expect(page.results.map((r) => r.error?.code)).toEqual(['unprocessed', 'unprocessed']);
  });

  it('Should end a dead-lettered chunk with `unprocessed` results once, and drop a message that is no chunk', async () => {
    const scope = newScope('job-dlq');
    const { stub } = await directJob([originUrl(scope, 'gate')]);
    await waitForStats(scope, (s) => s.held === 1);
    const batch = createMessageBatch<unknown>('fanout-jobs-dlq', [
      { id: 'a', timestamp: new Date(), attempts: 1, body: { v: 1, job: (await stub.status())!.id, chunk: 0 } },
      { id: 'b', timestamp: new Date(), attempts: 1, body: { v: 1, job: (await stub.status())!.id, chunk: 0 } },
      { id: 'c', timestamp: new Date(), attempts: 1, body: 'garbage' },
    ]);
    const ctx = createExecutionContext();
    await consumeQueue(batch, env as Env);
    const outcome = await getQueueResult(batch, ctx);
    expect(outcome.explicitAcks.sort()).toEqual(['a', 'b', 'c']);
    expect(await stub.status()).toMatchObject({ status: 'failed', done: 1, failed: 1, errors: { unprocessed: 1 } });
    await release(scope);
  });
});

describe('webhooks', () => {
  const SECRET = 'test-webhook-secret';

  /** The hook requests the origin got for this scope, parsed, with their signature checked against SECRET. */
  async function hooks(scope: string) {
    const entries = (await stats(scope)).log.filter((e) => e.route.startsWith('hook'));
    return Promise.all(
      entries.map(async (e) => {
        const header = e.allHeaders!['x-fanout-signature']!;
        const { t, v1 } = Object.fromEntries(header.split(',').map((part) => part.split('='))) as { t: string; v1: string };
        const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
        const mac = new Uint8Array(v1.match(/../g)!.map((h) => parseInt(h, 16)));
        const valid = await crypto.subtle.verify('HMAC', key, mac, new TextEncoder().encode(`${t}.${e.body}`));
        return { valid, t: Number(t), event: e.allHeaders!['x-fanout-event'], delivery: e.allHeaders!['x-fanout-delivery'], status: e.status, body: JSON.parse(e.body!) };
      }),
    );
  }

  it('Should send each subscribed event once, signed over the timestamp and the body, with the chunk\'s results and the metadata', async () => {
    const scope = newScope('job-hook');
    const urls = [...many(scope, 'page', 29), 'not a url'];
    const started = Date.now();
    const { body } = await submit({
      urls,
      webhook: { url: originUrl(scope, 'hook'), events: ['job.started', 'job.page', 'job.failed_page', 'job.completed'], metadata: { run: 'nightly' } },
    });
    await waitForJob(body.id, (j) => j.status === 'completed');
    await waitFor(async () => (await hooks(scope)).some((h) => h.event === 'job.completed'), { timeoutMs: 10_000, message: 'job.completed delivered' });
    const got = await hooks(scope);
    expect(got.every((h) => h.valid && h.status === 200 && h.body.event === h.event && h.body.jobId === body.id)).toBe(true);
    expect(got.every((h) => h.t * 1000 >= started - 1000 && h.t * 1000 <= Date.now() + 1000)).toBe(true);
    expect(got.every((h) => h.body.metadata?.run === 'nightly')).toBe(true);
    expect(got.map((h) => h.event).sort()).toEqual(['job.completed', 'job.failed_page', 'job.page', 'job.page', 'job.started']);
    expect(new Set(got.map((h) => h.delivery)).size).toBe(5);
    const pages = got.filter((h) => h.event === 'job.page').flatMap((h) => h.body.data.results as Indexed[]);
    expect(pages.map((r) => r.index).sort((a, b) => a - b)).toEqual(urls.map((_, i) => i));
    const failed = got.find((h) => h.event === 'job.failed_page')!.body.data.results as Indexed[];
    expect(failed.map((r) => [r.index, r.error?.code])).toEqual([[29, 'invalid_url']]);
    expect(got.find((h) => h.event === 'job.completed')!.body.data).toMatchObject({ status: 'completed', done: 30, ok: 29, failed: 1 });
  });

  it('Should retry a failed delivery with the same delivery id until the receiver takes it, and give up on a refusal', async () => {
    const scope = newScope('job-hook-retry');
    const { body } = await submit({ urls: [originUrl(scope, 'page')], webhook: { url: originUrl(scope, 'hook?fails=2&code=503'), events: ['job.completed'] } });
    const stub = jobObjects(env).get(jobObjects(env).idFromName(body.id));
    await waitFor(async () => (await hooks(scope)).length === 1, { timeoutMs: 10_000, message: 'first attempt' });
    // The backoff (1 s, then 2 s) passes at once: the outbox is made due and the alarm run.
    for (const expected of [2, 3]) {
      await runInDurableObject(stub, (_, state) => void state.storage.sql.exec('UPDATE outbox SET next_at = 0 WHERE sent = 0'));
      await runDurableObjectAlarm(stub);
      expect(await hooks(scope)).toHaveLength(expected);
    }
    const got = await hooks(scope);
    expect(got.map((h) => h.status)).toEqual([503, 503, 200]);
    expect(new Set(got.map((h) => h.delivery)).size).toBe(1);
    // Nothing left to send.
    await runInDurableObject(stub, (_, state) => void state.storage.sql.exec('UPDATE outbox SET next_at = 0 WHERE sent = 0'));
    await runDurableObjectAlarm(stub);
    expect(await hooks(scope)).toHaveLength(3);

    const refused = newScope('job-hook-refused');
    const second = await submit({ urls: [originUrl(refused, 'page')], webhook: { url: originUrl(refused, 'hook?fails=5&code=410'), events: ['job.completed'] } });
    const stub2 = jobObjects(env).get(jobObjects(env).idFromName(second.body.id));
    await waitFor(async () => (await hooks(refused)).length === 1, { timeoutMs: 10_000, message: 'first attempt' });
    await runInDurableObject(stub2, (_, state) => void state.storage.sql.exec('UPDATE outbox SET next_at = 0 WHERE sent = 0'));
    await runDurableObjectAlarm(stub2);
    expect((await hooks(refused)).map((h) => h.status)).toEqual([410]);
  });

  it('Should give up events it can no longer sign (WEBHOOK_SECRET gone) instead of running its alarm again at once', async () => {
    const scope = newScope('job-hook-unsigned');
    const { body } = await submit({ urls: [originUrl(scope, 'page')], webhook: { url: originUrl(scope, 'hook'), events: ['job.completed'] } });
    await waitForJob(body.id, (j) => j.status === 'completed');
    await waitFor(async () => (await hooks(scope)).length === 1, { timeoutMs: 10_000, message: 'job.completed delivered' });
    const stub = jobObjects(env).get(jobObjects(env).idFromName(body.id));
    const after = await runInDurableObject(stub, async (instance, state) => {
      // An event still due, on a deployment whose secret is gone.
      state.storage.sql.exec(`INSERT INTO outbox (event, chunk, created_at, next_at) VALUES ('job.completed', NULL, 0, 0)`);
      const live = instance as unknown as { env: { WEBHOOK_SECRET?: string } };
      const secret = live.env.WEBHOOK_SECRET;
      live.env.WEBHOOK_SECRET = undefined;
      try {
        await instance.alarm();
      } finally {
        live.env.WEBHOOK_SECRET = secret;
      }
      const row = state.storage.sql.exec<{ sent: number; last_error: string | null }>('SELECT sent, last_error FROM outbox ORDER BY id DESC LIMIT 1').one();
      return { row, alarm: await state.storage.getAlarm() };
    });
    expect(after.row).toEqual({ sent: 1, last_error: 'no WEBHOOK_SECRET' });
    // The next alarm is the job's expiry, not now.
    expect(after.alarm! - Date.now()).toBeGreaterThan(86_400_000);
    expect(await hooks(scope)).toHaveLength(1);
  });

  it('Should refuse a webhook to a blocked address, and one on a deployment without WEBHOOK_SECRET, naming the field', async () => {
    const res = await withEnv({ ALLOW_PRIVATE_HOSTS: 'false' }, '/v1/jobs', jsonInit('POST', { urls: ['https://example.com/'], webhook: { url: 'http://169.254.169.254/hook' } }));
    await expectProblem(res, 400, 'invalid-request', 'webhook.url');
    const none = await withEnv({ WEBHOOK_SECRET: '' }, '/v1/jobs', jsonInit('POST', { urls: ['https://example.com/'], webhook: { url: 'https://example.com/hook' } }));
    await expectProblem(none, 400, 'invalid-request', 'webhook');
    await expectProblem(await call('/v1/jobs', jsonInit('POST', { urls: ['https://example.com/'], webhook: { url: 'https://example.com/h', events: ['job.done'] } })), 400, 'invalid-request', 'webhook.events[0]');
  });
});

describe('watch lists as jobs', () => {
  // Day 0: no other test file's cron ticks land on this file's lists.
  const { tick, ownCron, newList } = watchHarness({ dayOfWeek: 0, scheduledTime: Date.UTC(2026, 10, 29, 12) });

  /** The list's runs once `count` are stored (a job's run is stored after its job completes, not by the tick). */
  async function runsOnce(name: string, count: number): Promise<(RunRecord & { results: RunEntry[] })[]> {
    await waitFor(async () => (await listRuns(name)).runs.length >= count, { timeoutMs: 20_000, message: `${count} run(s) of ${name}` });
    const { runs } = await listRuns(name);
    return Promise.all(runs.map(async (run) => (await call(`/v1/runs/${run.id}`)).json<RunRecord & { results: RunEntry[] }>()));
  }

  it('Should run a list above WATCH_INLINE_URLS as a job, store its run once it completes, and check again with validators', async () => {
    const scope = newScope('watch-job');
    const urls = ['a', 'b', 'c', 'd', 'e'].map((n) => originUrl(scope, `versioned?name=${n}`));
    const cron = ownCron();
    const name = await newList('big', { urls, crons: [cron] });
    await tick(cron, { WATCH_INLINE_URLS: '2' });
    const [first] = await runsOnce(name, 1);
    expect(first!.stats).toMatchObject({ total: 5, ok: 5, new: 5, changed: 0 });
    expect(first!.results.map((e) => [e.url, e.state, e.result.title])).toEqual(urls.map((url, i) => [url, 'new', `${'abcde'[i]} v1`]));

    await setVersion(scope, 'c', 2);
    await tick(cron, { WATCH_INLINE_URLS: '2' });
    const runs = await runsOnce(name, 2);
    const second = runs.find((r) => r.id !== first!.id)!;
    expect(second.stats).toMatchObject({ total: 5, changed: 1, new: 0 });
    expect(second.results.filter((e) => e.changed).map((e) => e.url)).toEqual([urls[2]]);
    // The unchanged pages answered 304 to the validators the job's chunks sent.
    expect(second.results.filter((e) => e.notModified).map((e) => e.url)).toEqual(urls.filter((_, i) => i !== 2));
    expect((await stats(scope)).log.filter((e) => e.headers['if-none-match']).length).toBe(5);
  });
  it('Should store a watch list job\'s run once, even when its store message comes again after a delivery died before saying it was done', async () => {
    const scope = newScope('watch-job-once');
    const urls = ['a', 'b', 'c'].map((n) => originUrl(scope, `versioned?name=${n}`));
    const name = await newList('once', { urls, crons: [ownCron()] });
    const id = await startWatchJob(env as Env, { name, urls, options: {}, crons: null, createdAt: '', updatedAt: '', builtIn: false }, { cron: null, scheduledTime: Date.now(), now: Date.now });
    await runsOnce(name, 1);
    const stub = jobObjects(env).get(jobObjects(env).idFromName(id));
    // Delivered again after it was stored: the job's object says so.
    await storeRun({ v: 1, job: id, run: true }, env as Env);
    // A delivery that stored the run and died before telling the object: the run is found by its id.
    await runInDurableObject(stub, (_, state) => void state.storage.sql.exec(`UPDATE job SET run_state = 'pending'`));
    await storeRun({ v: 1, job: id, run: true }, env as Env);
    expect((await listRuns(name)).runs).toHaveLength(1);
  });

  it('Should send a watch list job\'s run again when the consumer that claimed it never said it was stored', async () => {
    const scope = newScope('watch-job-lapse');
    const urls = ['a', 'b'].map((n) => originUrl(scope, `versioned?name=${n}`));
    const name = await newList('lapse', { urls, crons: [ownCron()] });
    // A job whose run message is lost: the job completes, its run is claimed (as by a consumer that then dies), nothing is stored.
    const id = await startWatchJob(env as Env, { name, urls, options: {}, crons: null, createdAt: '', updatedAt: '', builtIn: false }, { cron: null, scheduledTime: Date.now(), now: Date.now });
    const stub = jobObjects(env).get(jobObjects(env).idFromName(id));
    await waitFor(async () => (await stub.status())!.status === 'completed', { timeoutMs: 10_000 });
    await runsOnce(name, 1);
    await runInDurableObject(stub, (_, state) => void state.storage.sql.exec(`UPDATE job SET run_state = 'recording', run_claimed_at = 1`));
    const store = env.DB;
    await store.prepare('DELETE FROM run_results WHERE run_id IN (SELECT id FROM runs WHERE watchlist = ?)').bind(name).run();
    await store.prepare('DELETE FROM runs WHERE watchlist = ?').bind(name).run();
    expect((await listRuns(name)).runs).toHaveLength(0);
    // The claim has lapsed: the alarm sends the run again, and a consumer stores it.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const [run] = await runsOnce(name, 1);
    expect(run!.stats).toMatchObject({ total: 2 });
  });

  it('Should refuse a list whose URLs would not fit one D1 value, with 413 naming urls', async () => {
    const long = (i: number) => `https://example.com/${String(i).padStart(6, '0')}/${'x'.repeat(7900)}`;
    const res = await call(`/v1/watchlists/${newScope('huge')}`, jsonInit('PUT', { urls: Array.from({ length: 240 }, (_, i) => long(i)) }));
    await expectProblem(res, 413, 'body-too-large', 'urls');
  });
});


describe('DELETE /v1/jobs/:id', () => {
  it('Should cancel a running job: results so far kept, the rest `cancelled`, nothing fetched after', async () => {
    const scope = newScope('job-cancel');
    const urls = [...many(scope, 'page', 25), ...many(scope, 'gate', 50)];
    const { body } = await submit({ urls });
    await waitForJob(body.id, (j) => j.done >= 25);
    await waitForStats(scope, (s) => s.held >= 6);
    const res = await call(`/v1/jobs/${body.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'cancelled', total: 75, done: 75, ok: 25, failed: 50, errors: { cancelled: 50 } });
    // The chunks in flight learn of the cancel and cut their held fetches; nothing more starts.
    const cut = await waitForStats(scope, (s) => s.inFlight === 0 && s.closedEarly === s.requests - 25);
    expect(cut.closedEarly).toBeGreaterThanOrEqual(6);
    await release(scope);
    const results = await allResults(body.id);
    expect(results.map((r) => r.index)).toEqual(urls.map((_, i) => i));
    expect(results.slice(0, 25).every((r) => r.ok)).toBe(true);
    expect(results.slice(25).every((r) => r.error?.code === 'cancelled')).toBe(true);
    // Chunks still in the queue fetched nothing; those in flight were not recorded, and their objects are gone.
    await waitFor(async () => (await objectsOf(body.id)).length === 1, { timeoutMs: 5000 });
    expect((await stats(scope)).requests).toBe(cut.requests);
    expect(await status(body.id)).toMatchObject({ status: 'cancelled', done: 75 });
  });
});

// Last in the file: its 429 leaves 127.0.0.2 backed off for 30 s in the shared HostGate.
describe('politeness across consumers', () => {
  const options = (input: Record<string, unknown>) => normalizeOptions(input, { userAgent: 'fanout-test', allowPrivate: true });
  const gateOf = (host: string) => {
    const ns = env.HOSTS as unknown as DurableObjectNamespace<HostGate>;
    return ns.get(ns.idFromName(host));
  };

  it.each([
    ['through the shared HostGate: at most perHost', true, 2],
    ['each on its own (the control): perHost per consumer', false, 4],
  ])('Should hold two consumers at one host %s at the origin', async (_, shared, most) => {
    const scope = newScope('job-hosts');
    const urls = (tag: string) => Array.from({ length: 6 }, (_, i) => originUrl(scope, `gate?c=${tag}&i=${i}`, '127.0.0.2'));
    const deps = shared ? { hosts: hostPermits(env.HOSTS!) } : {};
    // Two consumers' batches at once, as Queues runs chunks in parallel invocations.
    const batches = [runBatch(urls('a'), options({ concurrency: 6, perHost: 2 }), deps), runBatch(urls('b'), options({ concurrency: 6, perHost: 2 }), deps)];
    await waitForStats(scope, (s) => s.held === most);
    await release(scope);
    const done = await Promise.all(batches);
    expect(done.every((b) => b.stats.ok === 6)).toBe(true);
    expect((await stats(scope)).maxInFlightByHost['127.0.0.2']).toBe(most);
  });

  it('Should hold a host off for everyone as long as its Retry-After asked, after a 429', async () => {
    const scope = newScope('job-backoff');
    const url = originUrl(scope, 'retry-after?fails=1&seconds=30', '127.0.0.2');
    const before = Date.now();
    const { results } = await runBatch([url], options({ retries: 0 }), { hosts: hostPermits(env.HOSTS!) });
    expect(results[0]).toMatchObject({ ok: false, status: 429, error: { code: 'http_status', retryAfterMs: 30_000 } });
    const { backoffUntil } = await gateOf(new URL(url).host).state();
    expect(backoffUntil).toBeGreaterThanOrEqual(before + 30_000);
    // Another consumer asking for the host now is told to wait out the backoff.
    const { lease, waitMs } = await gateOf(new URL(url).host).acquire(6, 0, 60_000);
    expect(lease).toBeNull();
    expect(waitMs).toBeGreaterThan(25_000);
  });
});
