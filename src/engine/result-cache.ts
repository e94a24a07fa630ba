import { toHex } from '../hex';
import type { PageResult } from '../result';
import type { FetchOptions } from './options';

/**
 * Per-URL results kept in the Workers Cache API (`maxAge`): a result younger
 * than `maxAge` is answered from the cache with no subrequest; one up to
 * twice as old is answered stale while a fresh one is fetched in the
 * background (`waitUntil`); a failure is kept for FAILURE_TTL_MS at most.
 * The key is the URL (without its fragment) and every option that changes a
 * result, hashed. The cache is per Cloudflare location, as the Cache API is.
 */

/** Longest a failed result is answered from the cache, whatever `maxAge` says. */
export const FAILURE_TTL_MS = 30_000;
/** Entries are kept in the cache this many times the longest `maxAge`, so stale answers have something to serve. */
const KEEP_FACTOR = 2;

/** What a result says of the cache, when the request has a `maxAge`. */
export interface CacheInfo {
  status: 'hit' | 'miss' | 'stale' | 'bypass';
  /** How old the answer is (hit, stale), else null. */
  ageMs: number | null;
}

/** The part of the Cache API fanout uses (`caches.default`, or a test's). */
export interface CacheStore {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
}

/** The options that change what a URL's result says: anything else (concurrency, timeouts, retries) does not. */
function keyOptions(options: FetchOptions) {
  return {
    maxBytes: options.maxBytes,
    maxRedirects: options.maxRedirects,
    snippetLength: options.snippetLength,
    selector: options.selector ?? null,
    query: options.query ?? null,
    provenance: options.provenance,
    formats: [...options.formats].sort(),
    onlyMainContent: options.onlyMainContent,
    maxContentChars: options.maxContentChars,
    respectRobots: options.respectRobots,
    userAgent: options.userAgent,
  };
}

export interface CachedEntry {
  result: PageResult;
  storedAt: number;
}

export class ResultCache {
  constructor(
    private readonly store: CacheStore,
    private readonly maxAgeLimitMs: number,
  ) {}

  /** The cache key of `url` under `options`: a URL the Cache API accepts, naming nothing of the page. */
  async key(url: URL, options: FetchOptions): Promise<string> {
    const href = url.href.replace(/#.*$/, '');
    const bytes = new TextEncoder().encode(JSON.stringify([href, keyOptions(options)]));
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return `https://fanout.cache/v1/${toHex(digest)}`;
  }

  /** The entry under `key`, or null (a cache that fails is a miss). */
  async get(key: string): Promise<CachedEntry | null> {
    try {
      const response = await this.store.match(key);
      if (!response) return null;
      return (await response.json()) as CachedEntry;
    } catch {
      return null;
    }
  }

  /** Keeps `result` under `key` (a cache that fails keeps nothing). */
  async put(key: string, result: PageResult, storedAt: number): Promise<void> {
    const keepSeconds = Math.max(1, Math.ceil((this.maxAgeLimitMs * KEEP_FACTOR) / 1000));
    const body = JSON.stringify({ result, storedAt } satisfies CachedEntry);
    try {
      await this.store.put(key, new Response(body, { headers: { 'content-type': 'application/json', 'cache-control': `public, max-age=${keepSeconds}` } }));
    } catch {
      // Nothing kept; the next request fetches.
    }
  }
}

/** How an entry of age `ageMs` answers a request with `maxAge`: fresh, stale (serve and refresh), or too old. */
export function freshness(entry: CachedEntry, ageMs: number, maxAge: number): 'fresh' | 'stale' | 'expired' {
  const failed = !entry.result.ok;
  const ttl = failed ? Math.min(maxAge, FAILURE_TTL_MS) : maxAge;
  if (ageMs <= ttl) return 'fresh';
  if (!failed && ageMs <= maxAge * KEEP_FACTOR) return 'stale';
  return 'expired';
}

/** Results worth keeping: not those the batch cut short (deadline, client gone). */
export function cacheable(result: PageResult): boolean {
  return result.error?.code !== 'deadline' && result.error?.code !== 'aborted';
}

/** The Worker's cache, when the runtime has one (bare workerd without a cache service has none). */
export function defaultStore(): CacheStore | null {
  try {
    return typeof caches !== 'undefined' ? caches.default : null;
  } catch {
    return null;
  }
}
