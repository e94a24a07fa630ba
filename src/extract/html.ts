import type { PageFields } from '../result';
import { bestWindow, cleanValue, cutAtWord, decodeText, queryTerms, TextBuffer, TextHash, tidy } from './text';

export interface SnippetOptions {
  snippetLength: number;
  /** Take the snippet from the text of the elements this CSS selector matches. */
  selector?: string | undefined;
  /** Take the window of text that best matches these words. */
  query?: string | undefined;
  /** Also hash all visible text (watch lists use it for change detection). */
  hashText?: boolean | undefined;
}

/** Set by extractHtml once the page has given what was asked for; its input ends at the next pull. */
export interface StopFlag {
  requested: boolean;
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
export const QUERY_TEXT_CAP = 200_000;

/**
 * Reads a page's metadata and text from a stream of UTF-8 bytes with
 * HTMLRewriter (lol-html), streaming: nothing but the collected text is kept.
 * Rejects if the body fails (the caller maps that to the input's own error).
 * Once the page has given what was asked for, sets `stop` (the input should
 * end) and ignores the rest; the caller cancels the body.
 */
export async function extractHtml(
  body: ReadableStream<Uint8Array>,
  pageUrl: string,
  options: SnippetOptions,
  stop: StopFlag = { requested: false },
): Promise<PageFields> {
  const page = new PageReader(options, stop);
  const out = page.rewriter().transform(new Response(body, { headers: { 'content-type': 'text/html; charset=utf-8' } }));
  try {
    await drain(out);
  } catch (error) {
    // Stopped on purpose (the caller tells the origin to stop sending), or the input failed.
    if (!stop.requested) throw error;
  }
  return page.fields(pageUrl);
}

/**
 * The transformed body must be consumed or no handler runs (docs/workers-platform.md).
 * The rewriter emits a chunk per token; reading them one by one cost 10-20 ms of
 * CPU per page in the bench, so drain in 32 KiB reads into one reused buffer
 * (workerd's readAtLeast). Not arrayBuffer(): that would hold up to maxBytes
 * per URL in memory.
 */
async function drain(out: Response): Promise<void> {
  const reader = out.body!.getReader({ mode: 'byob' });
  let buffer = new Uint8Array(DRAIN_BUFFER_BYTES);
  for (;;) {
    const { done, value } = await reader.readAtLeast(DRAIN_BUFFER_BYTES / 2, buffer);
    if (done) return;
    buffer = new Uint8Array(value.buffer);
  }
}

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

/** What the head (and the <html> tag) say about the page: the first value of each wins. */
class HeadTags {
  readonly metas = new Map<string, string>();
  lang: string | null = null;
  baseHref: string | null = null;
  canonical: string | null = null;
  /** The first <title>'s raw text, as its chunks arrive; null until one is seen. */
  titleRaw: string | null = null;

  /** The first non-empty value among meta `keys`, cleaned. */
  meta(...keys: string[]): string | null {
    for (const key of keys) {
      const value = cleanValue(this.metas.get(key));
      if (value) return value;
    }
    return null;
  }

  addMeta(el: Element): void {
    const content = el.getAttribute('content');
    if (content === null) return;
    const key = (el.getAttribute('property') ?? el.getAttribute('name') ?? el.getAttribute('itemprop'))?.trim().toLowerCase();
    if (key && !this.metas.has(key)) this.metas.set(key, content);
    const equiv = el.getAttribute('http-equiv')?.trim().toLowerCase();
    if (equiv === 'content-language' && !this.metas.has('content-language')) this.metas.set('content-language', content);
  }
}

/**
 * Visible text collected from text chunks: chunks split wherever the bytes
 * split, so entities are decoded once per whole text node.
 */
class TextSink {
  #pending = '';
  constructor(
    readonly buffer: TextBuffer,
    readonly hash: TextHash | null = null,
  ) {}

  /** True when nothing more is wanted (the buffer is full and there is no hash to feed). */
  get sated(): boolean {
    return this.buffer.full && !this.hash;
  }

  /** Takes a chunk; answers true when it ended a text node (the text went in). */
  add(text: string, lastInTextNode: boolean): boolean {
    this.#pending += text;
    if (!lastInTextNode) return false;
    this.flush();
    return true;
  }

  flush(): void {
    if (!this.#pending) return;
    const text = decodeText(this.#pending);
    this.buffer.append(text);
    this.hash?.update(text);
    this.#pending = '';
  }

  separate(): void {
    this.buffer.separate();
    this.hash?.separate();
  }
}

/** One page's reading: the rewriter's handlers and what they collect. */
class PageReader {
  readonly #head = new HeadTags();
  readonly #visible: TextSink;
  /** Text of the elements `selector` matches, when there is one. */
  readonly #selected: TextSink | null;
  /** Open elements whose text is not visible (script, style, template, ...). */
  #hidden = 0;
  #inHead = false;
  #inTitle = false;
  /** True once the head is over (its end tag, <body>, or a block element seen). */
  #headDone = false;
  /**
   * Early stop: with no selector, query or text hash, the page has nothing more
   * to give once the head is read and the snippet is full (metadata lives in
   * <head>; the snippet is the first visible text). Saves CPU and bandwidth.
   */
  readonly #stopEarly: boolean;

  constructor(
    private readonly options: SnippetOptions,
    private readonly stop: StopFlag,
  ) {
    // cutAtWord(text, n) reads text[0..n] and no further, and the buffers only ever append, so
    // n + 1 characters give the same snippet as any longer text; the early stop comes that much sooner.
    const textCap = options.query !== undefined ? QUERY_TEXT_CAP : options.snippetLength + 1;
    this.#visible = new TextSink(new TextBuffer(textCap), options.hashText ? new TextHash() : null);
    this.#selected = options.selector ? new TextSink(new TextBuffer(textCap)) : null;
    this.#stopEarly = !options.selector && !options.query && !options.hashText;
  }

  /**
   * Once the page has given enough, every handler ignores the rest and `stop`
   * tells the input to end at its next pull, so the rewriter parses at most
   * what it already has (the input hands it small slices for that). Throwing
   * from a handler would end the transform sooner, but workerd reports every
   * such throw as an uncaught exception: one error log line per page under
   * `wrangler dev`.
   */
  #stopIfEnough(): void {
    if (this.stop.requested || !this.#stopEarly || !this.#headDone) return;
    if (this.options.snippetLength === 0 || this.#visible.buffer.full) this.stop.requested = true;
  }

  /** "a</p><p>b" reads "a b": a block's start and end separate the text on each side. */
  #separate = (): void => {
    this.#visible.separate();
    this.#selected?.separate();
  };

  /** A block (or <body>) also means the head is over, even when </head> was left out. */
  #blockBoundary(): void {
    this.#inHead = false;
    this.#headDone = true;
    this.#separate();
  }

  /** Counts an element whose text is not visible until its end tag. */
  #hide(el: Element): void {
    this.#hidden++;
    atEnd(el, () => this.#hidden--);
  }

  #onText(chunk: Text): void {
    if (this.stop.requested) return;
    if (this.#inTitle) this.#head.titleRaw += chunk.text;
    if (this.#hidden > 0 || this.#inHead || this.#inTitle || this.#visible.sated) return;
    if (this.#visible.add(chunk.text, chunk.lastInTextNode)) this.#stopIfEnough();
  }

  /** The rewriter with every handler this page's options need. */
  rewriter(): HTMLRewriter {
    const head = this.#head;
    const live = () => !this.stop.requested;
    const rewriter = new HTMLRewriter()
      .on('html', {
        element: (el) => {
          if (live()) head.lang ??= el.getAttribute('lang') ?? el.getAttribute('xml:lang');
        },
      })
      .on('head', {
        element: (el) => {
          if (!live()) return;
          this.#inHead = true;
          atEnd(el, () => {
            this.#inHead = false;
            this.#headDone = true;
            this.#stopIfEnough(); // snippetLength 0: the head was all there was to read
          });
        },
      })
      .on('base[href]', {
        element: (el) => {
          if (live()) head.baseHref ??= el.getAttribute('href');
        },
      })
      .on('title', {
        element: (el) => {
          // The first <title> outside svg/template is the page's; an icon's <title> is not.
          if (!live() || head.titleRaw !== null || this.#hidden > 0) return;
          head.titleRaw = '';
          this.#inTitle = true;
          atEnd(el, () => (this.#inTitle = false));
        },
      })
      .on('meta', {
        element: (el) => {
          if (live()) head.addMeta(el);
        },
      })
      .on('link[rel][href]', {
        element: (el) => {
          if (live() && el.getAttribute('rel')!.toLowerCase().split(/\s+/).includes('canonical')) head.canonical ??= el.getAttribute('href');
        },
      })
      .on(RAW_TEXT, {
        element: (el) => {
          // In <head> no text is kept, so a script or style there needs no end-tag handler (each costs
          // a call into JavaScript; heads carry dozens). A selector may match inside <head>: track it then.
          if (live() && !(this.#inHead && !this.#selected)) this.#hide(el);
        },
      })
      .on(HIDDEN, {
        element: (el) => {
          if (live()) this.#hide(el);
        },
      })
      .on(BLOCKS, {
        element: (el) => {
          if (!live()) return;
          this.#blockBoundary();
          atEnd(el, this.#separate);
          this.#stopIfEnough();
        },
      })
      .on(VOID_BLOCKS, {
        element: () => {
          if (!live()) return;
          this.#blockBoundary();
          this.#stopIfEnough();
        },
      })
      .onDocument({ text: (chunk) => this.#onText(chunk) });

    const selected = this.#selected;
    if (!this.options.selector || !selected) return rewriter;
    return rewriter.on(this.options.selector, {
      element: () => selected.separate(),
      text: (chunk) => {
        if (this.#hidden === 0 && !selected.buffer.full) selected.add(chunk.text, chunk.lastInTextNode);
      },
    });
  }

  /** The page's fields once the rewriter is done: URLs resolved, the snippet cut. */
  fields(pageUrl: string): PageFields {
    this.#visible.flush();
    this.#selected?.flush();
    const head = this.#head;
    const base = resolveUrl(head.baseHref, pageUrl) ?? pageUrl;
    const imageRaw = head.meta('og:image', 'og:image:url', 'og:image:secure_url', 'twitter:image', 'twitter:image:src');
    const hash = this.#visible.hash;
    return {
      title: (head.titleRaw === null ? null : tidy(decodeText(head.titleRaw))) ?? head.meta('og:title', 'twitter:title'),
      description: head.meta('description', 'og:description', 'twitter:description'),
      snippet: this.#snippet(),
      lang: cleanValue(head.lang, 64) ?? cleanValue(head.metas.get('content-language'), 64),
      canonical: resolveUrl(cleanValue(head.canonical), base),
      image: resolveUrl(imageRaw, base),
      siteName: head.meta('og:site_name', 'application-name'),
      ...(hash ? { textHash: hash.digest() } : {}),
    };
  }

  /** The selector's text or the visible text, cut to `snippetLength` (the best window for a query). */
  #snippet(): string | null {
    const { snippetLength, query } = this.options;
    if (snippetLength === 0) return null;
    const source = (this.#selected ?? this.#visible).buffer.text;
    const terms = query ? queryTerms(query) : [];
    return (bestWindow(source, terms, snippetLength) ?? cutAtWord(source, snippetLength)) || null;
  }
}
