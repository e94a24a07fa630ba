import { Hono } from 'hono';
import { methodNotAllowed, type AppEnv } from '../http';

/**
 * POST /mcp: the Model Context Protocol over Streamable HTTP, stateless
 * (./server.ts), with fanout's fetch as tools (./tools.ts). Auth is the
 * API's: src/auth.ts runs before this.
 */

/**
 * The SDK, loaded by the first MCP request: evaluating it (its protocol
 * schemas are built with classic zod at import) doubled every isolate's
 * start-up CPU time, measured with `wrangler check startup` (about 20 ms to
 * 40 ms), also in isolates that never serve /mcp. esbuild keeps a module
 * reached only by `import()` in the bundle but runs it on first use.
 */
const loadServer = () => import('./server');

/** The MCP endpoint. GET (a standing SSE stream) and DELETE (ending a session) mean nothing without sessions: 405. */
export const mcpRoutes = new Hono<AppEnv>()
  .post('/mcp', async (c) => {
    const { answerMcp } = await loadServer();
    return answerMcp(c.req.raw, {
      env: c.env,
      client: c.get('client'),
      signal: c.req.raw.signal,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    });
  })
  .all('/mcp', methodNotAllowed(['POST']));
