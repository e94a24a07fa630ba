import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { VERSION } from '../engine/options';
import { MAX_REQUEST_BYTES } from '../http';
import { registerTools, type ToolContext } from './tools';

/**
 * One MCP request, stateless: a server and a transport made for it alone
 * (nothing outlives a request, as on Workers it cannot), no session id, and
 * an SSE answer: progress notifications as URLs finish, then the result.
 */

/**
 * An SSE comment goes out this often while a call runs: workerd notices a
 * client that went away only when it writes (cloudflare/workerd#4185, as for
 * HEARTBEAT_MS in src/app.ts), and then aborts the request's signal, which
 * cancels the batch. It also keeps idle-timing proxies from cutting the stream.
 */
const KEEPALIVE_MS = 1000;

/**
 * The SDK's server validates JSON Schemas only for elicitation answers, and
 * fanout never elicits. Its default validator is Ajv: an instance is built
 * for every server, and compiling a schema generates code with `new Function`,
 * which workerd refuses (EvalError: Code generation from strings disallowed).
 */
const noJsonSchemas: jsonSchemaValidator = {
  getValidator: () => () => ({ valid: false, data: undefined, errorMessage: 'fanout validates no JSON Schemas: it sends no elicitation requests' }),
};

const INSTRUCTIONS =
  'fanout fetches web pages from the edge. fetch_pages takes many URLs and answers one result per URL, in order ' +
  '(status or error code, title, snippet, and Markdown with formats: ["markdown"]); read_page returns one page as Markdown.';

/** Answers one POST /mcp (JSON-RPC message or batch) with fanout's tools. */
export async function answerMcp(request: Request, context: ToolContext): Promise<Response> {
  const server = new McpServer({ name: 'fanout', version: VERSION }, { instructions: INSTRUCTIONS, jsonSchemaValidator: noJsonSchemas });
  registerTools(server, context);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, keepAliveMs: KEEPALIVE_MS, maxRequestBodySize: MAX_REQUEST_BYTES });
  await server.connect(transport);
  return transport.handleRequest(request);
}
