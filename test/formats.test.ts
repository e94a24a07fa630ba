/**
 * The `formats` option through POST, GET, NDJSON and scale-out, against the
 * test origin: `links` and `jsonld` (test/fixtures/README.md gives the pages).
 * A format is never a cost unless asked for: the default result has none of
 * their fields.
 */
import { describe, expect, it } from 'vitest';
import { feedFromJson, feedFromXml } from '../src/extract/feed';
import { siteOf } from '../src/extract/links';
import { parseXml } from '../src/extract/xml';
import type { PageResult } from '../src/result';
import { call, fanout, post } from './helpers/worker';
import { expectProblem } from './helpers/problem';
import { fixtureUrl, newScope, originUrl, stats } from './origin/client';

const HTML = 'text/html; charset=utf-8';

describe('links', () => {
  it('Should list every <a href> as an absolute http(s) URL without its fragment, deduplicated, in page order, with text, rel and internal', async () => {
    const scope = newScope('links');
    const url = fixtureUrl(scope, 'links.html', HTML);
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

  // The origin is reached by IP address, so no fixture can link to its own host with "www." in front: the rule on its own.
  it.each([
    ['https://www.example.com/a', 'https://example.com/b', true],
    ['https://example.com/a', 'https://www.example.com/b', true],
    ['https://example.com:8443/a', 'https://example.com/b', false],
    ['https://blog.example.com/a', 'https://example.com/b', false],
  ])('Should count %s as on the site of %s: %s', (link, page, internal) => {
    expect(siteOf(link) === siteOf(page)).toBe(internal);
  });

  it('Should leave the default result without links, jsonld or jsonldSkipped', async () => {
    const scope = newScope('links-default');
    const { results } = await fanout({ urls: [fixtureUrl(scope, 'links.html', HTML)] });
    expect(['links', 'jsonld', 'jsonldSkipped', 'feed'].filter((field) => field in results[0]!)).toEqual([]);
    // And it stopped early as before.
    expect(results[0]!.truncated).toBe(true);
  });

  it('Should give empty format fields for a body that is not HTML, text or binary alike', async () => {
    const scope = newScope('links-json');
    const urls = [originUrl(scope, 'json'), originUrl(scope, 'text'), originUrl(scope, 'binary?kb=64')];
    const { results } = await fanout({ urls, formats: ['links', 'jsonld', 'feed'] });
    for (const result of results) expect(result).toMatchObject({ ok: true, links: [], jsonld: [], jsonldSkipped: 0, feed: null });
  });
});

describe('jsonld', () => {
  it('Should give every JSON-LD block that parses and count the ones that do not', async () => {
    const scope = newScope('jsonld');
    const { results } = await fanout({ urls: [fixtureUrl(scope, 'article-jsonld.html', HTML)], formats: ['jsonld'] });
    expect(results[0]!.jsonldSkipped).toBe(1);
    expect(results[0]!.jsonld).toHaveLength(1);
    expect(results[0]!.jsonld![0]).toMatchObject({ '@context': 'https://schema.org', '@graph': expect.arrayContaining([expect.objectContaining({ '@type': 'NewsArticle' })]) });
  });

  it('Should find a block at the end of a long page', async () => {
    const scope = newScope('jsonld-late');
    const { results } = await fanout({ urls: [fixtureUrl(scope, 'links.html', HTML)], formats: ['jsonld'] });
    expect(results[0]).toMatchObject({ jsonld: [{ '@type': 'WebPage', name: 'Links page' }], jsonldSkipped: 0 });
  });
});

describe('feed', () => {
  it('Should read RSS 2.0: CDATA, escaped HTML, relative links, guids, RSS authors, dates as ISO 8601', async () => {
    const scope = newScope('feed-rss');
    const url = fixtureUrl(scope, 'rss2.xml', 'application/rss+xml; charset=utf-8');
    const { results } = await fanout({ urls: [url], formats: ['feed'] });
    expect(results[0]!.feed).toEqual({
      format: 'rss',
      title: 'Harbour Times & News',
      link: 'https://news.example/',
      description: 'The latest from the harbour',
      updated: '2024-03-05T10:00:00.000Z',
      items: [
        {
          id: 'tag:news.example,2024:1',
          title: 'Council backs harbour plan',
          link: `${new URL(url).origin}/2024/03/council-backs-plan`,
          published: '2024-03-05T09:30:00.000Z',
          updated: null,
          author: 'Jane Doe',
          summary: 'The council voted 7-4 for the plan.',
        },
        {
          id: 'https://news.example/2024/03/ferries',
          title: 'Ferries & tides: a <guide>',
          link: 'https://news.example/2024/03/ferries',
          published: null,
          updated: null,
          author: 'Sam Lee',
          summary: 'Everything about ferries.',
        },
      ],
    });
  });

  it('Should read RSS 1.0 (RDF), whose items sit beside the channel', async () => {
    const scope = newScope('feed-rdf');
    const { results } = await fanout({ urls: [fixtureUrl(scope, 'rdf.xml', 'application/rdf+xml')], formats: ['feed'] });
    expect(results[0]!.feed).toMatchObject({
      format: 'rdf',
      title: 'Old School Feed',
      updated: '2024-01-02T03:04:05.000Z',
      items: [{ id: 'https://old.example/one', title: 'First', link: 'https://old.example/one', published: '2024-01-01', author: 'A. Author' }],
    });
  });

  it('Should read Atom: the alternate link, several authors, HTML and XHTML summaries', async () => {
    const scope = newScope('feed-atom');
    const url = fixtureUrl(scope, 'atom.xml', 'application/atom+xml');
    const { results } = await fanout({ urls: [url], formats: ['feed'] });
    expect(results[0]!.feed).toEqual({
      format: 'atom',
      title: 'Atom Example',
      link: 'https://atom.example/',
      description: 'Entries in Atom',
      updated: '2024-03-05T10:00:00.000Z',
      items: [
        { id: 'urn:uuid:1', title: 'An entry', link: `${new URL(url).origin}/entries/1`, published: '2024-03-04T08:00:00.000Z', updated: '2024-03-05T08:00:00.000Z', author: 'Kim Park, Lee Chan', summary: 'A short summary.' },
        { id: 'urn:uuid:2', title: 'XHTML content', link: 'https://atom.example/entries/2', published: null, updated: null, author: null, summary: 'Rich content.' },
      ],
    });
  });

  it('Should read JSON Feed', async () => {
    const scope = newScope('feed-json');
    const url = fixtureUrl(scope, 'feed.json', 'application/feed+json');
    const { results } = await fanout({ urls: [url], formats: ['feed'] });
    expect(results[0]!.feed).toEqual({
      format: 'json',
      title: 'JSON Feed Example',
      link: 'https://json.example/',
      description: 'A JSON Feed.',
      updated: null,
      items: [
        { id: '1', title: 'Hello', link: `${new URL(url).origin}/posts/1`, published: '2024-02-01T15:00:00.000Z', updated: null, author: 'Pat', summary: 'Hello world' },
        { id: '2', title: null, link: null, published: null, updated: '2024-02-02', author: null, summary: 'Untitled note.' },
      ],
    });
  });

  it('Should read a broken feed as far as it goes, and give an HTML page feed null', async () => {
    const scope = newScope('feed-broken');
    const { results } = await fanout({ urls: [fixtureUrl(scope, 'broken-feed.xml', 'application/xml'), fixtureUrl(scope, 'article-jsonld.html', HTML)], formats: ['feed'] });
    expect(results[0]).toMatchObject({ ok: true, feed: { format: 'rss', title: 'Broken & feed' } });
    expect(results[0]!.feed!.items.map((item) => item.title)).toEqual(['Unclosed item']);
    expect(results[1]).toMatchObject({ ok: true, feed: null });
  });
});

describe('the feed reader on hostile input', () => {
  it('Should keep at most 64 levels of 100,000 nested elements and still read the feed around them', () => {
    const deep = `<rss><channel><title>Deep</title><item><title>One</title>${'<x>'.repeat(100_000)}</item></channel></rss>`;
    const feed = feedFromXml(deep, 'https://deep.example/');
    expect(feed).toMatchObject({ title: 'Deep', items: [{ title: 'One' }] });
    let depth = 0;
    for (let node = parseXml(deep); node.children.length > 0; node = node.children[0]!) depth++;
    expect(depth).toBeLessThanOrEqual(64);
  });

  it('Should read a 5 MB single line and a 5 MB attribute without failing', () => {
    const line = `<rss><channel><title>${'a'.repeat(5_000_000)}</title><item><title x="${'b'.repeat(5_000_000)}">Item</title></item></channel></rss>`;
    const feed = feedFromXml(line, 'https://line.example/');
    expect(feed!.items).toHaveLength(1);
    expect(feed!.title!.length).toBeLessThanOrEqual(2000);
  });

  it.each(['', 'not xml at all', '<html><body>a page</body></html>', '<<<>>>&&&', '<rss'])('Should give null, not an error, for %j', (text) => {
    expect(() => feedFromXml(text, 'https://x.example/')).not.toThrow();
    expect(feedFromXml(text, 'https://x.example/')?.items ?? []).toEqual([]);
  });

  it.each(['{', '[]', '{"version": "1"}', '{"version": "https://jsonfeed.org/version/1", "items": "no"}'])('Should give a JSON Feed without items, or null, for %s', (text) => {
    const feed = feedFromJson(text, 'https://x.example/');
    expect(feed === null || feed.items.length === 0).toBe(true);
  });
});

describe('formats through every way in', () => {
  it('Should take formats on GET, comma separated or repeated', async () => {
    const scope = newScope('formats-get');
    const page = encodeURIComponent(fixtureUrl(scope, 'article-jsonld.html', HTML));
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
    [{ urls: ['http://a/'], formats: ['pdf'] }, 'formats[0]'],
    [{ urls: ['http://a/'], formats: 'links' }, 'formats'],
    [{ urls: ['http://a/'], formats: ['links', 'links'] }, 'formats'],
  ])('Should answer 400 for %j naming %s', async (body, field) => {
    await expectProblem(await post(body), 400, field);
  });

  it('Should stream the formats in NDJSON lines', async () => {
    const scope = newScope('formats-ndjson');
    const res = await post({ urls: [fixtureUrl(scope, 'links.html', HTML)], formats: ['links'] }, { headers: { accept: 'application/x-ndjson' } });
    const lines = (await res.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0].links.at(-1)).toMatchObject({ text: 'The last link' });
  });

  it('Should carry formats to scale-out shards', async () => {
    const scope = newScope('formats-shards');
    const urls = Array.from({ length: 12 }, (_, i) => `${fixtureUrl(scope, 'links.html', HTML)}&i=${i}`);
    const { results, stats: totals } = await fanout({ urls, concurrency: 12, formats: ['links'] });
    expect(totals.shards).toBe(2);
    expect(results.every((r) => r.links?.at(-1)?.text === 'The last link')).toBe(true);
  });
});
