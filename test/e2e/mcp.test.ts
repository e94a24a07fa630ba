/**
 * End to end: POST /mcp under `wrangler dev`, driven by the official MCP SDK
 * client over Streamable HTTP with a bearer token, against the loopback test
 * origin. What the worker-runtime test (test/mcp.test.ts) cannot show: the
 * real client's handshake (initialize, the GET it tries, the SSE answers
 * through wrangler's proxy), auth as a client meets it, and a client that
 * goes away cancelling the batch over a real socket.
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWranglerDev, type WranglerDev } from '../../bench/lib/wrangler.mjs';
import type { BatchResult } from '../../src/result';
import { expectProblem } from '../helpers/problem';
import { newScope, originUrl, stats, waitForStats } from '../origin/client';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STARTUP_TIMEOUT_MS = 60_000;
/** How long a cancelled batch may take to close its subrequests at the origin. */
const CANCEL_WAIT_MS = 10_000;
const TOKEN = `mcp-${crypto.randomUUID()}`;

let dev: WranglerDev;
const open: Client[] = [];

beforeAll(async () => {
  dev = await startWranglerDev({ root: ROOT, snapshot: false, vars: { ALLOW_PRIVATE_HOSTS: 'true', API_TOKEN: TOKEN }, startupTimeoutMs: STARTUP_TIMEOUT_MS });
});

afterAll(async () => {
  await dev?.stop();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close().catch(() => undefined)));
});

/** A connected SDK client, with the token unless `token` is null. */
async function connect(token: string | null = TOKEN): Promise<Client> {
  const client = new Client({ name: 'fanout-e2e', version: '1.0.0' });
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  open.push(client);
  await client.connect(new StreamableHTTPClientTransport(new URL(`${dev.base}/mcp`), { requestInit: { headers } }));
  return client;
}

interface ToolAnswer {
  content: { type: string; text: string }[];
  structuredContent?: BatchResult;
  isError?: boolean;
}

async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<ToolAnswer> {
  return (await client.callTool({ name, arguments: args })) as ToolAnswer;
}

describe('/mcp under wrangler dev with the official SDK client', () => {
  it('Should list fetch_pages and read_page with their input schemas', async () => {
    const client = await connect();
    expect(client.getServerVersion()?.name).toBe('fanout');
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['fetch_pages', 'read_page']);
    const [fetchPages, readPage] = tools;
    expect(fetchPages!.inputSchema.required).toEqual(['urls']);
    expect(fetchPages!.inputSchema.properties).toMatchObject({ urls: { type: 'array', maxItems: 100 }, concurrency: { maximum: 50 }, formats: { type: 'array' } });
    expect(readPage!.inputSchema.required).toEqual(['url']);
    expect(readPage!.inputSchema.properties).toHaveProperty('maxContentChars');
  });

  it('Should fetch_pages one result per URL in input order, with the titles the origin served, and an origin 404 and 500 as http_status', async () => {
    const scope = newScope('mcp-e2e-batch');
    const urls = [
      originUrl(scope, 'page?title=Alpha'),
      originUrl(scope, 'page?title=Missing&status=404'),
      originUrl(scope, 'page?title=Beta'),
      originUrl(scope, 'status/500'),
      originUrl(scope, 'page?title=Gamma'),
    ];
    const client = await connect();
    const progress: number[] = [];
    const answer = (await client.callTool({ name: 'fetch_pages', arguments: { urls, retries: 0 } }, undefined, { onprogress: (p) => progress.push(p.progress) })) as ToolAnswer;

    expect(answer.isError).toBeFalsy();
    const { results, stats: batch } = answer.structuredContent!;
    expect(results.map((r) => r.url)).toEqual(urls);
    // A retryable status's body is not read (it may be retried), so the 500 has no title.
    expect(results.map((r) => r.title)).toEqual(['Alpha', 'Missing', 'Beta', null, 'Gamma']);
    expect(results.map((r) => r.error?.code ?? null)).toEqual([null, 'http_status', null, 'http_status', null]);
    expect(results.map((r) => r.status)).toEqual([200, 404, 200, 500, 200]);
    expect(batch).toMatchObject({ total: 5, ok: 3, failed: 2 });
    expect(progress.sort()).toEqual([1, 2, 3, 4, 5]);

    const text = answer.content[0]!.text;
    expect(text).toMatch(/^3 ok, 2 failed of 5 URLs/);
    expect(text).toContain(`[0] 200 ${urls[0]}\ntitle: Alpha`);
    expect(text).toContain(`[1] http_status 404 ${urls[1]}\ntitle: Missing`);
    expect(text).toContain(`[3] http_status 500 ${urls[3]}`);
    expect(text.indexOf('[2] 200')).toBeGreaterThan(text.indexOf('[1] http_status'));

    const origin = await stats(scope);
    expect(origin.log.map((entry) => entry.route).sort()).toEqual(['page?title=Alpha', 'page?title=Beta', 'page?title=Gamma', 'page?title=Missing&status=404', 'status/500']);
  });

  it.each([
    [{ urls: [] }, 'urls must hold at least one URL'],
    [{ urls: ['URL'], concurrency: 0 }, 'concurrency must be at least 1'],
  ])('Should answer fetch_pages %j with a tool error naming the field (%s), fetching nothing', async (args, message) => {
    const scope = newScope('mcp-e2e-bad');
    const client = await connect();
    const answer = await callTool(client, 'fetch_pages', { ...args, urls: args.urls.map(() => originUrl(scope, 'page?title=Never')) });
    expect(answer.isError).toBe(true);
    expect(answer.content[0]!.text).toContain(message);
    expect((await stats(scope)).requests).toBe(0);
  });

  it("Should read_page as Markdown holding the origin page's title, final URL and text", async () => {
    const scope = newScope('mcp-e2e-read');
    const url = originUrl(scope, 'page?title=Reading%20Room');
    const client = await connect();
    const answer = await callTool(client, 'read_page', { url });
    expect(answer.isError).toBeFalsy();
    const text = answer.content[0]!.text;
    expect(text.startsWith(`title: Reading Room\nurl: ${url}\nstatus: 200\n\n`)).toBe(true);
    expect(text).toContain('Welcome to Reading Room. This page is served by the fanout test origin.');
    expect(text).toContain('Second paragraph with a few more sentences.');
    expect((await stats(scope)).requests).toBe(1);
  });

  it("Should answer read_page of an origin 404 with a tool error carrying fanout's error code", async () => {
    const scope = newScope('mcp-e2e-read-404');
    const client = await connect();
    const answer = await callTool(client, 'read_page', { url: originUrl(scope, 'status/404') });
    expect(answer.isError).toBe(true);
    expect(answer.content[0]!.text).toMatch(/^http_status 404: /);
  });

  it('Should cancel the batch at the origin when the client goes away mid-call', async () => {
    const scope = newScope('mcp-e2e-gone');
    const urls = [1, 2, 3].map((n) => originUrl(scope, `hang?n=${n}`));
    const client = await connect();
    const call = client.callTool({ name: 'fetch_pages', arguments: { urls, timeoutMs: 60_000, deadlineMs: 120_000, retries: 0 } }, undefined, { timeout: 120_000 });
    call.catch(() => undefined);
    await waitForStats(scope, (s) => s.inFlight === 3, { timeoutMs: CANCEL_WAIT_MS, message: 'three hanging requests at the origin' });

    await client.close(); // aborts the POST whose SSE stream would carry the answer
    await expect(call).rejects.toThrow();
    const s = await waitForStats(scope, (s) => s.inFlight === 0 && s.closedEarly === 3, { timeoutMs: CANCEL_WAIT_MS, message: 'the worker cancelling its subrequests after the client left' });
    expect(s.requests).toBe(3);
  });

  it('Should refuse a client without the token, or with a wrong one, with 401', async () => {
    for (const token of [null, 'not-the-token']) {
      const error = await connect(token).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(StreamableHTTPError);
      expect((error as StreamableHTTPError).code).toBe(401);
    }
  });

  it('Should answer GET /mcp with 405 and Allow: POST', async () => {
    const res = await fetch(`${dev.base}/mcp`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } });
    expect(res.headers.get('allow')).toBe('POST');
    await expectProblem(res, 405, 'method');
  });
});
