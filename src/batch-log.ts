import type { BatchResult } from './result';

/**
 * One structured line per batch, for Workers Logs: the client's name (never
 * its token), URL counts, failures by error code, duration, shards, and which
 * surface ran it (the API's /v1/fetch, MCP's tools, Firecrawl's scrape). No
 * URL and nothing a caller sent is logged.
 */
export function logBatch(client: string | null, { results, stats }: BatchResult, how: { ndjson?: boolean; via?: 'mcp' | 'firecrawl' } = {}): void {
  const errors: Record<string, number> = {};
  const cache: Record<string, number> = {};
  for (const result of results) {
    if (result.error) errors[result.error.code] = (errors[result.error.code] ?? 0) + 1;
    if (result.cache) cache[result.cache.status] = (cache[result.cache.status] ?? 0) + 1;
  }
  console.log(
    JSON.stringify({
      event: 'batch',
      client,
      urls: stats.total,
      ok: stats.ok,
      failed: stats.failed,
      errors,
      durationMs: stats.durationMs,
      shards: stats.shards,
      deadlineReached: stats.deadlineReached,
      cache,
      ndjson: how.ndjson ?? false,
      ...(how.via ? { via: how.via } : {}),
    }),
  );
}
