/**
 * The Node content peer: main content as Markdown the way a Node user gets it today.
 * Global fetch (undici) with a bounded pool (p-limit), each body read up to a byte cap
 * (as bench/peers/node-peer.mjs), decoded by the charset of its Content-Type (UTF-8
 * without one), parsed into a DOM by linkedom, main content found by Mozilla's
 * Readability (Firefox Reader View's library), and its HTML turned into Markdown by
 * turndown with GitHub-flavoured tables (@joplin/turndown-plugin-gfm).
 *
 * Why linkedom and not jsdom: on the 181 pages of the article-extraction benchmark,
 * Readability's text is the same on both (180 pages identical, F1 0.947 either way)
 * and linkedom parses about 4.5× faster. It has no document URL, so the page's URL is
 * set as the document's baseURI/documentURI for Readability to make links absolute
 * (as jsdom's `url` option does).
 *
 * Protocol: as bench/peers/node-peer.mjs (job line, "ready", "go", one result line), with
 *   job.mode: "markdown" (default): per URL {ok, status, bytes, markdown}, Readability's
 *             content through turndown (null when Readability finds no article)
 *             "text": per URL {ok, status, bytes, text}, Readability's textContent, for
 *             scoring against article text; no Markdown conversion
 *   job.maxBytes: the byte cap per body
 */
import { readCapped, servePeer } from './serve.mjs';
import { Readability } from '@mozilla/readability';
import { gfm } from '@joplin/turndown-plugin-gfm';
import { parseHTML } from 'linkedom';
import TurndownService from 'turndown';

/** ATX headings and fenced code: the settings Markdown readers (and LLM pipelines) expect. */
const turndown = new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced' });
turndown.use(gfm);

/** The body as text, by the Content-Type's charset when TextDecoder knows it, else UTF-8. */
function decode(buf, contentType) {
  const charset = /charset\s*=\s*"?([\w.:-]+)/i.exec(contentType ?? '')?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(buf);
  } catch {
    return new TextDecoder().decode(buf);
  }
}

/** Readability's article (or null) for a page, with links made absolute against its URL. */
function readArticle(html, url) {
  const { document } = parseHTML(html);
  const base = (() => {
    try {
      return new URL(document.querySelector('base[href]')?.getAttribute('href') ?? '', url).href;
    } catch {
      return url;
    }
  })();
  Object.defineProperty(document, 'baseURI', { value: base });
  Object.defineProperty(document, 'documentURI', { value: url });
  return new Readability(document).parse();
}

/** Main content of one page: Markdown, or Readability's text. */
function extract(html, url, mode = 'markdown') {
  const article = readArticle(html, url);
  if (mode === 'text') return { text: article?.textContent ?? null };
  return { markdown: article?.content ? turndown.turndown(article.content) : null };
}

async function fetchOne(url, job) {
  const mode = job.mode ?? 'markdown';
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(job.timeoutMs ?? 60_000) });
    const buf = res.body ? await readCapped(res.body, job.maxBytes) : Buffer.alloc(0);
    let out;
    try {
      out = extract(decode(buf, res.headers.get('content-type')), res.url || url, mode);
    } catch (error) {
      out = { [mode]: null, error: String(error) };
    }
    return { ok: res.ok, status: res.status, bytes: buf.byteLength, ...out };
  } catch (error) {
    return { ok: false, status: null, bytes: 0, [mode]: null, error: String(error?.cause ?? error) };
  }
}

await servePeer(fetchOne);
