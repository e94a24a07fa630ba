import type { PageResult } from '../result';

/**
 * fanout's results in Firecrawl's shapes: a page that answered is a
 * Firecrawl document (its `metadata.statusCode` the page's status, 404
 * included, as Firecrawl reports it); a URL that got no answer at all
 * (timeout, network, robots.txt, a refused redirect) is a failure, which
 * POST /scrape answers as Firecrawl does and a batch lists at `/errors`.
 */

/** A Firecrawl document (`Document` in @mendable/firecrawl-js's v2 types, `FirecrawlDocument` in v1). */
export interface FirecrawlDocument {
  markdown?: string;
  html?: string;
  links?: string[];
  metadata: Record<string, string | number>;
}

/** True when the page answered with a status, so it is a document (a failure otherwise). */
export function answered(result: PageResult): boolean {
  return result.status !== null;
}

/** The Firecrawl metadata fields and the result fields they come from; empty fields are left out, as Firecrawl leaves them. */
function metadata(result: PageResult): FirecrawlDocument['metadata'] {
  const fields: Record<string, string | number | null | undefined> = {
    title: result.title,
    description: result.description,
    language: result.lang,
    ogImage: result.image,
    ogSiteName: result.siteName,
    favicon: result.icon,
    author: result.author,
    publishedTime: result.published,
    modifiedTime: result.modified,
    sourceURL: result.url,
    url: result.finalUrl ?? result.url,
    statusCode: result.status,
    contentType: result.contentType,
    proxyUsed: 'basic',
    cacheState: result.cache ? (result.cache.status === 'hit' || result.cache.status === 'stale' ? 'hit' : 'miss') : undefined,
    cachedAt: result.cache?.ageMs != null ? new Date(Date.now() - result.cache.ageMs).toISOString() : undefined,
    error: result.error?.message,
  };
  const out: FirecrawlDocument['metadata'] = {};
  for (const [key, value] of Object.entries(fields)) if (value !== null && value !== undefined) out[key] = value;
  return out;
}

/** A result as a Firecrawl document: the formats the result carries (an empty string for a page with no content), and its metadata. */
export function toDocument(result: PageResult): FirecrawlDocument {
  const document: FirecrawlDocument = { metadata: metadata(result) };
  if (result.markdown !== undefined) document.markdown = result.markdown ?? '';
  if (result.html !== undefined) document.html = result.html ?? '';
  if (result.links !== undefined) document.links = result.links.map((link) => link.url);
  return document;
}

/**
 * POST /scrape's answer for a URL that got no answer, as Firecrawl gives
 * it: 408 for a timeout (Firecrawl's SCRAPE_TIMEOUT), else 200 with
 * `success: false` (as Firecrawl answers a page it could not reach), so the
 * SDKs throw with `error`. `code` is fanout's `error.code`.
 */
export function scrapeFailure(result: PageResult): { status: 200 | 408; body: { success: false; code: string; error: string } } {
  const error = result.error ?? { code: 'network', message: 'no answer' };
  const timedOut = error.code === 'timeout' || error.code === 'deadline';
  return { status: timedOut ? 408 : 200, body: { success: false, code: timedOut ? 'SCRAPE_TIMEOUT' : error.code, error: `${result.url}: ${error.message} (${error.code})` } };
}
