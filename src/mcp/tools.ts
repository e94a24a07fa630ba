import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod/mini';
import type { $ZodType } from 'zod/v4/core';
import { engineFor, limitsFromEnv } from '../config';
import { logBatch } from '../batch-log';
import type { Env } from '../env';
import { perObject } from '../memo';
import type { BatchResult } from '../result';
import { MAX_URL_LENGTH, optionHelp, requestSchemaFor, type FetchRequest } from '../schema';
import { batchText, MAX_TEXT_CHARS, outcomeOf, pageMarkdown } from './text';

/**
 * fanout's fetch as MCP tools: `fetch_pages` (a batch, as POST /v1/fetch runs
 * it) and `read_page` (one URL's main content as Markdown). Their inputs are
 * the /v1/fetch request schema itself, so the limits and the messages are the
 * API's; the SDK validates the arguments with it before a tool runs and
 * answers a bad one as a tool error naming the field.
 */

/** What a tool needs from the HTTP request it runs in. */
export interface ToolContext {
  env: Env;
  /** The HTTP request's signal: aborts when the client goes away. */
  signal: AbortSignal;
  /** Keeps background work alive after the answer (a stale cache entry's refresh). */
  waitUntil: (promise: Promise<unknown>) => void;
  /** The API client's name (src/auth.ts), for the batch's log line. */
  client: string | null;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** `shape` with each member described; validation is untouched (`check` returns a copy with the description added). */
function described<Shape extends Record<string, $ZodType & { check(...checks: unknown[]): unknown }>>(shape: Shape, help: Record<keyof Shape, string>): Shape {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape)) out[name] = schema.check(z.describe(help[name]!));
  return out as Shape;
}

/** The options read_page takes besides its URL. */
const READ_OPTIONS = { onlyMainContent: true, maxContentChars: true, timeoutMs: true, maxAge: true, respectRobots: true } as const;

/** Both tools' input schemas for this deployment: the /v1/fetch schema's own members, described. */
const inputSchemasFor = perObject((env: Env) => {
  const fetchPages = z.strictObject(described(requestSchemaFor(env).def.shape, optionHelp(engineFor(env))));
  const url = z
    .string({ error: 'url must be a string' })
    .check(z.maxLength(MAX_URL_LENGTH, `a URL must be at most ${MAX_URL_LENGTH} characters`), z.describe('The http(s) URL of the page to read.'));
  return { fetchPages, readPage: z.strictObject({ url, ...z.pick(fetchPages, READ_OPTIONS).def.shape }) };
});

/** Runs a validated request as POST /v1/fetch does, cancelled when the client goes away; reports each result as progress when the client asked for progress. */
async function fetchBatch(context: ToolContext, request: FetchRequest, extra: Extra): Promise<BatchResult> {
  const { urls, ...rest } = request;
  const engine = engineFor(context.env);
  const progressToken = extra._meta?.progressToken;
  let done = 0;
  const batch = await engine.run(urls, engine.options(rest), {
    signal: AbortSignal.any([context.signal, extra.signal]),
    waitUntil: context.waitUntil,
    onResult:
      progressToken === undefined
        ? undefined
        : (index, result) =>
            void extra
              .sendNotification({ method: 'notifications/progress', params: { progressToken, progress: ++done, total: urls.length, message: `[${index}] ${outcomeOf(result)}` } })
              .catch(() => undefined), // a client that went away is noticed by the signal
  });
  logBatch(context.client, batch, { via: 'mcp' });
  return batch;
}

/** A tool error: the model reads `text` and may try again. */
const toolError = (text: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text }] });

/**
 * Registers fetch_pages and read_page on a server made for one HTTP request.
 * A JSON-RPC batch may hold many calls; only one runs per HTTP request, so
 * a request cannot fetch more than MAX_URLS URLs, as on POST /v1/fetch.
 */
export function registerTools(server: McpServer, context: ToolContext): void {
  const schemas = inputSchemasFor(context.env);
  const { maxUrls } = limitsFromEnv(context.env);
  let calls = 0;
  const oneCall = () => ++calls === 1;
  const annotations = { readOnlyHint: true, openWorldHint: true };

  server.registerTool(
    'fetch_pages',
    {
      title: 'Fetch pages',
      description:
        `Fetches up to ${maxUrls} URLs at once and reports, per URL in input order: status or error code, title, snippet, ` +
        'and the content formats asked for (formats: ["markdown"] for the main content). ' +
        `The text answer holds at most ${MAX_TEXT_CHARS} characters in all; structuredContent has every result in full, as POST /v1/fetch answers.`,
      inputSchema: schemas.fetchPages,
      annotations,
    },
    async (request, extra) => {
      if (!oneCall()) return toolError('one tools/call per HTTP request: send each call in its own request');
      const batch = await fetchBatch(context, request, extra);
      return { content: [{ type: 'text', text: batchText(batch) }], structuredContent: { ...batch } };
    },
  );

  server.registerTool(
    'read_page',
    {
      title: 'Read a page',
      description: "Fetches one URL and returns its main content as Markdown, with its title and final URL first. A failure is a tool error with fanout's error code.",
      inputSchema: schemas.readPage,
      annotations,
    },
    async ({ url, ...options }, extra) => {
      if (!oneCall()) return toolError('one tools/call per HTTP request: send each call in its own request');
      const { results } = await fetchBatch(context, { urls: [url], formats: ['markdown'], ...options }, extra);
      const result = results[0]!;
      if (result.error) return toolError(`${outcomeOf(result)}: ${result.error.message}`);
      return { content: [{ type: 'text', text: pageMarkdown(result) }] };
    },
  );
}
