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
import { extract } from '../src/extract';
import type { PageFields, PageResult } from '../src/result';
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

/** Runs `html` through the real extraction (workerd's HTMLRewriter), as a body from https://news.example/story. */
async function metadataOf(html: string): Promise<PageFields> {
  const bytes = new TextEncoder().encode(html);
  let done = false;
  const source = { read: async () => (done ? null : ((done = true), bytes)) };
  return (await extract(source, 'text/html; charset=utf-8', { snippetLength: 300, provenance: true, pageUrl: 'https://news.example/story' })).fields;
}

const article = (head: string, body = '') => `<!doctype html><html><head>${head}</head><body><article><h1>Ferry fares to rise in May</h1>${body}<p>The operator said on Monday that fares on every route would rise, citing fuel and staff costs, and that season tickets would follow.</p></article></body></html>`;

describe('bylines in the body', () => {
  it.each([
    ['an itemprop with several tokens', '<p itemprop="author creator" itemscope>By <a href="/p/k"><span itemprop="name">Corey Kilgannon</span></a></p>', 'Corey Kilgannon', 'itemprop:author'],
    ['a class naming a byline, "By" dropped', '<span class="pb-byline">By <a href="/people/erin">Erin Cunningham</a></span>', 'Erin Cunningham', '.byline'],
    ['a French byline', '<div class="article__author">Par Sébastien Farcis</div>', 'Sébastien Farcis', '.byline'],
    ['a byline with its date', '<div class="FeatureByline">By Nathan Willis<br>March 25, 2015</div>', 'Nathan Willis', '.byline'],
    ['a byline with an editor', '<p class="byline author">Written by Rob Ewaschuk<br>Edited by Betsy Beyer</p>', 'Rob Ewaschuk', '.byline'],
  ])('Should read %s', async (_, byline, author, from) => {
    const fields = await metadataOf(article('<title>Ferry fares to rise in May</title><meta property="og:type" content="article">', byline));
    expect(fields.author).toBe(author);
    expect(fields.sources?.author?.from).toBe(from);
  });

  it('Should prefer an <a rel="author"> inside a byline block to the block\'s text', async () => {
    const fields = await metadataOf(article('<title>Fares</title><meta property="og:type" content="article">', '<div class="byline">Words: <a rel="author" href="/a/jd">Jane Doe</a>, 3 May</div>'));
    expect(fields).toMatchObject({ author: 'Jane Doe', sources: { author: { from: 'a[rel=author]' } } });
  });

  it('Should not take an author box or a comment count for a byline', async () => {
    const bio = `<div class="author-bio">Jane Doe has covered the harbour for twenty years and writes about ferries, tides and the people who work on the water every day.</div>`;
    const fields = await metadataOf(article('<title>Fares</title><meta property="og:type" content="article">', `${bio}<span class="byline-comments">12 comments</span>`));
    expect(fields.author).toBeNull();
  });
});

describe('metadata rules for what pages get wrong', () => {
  it('Should join repeated author metas and read every key of a space-separated property', async () => {
    const fields = await metadataOf(article('<title>Fares</title><meta name="DC.Creator" content="Jane Doe"><meta name="DC.Creator" content="Omar Ali"><meta property="dc:description og:description" content="Fares rise in May on every route.">'));
    expect(fields).toMatchObject({ author: 'Jane Doe, Omar Ali', description: 'Fares rise in May on every route.' });
  });

  it.each([
    ['a site name behind an unusual separator', '<title>Ferry fares to rise in May ✩ Harbour Times – the island paper</title><meta property="og:title" content="Ferry fares to rise in May"><meta property="og:site_name" content="Harbour Times – the island paper">', 'Ferry fares to rise in May'],
    ['a title that repeats itself before the site', '<title>Fares - Ferry fares to rise - Fares - Ferry fares to rise - Harbour Times</title><meta property="og:title" content="Fares - Ferry fares to rise"><meta property="og:site_name" content="Harbour Times">', 'Fares - Ferry fares to rise'],
    ['a title that is only the site name', '<title>Harbour Times</title><meta property="og:title" content="Ferry fares to rise in May"><meta property="og:site_name" content="Harbour Times">', 'Ferry fares to rise in May'],
    ['a site name loosely written', '<title>Ferry fares to rise in May - HARBOUR-TIMES.com</title><meta property="og:site_name" content="Harbour Times.com">', 'Ferry fares to rise in May'],
    ['a logo h1 (not a headline) behind the title', '<title>Outside the web: standalone binaries · V8</title>', 'Outside the web: standalone binaries · V8'],
  ])('Should clean %s', async (_, head, title) => {
    const html = head.includes('V8') ? `<!doctype html><html><head>${head}</head><body><header><h1><a href="/">V8</a></h1></header><p>Text of the page, long enough to be a paragraph of prose for the snippet.</p></body></html>` : article(head);
    expect((await metadataOf(html)).title).toBe(title);
  });

  it('Should complete a meta description cut short from og:description, and say so', async () => {
    const fields = await metadataOf(article('<title>Fares</title><meta name="description" content="The operator says fares on every route will ri"><meta property="og:description" content="The operator says fares on every route will rise in May.">'));
    expect(fields).toMatchObject({ description: 'The operator says fares on every route will rise in May.', sources: { description: { from: 'og:description' } } });
  });

  it('Should take the earlier publication date when JSON-LD names an earlier day than article:published_time', async () => {
    const jsonLd = '<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle","headline":"Fares","datePublished":"2015-10-15T08:00:00Z"}</script>';
    const fields = await metadataOf(article(`<title>Fares</title><meta property="article:published_time" content="2015-12-11T10:00:00Z">${jsonLd}`));
    expect(fields).toMatchObject({ published: '2015-10-15T08:00:00.000Z', sources: { published: { from: 'json-ld:datePublished' } } });
    const same = await metadataOf(article(`<title>Fares</title><meta property="article:published_time" content="2015-10-15T10:00:00Z">${jsonLd}`));
    expect(same).toMatchObject({ published: '2015-10-15T10:00:00.000Z', sources: { published: { from: 'article:published_time' } } });
  });
});
