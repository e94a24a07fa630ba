/**
 * Firecrawl compatibility end to end: the official Firecrawl JS SDK
 * (@mendable/firecrawl-js, v2 client and its v1 client) pointed at fanout
 * under `wrangler dev` by its API URL, scraping the loopback test origin.
 * Batches run as fanout jobs through wrangler dev's local queue.
 */
import Firecrawl, { FirecrawlAppV1 } from '@mendable/firecrawl-js';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWranglerDev, type WranglerDev } from '../../bench/lib/wrangler.mjs';
import { fixtureUrl, newScope, originUrl, stats } from '../origin/client';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = `e2e-firecrawl-${crypto.randomUUID()}`;
/** 127.0.0.2's robots.txt asks for no Crawl-delay (127.0.0.1's asks for 1 s), so batches, which honour robots.txt, run at full speed there. */
const NO_DELAY_HOST = '127.0.0.2';
/** The first line of the fixture article's story. */
const STORY = 'Northbridge will dig up and replace all of the estimated 41,000 lead pipes';

let dev: WranglerDev;
let firecrawl: Firecrawl;
let v1: FirecrawlAppV1;

beforeAll(async () => {
  dev = await startWranglerDev({ root: ROOT, snapshot: false, vars: { ALLOW_PRIVATE_HOSTS: 'true', API_TOKEN: TOKEN }, startupTimeoutMs: 60_000 });
  firecrawl = new Firecrawl({ apiKey: TOKEN, apiUrl: dev.base });
  v1 = new FirecrawlAppV1({ apiKey: TOKEN, apiUrl: dev.base });
});

afterAll(async () => {
  await dev?.stop();
});

/** How many times the origin was asked for each route of the scope. */
async function hits(scope: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const entry of (await stats(scope)).log) counts[entry.route] = (counts[entry.route] ?? 0) + 1;
  return counts;
}

describe('Firecrawl JS SDK against fanout', () => {
  it('Should scrape an article with v2 scrape: its story as markdown, its title, status and source URL in metadata', async () => {
    const scope = newScope('fc-v2-scrape');
    const url = fixtureUrl(scope, 'content-news.html', 'text/html; charset=utf-8');
    const doc = await firecrawl.scrape(url, { formats: ['markdown'] });
    expect(doc.markdown).toContain(STORY);
    // Main content only (Firecrawl's default): the cookie banner is not in it.
    expect(doc.markdown).not.toContain('173 partners');
    expect(doc.metadata).toMatchObject({ title: expect.stringContaining('Northbridge to replace every lead water pipe by 2031'), statusCode: 200, sourceURL: url, url, language: 'en-GB' });
    expect(await hits(scope)).toEqual({ 'fixture/content-news.html?ct=text%2Fhtml%3B%20charset%3Dutf-8': 1 });
  });

  it('Should scrape with v1 scrapeUrl: markdown, html and links as URL strings', async () => {
    const scope = newScope('fc-v1-scrape');
    const url = fixtureUrl(scope, 'content-news.html', 'text/html; charset=utf-8');
    const doc = await v1.scrapeUrl(url, { formats: ['markdown', 'html', 'links'] });
    if (!doc.success) throw new Error(`scrapeUrl failed: ${doc.error}`);
    expect(doc.markdown).toContain(STORY);
    expect(doc.html).toContain('<p>Northbridge will dig up');
    expect(doc.links).toContain('https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fwww.northbridgechronicle.co.uk%2Fnews%2F2024%2Fmay%2F14');
    expect(doc.links!.every((link) => typeof link === 'string')).toBe(true);
    expect(doc.metadata).toMatchObject({ statusCode: 200, sourceURL: url });
  });

  it("Should answer a 404 page as a document whose metadata carries statusCode 404 and the error, as Firecrawl does", async () => {
    const scope = newScope('fc-404');
    const url = originUrl(scope, 'page?title=Gone&status=404');
    const doc = await firecrawl.scrape(url, { formats: ['markdown'] });
    expect(doc.metadata).toMatchObject({ statusCode: 404, title: 'Gone', sourceURL: url, error: expect.stringContaining('404') });
  });

  it("Should make the SDK throw fanout's own 401 message for a wrong key, before fetching anything", async () => {
    const scope = newScope('fc-401');
    const stranger = new Firecrawl({ apiKey: 'not-the-token', apiUrl: dev.base });
    await expect(stranger.scrape(originUrl(scope, 'page?title=Nope'))).rejects.toThrow(/Authorization: Bearer <token>/);
    expect((await stats(scope)).requests).toBe(0);
  });

  it('Should make the SDK throw an error naming the option for what fanout cannot do, before fetching anything', async () => {
    const scope = newScope('fc-refused');
    const url = originUrl(scope, 'page?title=Never');
    await expect(firecrawl.scrape(url, { formats: ['screenshot'] })).rejects.toThrow(/formats\[0\]: format "screenshot" is not supported/);
    await expect(firecrawl.scrape(url, { actions: [{ type: 'click', selector: '#more' }] })).rejects.toThrow(/^actions: /);
    await expect(firecrawl.scrape(url, { excludeTags: ['nav'] })).rejects.toThrow(/^excludeTags: /);
    await expect(firecrawl.scrape(url, { formats: ['markdown'], ['shinyNewOption' as string]: true })).rejects.toThrow(/shinyNewOption: unknown option/);
    await expect(v1.scrapeUrl(url, { formats: ['markdown'], waitFor: 2000 })).rejects.toThrow(/waitFor: /);
    const error: unknown = await firecrawl.scrape(url, { proxy: 'stealth' }).then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ status: 400, message: expect.stringMatching(/^proxy: /) });
    expect((await stats(scope)).requests).toBe(0);
  });

  it('Should run a v2 batchScrape as a job: one document per URL with its title, each URL fetched once', async () => {
    const scope = newScope('fc-v2-batch');
    const titles = ['One', 'Two', 'Three', 'Four'];
    const urls = titles.map((title) => originUrl(scope, `page?title=${title}`, NO_DELAY_HOST));
    const job = await firecrawl.batchScrape(urls, { options: { formats: ['markdown'] }, pollInterval: 1, timeout: 60 });
    expect(job.status).toBe('completed');
    expect(job.total).toBe(4);
    expect(job.completed).toBe(4);
    expect(job.data.map((doc) => doc.metadata?.title)).toEqual(titles);
    expect(job.data.map((doc) => doc.metadata?.sourceURL)).toEqual(urls);
    expect(job.data.every((doc) => typeof doc.markdown === 'string')).toBe(true);
    const counts = await hits(scope);
    expect(titles.map((title) => counts[`page?title=${title}`])).toEqual([1, 1, 1, 1]);
  });

  it('Should page a batch status by `next` and the SDK should follow it to every document', async () => {
    const scope = newScope('fc-pages');
    const urls = Array.from({ length: 5 }, (_, i) => originUrl(scope, `page?title=P${i}`, NO_DELAY_HOST));
    const { id } = await firecrawl.startBatchScrape(urls, { options: { formats: [] } });
    await expect.poll(async () => (await firecrawl.getBatchScrapeStatus(id, { autoPaginate: false })).status, { timeout: 30_000, interval: 250 }).toBe('completed');
    const res = await fetch(`${dev.base}/v2/batch/scrape/${id}?limit=2`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const first = (await res.json()) as { data: unknown[]; next?: string };
    expect(first.data).toHaveLength(2);
    expect(first.next).toBe(`${dev.base}/v2/batch/scrape/${id}?skip=2&limit=2`);
    const all = await firecrawl.getBatchScrapeStatus(id);
    expect(all.data.map((doc) => doc.metadata?.title)).toEqual(['P0', 'P1', 'P2', 'P3', 'P4']);
  });

  it('Should leave a URL robots.txt refuses out of a batch, list it as robotsBlocked, and never request it', async () => {
    const scope = newScope('fc-robots');
    const allowed = originUrl(scope, 'page?title=Allowed', NO_DELAY_HOST);
    const refused = originUrl(scope, 'robots/no-fanout', NO_DELAY_HOST);
    const job = await firecrawl.batchScrape([allowed, refused], { options: { formats: ['markdown'] }, pollInterval: 1, timeout: 60 });
    expect(job.completed).toBe(2);
    expect(job.data.map((doc) => doc.metadata?.sourceURL)).toEqual([allowed]);
    expect(await firecrawl.getBatchScrapeErrors(job.id)).toEqual({ errors: [], robotsBlocked: [refused] });
    expect(await hits(scope)).toEqual({ 'page?title=Allowed': 1 });
  });

  it('Should list invalid URLs as invalidURLs in v2 and leave them out of the job', async () => {
    const scope = newScope('fc-invalid');
    const good = originUrl(scope, 'page?title=Good', NO_DELAY_HOST);
    const started = await firecrawl.startBatchScrape([good, 'ftp://example.com/file'], { options: { formats: [] } });
    expect(started.invalidURLs).toEqual(['ftp://example.com/file']);
    expect(started.url).toBe(`${dev.base}/v2/batch/scrape/${started.id}`);
    await expect.poll(async () => (await firecrawl.getBatchScrapeStatus(started.id)).total, { timeout: 10_000 }).toBe(1);
  });

  it('Should run a v1 batchScrapeUrls, whose waiter polls /v1/crawl/:id, and v1 asyncBatchScrapeUrls with checkBatchScrapeStatus', async () => {
    const scope = newScope('fc-v1-batch');
    const urls = [originUrl(scope, 'page?title=Alpha', NO_DELAY_HOST), originUrl(scope, 'page?title=Beta', NO_DELAY_HOST)];
    const waited = await v1.batchScrapeUrls(urls, { formats: ['markdown'] }, 2);
    if (!waited.success) throw new Error(`batchScrapeUrls failed: ${waited.error}`);
    expect(waited.status).toBe('completed');
    expect(waited.data.map((doc) => doc.metadata?.title)).toEqual(['Alpha', 'Beta']);

    const started = await v1.asyncBatchScrapeUrls([originUrl(scope, 'page?title=Gamma', NO_DELAY_HOST)], { formats: ['markdown'] });
    if (!started.success) throw new Error(`asyncBatchScrapeUrls failed: ${started.error}`);
    await expect
      .poll(async () => {
        const status = await v1.checkBatchScrapeStatus(started.id, true);
        return status.success ? status.data.map((doc) => doc.metadata?.title) : status.error;
      }, { timeout: 30_000, interval: 250 })
      .toEqual(['Gamma']);
    expect(await hits(scope)).toEqual({ 'page?title=Alpha': 1, 'page?title=Beta': 1, 'page?title=Gamma': 1 });
  });

  it('Should refuse a v1 batch with an invalid URL by name, since v1 does not ignore invalid URLs by default', async () => {
    await expect(v1.asyncBatchScrapeUrls(['http://127.0.0.2/ok', 'not a url at all'], { formats: ['markdown'] })).rejects.toThrow(/urls\[1\]/);
  });
});
