/**
 * Metadata a link preview needs, through POST and GET /v1/fetch against the
 * test origin's fixtures (test/fixtures/README.md gives the expected values):
 * found wherever a browser's parser finds it, with fallbacks in the README's
 * order, and the source of each with `provenance`. The date and JSON-LD
 * readers are checked on their own too.
 */
import { describe, expect, it } from 'vitest';
import { isoDate } from '../src/extract/dates';
import { jsonLdFacts, parseJsonLd } from '../src/extract/jsonld';
import type { PageResult } from '../src/result';
import { call, fetchOne } from './helpers/worker';
import { fixtureUrl, newScope, originUrl, stats } from './origin/client';

const HTML = 'text/html; charset=utf-8';

describe('metadata after an implicit head close', () => {
  it('Should read title, metas and links that come after a <div> that closed the head, though the snippet filled first', async () => {
    const scope = newScope('late-head');
    const url = fixtureUrl(scope, 'late-head.html', HTML);
    const root = new URL(url).origin;
    const page = await fetchOne(url);
    expect(page).toMatchObject({
      title: 'Late head page',
      description: 'Metadata that sits after an implicit head close.',
      siteName: 'The Late Gazette',
      lang: 'en-GB',
      image: `${root}/images/late.jpg`,
      canonical: `${root}/late-head`,
      icon: `${root}/late.ico`,
    });
    expect(page.snippet).toMatch(/^Saved from a browser/);
  });
});

describe('metadata from Open Graph, links and JSON-LD', () => {
  it('Should resolve every field in the documented order', async () => {
    const scope = newScope('article-jsonld');
    const url = fixtureUrl(scope, 'article-jsonld.html', HTML);
    const root = new URL(url).origin;
    const page = await fetchOne(url);
    expect(page).toMatchObject({
      title: 'Council backs harbour plan',
      description: 'The council voted 7-4 for the revised harbour plan.',
      author: 'Jane Doe, Omar Ali',
      published: '2024-03-05T08:30:00.000Z',
      modified: '2024-03-06',
      image: 'https://news.example/images/harbour.jpg',
      siteName: 'The Harbour Times',
      lang: 'en-GB',
      canonical: 'https://news.example/2024/03/council-backs-plan',
      type: 'article',
      icon: `${root}/icons/192.png`,
    });
    expect(page.feeds).toEqual([
      { url: `${root}/feed.xml`, type: 'application/rss+xml', title: 'Harbour Times RSS' },
      { url: 'https://news.example/atom.xml', type: 'application/atom+xml', title: null },
    ]);
    expect(page.sources).toBeUndefined();
  });

  it('Should name the source of each field and every candidate with `provenance`', async () => {
    const scope = newScope('provenance');
    const page = await fetchOne(fixtureUrl(scope, 'article-jsonld.html', HTML), { provenance: true });
    expect(page.sources!.title).toEqual({
      from: '<title>',
      candidates: [
        { from: '<title>', value: 'Council backs harbour plan | The Harbour Times' },
        { from: 'json-ld:headline', value: 'Council backs harbour plan after long debate' },
        { from: 'h1', value: 'Council backs harbour plan' },
      ],
    });
    expect(page.sources!.author).toEqual({ from: 'json-ld:author', candidates: [{ from: 'json-ld:author', value: 'Jane Doe, Omar Ali' }] });
    expect(page.sources!.siteName!.candidates.map((c) => [c.from, c.value])).toEqual([
      ['og:site_name', 'The Harbour Times'],
      ['json-ld:publisher', 'Harbour Times Ltd'],
      ['json-ld:website', 'Harbour Times Online'],
      ['twitter:site', 'harbourtimes'],
    ]);
    expect(page.sources!.image!.from).toBe('json-ld:image');
    expect(page.sources!.image!.candidates.map((c) => c.from)).toEqual(['json-ld:image', 'link[rel=image_src]']);
    expect(page.sources!.published).toMatchObject({ from: 'json-ld:datePublished' });
    expect(page.sources!.lang).toMatchObject({ from: 'og:locale' });
  });

  it('Should take `provenance=true` on GET as on POST', async () => {
    const scope = newScope('provenance-get');
    const res = await call(`/v1/fetch?url=${encodeURIComponent(fixtureUrl(scope, 'article-jsonld.html', HTML))}&provenance=true`);
    expect(res.status).toBe(200);
    const { results } = await res.json<{ results: PageResult[] }>();
    expect(results[0]!.sources!.title!.from).toBe('<title>');
  });
});

describe('metadata found in the content', () => {
  it('Should take author and date from the byline and the description from the first prose paragraph, past nav, cookie banner and aside', async () => {
    const scope = newScope('byline');
    const page = await fetchOne(fixtureUrl(scope, 'byline-body.html', HTML), { provenance: true });
    expect(page).toMatchObject({ author: 'Sam Lee', published: '2024-02-28T07:15:00.000Z', title: 'Ferry timetable changes' });
    expect(page.description).toMatch(/^The island ferry will run every forty minutes from Monday/);
    expect(page.sources!.author!.from).toBe('a[rel=author]');
    expect(page.sources!.published!.from).toBe('<time>');
    expect(page.sources!.description!.from).toBe('p');
  });

  it('Should take the title from the first h1 when nothing else names the page, and fall back to /favicon.ico', async () => {
    const scope = newScope('h1-only');
    const url = fixtureUrl(scope, 'h1-only.html', HTML);
    const page = await fetchOne(url);
    expect(page).toMatchObject({ title: 'Only an h1 names this page', icon: `${new URL(url).origin}/favicon.ico` });
    // The icon is named, not fetched: the origin saw the page only.
    expect((await stats(scope)).requests).toBe(1);
  });

  it('Should stop looking for an article\'s missing date three paragraphs after its h1', async () => {
    const scope = newScope('no-date');
    const page = await fetchOne(fixtureUrl(scope, 'article-no-date.html', HTML), { maxBytes: 1_000_000 });
    expect(page).toMatchObject({ author: 'Kim Park', published: null, truncated: true });
    // Three ~1 KB paragraphs past the head, the parser's 4 KiB slice and the 16 KiB look for the end:
    // far short of the 48 KiB budget, and of the 200 KB page.
    expect(page.bytes).toBeLessThan(40 * 1024);
  });

  it('Should stop early on a page whose head has everything, as before', async () => {
    const scope = newScope('early-meta');
    const page = await fetchOne(originUrl(scope, 'page?size=200000'), { maxBytes: 262_144 });
    expect(page).toMatchObject({ title: 'Test page', truncated: true });
    expect(page.bytes).toBeLessThan(64 * 1024);
  });
});

describe('isoDate', () => {
  it.each([
    ['2024-03-05', '2024-03-05'],
    ['2024-03-05T09:30:00Z', '2024-03-05T09:30:00.000Z'],
    ['2024-03-05T09:30:00+01:00', '2024-03-05T08:30:00.000Z'],
    ['2024-03-05 09:30', '2024-03-05T09:30:00.000Z'],
    ['2024-03-05T09:30:00.123456-0500', '2024-03-05T14:30:00.123Z'],
    ['20240305', '2024-03-05'],
    ['Tue, 05 Mar 2024 09:30:00 GMT', '2024-03-05T09:30:00.000Z'],
    ['March 5, 2024', '2024-03-05T00:00:00.000Z'],
  ])('Should read %s as %s', (raw, iso) => {
    expect(isoDate(raw)).toBe(iso);
  });

  it.each(['yesterday', '12345', '2024-02-30', '2024-13-01', '1899-01-01', '5000-01-01', '', 'by Jane on a Tuesday'])('Should refuse %j', (raw) => {
    expect(isoDate(raw)).toBeNull();
  });
});

describe('JSON-LD', () => {
  it('Should skip and count blocks that do not parse, and read CDATA-wrapped ones', () => {
    const { values, failed } = parseJsonLd(['{ nope', '<![CDATA[{"@type": "Article", "headline": "Wrapped"}]]>', '']);
    expect(failed).toBe(1);
    expect(jsonLdFacts(values)).toMatchObject({ type: 'Article', headline: 'Wrapped' });
  });

  it('Should pick the article in a @graph over the WebPage and WebSite, following @id references', () => {
    const facts = jsonLdFacts([
      {
        '@graph': [
          { '@type': 'WebPage', name: 'Page name', description: 'Page description' },
          { '@type': 'WebSite', name: 'Site name' },
          { '@type': ['Person'], '@id': '#a', name: 'A. Writer' },
          { '@type': 'BlogPosting', headline: 'The post', author: { '@id': '#a' }, image: ['https://x.example/1.png'], datePublished: '2024-01-02' },
        ],
      },
    ]);
    expect(facts).toMatchObject({ type: 'BlogPosting', headline: 'The post', author: 'A. Writer', image: 'https://x.example/1.png', website: 'Site name', datePublished: '2024-01-02' });
  });

  it('Should ignore facts of the wrong shape rather than fail', () => {
    expect(jsonLdFacts([{ '@type': 'Article', headline: { nested: true }, author: 42, image: null }, 'a string', null])).toMatchObject({
      type: 'Article',
      headline: null,
      author: '42',
      image: null,
    });
  });
});
