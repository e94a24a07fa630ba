import { bestWindow, cleanValue, cutAtWord, decodeText, queryTerms, TextBuffer, TextHash, tidy } from './text';

/** The fields fanout reads from a page. */
export interface PageFields {
  title: string | null;
  description: string | null;
  snippet: string | null;
  lang: string | null;
  canonical: string | null;
  image: string | null;
  siteName: string | null;
  /** Hash of all visible text (only when `hashText` is asked for), to notice changes past the snippet. */
  textHash?: string;
}

export const EMPTY_FIELDS: PageFields = {
  title: null,
  description: null,
  snippet: null,
  lang: null,
  canonical: null,
  image: null,
  siteName: null,
};

export interface SnippetOptions {
  snippetLength: number;
  /** Take the snippet from the text of the elements this CSS selector matches. */
  selector?: string | undefined;
  /** Take the window of text that best matches these words. */
  query?: string | undefined;
  /** Also hash all visible text (watch lists use it for change detection). */
  hashText?: boolean | undefined;
}

/**
 * Elements whose text is never visible page text (<title> is handled apart: lol-html keeps one
 * end-tag handler per element). <script> and <style> are apart from the rest: their content is
 * raw text, never elements, so inside <head>, where no text is kept anyway, they need no tracking.
 */
const RAW_TEXT = 'script, style';
const HIDDEN = 'noscript, template, svg, math, iframe, object, select, datalist';

/** Elements that start a new block of text: "a</p><p>b" must read "a b". */
const BLOCKS =
  'address, article, aside, blockquote, body, caption, dd, details, dialog, div, dl, dt, fieldset, figcaption, figure, footer, form, h1, h2, h3, h4, h5, h6, header, li, main, nav, ol, p, pre, section, summary, table, tbody, td, tfoot, th, thead, tr, ul, option, label, button';

/**
 * Void elements that separate text like blocks. They have no end tag, so they separate once,
 * without `onEndTag` (which throws for them: about 8 µs per element in workerd, measured).
 */
const VOID_BLOCKS = 'br, hr, input, img';

/** The buffer the rewriter's output is drained into (its content is thrown away). */
const DRAIN_BUFFER_BYTES = 65_536;

/** Characters of visible text kept when a query needs to search the page. */
const QUERY_TEXT_CAP = 200_000;

/** Calls `fn` at the element's end tag, or now if the element has none (void or self-closing). */
function atEnd(element: Element, fn: () => void): void {
  try {
    element.onEndTag(() => fn());
  } catch {
    fn();
  }
}

/** Resolves a URL found in the page against the page's base; only http(s) results are kept. */
function resolveUrl(value: string | null, base: string): string | null {
  if (!value) return null;
  try {
    const url = new URL(value, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** Set by extractHtml once the page has given what was asked for; its input ends at the next pull. */
export interface StopFlag {
  requested: boolean;
}

/**
 * Reads a page's metadata and text from a stream of UTF-8 bytes with
 * HTMLRewriter (lol-html), streaming: nothing but the collected text is kept.
 * Rejects if the body fails (the caller maps that to the input's own error). Once
 * the page has given what was asked for, sets `stop` (the input should end) and
 * ignores the rest; the caller cancels the body.
 */
export async function extractHtml(
  body: ReadableStream<Uint8Array>,
  pageUrl: string,
  options: SnippetOptions,
  stop: StopFlag = { requested: false },
): Promise<PageFields> {
  const wantAll = options.query !== undefined;
  // cutAtWord(text, n) reads text[0..n] and no further, and the buffers only ever append, so
  // n + 1 characters give the same snippet as any longer text; the early stop comes that much sooner.
  const textCap = wantAll ? QUERY_TEXT_CAP : options.snippetLength + 1;
  const visible = new TextBuffer(textCap);
  const selected = options.selector ? new TextBuffer(textCap) : null;
  const hash = options.hashText ? new TextHash() : null;

  const metas = new Map<string, string>();
  let lang: string | null = null;
  let baseHref: string | null = null;
  let canonical: string | null = null;
  let titleRaw: string | null = null;
  let inTitle = false;
  let hidden = 0;
  let inHead = false;
  /** True once the head is over (its end tag, <body>, or a block element seen). */
  let headDone = false;
  let pendingVisible = '';
  let pendingSelected = '';

  /**
   * Early stop: with no selector, query or text hash, the page has nothing more
   * to give once the head is read and the snippet is full (metadata lives in
   * <head>; the snippet is the first visible text). Saves CPU and bandwidth.
   */
  const stopEarly = !options.selector && !options.query && !options.hashText;
  const enough = () => stopEarly && headDone && (options.snippetLength === 0 || visible.full);
  /**
   * Once it is enough, every handler ignores the rest and `stop` tells the input
   * to end at its next pull, so the rewriter parses at most what it already has
   * (the input hands it small slices for that). Throwing from a handler would
   * end the transform sooner, but workerd reports every such throw as an
   * uncaught exception: one error log line per page under `wrangler dev`.
   */
  let stopped = false;
  const stopIfEnough = () => {
    if (!stopped && enough()) {
      stopped = true;
      stop.requested = true;
    }
  };

  /** "a</p><p>b" reads "a b": a block's start and end separate the text on each side. */
  const separate = () => {
    visible.separate();
    selected?.separate();
    hash?.separate();
  };
  /** A block (or <body>) also means the head is over, even when </head> was left out. */
  const blockBoundary = () => {
    inHead = false;
    headDone = true;
    separate();
  };

  let rewriter = new HTMLRewriter()
    .on('html', {
      element(el) {
        if (stopped) return;
        lang ??= el.getAttribute('lang') ?? el.getAttribute('xml:lang');
      },
    })
    .on('head', {
      element(el) {
        if (stopped) return;
        inHead = true;
        atEnd(el, () => {
          inHead = false;
          headDone = true;
          stopIfEnough(); // snippetLength 0: the head was all there was to read
        });
      },
    })
    .on('base[href]', {
      element(el) {
        if (stopped) return;
        baseHref ??= el.getAttribute('href');
      },
    })
    .on('title', {
      element(el) {
        if (stopped) return;
        // The first <title> outside svg/template is the page's; an icon's <title> is not.
        if (titleRaw !== null || hidden > 0) return;
        titleRaw = '';
        inTitle = true;
        atEnd(el, () => (inTitle = false));
      },
    })
    .on('meta', {
      element(el) {
        if (stopped) return;
        const content = el.getAttribute('content');
        if (content === null) return;
        const key = (el.getAttribute('property') ?? el.getAttribute('name') ?? el.getAttribute('itemprop'))
          ?.trim()
          .toLowerCase();
        if (key && !metas.has(key)) metas.set(key, content);
        const equiv = el.getAttribute('http-equiv')?.trim().toLowerCase();
        if (equiv === 'content-language' && !metas.has('content-language')) metas.set('content-language', content);
      },
    })
    .on('link[rel][href]', {
      element(el) {
        if (stopped) return;
        const rel = el.getAttribute('rel')!.toLowerCase().split(/\s+/);
        if (rel.includes('canonical')) canonical ??= el.getAttribute('href');
      },
    })
    .on(RAW_TEXT, {
      element(el) {
        if (stopped) return;
        // In <head> no text is kept, so a script or style there needs no end-tag handler (each costs
        // a call into JavaScript; heads carry dozens). A selector may match inside <head>: track it then.
        if (inHead && !selected) return;
        hidden++;
        atEnd(el, () => hidden--);
      },
    })
    .on(HIDDEN, {
      element(el) {
        if (stopped) return;
        hidden++;
        atEnd(el, () => hidden--);
      },
    })
    .on(BLOCKS, {
      element(el) {
        if (stopped) return;
        blockBoundary();
        atEnd(el, separate);
        stopIfEnough();
      },
    })
    .on(VOID_BLOCKS, {
      element() {
        if (stopped) return;
        blockBoundary();
        stopIfEnough();
      },
    })
    .onDocument({
      text(chunk) {
        if (stopped) return;
        // Chunks split wherever the bytes split; decode entities once per whole text node.
        if (inTitle) titleRaw += chunk.text;
        if (hidden > 0 || inHead || inTitle || (visible.full && !hash)) return;
        pendingVisible += chunk.text;
        if (!chunk.lastInTextNode) return;
        const text = decodeText(pendingVisible);
        visible.append(text);
        hash?.update(text);
        pendingVisible = '';
        stopIfEnough();
      },
    });

  if (options.selector && selected) {
    rewriter = rewriter.on(options.selector, {
      element() {
        selected.separate();
      },
      text(chunk) {
        if (hidden > 0 || selected.full) return;
        pendingSelected += chunk.text;
        if (!chunk.lastInTextNode) return;
        selected.append(decodeText(pendingSelected));
        pendingSelected = '';
      },
    });
  }


  const out = rewriter.transform(new Response(body, { headers: { 'content-type': 'text/html; charset=utf-8' } }));
  try {
    // The transformed body must be consumed or no handler runs (PLATFORM.md). The rewriter
    // emits a chunk per token; reading them one by one cost 10-20 ms of CPU per page in the
    // bench, so drain in 32 KiB reads into one reused buffer (workerd's readAtLeast). Not
    // arrayBuffer(): that would hold up to maxBytes per URL in memory.
    const drain = out.body!.getReader({ mode: 'byob' });
    let buffer = new Uint8Array(DRAIN_BUFFER_BYTES);
    for (;;) {
      const { done, value } = await drain.readAtLeast(DRAIN_BUFFER_BYTES / 2, buffer);
      if (done) break;
      buffer = new Uint8Array(value.buffer);
    }
  } catch (error) {
    // Stopped on purpose (the caller tells the origin to stop sending), or the input failed.
    if (!stopped) throw error;
  }
  if (pendingVisible) {
    visible.append(decodeText(pendingVisible));
    hash?.update(decodeText(pendingVisible));
  }
  if (pendingSelected && selected) selected.append(decodeText(pendingSelected));

  const base = resolveUrl(baseHref, pageUrl) ?? pageUrl;
  const meta = (...keys: string[]) => {
    for (const key of keys) {
      const value = cleanValue(metas.get(key));
      if (value) return value;
    }
    return null;
  };

  const source = selected ? selected.text : visible.text;
  let snippet: string | null = null;
  if (options.snippetLength > 0) {
    const terms = options.query ? queryTerms(options.query) : [];
    snippet = bestWindow(source, terms, options.snippetLength) ?? cutAtWord(source, options.snippetLength);
    if (snippet === '') snippet = null;
  }

  const imageRaw = meta('og:image', 'og:image:url', 'og:image:secure_url', 'twitter:image', 'twitter:image:src');
  return {
    title: (titleRaw === null ? null : tidy(decodeText(titleRaw))) ?? meta('og:title', 'twitter:title'),
    description: meta('description', 'og:description', 'twitter:description'),
    snippet,
    lang: cleanValue(lang, 64) ?? cleanValue(metas.get('content-language'), 64),
    canonical: resolveUrl(cleanValue(canonical), base),
    image: resolveUrl(imageRaw, base),
    siteName: meta('og:site_name', 'application-name'),
    ...(hash ? { textHash: hash.digest() } : {}),
  };
}
