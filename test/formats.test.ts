/**
 * The `formats` option through POST, GET, NDJSON and scale-out, against the
 * test origin: `links` and `jsonld` (test/fixtures/README.md gives the pages).
 * A format is never a cost unless asked for: the default result has none of
 * their fields.
 */
import { describe, expect, it } from 'vitest';
import type { PageResult } from '../src/result';
import { call, fanout, post } from './helpers/worker';
import { expectProblem } from './helpers/problem';
import { newScope, originUrl, stats } from './origin/client';

function fixtureUrl(scope: string, name: string): string {
  return originUrl(scope, `fixture/${name}?ct=${encodeURIComponent('text/html; charset=utf-8')}`);
}

describe('links', () => {
  it('Should list every <a href> as an absolute http(s) URL without its fragment, deduplicated, in page order, with text, rel and internal', async () => {
    const scope = newScope('links');
    const url = fixtureUrl(scope, 'links.html');
    const root = new URL(url).origin;
    const { results } = await fanout({ urls: [url], formats: ['links'] });
    expect(results[0]!.links).toEqual([
      { url: `${root}/`, text: 'Home', rel: null, internal: true },
      { url: `${root}/docs/guide.html`, text: 'Guide', rel: null, internal: true },
      { url: 'https://other.example/article?x=1', text: 'an outside article', rel: 'nofollow noopener', internal: false },
      { url: 'https://www.{host}/about', text: 'about page', rel: null, internal: false },
      { url: `${root}/icons`, text: 'Icon gallery', rel: null, internal: true },
      { url: `${root}/docs/`, text: 'Here', rel: null, internal: true },
      { url: `${root}/last`, text: 'The last link', rel: 'author', internal: true },
    ]);
    // The whole page was read for them: no early stop.
    expect(results[0]).toMatchObject({ truncated: false, bytes: (await stats(scope)).bytesSent });
  });

  it('Should count a www. link to the page\'s own host as internal', async () => {
    const scope = newScope('links-www');
    const url = fixtureUrl(scope, 'links.html');
    const { results } = await fanout({ urls: [url], formats: ['links'] });
    const host = new URL(url).host;
    // The fixture's {HOST} is literal; the rule itself: a link's host, less "www.", equals the page's.
    expect(results[0]!.links!.filter((l) => l.internal).every((l) => new URL(l.url).host.replace(/^www\./, '') === host)).toBe(true);
  });

  it('Should leave the default result without links, jsonld or jsonldSkipped', async () => {
    const scope = newScope('links-default');
    const { results } = await fanout({ urls: [fixtureUrl(scope, 'links.html')] });
    expect(Object.keys(results[0]!)).not.toEqual(expect.arrayContaining(['links']));
    expect('jsonld' in results[0]! || 'jsonldSkipped' in results[0]!).toBe(false);
    // And it stopped early as before.
    expect(results[0]!.truncated).toBe(true);
  });

  it('Should give no links for a body that is not HTML', async () => {
    const scope = newScope('links-json');
    const { results } = await fanout({ urls: [originUrl(scope, 'json')], formats: ['links', 'jsonld'] });
    expect(results[0]).toMatchObject({ ok: true });
    expect('links' in results[0]!).toBe(false);
  });
});

describe('jsonld', () => {
  it('Should give every JSON-LD block that parses and count the ones that do not', async () => {
    const scope = newScope('jsonld');
    const { results } = await fanout({ urls: [fixtureUrl(scope, 'article-jsonld.html')], formats: ['jsonld'] });
    expect(results[0]!.jsonldSkipped).toBe(1);
    expect(results[0]!.jsonld).toHaveLength(1);
    expect(results[0]!.jsonld![0]).toMatchObject({ '@context': 'https://schema.org', '@graph': expect.arrayContaining([expect.objectContaining({ '@type': 'NewsArticle' })]) });
  });

  it('Should find a block at the end of a long page', async () => {
    const scope = newScope('jsonld-late');
    const { results } = await fanout({ urls: [fixtureUrl(scope, 'links.html')], formats: ['jsonld'] });
    expect(results[0]).toMatchObject({ jsonld: [{ '@type': 'WebPage', name: 'Links page' }], jsonldSkipped: 0 });
  });
});

describe('formats through every way in', () => {
  it('Should take formats on GET, comma separated or repeated', async () => {
    const scope = newScope('formats-get');
    const page = encodeURIComponent(fixtureUrl(scope, 'article-jsonld.html'));
    for (const query of ['formats=links,jsonld', 'formats=links&formats=jsonld']) {
      const res = await call(`/v1/fetch?url=${page}&${query}`);
      expect(res.status).toBe(200);
      const { results } = await res.json<{ results: PageResult[] }>();
      // The article's body has no <a href>: the field is there, empty.
      expect(results[0]!.links).toEqual([]);
      expect(results[0]!.jsonldSkipped).toBe(1);
    }
  });

  it.each([
    [{ urls: ['http://a/'], formats: ['markdown'] }, 'formats[0]'],
    [{ urls: ['http://a/'], formats: 'links' }, 'formats'],
    [{ urls: ['http://a/'], formats: ['links', 'links'] }, 'formats'],
  ])('Should answer 400 for %j naming %s', async (body, field) => {
    await expectProblem(await post(body), 400, field);
  });

  it('Should stream the formats in NDJSON lines', async () => {
    const scope = newScope('formats-ndjson');
    const res = await post({ urls: [fixtureUrl(scope, 'links.html')], formats: ['links'] }, { headers: { accept: 'application/x-ndjson' } });
    const lines = (await res.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0].links.at(-1)).toMatchObject({ text: 'The last link' });
  });

  it('Should carry formats to scale-out shards', async () => {
    const scope = newScope('formats-shards');
    const urls = Array.from({ length: 12 }, (_, i) => `${fixtureUrl(scope, 'links.html')}&i=${i}`);
    const { results, stats: totals } = await fanout({ urls, concurrency: 12, formats: ['links'] });
    expect(totals.shards).toBe(2);
    expect(results.every((r) => r.links?.at(-1)?.text === 'The last link')).toBe(true);
  });
});
