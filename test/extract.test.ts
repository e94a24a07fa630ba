/**
 * What comes out of pages, through the Worker's POST /v1/fetch: metadata, the
 * visible-text snippet (with `selector` and `query`), charsets, compressed
 * bodies, and the JSON, text and binary kinds. Pages are the real bytes in
 * test/fixtures/ (see its README for the expected decoded values), served by the
 * test origin.
 */
import { describe, expect, it } from 'vitest';
import { CappedBody } from '../src/engine/read-body';
import { extract } from '../src/extract';
import { fanout, fetchOne } from './helpers/worker';
import { fixtureUrl, newScope, originUrl, release, stats, waitForStats } from './origin/client';

const MIB = 1024 * 1024;

/** The page's whole visible text, as fanout sees it (snippetLength far above the page's text). */
async function visibleText(url: string, options: Record<string, unknown> = {}): Promise<string> {
  const { snippet } = await fetchOne(url, { ...options, snippetLength: 5000 });
  expect(snippet!.length).toBeLessThan(5000);
  return snippet!;
}

describe('metadata', () => {
  it('Should decode entities, collapse whitespace and resolve relative URLs against the final URL', async () => {
    const scope = newScope('entities');
    // Reached through a redirect to the other host, so the final URL's origin differs from the input's.
    const target = fixtureUrl(scope, 'entities.html', 'text/html; charset=utf-8').replace('127.0.0.1', '127.0.0.2');
    const page = await fetchOne(originUrl(scope, `redirect-to?location=${encodeURIComponent(target)}`));
    const finalRoot = new URL(target).origin;
    expect(page.finalUrl).toBe(target);
    expect(page).toMatchObject({
      // The <title> is og:title plus " © 2024": it is cut to og:title (README "Metadata").
      title: 'Café & Crème — l’été',
      description: 'Un guide pratique : café, thé & pâtisserie… tout l’été — © 2024',
      lang: 'fr',
      siteName: 'Le Petit Café',
      canonical: `${finalRoot}/canonical-path`,
      image: `${finalRoot}/img/cover.png`,
    });
  });

  it('Should decode entities and collapse whitespace (NBSP included) in the snippet', async () => {
    const scope = newScope('entities-text');
    const text = await visibleText(fixtureUrl(scope, 'entities.html', 'text/html; charset=utf-8'));
    expect(text).toBe(
      'Café & Crème Bienvenue au café ! Nos croissants—tout chauds—sortent du four à 7 h. ' +
        'Prix : 3 € & 4 €. C’est l\'été <enfin> ! Legacy: fish & chips © 2024, AT&T.',
    );
  });

  it('Should take the title from og:title and the description from twitter:description when nothing else has them', async () => {
    const scope = newScope('og-only');
    const page = await fetchOne(fixtureUrl(scope, 'og-only.html', 'text/html'));
    expect(page).toMatchObject({ title: 'Open Graph Title Only', description: 'Description that only exists as a Twitter card.' });
  });

  it('Should take title and description from the Twitter card when there is no title and no Open Graph', async () => {
    const scope = newScope('twitter-only');
    const page = await fetchOne(fixtureUrl(scope, 'twitter-only.html', 'text/html'));
    expect(page).toMatchObject({ title: 'Twitter Card Title', description: 'Twitter card description, the only description here.' });
  });

  it('Should resolve image and canonical against <base href>', async () => {
    const scope = newScope('base-href');
    const page = await fetchOne(fixtureUrl(scope, 'base-href.html', 'text/html'));
    const root = new URL(originUrl(scope, '')).origin;
    expect(page).toMatchObject({ image: `${root}/sub/img.png`, canonical: `${root}/sub/page.html`, title: 'Page with a base element' });
  });
});

describe('snippet', () => {
  it('Should never contain script, style, noscript, template or head text, and separate adjacent blocks', async () => {
    const scope = newScope('script-style');
    const page = await fetchOne(fixtureUrl(scope, 'script-style.html', 'text/html'), { snippetLength: 5000 });
    expect(page.title).toBe('Script and style');
    for (const secret of ['SCRIPT_SECRET', 'STYLE_SECRET', 'NOSCRIPT_SECRET', 'TEMPLATE_SECRET', 'Script and style']) {
      expect(page.snippet).not.toContain(secret);
    }
    expect(page.snippet).toBe('Visible one. Visible two. Visible three. alpha beta gamma delta Visible four.');
  });

  it('Should read void elements (img, br, hr, input) as breaks and end hidden text at a self-closing <svg/>', async () => {
    const scope = newScope('void-elements');
    const page = await fetchOne(fixtureUrl(scope, 'void-elements.html', 'text/html'), { snippetLength: 5000 });
    expect(page.title).toBe('Void elements');
    expect(page.snippet).toBe('one two three four five six seven eight nine ten.');
  });

  it('Should keep head scripts and styles out of a `selector` that matches <head>', async () => {
    // Outside a selector, head text is never kept; a selector can reach into <head>, so its scripts still count as hidden.
    const scope = newScope('selector-head');
    const page = await fetchOne(fixtureUrl(scope, 'script-style.html', 'text/html'), { selector: 'head', snippetLength: 5000 });
    expect(page.snippet).toBe('Script and style');
  });

  it.each([40, 77, 150, 300])('Should cut the snippet at a word end, at most snippetLength=%i characters', async (snippetLength) => {
    const scope = newScope('snippet-length');
    const url = fixtureUrl(scope, 'article.html', 'text/html');
    const text = await visibleText(url);
    expect(text.length).toBeGreaterThan(snippetLength);
    const { snippet } = await fetchOne(url, { snippetLength });
    expect(snippet!.length).toBeLessThanOrEqual(snippetLength);
    // A prefix of the visible text that ends where a word ends.
    expect(text.startsWith(snippet!)).toBe(true);
    expect(text[snippet!.length]).toBe(' ');
    // Not cut needlessly short: what follows would not have fitted.
    expect(snippet!.length).toBeGreaterThan(snippetLength / 2);
  });

  it.each(['article.html', 'entities.html', 'script-style.html', 'void-elements.html', 'cp1251-meta.html', 'utf8-bom.html'])(
    'Should give the same fields from %s when it stops early as when it reads the whole page, but for what only JSON-LD past the stop says',
    async (name) => {
      // hashText turns the early stop off (the hash needs all text): the whole page is the reference.
      const scope = newScope('early-same');
      const read = async (snippetLength: number, hashText: boolean) => {
        const url = fixtureUrl(scope, name, 'text/html');
        const res = await fetch(url);
        const body = new CappedBody(res.body!, 262_144, new AbortController().signal);
        const out = await extract(body, res.headers.get('content-type'), { snippetLength, hashText, provenance: true, pageUrl: url });
        await body.finish(false);
        const { textHash, sources, ...fields } = out.fields;
        return { fields: { ...fields, charset: out.charset } as Record<string, unknown>, sources: sources ?? {} };
      };
      for (const snippetLength of [1, 5, 40, 77, 150, 300, 5000]) {
        const early = await read(snippetLength, false);
        const whole = await read(snippetLength, true);
        for (const [field, value] of Object.entries(whole.fields)) {
          if (JSON.stringify(early.fields[field]) === JSON.stringify(value)) continue;
          // A JSON-LD block at the end of the body is past the early stop; nothing else may differ.
          expect(early.fields[field], `${field} at snippetLength ${snippetLength}`).toBeNull();
          expect(whole.sources[field as keyof typeof whole.sources]?.from, `${field} at snippetLength ${snippetLength}`).toMatch(/^json-ld:/);
        }
      }
    },
  );

  it('Should give a null snippet for snippetLength 0 and keep the other fields', async () => {
    const scope = newScope('snippet-0');
    const page = await fetchOne(fixtureUrl(scope, 'article.html', 'text/html'), { snippetLength: 0 });
    expect(page.snippet).toBeNull();
    expect(page.title).toBe('Harbour district plan divides council');
  });

  it('Should take the snippet from the elements `selector` matches only', async () => {
    const scope = newScope('selector');
    const page = await fetchOne(fixtureUrl(scope, 'article.html', 'text/html'), { selector: 'article p', snippetLength: 5000 });
    expect(page.snippet).toMatch(/^By A\. Reporter, local affairs correspondent The city council met on Tuesday evening/);
    expect(page.snippet).toMatch(/further round of public consultation\.$/);
    for (const noise of ['The Daily Harbour', 'Subscribe', 'Weather', 'cookies', 'Most read', 'Privacy', 'Harbour district plan divides council']) {
      expect(page.snippet).not.toContain(noise);
    }
  });

  it('Should take the window that matches `query`, even far into the page', async () => {
    const scope = newScope('query');
    const url = fixtureUrl(scope, 'article.html', 'text/html');
    const text = await visibleText(url);
    // The premise: the words are past the first 2000 characters, so the plain snippet cannot hold them.
    expect(text.indexOf('zebra crossing')).toBeGreaterThan(2000);
    const plain = await fetchOne(url);
    expect(plain.snippet).not.toContain('zebra');

    const { snippet } = await fetchOne(url, { query: 'zebra crossing' });
    expect(snippet).toContain('zebra crossing');
    expect(snippet!.length).toBeLessThanOrEqual(300);
    expect(text).toContain(snippet!);
  });

  it('Should apply `query` within the `selector` text', async () => {
    const scope = newScope('selector-query');
    const url = fixtureUrl(scope, 'article.html', 'text/html');
    const { snippet } = await fetchOne(url, { selector: 'article p', query: 'zebra crossing', snippetLength: 120 });
    expect(snippet).toContain('zebra crossing');
    expect(snippet!.length).toBeLessThanOrEqual(120);
    const selected = await visibleText(url, { selector: 'article p' });
    expect(selected).toContain(snippet!);
  });

  it('Should ignore query matches outside the `selector` and fall back to the start of the selected text', async () => {
    const scope = newScope('selector-query-miss');
    // "cookies" only appears in the banner, outside `article p`.
    const { snippet } = await fetchOne(fixtureUrl(scope, 'article.html', 'text/html'), { selector: 'article p', query: 'cookies', snippetLength: 60 });
    expect(snippet).not.toContain('cookies');
    expect(snippet).toMatch(/^By A\. Reporter/);
  });
});

describe('charsets', () => {
  const RU_TITLE = 'Учёные нашли воду на Марсе — новости науки';
  const RU_DESCRIPTION = 'Краткий обзор: что нашёл марсоход, почему это важно и что будет дальше.';

  it.each([
    ['cp1251-header.html', 'text/html; charset=windows-1251', 'the Content-Type header only'],
    ['cp1251-meta.html', 'text/html', '<meta charset> only'],
    ['cp1251-http-equiv.html', 'text/html', '<meta http-equiv> only'],
  ])('Should decode windows-1251 declared by %s (%s: %s)', async (name, ct) => {
    const scope = newScope('cp1251');
    const page = await fetchOne(fixtureUrl(scope, name, ct));
    expect(page).toMatchObject({ charset: 'windows-1251', title: RU_TITLE, description: RU_DESCRIPTION, lang: 'ru' });
    expect(page.snippet).toMatch(/[а-яё]/);
    expect(page.snippet).not.toContain('\ufffd');
  });

  it.each([
    ['shift_jis.html', 'shift_jis', '東京の天気予報：今日は一日中晴れ'],
    ['gbk.html', 'gbk', '北京科技创新大会今日开幕'],
    ['euc-kr.html', 'euc-kr', '서울 날씨: 오늘은 맑고 따뜻함'],
    ['iso-8859-2.html', 'iso-8859-2', 'Zażółć gęślą jaźń | Příliš žluťoučký kůň'],
    ['windows-1252.html', 'windows-1252', 'Café “Zur Sonne” – Menü ab 9 €'],
  ])('Should decode %s from its <meta charset> and report %s', async (name, charset, title) => {
    const scope = newScope('charset');
    const page = await fetchOne(fixtureUrl(scope, name, 'text/html'));
    expect(page).toMatchObject({ charset, title });
    expect(page.snippet).not.toContain('\ufffd');
  });

  it.each([
    ['utf16le-bom.html', 'utf-16le', 'UTF-16 page: naïve café — 日本語'],
    ['utf8-bom.html', 'utf-8', 'UTF-8 page with BOM: Zürich — ½ price'],
  ])('Should let the BOM of %s win over a contradicting header charset (%s)', async (name, charset, title) => {
    const scope = newScope('bom');
    const page = await fetchOne(fixtureUrl(scope, name, 'text/html; charset=windows-1252'));
    expect(page).toMatchObject({ charset, title });
    expect(page.snippet).not.toContain('\ufffd');
    expect(page.snippet).not.toContain('\ufeff');
  });
});

describe('content encodings', () => {
  it.each([
    ['gzip', 'Gzipped page'],
    ['brotli', 'Brotli page'],
  ])('Should decode a %s body and count its decompressed bytes', async (route, title) => {
    const scope = newScope(route);
    const page = await fetchOne(originUrl(scope, route));
    // The origin's page is exactly 8 KiB before compression.
    expect(page).toMatchObject({ title, bytes: 8192, truncated: false });
    expect(page.snippet).toMatch(/^Gzipped page|^Brotli page/);
    const s = await waitForStats(scope, (s) => s.inFlight === 0);
    expect(s.bytesSent).toBeLessThan(8192);
  });
});

describe('content types', () => {
  it('Should give compacted JSON as the snippet of a JSON body', async () => {
    const scope = newScope('json');
    const raw = await (await fetch(originUrl(newScope('json-direct'), 'json'))).text();
    const page = await fetchOne(originUrl(scope, 'json'), { snippetLength: 5000 });
    expect(page.contentType).toBe('application/json');
    expect(page.title).toBeNull();
    expect(page.snippet!.startsWith('{"')).toBe(true);
    // Whitespace outside strings is gone; inside strings ("fanout test origin") it stays.
    expect(page.snippet).toBe(JSON.stringify(JSON.parse(raw)));
  });

  it('Should cut compacted JSON at snippetLength', async () => {
    const scope = newScope('json-short');
    const page = await fetchOne(originUrl(scope, 'json'), { snippetLength: 40 });
    expect(page.snippet!.startsWith('{"name":"fanout test origin"')).toBe(true);
    expect(page.snippet!.length).toBeLessThanOrEqual(40);
  });

  it('Should give the start of a text/plain body, whitespace collapsed', async () => {
    const scope = newScope('text');
    const page = await fetchOne(originUrl(scope, 'text'));
    expect(page.contentType).toBe('text/plain; charset=utf-8');
    expect(page.charset).toBe('utf-8');
    expect(page.snippet).toBe(
      'Plain text from the fanout test origin. Second line with ordinary words in it. ' +
        'Fourth line after a blank one: apples, pears and plums. Last line.',
    );
  });

  it('Should not read a binary body past its first chunk, and make the origin stop sending at once', async () => {
    const scope = newScope('binary');
    // A held `gate` keeps the batch alive: the close must come from fanout, not from the invocation ending.
    // maxBytes at its 5 MiB maximum, so stopping at the first chunk is what keeps `bytes` small, not the cap.
    const answer = fanout({ urls: [originUrl(scope, 'binary?kb=65536'), originUrl(scope, 'gate')], maxBytes: 5 * MIB });
    const s = await waitForStats(scope, (s) => s.closedEarly === 1 && s.held === 1 && s.inFlight === 1);
    // 64 MiB on offer; socket and runtime buffers hold a few MiB at most.
    expect(s.bytesSent).toBeLessThan(16 * MIB);
    await release(scope);
    const { results } = await answer;
    const page = results[0]!;
    expect(page).toMatchObject({ ok: true, contentType: 'image/png', snippet: null, title: null, charset: null, truncated: true });
    expect(page.bytes).toBeGreaterThan(0);
    expect(page.bytes).toBeLessThan(MIB);
  });

  it('Should sniff a body without Content-Type as HTML when it looks like HTML', async () => {
    const scope = newScope('no-ct');
    const url = fixtureUrl(scope, 'article.html');
    const page = await fetchOne(url);
    expect(page.contentType).toBeNull();
    expect(page).toMatchObject({ title: 'Harbour district plan divides council', lang: 'en', charset: 'utf-8' });
    expect(page.snippet).not.toContain('<');
    const s = await stats(scope);
    expect(s.log[0]!.route).toBe('fixture/article.html');
  });
});

describe('hostile bytes', () => {
  it('Should strip C0 and C1 control characters from every text field', async () => {
    const scope = newScope('controls');
    const page = await fetchOne(fixtureUrl(scope, 'controls.html', 'text/html; charset=utf-8'), { snippetLength: 5000 });
    expect(page).toMatchObject({
      title: 'Control[31m characters in the title',
      description: 'A description with a delete and an escape inside',
      siteName: 'Site Name',
      lang: 'en',
    });
    expect(page.snippet).toMatch(/^First paragraph with controls\. Filler text/);
    expect(page.snippet).toMatch(/Late NUL and BEL here\.$/);
    for (const field of [page.title, page.description, page.siteName, page.lang, page.snippet]) {
      expect(field).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    }
  });

  it.each([
    ['text/html', 'binary?sig=0&fill=0'],
    ['text/plain', 'binary?sig=0&fill=0'],
    ['application/json', 'binary?sig=0&fill=0'],
    ['text/html', 'binary?sig=1'],
  ])('Should treat a body labelled %s whose first bytes are binary (%s) as binary: no fields, no charset', async (ct, route) => {
    const scope = newScope('binary-as-text');
    const page = await fetchOne(originUrl(scope, `${route}&kb=4096&ct=${encodeURIComponent(ct)}`), { maxBytes: 5 * MIB });
    expect(page).toMatchObject({ contentType: ct, title: null, snippet: null, charset: null, truncated: true });
    // Read no further than the sniffing needed, far short of the cap: not the 4 MiB body as text.
    expect(page.bytes).toBeLessThan(256 * 1024);
  });

  it.each(['text/plain', 'text/html'])('Should treat a PDF served as %s as binary by its signature alone', async (ct) => {
    const scope = newScope('pdf-as-text');
    const page = await fetchOne(fixtureUrl(scope, 'document.pdf', ct));
    expect(page).toMatchObject({ title: null, snippet: null, charset: null });
  });

  it('Should still read UTF-16 text, whose ASCII characters carry NUL bytes, as text', async () => {
    const scope = newScope('utf16-not-binary');
    const page = await fetchOne(fixtureUrl(scope, 'utf16le-bom.html', 'text/html'));
    expect(page).toMatchObject({ title: 'UTF-16 page: naïve café — 日本語', charset: 'utf-16le' });
  });
});
