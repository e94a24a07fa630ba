/**
 * The content formats (markdown, text, html): the page's main content, found
 * by src/extract/main-content.ts on the tree of src/extract/tree.ts and
 * written by src/extract/render.ts. Pages given inline run through the real
 * extraction in workerd (`extract`, chunked as a network body would be); the
 * fixtures (test/fixtures/README.md, "Main content") go through the Worker
 * against the test origin, POST, GET, NDJSON, scale-out and watch lists.
 */
import { describe, expect, it } from 'vitest';
import { corpusF1, pageF1 } from '../bench/lib/f1.mjs';
import { extract } from '../src/extract';
import { MAX_TREE_DEPTH, TreeBuilder } from '../src/extract/tree';
import { chunkByBytes, MAX_STORED_RESULT_BYTES } from '../src/watch/store';
import type { Format, PageFields, PageResult } from '../src/result';
import { expectProblem } from './helpers/problem';
import { call, fanout, latest, post, watchHarness } from './helpers/worker';
import { fixtureUrl, newScope, originUrl, stats } from './origin/client';

const HTML = 'text/html; charset=utf-8';

/** The hand-written ground truth of each fixture, by file name (test/fixtures/content-truth/). */
const TRUTH: Record<string, string> = import.meta.glob('./fixtures/content-truth/*.txt', { query: '?raw', import: 'default', eager: true });
const truthOf = (name: string): string => TRUTH[`./fixtures/content-truth/${name}.txt`] ?? '';
const PAGE = 'https://example.com/blog/2024/post.html';
const CONTENT: Format[] = ['markdown', 'text', 'html'];

interface ContentRun {
  formats?: Format[];
  onlyMainContent?: boolean;
  maxContentChars?: number;
  contentType?: string;
  /** Bytes per chunk the body arrives in (default 1 KiB). */
  chunk?: number;
}

/** Runs `body` through the real extraction, as a body arriving in chunks. */
async function contentOf(body: string | Uint8Array, run: ContentRun = {}): Promise<PageFields> {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const size = run.chunk ?? 1024;
  let at = 0;
  const source = {
    read: async () => {
      if (at >= bytes.byteLength) return null;
      const chunk = bytes.subarray(at, at + size);
      at += size;
      return chunk;
    },
  };
  const { fields } = await extract(source, run.contentType ?? HTML, {
    snippetLength: 300,
    formats: run.formats ?? CONTENT,
    onlyMainContent: run.onlyMainContent,
    maxContentChars: run.maxContentChars,
    pageUrl: PAGE,
  });
  return fields;
}

/** A page: `head` inside <head>, `body` inside <body>. */
const page = (body: string, head = '<title>A page</title>') => `<!doctype html><html><head>${head}</head><body>${body}</body></html>`;

/** `n` distinct paragraphs of prose (commas and length make them score as text). */
const prose = (n: number, topic = 'harbour') =>
  Array.from(
    { length: n },
    (_, i) => `<p>Paragraph ${i + 1} about the ${topic}: the council met on day ${i + 1}, heard the pilots, the fishers and the ferry crews, and wrote down what each of them wanted from the new plan.</p>`,
  ).join('\n');

describe('markdown: how the content is written', () => {
  it('Should write headings, emphasis, nested lists, a quote, code with its language, a table and a rule as GitHub-flavoured Markdown', async () => {
    const html = page(`
      <h2>Plan <em>and</em> vote</h2>
      <p>Text with <strong>bold</strong>, <b>b</b>, <em>em</em>, <i>i</i>, <del>gone</del> and <code>x = 1</code>.</p>
      <ul><li>one</li><li>two<ol><li>first</li><li>second</li></ol></li><li>three</li></ul>
      <blockquote><p>Quoted line one.</p><p>Quoted line two.</p></blockquote>
      <pre><code class="language-python">def f():
    return 1</code></pre>
      <table><thead><tr><th>Name</th><th>Votes</th></tr></thead><tbody><tr><td>Ayes</td><td>7</td></tr><tr><td>Noes | abstain</td><td>4</td></tr></tbody></table>
      <hr>
      <dl><dt>Term</dt><dd>Its meaning.</dd></dl>`);
    const { markdown } = await contentOf(html, { formats: ['markdown'], onlyMainContent: false });
    expect(markdown).toBe(
      [
        '## Plan *and* vote',
        'Text with **bold**, **b**, *em*, *i*, ~~gone~~ and `x = 1`.',
        '- one\n- two\n  1. first\n  2. second\n- three',
        '> Quoted line one.\n>\n> Quoted line two.',
        '```python\ndef f():\n    return 1\n```',
        '| Name | Votes |\n| --- | --- |\n| Ayes | 7 |\n| Noes \\| abstain | 4 |',
        '---',
        '**Term**',
        'Its meaning.',
      ].join('\n\n'),
    );
  });

  it('Should make links and images absolute against <base href>, take lazy images from data-src, and escape Markdown in text', async () => {
    const html = page(
      `<p>See <a href="guide.html" title="The guide">the guide</a>, <a href="https://other.example/x">elsewhere</a> and <a href="javascript:void(0)">nothing</a>.</p>
       <p><img src="pics/a.png" alt="A [chart]"> <img src="data:image/gif;base64,R0lGOD" data-src="/lazy.jpg" alt="lazy"></p>
       <p>Literal *stars* and _underscores_ and [brackets], but snake_case and a_b@example.com stay.</p>`,
      '<title>x</title><base href="https://cdn.example/docs/">',
    );
    const { markdown } = await contentOf(html, { formats: ['markdown'], onlyMainContent: false });
    expect(markdown).toBe(
      [
        'See [the guide](https://cdn.example/docs/guide.html "The guide"), [elsewhere](https://other.example/x) and nothing.',
        '![A \\[chart\\]](https://cdn.example/docs/pics/a.png) ![lazy](https://cdn.example/lazy.jpg)',
        'Literal \\*stars\\* and \\_underscores\\_ and \\[brackets\\], but snake_case and a_b@example.com stay.',
      ].join('\n\n'),
    );
  });

  it('Should leave out a heading\'s permalink glyph but keep a same-page link with words', async () => {
    const html = page('<h2 id="setup">Setup<a class="headerlink" href="#setup" title="Link to this heading">¶</a></h2><p>See <a href="#setup">the setup</a>.</p>');
    for (const format of CONTENT) {
      const fields = await contentOf(html, { formats: [format], onlyMainContent: false });
      expect(fields[format]).not.toContain('¶');
      expect(fields[format]).toContain('the setup');
    }
  });

  it('Should resolve relative URLs against the page URL when there is no <base>', async () => {
    const { markdown } = await contentOf(page('<p><a href="../other">Other</a> <img src="/i.png" alt=""></p>'), { formats: ['markdown'], onlyMainContent: false });
    expect(markdown).toBe('[Other](https://example.com/blog/other) ![](https://example.com/i.png)');
  });

  it('Should write text as blocks separated by blank lines, without markup', async () => {
    const html = page('<h2>Heading</h2><p>One <a href="/a">link</a> and <em>stress</em>.</p><ul><li>a</li><li>b</li></ul><pre>  code\n  kept</pre>');
    const { text } = await contentOf(html, { formats: ['text'], onlyMainContent: false });
    expect(text).toBe('Heading\n\nOne link and stress.\n\na\nb\n\n  code\n  kept');
  });

  it('Should write html with its structure, attributes cut to href, src, alt and title, URLs absolute, scripts and handlers gone', async () => {
    const html = page(
      `<div class="x" id="y" onclick="evil()"><h2 style="color:red">Title</h2><p data-k="v">A <a href="/a" class="c" title="t" rel="nofollow">link</a> &amp; <img src="i.png" alt="pic" width="10" onerror="x()">.</p>
       <script>alert(1)</script><span>inline <b>bold</b></span></div>`,
    );
    const { html: out } = await contentOf(html, { formats: ['html'], onlyMainContent: false });
    expect(out).toBe('<h2>Title</h2>\n\n<p>A <a href="https://example.com/a" title="t">link</a> &amp; <img src="https://example.com/blog/2024/i.png" alt="pic">.</p>\n\ninline <b>bold</b>');
  });

  it('Should never write what a reader does not see: scripts, styles, templates, hidden, aria-hidden and display:none elements', async () => {
    const html = page(`<p>Seen text.</p>
      <script>var secret = "script";</script><style>.secret{}</style><noscript>noscript secret</noscript>
      <template><p>template secret</p></template><p hidden>hidden secret</p><div aria-hidden="true">aria secret</div>
      <div style="display: none">display secret</div><div style="visibility:hidden">visibility secret</div>
      <svg><title>svg secret</title></svg><select><option>option secret</option></select>`);
    for (const format of CONTENT) {
      const fields = await contentOf(html, { formats: [format], onlyMainContent: false });
      expect(fields[format]).toContain('Seen text.');
      expect(fields[format]).not.toMatch(/secret/);
    }
  });

  it('Should close what HTML closes without an end tag: <p> by a block, <li> by <li>, cells by cells', async () => {
    const html = page('<p>First para<p>Second para<ul><li>one<li>two</ul><table><tr><th>h1<th>h2<tr><td>a<td>b</table>');
    const { markdown } = await contentOf(html, { formats: ['markdown'], onlyMainContent: false });
    expect(markdown).toBe('First para\n\nSecond para\n\n- one\n- two\n\n| h1 | h2 |\n| --- | --- |\n| a | b |');
  });

  it('Should give the same content whatever the chunks the body arrives in (entities and tags split)', async () => {
    const html = page(`<article><h2>Caf&eacute; &amp; co&#8217;s</h2>${prose(8)}<p>Ends with &lt;tags&gt; &mdash; fine.</p></article>`);
    const whole = await contentOf(html, { chunk: 1 << 20 });
    for (const chunk of [1, 7, 333]) expect(await contentOf(html, { chunk })).toEqual(whole);
    expect(whole.markdown).toContain('## Café & co’s');
    expect(whole.markdown).toContain('Ends with \\<tags\\> — fine.');
  });
});

describe('maxContentChars', () => {
  const html = page(`<article>${prose(10)}</article>`);

  it('Should cut each content format at a block boundary and say contentTruncated', async () => {
    const full = await contentOf(html, { formats: ['text'] });
    const paragraphs = full.text!.split('\n\n');
    const cap = paragraphs[0]!.length + 2 + paragraphs[1]!.length + 10;
    const cut = await contentOf(html, { formats: ['markdown', 'text', 'html'], maxContentChars: cap });
    expect(cut.text).toBe(`${paragraphs[0]}\n\n${paragraphs[1]}`);
    expect(cut.markdown!.length).toBeLessThanOrEqual(cap);
    expect(cut.html!.length).toBeLessThanOrEqual(cap);
    expect(cut.html).toMatch(/<\/p>$/);
    expect(cut.contentTruncated).toBe(true);
  });

  it('Should cut a first block longer than the cap at a word, and not flag content that fits', async () => {
    const cut = await contentOf(html, { formats: ['text'], maxContentChars: 40 });
    expect(cut.text!.length).toBeLessThanOrEqual(40);
    expect(cut.text).toMatch(/^Paragraph 1 about the/);
    const fits = await contentOf(html, { formats: ['text'], maxContentChars: 100_000 });
    expect(fits.contentTruncated).toBe(false);
  });
});

describe('main content', () => {
  const chrome = `
    <div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
    <header class="site-header"><a href="/">Logo</a><nav><a href="/news">News</a><a href="/sport">Sport</a><a href="/weather">Weather</a></nav></header>`;
  const article = `<div class="story-body"><h1>Council backs harbour plan</h1>
    <div class="byline">By Jane Doe</div>${prose(9)}
    <div class="share-bar"><a href="https://twitter.com/share">Share on Twitter</a> <a href="mailto:?">Email</a></div></div>`;
  const after = `
    <div class="related-articles"><h3>Related</h3><ul><li><a href="/1">Ferries run late again this week</a></li><li><a href="/2">Tides and timetables explained</a></li></ul></div>
    <section id="comments"><div class="comment"><p>Reader comment: this plan is a disgrace and the council knows it, frankly.</p></div></section>
    <aside class="sidebar"><h3>Most read</h3><ol><li><a href="/a">A story everyone read</a></li></ol></aside>
    <footer>© 2024 Harbour Times. All rights reserved. <a href="/privacy">Privacy</a></footer>`;
  const html = page(chrome + article + after, '<title>Council backs harbour plan | Harbour Times</title>');

  it('Should keep the story and leave out cookie banner, navigation, title, byline, share bar, related links, comments, sidebar and footer', async () => {
    const { text } = await contentOf(html, { formats: ['text'] });
    expect(text).toContain('Paragraph 1 about the harbour');
    expect(text).toContain('Paragraph 9 about the harbour');
    for (const chromeText of ['cookies', 'Sport', 'Council backs', 'Jane Doe', 'Share on Twitter', 'Ferries run late', 'Reader comment', 'Most read', 'All rights reserved']) {
      expect(text).not.toContain(chromeText);
    }
  });

  it('Should keep everything visible with onlyMainContent false', async () => {
    const { text } = await contentOf(html, { formats: ['text'], onlyMainContent: false });
    for (const kept of ['cookies', 'Sport', 'Council backs', 'Jane Doe', 'Share on Twitter', 'Ferries run late', 'Reader comment', 'Most read', 'All rights reserved']) {
      expect(text).toContain(kept);
    }
  });

  it('Should gather a story cut into chunks around ads, when the chunks share a class', async () => {
    const chunk = (from: number) => `<div class="grid"><div class="body__chunk">${prose(3).replace(/Paragraph (\d)/g, (_, n) => `Paragraph ${Number(n) + from}`)}</div><div class="ad-rail">Advertisement</div></div>`;
    const { text } = await contentOf(page(`<main><div class="chunks">${chunk(0)}${chunk(3)}${chunk(6)}</div></main>`), { formats: ['text'] });
    for (const n of [1, 4, 7, 9]) expect(text).toContain(`Paragraph ${n} about`);
    expect(text).not.toContain('Advertisement');
  });

  it('Should keep a data table and a code block inside the content', async () => {
    const html = page(`<article>${prose(6)}<table><tr><th>Year</th><th>Ships</th></tr><tr><td>2023</td><td>41</td></tr><tr><td>2024</td><td>57</td></tr></table><pre><code class="language-sh">make harbour</code></pre>${prose(2, 'tides')}</article>`);
    const { markdown } = await contentOf(html, { formats: ['markdown'] });
    expect(markdown).toContain('| Year | Ships |\n| --- | --- |\n| 2023 | 41 |\n| 2024 | 57 |');
    expect(markdown).toContain('```sh\nmake harbour\n```');
  });
});

describe('the evaluation fixtures (test/fixtures/README.md, "Main content")', () => {
  /** Per page, the shingle F1 the extraction must reach against the hand-written truth (test/fixtures/content-truth/). */
  const FIXTURES: [string, number][] = [
    ['content-news', 0.92],
    ['content-blog', 0.94],
    ['content-docs', 0.94],
    ['content-forum', 0.88],
    ['content-listing', 0.94],
    ['content-longform', 0.9],
    ['content-spa-like', 0.94],
  ];

  it.each(FIXTURES)('Should extract %s with shingle F1 of at least %s against its ground truth', async (name, floor) => {
    const scope = newScope('content-fixture');
    const { results } = await fanout({ urls: [fixtureUrl(scope, `${name}.html`, HTML)], formats: ['text'] });
    const truth = truthOf(name);
    expect(truth.length).toBeGreaterThan(500);
    expect(pageF1(truth, results[0]!.text ?? '')).toBeGreaterThanOrEqual(floor);
  });

  it('Should score above taking all visible text on the set as a whole', async () => {
    const scope = newScope('content-fixtures');
    const urls = FIXTURES.map(([name]) => fixtureUrl(scope, `${name}.html`, HTML));
    const main = await fanout({ urls, formats: ['text'] });
    const all = await fanout({ urls, formats: ['text'], onlyMainContent: false });
    const truths = FIXTURES.map(([name]) => truthOf(name));
    const f1 = (results: PageResult[]) => corpusF1(results.map((r, i) => ({ truth: truths[i]!, pred: r.text ?? '' }))).f1;
    expect(f1(main.results)).toBeGreaterThan(f1(all.results) + 0.15);
  });

  it('Should never write a framework\'s JSON data script, main content or not', async () => {
    const scope = newScope('content-spa');
    const url = fixtureUrl(scope, 'content-spa-like.html', HTML);
    for (const onlyMainContent of [true, false]) {
      const { results } = await fanout({ urls: [`${url}&main=${onlyMainContent}`], formats: ['markdown', 'text', 'html'], onlyMainContent });
      for (const format of ['markdown', 'text', 'html'] as const) {
        expect(results[0]![format]).toBeTruthy();
        expect(results[0]![format]).not.toContain('pageProps');
        expect(results[0]![format]).not.toContain('buildId');
      }
    }
  });

  it('Should keep the docs page code with its language and its parameters table in Markdown', async () => {
    const scope = newScope('content-docs');
    const { results } = await fanout({ urls: [fixtureUrl(scope, 'content-docs.html', HTML)], formats: ['markdown'] });
    const markdown = results[0]!.markdown!;
    expect(markdown).toMatch(/```js\n/);
    expect(markdown).toMatch(/\| --- \|/);
    expect(markdown).not.toMatch(/Was this page helpful/i);
  });
});

describe('content formats through every way in', () => {
  it('Should take them on GET with onlyMainContent and maxContentChars', async () => {
    const scope = newScope('content-get');
    const url = encodeURIComponent(fixtureUrl(scope, 'content-news.html', HTML));
    const res = await call(`/v1/fetch?url=${url}&formats=markdown,text&onlyMainContent=false&maxContentChars=300`);
    expect(res.status).toBe(200);
    const { results } = await res.json<{ results: PageResult[] }>();
    expect(results[0]!.markdown!.length).toBeLessThanOrEqual(300);
    expect(results[0]!.text!.length).toBeLessThanOrEqual(300);
    expect(results[0]!.contentTruncated).toBe(true);
  });

  it('Should stream them in NDJSON lines and carry them to scale-out shards', async () => {
    const scope = newScope('content-ndjson');
    const res = await post({ urls: [fixtureUrl(scope, 'content-blog.html', HTML)], formats: ['markdown'] }, { headers: { accept: 'application/x-ndjson' } });
    const [line] = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as PageResult);
    expect(line!.markdown).toMatch(/```python\n/);

    const urls = Array.from({ length: 12 }, (_, i) => `${fixtureUrl(scope, 'content-blog.html', HTML)}&i=${i}`);
    const { results, stats: totals } = await fanout({ urls, concurrency: 12, formats: ['text'], maxContentChars: 200 });
    expect(totals.shards).toBe(2);
    for (const r of results) {
      expect(r.text!.length).toBeLessThanOrEqual(200);
      expect(r.contentTruncated).toBe(true);
    }
  });

  it('Should read the whole page for a content format, and add no content fields without one', async () => {
    const scope = newScope('content-bytes');
    const url = fixtureUrl(scope, 'content-longform.html', HTML);
    const [withContent] = (await fanout({ urls: [url], formats: ['text'] })).results;
    expect(withContent).toMatchObject({ ok: true, truncated: false });
    const { results } = await fanout({ urls: [`${url}&again=1`] });
    expect(['markdown', 'text', 'html', 'contentTruncated'].filter((field) => field in results[0]!)).toEqual([]);
    expect((await stats(scope)).bytesSent).toBeGreaterThan(0);
  });

  it.each([
    [{ urls: ['http://a/'], onlyMainContent: 'yes' }, 'onlyMainContent'],
    [{ urls: ['http://a/'], maxContentChars: 0 }, 'maxContentChars'],
    [{ urls: ['http://a/'], maxContentChars: 1_000_001 }, 'maxContentChars'],
    [{ urls: ['http://a/'], maxContentChars: 2.5 }, 'maxContentChars'],
  ])('Should answer 400 for %j naming %s', async (body, field) => {
    await expectProblem(await post(body), 400, field);
  });

  it.each([
    ['onlyMainContent=maybe', 'onlyMainContent'],
    ['maxContentChars=lots', 'maxContentChars'],
  ])('Should answer 400 on GET for %s naming %s', async (query, field) => {
    await expectProblem(await call(`/v1/fetch?url=http://a/&formats=text&${query}`), 400, field);
  });
});

describe('content formats in watch lists', () => {
  const { tick, watched } = watchHarness({ dayOfWeek: 4, scheduledTime: Date.UTC(2026, 10, 26, 12, 0) });

  it('Should store each URL\'s main content in the run\'s results', async () => {
    const { cron, name } = await watched('content-watch', (scope) => [fixtureUrl(scope, 'content-blog.html', HTML)], { formats: ['markdown'], maxContentChars: 5000 });
    await tick(cron);
    const run = await latest(name);
    expect(run.results[0]!.result.markdown).toMatch(/```python\n/);
    expect(run.results[0]!.result.markdown!.length).toBeLessThanOrEqual(5000);
  });
});

describe('content formats stored by watch lists, under D1\'s 2 MB caps', () => {
  const { tick, watched } = watchHarness({ dayOfWeek: 5, scheduledTime: Date.UTC(2026, 10, 27, 12, 0) });

  it('Should drop html, then text, from a stored result that would pass MAX_STORED_RESULT_BYTES, and name them in trimmed', async () => {
    const options = { formats: ['markdown', 'text', 'html'], maxBytes: 1_048_576, maxContentChars: 600_000 };
    const { cron, name } = await watched('content-trim', (scope) => [originUrl(scope, 'huge?mb=1'), fixtureUrl(scope, 'content-blog.html', HTML)], options);
    await tick(cron);
    const [big, small] = (await latest(name)).results;
    const stored = big!.result as PageResult & { trimmed?: string[] };
    expect(stored).toMatchObject({ ok: true, title: 'Huge page', html: null, text: null, trimmed: ['html', 'text'] });
    expect(stored.markdown!.length).toBeGreaterThan(500_000);
    expect(new TextEncoder().encode(JSON.stringify(stored)).byteLength).toBeLessThanOrEqual(MAX_STORED_RESULT_BYTES);
    // A result that fits is stored whole.
    expect(small!.result).not.toHaveProperty('trimmed');
    expect(small!.result.html).toMatch(/^</);
  });

  it('Should slice entries so that no statement binds more than its budget, keeping their order', () => {
    const items = ['a'.repeat(500), 'b'.repeat(500), 'é'.repeat(300), 'c'.repeat(2_000), 'd'];
    const slices = chunkByBytes(items, 1_200);
    expect(slices.flat()).toEqual(items);
    expect(slices.map((slice) => slice.length)).toEqual([2, 1, 1, 1]);
    // 300 × 'é' is 600 bytes: with the 1,002 bytes of the first two it would pass the budget.
    for (const slice of slices.filter((s) => s.length > 1)) expect(new TextEncoder().encode(`[${slice.join(',')}]`).byteLength).toBeLessThanOrEqual(1_200);
  });
});

describe('content formats for bodies that are not HTML', () => {
  it('Should give text as it is, JSON in a fenced block, and binary nothing, without an error', async () => {
    const text = await contentOf('Plain text.\n\nSecond paragraph.', { contentType: 'text/plain; charset=utf-8' });
    expect(text).toMatchObject({ markdown: 'Plain text.\n\nSecond paragraph.', text: 'Plain text.\n\nSecond paragraph.', html: '<pre>Plain text.\n\nSecond paragraph.</pre>', contentTruncated: false });

    const json = await contentOf('{"a": [1, 2], "b": "<x>"}', { contentType: 'application/json' });
    expect(json).toMatchObject({ markdown: '```json\n{"a": [1, 2], "b": "<x>"}\n```', text: '{"a": [1, 2], "b": "<x>"}', html: '<pre>{"a": [1, 2], "b": "&lt;x&gt;"}</pre>' });

    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    expect(await contentOf(png, { contentType: 'image/png' })).toMatchObject({ markdown: null, text: null, html: null, contentTruncated: false });
  });

  it('Should cut text at maxContentChars and say so', async () => {
    const fields = await contentOf('word '.repeat(100), { contentType: 'text/plain', formats: ['text'], maxContentChars: 50 });
    expect(fields.text!.length).toBeLessThanOrEqual(50);
    expect(fields.contentTruncated).toBe(true);
  });

  it('Should give every URL of a batch its content fields: HTML, JSON, text, binary and a failure', async () => {
    const scope = newScope('content-kinds');
    const urls = [fixtureUrl(scope, 'content-blog.html', HTML), originUrl(scope, 'json'), originUrl(scope, 'text'), originUrl(scope, 'binary?kb=16'), originUrl(scope, 'status/500')];
    const { results } = await fanout({ urls, formats: ['markdown'], retries: 0 });
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, false]);
    expect(results[0]!.markdown).toBeTruthy();
    expect(results[1]!.markdown).toMatch(/^```json\n/);
    expect(results[2]!.markdown).toBeTruthy();
    expect(results[3]).toMatchObject({ markdown: null, contentTruncated: false });
  });
});

describe('pathological HTML', () => {
  it('Should read a page of 100,000 nested divs to the text inside, and its metadata without an error', async () => {
    const scope = newScope('content-nested');
    const url = originUrl(scope, 'nested?depth=100000');
    const { results } = await fanout({ urls: [url], formats: ['text'] });
    expect(results[0]).toMatchObject({ ok: true, title: 'Nested', contentTruncated: false });
    expect(results[0]!.text).toContain('Before the nesting');
    expect(results[0]!.text).toContain('Deep inside.');
    // HTMLRewriter gives up on such nesting (its own memory bound); the metadata read before that stands.
    const [plain] = (await fanout({ urls: [`${url}&default=1`], snippetLength: 2000 })).results;
    expect(plain).toMatchObject({ ok: true, title: 'Nested' });
    expect(plain!.snippet).toContain('Before the nesting');
  });

  it('Should read 5,000 nested divs to the text inside them', async () => {
    const depth = 5_000;
    const html = page(`<p>Before it.</p>${'<div>'.repeat(depth)}<p>Deep inside the nesting, the words are still here.</p>${'</div>'.repeat(depth)}<p>After it all.</p>`);
    const fields = await contentOf(html, { formats: ['text'], onlyMainContent: false, chunk: 65_536 });
    expect(fields.text).toContain('Deep inside the nesting, the words are still here.');
    expect(fields.text).toContain('After it all.');
    expect(fields.contentTruncated).toBe(false);
  });

  it('Should keep its open elements no deeper than MAX_TREE_DEPTH whatever the page opens, and close them all', () => {
    const tree = new TreeBuilder();
    let opened = 0;
    for (let i = 0; i < 5_000; i++) if (tree.open('div', { class: `d${i}` })) opened++;
    expect(opened).toBe(MAX_TREE_DEPTH);
    expect(tree.depth).toBe(MAX_TREE_DEPTH);
    for (let i = 0; i < 5_000; i++) tree.close('div');
    expect(tree.depth).toBe(0);
  });

  it('Should read a 5 MB page on one line and pages of unclosed tags', async () => {
    const line = `<p>${'lorem ipsum dolor sit amet, '.repeat(180_000)}</p>`;
    const fields = await contentOf(page(line), { formats: ['text'], chunk: 65_536, maxContentChars: 1_000_000 });
    expect(line.length).toBeGreaterThan(5_000_000);
    expect(fields.text!.length).toBeLessThanOrEqual(1_000_000);
    expect(fields.contentTruncated).toBe(true);

    const unclosed = page(`${'<div><span><b><i><p>Unclosed text, with words, '.repeat(2_000)}<table><tr><td>cell`.repeat(3));
    const messy = await contentOf(unclosed, { formats: ['markdown', 'text', 'html'] });
    expect(messy.text).toContain('Unclosed text, with words');
    expect(messy.html).toContain('Unclosed text, with words');
  });
});
