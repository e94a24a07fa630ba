/**
 * POST /mcp inside workerd, as raw JSON-RPC through the Worker's fetch entry
 * point: what the official client in test/e2e/mcp.test.ts does not show
 * (the schemas' limits per deployment, JSON-RPC batches, progress events,
 * the text budget, 405s). Pages come from the loopback test origin.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Env } from '../src/env';
import { MAX_REQUEST_BYTES } from '../src/http';
import { batchText, MAX_TEXT_CHARS } from '../src/mcp/text';
import { blankResult, type BatchResult, type PageResult } from '../src/result';
import { expectProblem } from './helpers/problem';
import { call, withEnv } from './helpers/worker';
import { newScope, originUrl, stats } from './origin/client';

/** What a Streamable HTTP client sends with every POST. */
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };

interface RpcMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

interface ToolResult {
  content: { type: string; text: string }[];
  structuredContent?: BatchResult;
  isError?: boolean;
}

/** POSTs JSON-RPC message(s) to /mcp (with `env` overrides when given) and reads every message of the SSE answer, in order. */
async function rpc(body: unknown, env?: Partial<Env>): Promise<RpcMessage[]> {
  const init = { method: 'POST', headers: HEADERS, body: JSON.stringify(body) };
  const res = env ? await withEnv(env, '/mcp', init) : await call('/mcp', init);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)) as RpcMessage);
}

/** Calls one tool and returns its result. */
async function callTool(name: string, args: unknown, env?: Partial<Env>): Promise<ToolResult> {
  const messages = await rpc({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }, env);
  const answer = messages.find((m) => m.id === 1)!;
  expect(answer.error).toBeUndefined();
  return answer.result as unknown as ToolResult;
}

describe('POST /mcp tools/list', () => {
  it("Should give fetch_pages the /v1/fetch schema with this deployment's maxima and defaults, and read_page a required url", async () => {
    const [answer] = await rpc({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { MAX_URLS: '7', MAX_CONCURRENCY: '4' });
    const tools = (answer!.result as { tools: { name: string; inputSchema: { properties: Record<string, Record<string, unknown>>; required: string[]; additionalProperties: boolean } }[] }).tools;
    expect(tools.map((tool) => tool.name)).toEqual(['fetch_pages', 'read_page']);
    const [fetchPages, readPage] = tools;
    expect(fetchPages!.inputSchema.required).toEqual(['urls']);
    expect(fetchPages!.inputSchema.additionalProperties).toBe(false);
    expect(fetchPages!.inputSchema.properties.urls).toMatchObject({ type: 'array', minItems: 1, maxItems: 7 });
    // The default of 6 gives way to a lower maximum, as in normalizeOptions.
    expect(fetchPages!.inputSchema.properties.concurrency).toMatchObject({ type: 'integer', minimum: 1, maximum: 4, description: 'Most URLs in flight at once (default 4).' });
    expect(Object.keys(fetchPages!.inputSchema.properties)).toContain('formats');
    expect(readPage!.inputSchema.required).toEqual(['url']);
    expect(Object.keys(readPage!.inputSchema.properties).sort()).toEqual(['maxAge', 'maxContentChars', 'onlyMainContent', 'respectRobots', 'timeoutMs', 'url']);
  });
});

describe('POST /mcp fetch_pages input', () => {
  it.each([
    [{ urls: [] }, 'urls must hold at least one URL'],
    [{ urls: ['http://a'], concurrency: 0 }, 'concurrency must be at least 1'],
    [{ urls: ['http://a'], timeoutMs: 1.5 }, 'timeoutMs must be an integer'],
    [{ urls: ['http://a'], selector: 'p[' }, 'selector is not a CSS selector HTMLRewriter supports'],
    [{ urls: ['http://a'], formats: ['pdf'] }, 'each format must be one of'],
    [{ urls: ['http://a'], concurreny: 3 }, 'concurreny'],
  ])('Should answer %j with a tool error saying %s', async (args, message) => {
    const result = await callTool('fetch_pages', args);
    expect(result.isError).toBe(true);
    expect(result.content[0]!.text).toContain(message);
    expect(result.structuredContent).toBeUndefined();
  });

  it("Should refuse more URLs than the deployment's MAX_URLS, and fetch none of them", async () => {
    const scope = newScope('mcp-max-urls');
    const urls = [1, 2, 3, 4].map((n) => originUrl(scope, `page?title=P${n}`));
    const result = await callTool('fetch_pages', { urls }, { MAX_URLS: '3' });
    expect(result.isError).toBe(true);
    expect(result.content[0]!.text).toContain('at most 3 URLs per batch');
    expect((await stats(scope)).requests).toBe(0);
  });
});

describe('POST /mcp fetch_pages', () => {
  it('Should run one tools/call per HTTP request: a second call in the same JSON-RPC batch is a tool error and fetches nothing', async () => {
    const scope = newScope('mcp-rpc-batch');
    const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'fetch_pages', arguments: { urls: [originUrl(scope, `page?title=Call${id}`)] } } });
    const messages = await rpc([call(1), call(2)]);
    const results = [1, 2].map((id) => messages.find((m) => m.id === id)!.result as unknown as ToolResult);
    const ran = results.filter((r) => !r.isError);
    const refused = results.filter((r) => r.isError);
    expect(ran).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.content[0]!.text).toContain('one tools/call per HTTP request');
    const origin = await stats(scope);
    expect(origin.requests).toBe(1);
    expect(ran[0]!.structuredContent!.results[0]!.url).toBe(originUrl(scope, origin.log[0]!.route));
  });

  it('Should send a progress notification per finished URL before the result when the call carries a progressToken', async () => {
    const scope = newScope('mcp-progress');
    const urls = [originUrl(scope, 'page?title=One'), originUrl(scope, 'status/404'), originUrl(scope, 'page?title=Three')];
    const messages = await rpc({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fetch_pages', arguments: { urls, retries: 0 }, _meta: { progressToken: 'p1' } } });
    const progress = messages.filter((m) => m.method === 'notifications/progress').map((m) => m.params);
    expect(progress.map((p) => [p!.progressToken, p!.progress, p!.total])).toEqual([
      ['p1', 1, 3],
      ['p1', 2, 3],
      ['p1', 3, 3],
    ]);
    expect(progress.map((p) => p!.message).sort()).toEqual(['[0] 200', '[1] http_status 404', '[2] 200']);
    expect(messages.at(-1)!.id).toBe(1);
  });

  it("Should log the call's batch as the API does, with the client's name and via mcp", async () => {
    const scope = newScope('mcp-log');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const clients = JSON.stringify([{ name: 'agent', token: 'agent-token-0123456789' }]);
    const init = {
      method: 'POST',
      headers: { ...HEADERS, authorization: 'Bearer agent-token-0123456789' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fetch_pages', arguments: { urls: [originUrl(scope, 'page?title=One'), 'not a url'] } } }),
    };
    await (await withEnv({ API_TOKENS: clients }, '/mcp', init)).text();
    const lines = log.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('"event":"batch"'));
    log.mockRestore();
    expect(lines.map((line) => JSON.parse(line))).toEqual([expect.objectContaining({ client: 'agent', via: 'mcp', urls: 2, ok: 1, errors: { invalid_url: 1 } })]);
  });

  it('Should send no progress notification without a progressToken', async () => {
    const scope = newScope('mcp-no-progress');
    const messages = await rpc({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fetch_pages', arguments: { urls: [originUrl(scope, 'page?title=One')] } } });
    expect(messages.map((m) => m.id ?? m.method)).toEqual([1]);
  });
});

describe('fetch_pages text', () => {
  const page = (index: number, markdown: string): PageResult =>
    blankResult(`https://example.com/${index}`, { ok: true, status: 200, title: `Page ${index}`, markdown, finalUrl: `https://example.com/${index}` });

  it('Should keep every headline and cut long content to a share of MAX_TEXT_CHARS, saying where the whole result is', () => {
    const results = [page(0, 'a'.repeat(80_000)), page(1, 'short content'), page(2, 'c'.repeat(80_000))];
    const text = batchText({ results, stats: { total: 3, ok: 3, failed: 0, fetched: 3, durationMs: 5, deadlineReached: false, shards: 1 } });
    expect(text.length).toBeLessThanOrEqual(MAX_TEXT_CHARS + 200);
    expect(text).toMatch(/^3 ok, 0 failed of 3 URLs/);
    for (const index of [0, 1, 2]) expect(text).toContain(`[${index}] 200 https://example.com/${index}\ntitle: Page ${index}`);
    expect(text).toContain('short content');
    expect(text).toContain('[cut: the whole result is structuredContent.results[0]]');
    expect(text).toContain('[cut: the whole result is structuredContent.results[2]]');
    expect(text).not.toContain('structuredContent.results[1]]');
    // The short page's unused share goes to the page after it.
    expect(text.match(/c+/g)!.reduce((a, b) => (a.length > b.length ? a : b)).length).toBeGreaterThan(text.match(/a+/g)!.reduce((a, b) => (a.length > b.length ? a : b)).length);
  });

  it('Should show a failure as its error code and status, with the message', () => {
    const failed = blankResult('https://example.com/x', { status: 503, error: { code: 'http_status', message: 'HTTP 503', retryable: true } });
    const text = batchText({ results: [failed], stats: { total: 1, ok: 0, failed: 1, fetched: 1, durationMs: 5, deadlineReached: false, shards: 1 } });
    expect(text).toContain('[0] http_status 503 https://example.com/x\nerror: HTTP 503');
  });
});

describe('/mcp methods', () => {
  it.each(['GET', 'DELETE', 'PUT'])('Should answer %s with 405 and Allow: POST (a stateless server has no stream or session to offer)', async (method) => {
    const res = await call('/mcp', { method, headers: { accept: 'text/event-stream' } });
    expect(res.headers.get('allow')).toBe('POST');
    await expectProblem(res, 405, 'method');
  });

  it('Should refuse a body over MAX_REQUEST_BYTES with 413, as /v1/fetch does', async () => {
    const urls = Array.from({ length: 100 }, (_, i) => `http://example.com/${i}?${'a'.repeat(11_000)}`);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fetch_pages', arguments: { urls } } });
    expect(body.length).toBeGreaterThan(MAX_REQUEST_BYTES);
    const res = await call('/mcp', { method: 'POST', headers: HEADERS, body });
    expect(res.status).toBe(413);
    expect(((await res.json()) as RpcMessage).error?.message).toContain(`${MAX_REQUEST_BYTES} bytes`);
  });

  it('Should refuse a POST without a bearer token when API_TOKEN is set, before any JSON-RPC', async () => {
    const res = await withEnv({ API_TOKEN: 'mcp-secret' }, '/mcp', { method: 'POST', headers: HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    await expectProblem(res, 401, 'authorization');
  });
});
