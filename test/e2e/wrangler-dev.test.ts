/**
 * End to end: fanout under `wrangler dev`, started the way a user starts it, and
 * driven from Node over real HTTP. This is the only place the whole stack runs
 * together: wrangler's bundler, its dev proxy, workerd, the compatibility flags
 * in wrangler.toml (`enable_request_signal`), auth from a var, and streaming
 * through the proxy. The other tests call the Worker's entry points in-process.
 *
 * Runs in Node (vitest project `e2e`); the hostile test origin comes from the
 * root globalSetup, exactly as for the workerd tests. wrangler dev is started by
 * bench/lib/wrangler.mjs, the launcher the bench uses too.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWranglerDev, type WranglerDev } from '../../bench/lib/wrangler.mjs';
import { expectProblem } from '../helpers/problem';
import { newScope, originUrl, release, stats, waitFor, waitForStats } from '../origin/client';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** wrangler bundles and starts workerd in a few seconds; a cold CI machine needs more. */
const STARTUP_TIMEOUT_MS = 60_000;
/** How long a cancelled batch may take to close its subrequests at the origin. */
const CANCEL_WAIT_MS = 10_000;
const TOKEN = `e2e-${crypto.randomUUID()}`;
const WEBHOOK_KEY = `hook-${crypto.randomUUID()}`;

let dev: WranglerDev;
const auth = { authorization: `Bearer ${TOKEN}` };
const jsonHeaders = { ...auth, 'content-type': 'application/json' };

/** The built-in watch list (WATCH_URLS) points at these origin pages. */
const watchScope = newScope('e2e-cron');
const watched = [originUrl(watchScope, 'page?title=Watched%20one'), originUrl(watchScope, 'page?title=Watched%20two')];

beforeAll(async () => {
  // The working tree itself, as `npm run dev` runs it (the bench runs a snapshot instead), with its
  // own persistence directory, so parallel runs never share state.
  dev = await startWranglerDev({
    root: ROOT,
    snapshot: false,
    vars: {
      // The test origin lives on loopback, which the deployed default refuses.
      ALLOW_PRIVATE_HOSTS: 'true',
      // A secret in production; `--var` sets it the same way for dev, so auth is tested end to end.
      API_TOKEN: TOKEN,
      WATCH_URLS: watched.join(','),
      // Signs job webhooks (a secret in production, like API_TOKEN).
      WEBHOOK_SECRET: WEBHOOK_KEY,
    },
    // --test-scheduled exposes /__scheduled?cron=..., the way to fire a cron trigger locally.
    args: ['--test-scheduled'],
    startupTimeoutMs: STARTUP_TIMEOUT_MS,
  });
});

afterAll(async () => {
  await dev?.stop();
});

/** POST /v1/fetch with the bearer token and a JSON body (a string is sent as it is); `headers` add to or replace those. */
function postBatch(body: unknown, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
  return fetch(`${dev.base}/v1/fetch`, {
    method: 'POST',
    headers: { ...jsonHeaders, ...init.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  });
}

/** Reads an NDJSON body line by line, as the bytes arrive. */
function lineReader(body: ReadableStream<Uint8Array>): { next(): Promise<string | undefined>; cancel(): Promise<void> } {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  return {
    async next() {
      for (;;) {
        const newline = buffered.indexOf('\n');
        if (newline >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          return line;
        }
        const { done, value } = await reader.read();
        if (done) {
          const rest = buffered + decoder.decode();
          buffered = '';
          return rest === '' ? undefined : rest;
        }
        buffered += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

interface ResultLine {
  index?: number;
  url: string;
  ok: boolean;
  title: string | null;
  error: { code: string } | null;
}

describe('fanout under wrangler dev', () => {
  it('Should answer GET /health with 200 and the package version, without a token', async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const res = await fetch(`${dev.base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', version });
  });

  it('Should serve /openapi.json as a valid OpenAPI 3.1 document (checked by swagger-parser) with every reference resolving', async () => {
    const res = await fetch(`${dev.base}/openapi.json`);
    expect(res.status).toBe(200);
    const document = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe('3.1.0');
    // validate() checks the document against the OpenAPI 3.1 schema and dereferences every $ref.
    const checked = (await SwaggerParser.validate(structuredClone(document) as never)) as unknown as { paths: Record<string, unknown> };
    expect(Object.keys(checked.paths)).toEqual(Object.keys(document.paths));
    // And it refuses a broken one, so the check is real.
    await expect(SwaggerParser.validate({ ...document, paths: { '/x': { get: { responses: { '200': { $ref: '#/components/responses/Nope' } } } } } } as never)).rejects.toThrow();
  });

  it('Should refuse a POST batch without the bearer token with 401 problem+json naming authorization', async () => {
    const res = await fetch(`${dev.base}/v1/fetch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ urls: ['http://127.0.0.1/'] }),
    });
    await expectProblem(res, 401, 'authorization');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('Should answer a POST batch over real HTTP with one result per URL in input order', async () => {
    const scope = newScope('e2e-post');
    const urls = [originUrl(scope, 'page?title=A'), originUrl(scope, 'page?title=B'), 'ftp://example.com/file.txt', originUrl(scope, 'page?title=A')];
    const res = await postBatch({ urls, retries: 0 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: ResultLine[]; stats: { total: number } };
    expect(body.results.map((r) => r.url)).toEqual(urls);
    expect(body.results.map((r) => r.title)).toEqual(['A', 'B', null, 'A']);
    expect(body.results[2]!.ok).toBe(false);
    expect(body.results[2]!.error?.code).toBe('invalid_url');
    expect(body.stats.total).toBe(4);
  });

  it('Should run a job through wrangler dev\'s local queue, Durable Object and R2: submit, poll, page through the results, get the signed webhook', async () => {
    const scope = newScope('e2e-job');
    const urls = Array.from({ length: 60 }, (_, i) => originUrl(scope, `page?title=Job%20${i}`));
    const webhook = { url: originUrl(scope, 'hook'), events: ['job.completed'], metadata: { from: 'e2e' } };
    const created = await fetch(`${dev.base}/v1/jobs`, { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ urls, retries: 0, respectRobots: false, webhook }) });
    expect(created.status, await created.clone().text()).toBe(202);
    const { id, statusUrl, resultsUrl } = (await created.json()) as { id: string; statusUrl: string; resultsUrl: string };
    let job: { status: string; done: number; total: number; ok: number } | undefined;
    await waitFor(
      async () => {
        job = (await (await fetch(statusUrl, { headers: auth })).json()) as typeof job;
        return job!.status === 'completed';
      },
      { timeoutMs: 30_000, intervalMs: 200, message: `job ${id} completed` },
    );
    expect(job).toMatchObject({ total: 60, done: 60, ok: 60 });
    const titles: string[] = [];
    for (let cursor: number | null = 0; cursor !== null; ) {
      const page = (await (await fetch(`${resultsUrl}?cursor=${cursor}&limit=25`, { headers: auth })).json()) as { results: ResultLine[]; nextCursor: number | null };
      titles.push(...page.results.map((r) => r.title ?? ''));
      cursor = page.nextCursor;
    }
    expect(titles).toEqual(urls.map((_, i) => `Job ${i}`));
    // The webhook: job.completed, signed over "<t>.<body>" with WEBHOOK_SECRET, as the README's recipe checks it.
    await waitFor(async () => (await stats(scope)).log.some((e) => e.route === 'hook'), { timeoutMs: 10_000, message: 'webhook received' });
    const hooks = (await stats(scope)).log.filter((e) => e.route === 'hook');
    expect(hooks).toHaveLength(1);
    const { t, v1 } = Object.fromEntries(hooks[0]!.allHeaders!['x-fanout-signature']!.split(',').map((part) => part.split('='))) as { t: string; v1: string };
    expect(v1).toBe(createHmac('sha256', WEBHOOK_KEY).update(`${t}.${hooks[0]!.body}`).digest('hex'));
    expect(Math.abs(Date.now() / 1000 - Number(t))).toBeLessThan(300);
    expect(JSON.parse(hooks[0]!.body!)).toMatchObject({ event: 'job.completed', jobId: id, data: { status: 'completed', done: 60, ok: 60 }, metadata: { from: 'e2e' } });
    expect(urls.length + 1).toBe((await stats(scope)).requests);
  });

  it('Should stop reading pages early without logging an error for each one', async () => {
    // Throwing from an HTMLRewriter handler to stop would print "✘ [ERROR] Uncaught Error" per page here.
    const scope = newScope('e2e-early');
    const before = dev.log().length;
    const urls = Array.from({ length: 3 }, (_, i) => originUrl(scope, `huge?mb=50&i=${i}`));
    const res = await postBatch({ urls, retries: 0 });
    const body = (await res.json()) as { results: (ResultLine & { truncated: boolean })[] };
    expect(body.results.map((r) => [r.ok, r.truncated, r.title])).toEqual(urls.map(() => [true, true, 'Huge page']));
    // A bounded grace period, not a wait for an event: this checks that nothing gets printed, and no line
    // marks "every error of this batch is out". wrangler prints an uncaught error (a structured log from
    // workerd) on stderr and its request lines on stdout, two pipes with no order between them, so not
    // even a later request's line would prove the errors are all in dev.log().
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(dev.log().slice(before)).not.toMatch(/Uncaught|ERROR/);
  });

  it('Should give a page\'s main content as Markdown through wrangler\'s bundle (htmlparser2 included), without logging an error', async () => {
    const scope = newScope('e2e-content');
    const before = dev.log().length;
    const res = await postBatch({ urls: [originUrl(scope, 'fixture/content-blog.html?ct=text%2Fhtml')], formats: ['markdown'] });
    const body = (await res.json()) as { results: (ResultLine & { markdown: string | null; contentTruncated: boolean })[] };
    expect(body.results[0]).toMatchObject({ ok: true, contentTruncated: false });
    expect(body.results[0]!.markdown).toMatch(/```python\n/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(dev.log().slice(before)).not.toMatch(/Uncaught|ERROR/);
  });

  it('Should answer the GET form with repeated url parameters and numeric options', async () => {
    const scope = newScope('e2e-get');
    const urls = [originUrl(scope, 'page?title=First'), originUrl(scope, 'page?title=Second')];
    const query = new URLSearchParams([...urls.map((u) => ['url', u]), ['timeoutMs', '5000']]);
    const res = await fetch(`${dev.base}/v1/fetch?${query}`, { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: ResultLine[]; stats: { total: number } };
    expect(body.results.map((r) => [r.url, r.ok, r.title])).toEqual([
      [urls[0], true, 'First'],
      [urls[1], true, 'Second'],
    ]);
    expect(body.stats.total).toBe(2);
  });

  it('Should stream each NDJSON line through the dev proxy as soon as its URL finishes', async () => {
    const scope = newScope('e2e-ndjson');
    const urls = [originUrl(scope, 'page?title=Fast'), originUrl(scope, 'gate')];
    const res = await postBatch({ urls, retries: 0 }, { headers: { accept: 'application/x-ndjson' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = lineReader(res.body!);
    try {
      const first = JSON.parse((await lines.next())!) as ResultLine;
      expect(first).toMatchObject({ index: 0, url: urls[0], ok: true, title: 'Fast' });
      // The first line reached us while the gate URL is still held at the origin (nothing released it
      // yet): streamed, not buffered. The gate request may reach the origin a moment after the fast page
      // finished, so wait for it to be held rather than read the counters once.
      const held = await waitForStats(scope, (s) => s.held === 1, { message: 'the gate URL held at the origin' });
      expect(held.inFlight).toBe(1);

      expect(await release(scope)).toBe(1);
      const second = JSON.parse((await lines.next())!) as ResultLine;
      expect(second).toMatchObject({ index: 1, url: urls[1], ok: true, title: 'gate' });
      const last = JSON.parse((await lines.next())!) as { stats: { total: number; ok: number } };
      expect(last.stats).toMatchObject({ total: 2, ok: 2 });
      expect(await lines.next()).toBeUndefined();
    } finally {
      await lines.cancel().catch(() => undefined);
    }
  });

  /*
   * What reaches the Worker when the client goes away (verified with wrangler 4.156.2 / workerd
   * 2026-11-02, and the same with bare `workerd serve`, so it is not wrangler's dev proxy):
   * the local HTTP server notices a closed client socket only when it writes to it, and the
   * first write after the close still succeeds (it lands in the kernel buffer; the peer answers
   * with RST), so it is the second write that fails. Then the response stream is cancelled and,
   * with `enable_request_signal`, `request.signal` aborts. While the Worker is still working
   * on a response it has not started (JSON), or has started but not written since (NDJSON with
   * nothing finished), the disconnect is never seen, and the subrequests run to their own
   * timeouts. Upstream: cloudflare/workerd#3488 (the flag), #4185 and #5611 (no disconnect
   * notice while idle). So fanout writes while it waits: a heartbeat space every HEARTBEAT_MS
   * (src/app.ts), valid as leading whitespace of the JSON body or of the next NDJSON line.
   */
  describe('scale-out', () => {
    const gated = (scope: string, n: number) => Array.from({ length: n }, (_, i) => originUrl(scope, `gate?i=${i}`));

    it('Should hold `concurrency` 18 requests in flight through three invocations (this one and two FetchShard objects)', async () => {
      const scope = newScope('e2e-shards');
      const urls = gated(scope, 30);
      const answer = postBatch({ urls, concurrency: 18, retries: 0 });
      const held = await waitForStats(scope, (s) => s.held === 18, { timeoutMs: CANCEL_WAIT_MS, message: '18 requests held at the origin' });
      expect(held.maxInFlight).toBe(18);
      await release(scope);
      const res = await answer;
      expect(res.status).toBe(200);
      const body = (await res.json()) as { results: ResultLine[]; stats: { ok: number; shards: number } };
      expect(body.results.map((r) => [r.url, r.ok, r.title])).toEqual(urls.map((url) => [url, true, 'gate']));
      expect(body.stats).toMatchObject({ ok: 30, shards: 3 });
      const after = await stats(scope);
      expect(after.requests).toBe(30);
      expect(after.maxInFlight).toBe(18);
    });

    it('Should cancel the shards\' outstanding subrequests too when the client drops the batch', async () => {
      const scope = newScope('e2e-shards-gone');
      const urls = Array.from({ length: 12 }, (_, i) => originUrl(scope, `hang?n=${i}`));
      const client = new AbortController();
      const res = await postBatch({ urls, concurrency: 12, timeoutMs: 60_000, deadlineMs: 120_000, retries: 0 }, { headers: { accept: 'application/x-ndjson' }, signal: client.signal });
      expect(res.status).toBe(200);
      await waitForStats(scope, (s) => s.inFlight === 12, { timeoutMs: CANCEL_WAIT_MS, message: 'twelve hanging requests at the origin' });

      client.abort();
      await res.body?.cancel().catch(() => undefined);
      const s = await waitForStats(scope, (s) => s.inFlight === 0 && s.closedEarly === 12, {
        timeoutMs: CANCEL_WAIT_MS,
        message: 'every invocation cancelling its subrequests after the client left',
      });
      expect(s.requests).toBe(12);
    });
  });

  describe('client disconnect', () => {
    // Long per-URL and batch limits, so only the disconnect can end these fetches within CANCEL_WAIT_MS.
    const batch = (urls: string[]) => ({ urls, timeoutMs: 60_000, deadlineMs: 120_000, retries: 0 });
    const hangs = (scope: string) => [originUrl(scope, 'hang?n=1'), originUrl(scope, 'hang?n=2'), originUrl(scope, 'hang?n=3')];
    const cancelled = (scope: string) =>
      waitForStats(scope, (s) => s.inFlight === 0 && s.closedEarly >= 3, {
        timeoutMs: CANCEL_WAIT_MS,
        message: 'the worker cancelling its subrequests after the client left',
      });

    it('Should cancel every outstanding subrequest when the client drops a JSON batch', async () => {
      const scope = newScope('e2e-gone-json');
      const client = new AbortController();
      // Headers come at once: the JSON body is streamed, led by heartbeat whitespace while the batch runs.
      // Uncompressed, as curl asks by default: with gzip the spaces wait in the compressor (Miniflare
      // compresses application/json like Cloudflare's edge does) and never reach the socket.
      const res = await postBatch(batch(hangs(scope)), { headers: { 'accept-encoding': 'identity' }, signal: client.signal });
      expect(res.status).toBe(200);
      await waitForStats(scope, (s) => s.inFlight === 3, { timeoutMs: CANCEL_WAIT_MS, message: 'three hanging requests at the origin' });

      client.abort();
      await res.body?.cancel().catch(() => undefined);
      expect((await cancelled(scope)).requests).toBe(3);
    });

    it('Should cancel every outstanding subrequest when the client drops an NDJSON stream', async () => {
      const scope = newScope('e2e-gone-ndjson');
      const client = new AbortController();
      const res = await postBatch(batch(hangs(scope)), { headers: { accept: 'application/x-ndjson' }, signal: client.signal });
      expect(res.status).toBe(200);
      await waitForStats(scope, (s) => s.inFlight === 3, { timeoutMs: CANCEL_WAIT_MS, message: 'three hanging requests at the origin' });

      client.abort();
      await res.body?.cancel().catch(() => undefined);
      expect((await cancelled(scope)).requests).toBe(3);
    });

    it('Should cancel the outstanding subrequests once an NDJSON stream writes twice to a gone client', async () => {
      // Two slow pages finish after the client has left; their lines are the two writes that expose the closed socket.
      const scope = newScope('e2e-gone-written');
      const urls = [...hangs(scope), originUrl(scope, 'page?title=Late&delay=1000'), originUrl(scope, 'page?title=Later&delay=2000')];
      const client = new AbortController();
      const res = await postBatch(batch(urls), { headers: { accept: 'application/x-ndjson' }, signal: client.signal });
      expect(res.status).toBe(200);
      await waitForStats(scope, (s) => s.inFlight === 5, { timeoutMs: CANCEL_WAIT_MS, message: 'five requests at the origin' });

      client.abort();
      await res.body?.cancel().catch(() => undefined);
      expect((await cancelled(scope)).requests).toBe(5);
    });
  });

  describe('cron triggers', () => {
    it('Should run the built-in watch list when /__scheduled fires the cron, and store the run for /v1/runs/latest', async () => {
      const before = await fetch(`${dev.base}/v1/runs/latest`, { headers: auth });
      expect(before.status).toBe(404);
      await before.arrayBuffer();

      const fired = await fetch(`${dev.base}/__scheduled?cron=${encodeURIComponent('*/30 * * * *')}`);
      expect(fired.status).toBe(200);
      await fired.arrayBuffer();

      // The scheduled handler finishes in ctx.waitUntil; poll until its run is stored.
      let run: { watchlist: string; cron: string; results: { url: string; state: string; result: { title: string; ok: boolean } }[] } | undefined;
      await waitFor(
        async () => {
          const res = await fetch(`${dev.base}/v1/runs/latest`, { headers: auth });
          if (res.status === 200) run = await res.json();
          else await res.arrayBuffer();
          return run !== undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, message: 'GET /v1/runs/latest answering the stored cron run' },
      );
      expect(run!.watchlist).toBe('default');
      expect(run!.cron).toBe('*/30 * * * *');
      expect(run!.results.map((r) => [r.url, r.state, r.result.ok, r.result.title])).toEqual([
        [watched[0], 'new', true, 'Watched one'],
        [watched[1], 'new', true, 'Watched two'],
      ]);
      expect((await stats(watchScope)).requests).toBe(2);
    });
  });

  describe('bad input over real HTTP', () => {
    it('Should answer malformed JSON with 400 problem+json naming body', async () => {
      await expectProblem(await postBatch('{"urls": ['), 400, 'body');
    });

    it('Should answer a non-JSON content type with 415', async () => {
      await expectProblem(await postBatch('http://example.com/', { headers: { 'content-type': 'text/plain' } }), 415, 'content-type');
    });

    it('Should answer more URLs than MAX_URLS with 413 naming urls', async () => {
      const urls = Array.from({ length: 101 }, (_, i) => `http://127.0.0.1/${i}`);
      await expectProblem(await postBatch({ urls }), 413, 'urls');
    });

    it('Should answer an unknown route with 404 problem+json', async () => {
      await expectProblem(await fetch(`${dev.base}/v1/nope`, { headers: auth }), 404);
    });

    it('Should answer DELETE /v1/fetch with 405 and an Allow header', async () => {
      const res = await fetch(`${dev.base}/v1/fetch`, { method: 'DELETE', headers: auth });
      await expectProblem(res, 405, 'method');
      expect(res.headers.get('allow')).toBe('GET, POST');
    });
  });
});

/** Runs the real CLI (bin/fanout.mjs) against wrangler dev: its exit code and what it printed. */
function cli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'fanout.mjs'), ...args], {
      env: { ...process.env, FANOUT_URL: dev.base, FANOUT_TOKEN: TOKEN },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

describe('the CLI (bin/fanout.mjs) against wrangler dev', () => {
  const listFile = (lines: string[]) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'fanout-cli-')), 'urls.txt');
    writeFileSync(file, `# a list\n${lines.join('\n')}\n\n`);
    return file;
  };

  it('Should print a table of a file\'s URLs and exit 1 when one failed; --fail-on none or another code exits 0', async () => {
    const scope = newScope('e2e-cli-table');
    const file = listFile([originUrl(scope, 'page?title=First'), 'ftp://example.com/x', originUrl(scope, 'page?title=Second')]);
    const failed = await cli([file]);
    expect(failed.code, failed.stderr).toBe(1);
    const rows = failed.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^#\s+status\s+result\s+time\s+title\s+url$/);
    expect(rows.slice(1).map((row) => row.split(/\s{2,}/)[2])).toEqual(['ok', 'invalid_url', 'ok']);
    expect(failed.stdout).toContain('First');
    expect(failed.stdout).toContain('Second');
    expect((await cli([file, '--fail-on', 'none'])).code).toBe(0);
    expect((await cli([file, '--fail-on', 'timeout,http_status'])).code).toBe(0);
    expect((await cli([file, '--fail-on', 'invalid_url'])).code).toBe(1);
  });

  it('Should read stdin with -, answer --json in input order and --ndjson line by line, with API options as flags', async () => {
    const scope = newScope('e2e-cli-json');
    const urls = [originUrl(scope, 'page?title=One'), originUrl(scope, 'page?title=Two')];
    const json = await cli(['-', '--json', '--snippet-length', '12'], urls.join('\n'));
    expect(json.code, json.stderr).toBe(0);
    const body = JSON.parse(json.stdout) as { results: ResultLine[] & { snippet: string }[]; stats: { total: number; ok: number } };
    expect(body.results.map((r) => [r.url, r.title])).toEqual([[urls[0], 'One'], [urls[1], 'Two']]);
    expect(body.results.every((r) => (r as unknown as { snippet: string }).snippet.length <= 12)).toBe(true);
    expect(body.stats).toMatchObject({ total: 2, ok: 2 });
    // stderr is a pipe here, not a terminal: no progress bar.
    expect(json.stderr).toBe('');
    const ndjson = await cli(['-', '--ndjson'], urls.join('\n'));
    const lines = ndjson.stdout.trim().split('\n').map((line) => JSON.parse(line) as ResultLine);
    expect(lines.map((r) => r.index).sort()).toEqual([0, 1]);
  });

  it('Should write one Markdown file per page with --markdown DIR', async () => {
    const scope = newScope('e2e-cli-md');
    const dir = mkdtempSync(path.join(tmpdir(), 'fanout-md-'));
    const run = await cli(['-', '--markdown', dir], originUrl(scope, 'fixture/content-blog.html?ct=text%2Fhtml'));
    expect(run.code, run.stderr).toBe(0);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const text = readFileSync(path.join(dir, files[0]!), 'utf8');
    expect(text).toMatch(/^<!-- http:\/\/127\.0\.0\.1:\d+\/s\/e2e-cli-md/);
    expect(text).toMatch(/^#{1,2} /m);
  });

  it('Should run a list over MAX_URLS as a job and print every result', async () => {
    const scope = newScope('e2e-cli-job');
    const urls = Array.from({ length: 130 }, (_, i) => originUrl(scope, `page?title=P${i}`));
    const run = await cli(['-', '--json', '--respect-robots', 'false'], urls.join('\n'));
    expect(run.code, run.stderr).toBe(0);
    const body = JSON.parse(run.stdout) as { results: ResultLine[] };
    expect(body.results.map((r) => r.title)).toEqual(urls.map((_, i) => `P${i}`));
    expect((await stats(scope)).requests).toBe(130);
  });

  it('Should refuse a bad flag with exit 2 and say why', async () => {
    const run = await cli(['-', '--concurrency', 'many']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--concurrency takes a whole number');
  });
});
