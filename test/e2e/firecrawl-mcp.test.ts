/**
 * Firecrawl's own MCP server (firecrawl-mcp, a pinned dev dependency) against
 * fanout under `wrangler dev`: started over stdio as an agent would start it,
 * with FIRECRAWL_API_URL pointing at fanout and FIRECRAWL_API_KEY holding
 * fanout's token, driven by the official MCP SDK client, scraping the loopback
 * test origin. firecrawl-mcp 3.26 has no batch tools; its tools for routes
 * fanout does not serve (map, search, crawl, agent, ...) must come back as tool
 * errors, carrying fanout's message where firecrawl-mcp passes one on.
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWranglerDev, type WranglerDev } from '../../bench/lib/wrangler.mjs';
import { fixtureUrl, newScope, originUrl, stats } from '../origin/client';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = `e2e-firecrawl-mcp-${crypto.randomUUID()}`;
/** firecrawl-mcp's `engines` asks for Node 22, which the `node` dev dependency provides. */
const NODE = `${ROOT}node_modules/.bin/node`;
const SERVER = `${ROOT}node_modules/firecrawl-mcp/dist/index.js`;
/** The first line of the fixture article's story. */
const STORY = 'Northbridge will dig up and replace all of the estimated 41,000 lead pipes';

let dev: WranglerDev;
/** firecrawl-mcp with fanout's token. */
let agent: Client;
/** firecrawl-mcp with a key fanout does not know. */
let stranger: Client;

/** firecrawl-mcp as a child process over stdio, talking to fanout only. */
async function startFirecrawlMcp(apiKey: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: NODE,
    args: [SERVER],
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', FIRECRAWL_API_URL: dev.base, FIRECRAWL_API_KEY: apiKey },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'fanout-e2e', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (error) {
    throw new Error(`firecrawl-mcp did not start: ${error instanceof Error ? error.message : String(error)}\n${stderr}`);
  }
  return client;
}

beforeAll(async () => {
  dev = await startWranglerDev({ root: ROOT, snapshot: false, vars: { ALLOW_PRIVATE_HOSTS: 'true', API_TOKEN: TOKEN }, startupTimeoutMs: 60_000 });
  [agent, stranger] = await Promise.all([startFirecrawlMcp(TOKEN), startFirecrawlMcp('not-the-token')]);
});

afterAll(async () => {
  // close() ends the child process (stdin closed, then SIGTERM, then SIGKILL).
  await Promise.all([agent?.close(), stranger?.close()]);
  await dev?.stop();
});

interface ToolAnswer {
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/**
 * A tool's answer as the server sent it. Not `client.callTool`: it checks an
 * error's structuredContent against the tool's output schema too, and
 * firecrawl-mcp's error details (`{ code, status, message }` from
 * firecrawl_search) do not fit its own schema, so callTool throws -32602
 * instead of returning the tool error.
 */
async function callRaw(client: Client, name: string, args: Record<string, unknown>): Promise<ToolAnswer> {
  return (await client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema)) as ToolAnswer;
}

/** The text of a tool answer's content. */
function textOf(answer: ToolAnswer): string {
  return answer.content.map((part) => part.text ?? '').join('\n');
}

/** How many times the origin was asked for each route of the scope. */
async function hits(scope: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const entry of (await stats(scope)).log) counts[entry.route] = (counts[entry.route] ?? 0) + 1;
  return counts;
}

/** The requests wrangler dev logged after `mark` (a `dev.log().length`), as `METHOD /path STATUS`. */
function requestsSince(mark: number): string[] {
  return [...dev.log().slice(mark).matchAll(/\[wrangler:info\] (GET|POST|PUT|PATCH|DELETE) (\S+) (\d{3})/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
}

/** Waits until wrangler dev has logged `count` requests after `mark` (it logs a request as it answers it), and returns them. */
async function loggedRequests(mark: number, count: number): Promise<string[]> {
  await expect.poll(() => requestsSince(mark).length, { timeout: 10_000, interval: 10 }).toBeGreaterThanOrEqual(count);
  return requestsSince(mark);
}

describe("Firecrawl's MCP server (firecrawl-mcp 3.26.0) against fanout", () => {
  it('Should list firecrawl_scrape and the tools for routes fanout lacks, and no batch tool', async () => {
    const names = (await agent.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['firecrawl_scrape', 'firecrawl_map', 'firecrawl_search', 'firecrawl_crawl', 'firecrawl_check_crawl_status', 'firecrawl_agent']));
    expect(names.filter((name) => name.includes('batch'))).toEqual([]);
  });

  it('Should scrape an article with firecrawl_scrape: its story as markdown, its metadata, one request at the origin', async () => {
    const scope = newScope('fcmcp-scrape');
    const url = fixtureUrl(scope, 'content-news.html', 'text/html; charset=utf-8');
    const mark = dev.log().length;
    // callTool: the answer also has to fit the tool's output schema, as a strict client checks it.
    const answer = (await agent.callTool({ name: 'firecrawl_scrape', arguments: { url } })) as ToolAnswer;
    expect(answer.isError).toBeFalsy();
    const doc = answer.structuredContent as { markdown?: string; metadata?: Record<string, unknown> };
    expect(doc.markdown).toContain(STORY);
    // Main content only (Firecrawl's default): the cookie banner is not in it.
    expect(doc.markdown).not.toContain('173 partners');
    expect(doc.metadata).toMatchObject({ title: expect.stringContaining('Northbridge to replace every lead water pipe by 2031'), statusCode: 200, sourceURL: url, url });
    // The same document as the text an agent reads.
    expect(JSON.parse(textOf(answer))).toEqual(doc);
    expect(await hits(scope)).toEqual({ 'fixture/content-news.html?ct=text%2Fhtml%3B%20charset%3Dutf-8': 1 });
    expect(await loggedRequests(mark, 1)).toEqual(['POST /v2/scrape 200']);
  });

  it('Should pass markdown, html and links through firecrawl_scrape, with links as URL strings', async () => {
    const scope = newScope('fcmcp-formats');
    const url = fixtureUrl(scope, 'content-news.html', 'text/html; charset=utf-8');
    const answer = (await agent.callTool({ name: 'firecrawl_scrape', arguments: { url, formats: ['markdown', 'html', 'links'], onlyMainContent: true, maxAge: 0 } })) as ToolAnswer;
    expect(answer.isError).toBeFalsy();
    const doc = answer.structuredContent as { markdown?: string; html?: string; links?: unknown[] };
    expect(doc.markdown).toContain(STORY);
    expect(doc.html).toContain('<p>Northbridge will dig up');
    expect(doc.links).toContain('https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fwww.northbridgechronicle.co.uk%2Fnews%2F2024%2Fmay%2F14');
    expect(doc.links!.every((link) => typeof link === 'string')).toBe(true);
    expect((await stats(scope)).requests).toBe(1);
  });

  it("Should answer a firecrawl_scrape option fanout cannot honour with a tool error carrying fanout's 400, before fetching anything", async () => {
    const scope = newScope('fcmcp-refused');
    const url = originUrl(scope, 'page?title=Never');
    const screenshot = await callRaw(agent, 'firecrawl_scrape', { url, formats: ['screenshot'] });
    expect(screenshot.isError).toBe(true);
    expect(textOf(screenshot)).toContain('formats[0]: format "screenshot" is not supported: fanout runs no browser');
    // What firecrawl-mcp's description offers for structured data: formats json with jsonOptions.
    const json = await callRaw(agent, 'firecrawl_scrape', { url, formats: ['json'], jsonOptions: { prompt: 'the headline' } });
    expect(json.isError).toBe(true);
    expect(textOf(json)).toContain('formats[0]: format "json" is not supported: fanout runs no language model');
    expect((await stats(scope)).requests).toBe(0);
  });

  it("Should answer firecrawl_map, firecrawl_search and firecrawl_agent with a tool error carrying fanout's 404 that names the route, fetching nothing", async () => {
    const scope = newScope('fcmcp-404');
    const url = originUrl(scope, 'page?title=Never');
    const mark = dev.log().length;
    const map = await callRaw(agent, 'firecrawl_map', { url });
    const search = await callRaw(agent, 'firecrawl_search', { query: 'lead pipes Northbridge' });
    const research = await callRaw(agent, 'firecrawl_agent', { prompt: `What does ${url} say?`, urls: [url] });
    expect([map.isError, search.isError, research.isError]).toEqual([true, true, true]);
    expect(textOf(map)).toBe("Tool 'firecrawl_map' execution failed: no route for POST /v2/map: fanout does not list a site's URLs (no sitemaps, no link walking); it fetches the URLs it is given");
    expect(textOf(search)).toBe('no route for POST /v2/search: fanout runs no web search; it fetches the URLs it is given');
    expect(search.structuredContent).toMatchObject({ status: 404 });
    expect(textOf(research)).toBe("Tool 'firecrawl_agent' execution failed: no route for POST /v2/agent: fanout runs no language model, so it has no agent");
    expect(await loggedRequests(mark, 3)).toEqual(['POST /v2/map 404', 'POST /v2/search 404', 'POST /v2/agent 404']);
    expect((await stats(scope)).requests).toBe(0);
  });

  it("Should answer firecrawl_crawl, firecrawl_check_crawl_status, firecrawl_credit_usage and a web-only search with a tool error: fanout's 404, of which firecrawl-mcp shows only the status", async () => {
    const scope = newScope('fcmcp-404-bare');
    const url = originUrl(scope, 'page?title=Never');
    const id = crypto.randomUUID();
    const mark = dev.log().length;
    // These tools call the SDK's HTTP client directly and pass on axios's message, not the body's `error`.
    const answers = [
      await callRaw(agent, 'firecrawl_crawl', { url, limit: 2 }),
      await callRaw(agent, 'firecrawl_check_crawl_status', { id }),
      await callRaw(agent, 'firecrawl_credit_usage', {}),
      await callRaw(agent, 'firecrawl_search', { query: 'lead pipes Northbridge', sources: [{ type: 'web' }] }),
    ];
    expect(answers.map((answer) => [answer.isError, textOf(answer)])).toEqual(
      ['firecrawl_crawl', 'firecrawl_check_crawl_status', 'firecrawl_credit_usage', 'firecrawl_search'].map((name) => [true, `Tool '${name}' execution failed: Request failed with status code 404`]),
    );
    expect(await loggedRequests(mark, 4)).toEqual(['POST /v2/crawl 404', `GET /v2/crawl/${id} 404`, 'GET /v2/team/credit-usage 404', 'POST /v2/search 404']);
    expect((await stats(scope)).requests).toBe(0);
  });

  it('Should have firecrawl_extract answered by firecrawl-mcp itself as deprecated, without a request to fanout', async () => {
    const scope = newScope('fcmcp-extract');
    const url = originUrl(scope, 'page?title=Never');
    const mark = dev.log().length;
    const extract = await callRaw(agent, 'firecrawl_extract', { urls: [url], prompt: 'the title' });
    expect(extract.isError).toBe(true);
    expect(textOf(extract)).toMatch(/^firecrawl_extract is deprecated/);
    // A request after it: once wrangler has logged this one, it would have logged one for extract before it.
    await callRaw(agent, 'firecrawl_map', { url });
    expect(await loggedRequests(mark, 1)).toEqual(['POST /v2/map 404']);
    expect((await stats(scope)).requests).toBe(0);
  });

  it("Should answer a wrong FIRECRAWL_API_KEY with a tool error carrying fanout's 401 message, before fetching anything", async () => {
    const scope = newScope('fcmcp-401');
    const url = originUrl(scope, 'page?title=Nope');
    const mark = dev.log().length;
    const scrape = await callRaw(stranger, 'firecrawl_scrape', { url });
    const map = await callRaw(stranger, 'firecrawl_map', { url });
    expect([scrape.isError, map.isError]).toEqual([true, true]);
    expect(textOf(scrape)).toBe(`Tool 'firecrawl_scrape' execution failed: a valid "Authorization: Bearer <token>" header is required`);
    expect(textOf(map)).toBe(`Tool 'firecrawl_map' execution failed: a valid "Authorization: Bearer <token>" header is required`);
    expect(await loggedRequests(mark, 2)).toEqual(['POST /v2/scrape 401', 'POST /v2/map 401']);
    expect((await stats(scope)).requests).toBe(0);
  });
});
