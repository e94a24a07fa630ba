import { CONTENT_FORMATS, type Format, type PageFields } from '../result';
import { LinkCollector } from './links';
import { PageMetadata } from './metadata';
import { bestWindow, cutAtWord, decodeText, queryTerms, TextBuffer, TextHash, tidy } from './text';

export interface SnippetOptions {
  snippetLength: number;
  /** Take the snippet from the text of the elements this CSS selector matches. */
  selector?: string | undefined;
  /** Take the window of text that best matches these words. */
  query?: string | undefined;
  /** Also hash all visible text (watch lists use it for change detection). */
  hashText?: boolean | undefined;
  /** Name the source of every metadata field in `sources`. */
  provenance?: boolean | undefined;
  /** More than the default fields (src/result.ts FORMATS). */
  formats?: readonly Format[] | undefined;
  /** Content formats (read from the whole page by ./content.ts): the main content (default) or the whole body. */
  onlyMainContent?: boolean | undefined;
  /** Characters of each content format (default: no cut). */
  maxContentChars?: number | undefined;
}

/**
 * Shared by extractHtml and its input: `requested` is set once the page has
 * given what was asked for (the input ends at its next pull); `bytes` counts
 * what the input has handed the rewriter.
 */
export interface StopFlag {
  requested: boolean;
  bytes: number;
}

/**
 * Elements whose text is never visible page text (<title> is handled apart: lol-html keeps one
 * end-tag handler per element). <script> and <style> are apart from the rest: their content is
 * raw text, never elements, so inside <head>, where no text is kept anyway, they need no tracking.
 */
const RAW_TEXT = 'script, style';
const HIDDEN = 'noscript, template, svg, math, iframe, object, select, datalist';

/**
 * Elements that start a new block of text: "a</p><p>b" must read "a b". The
 * blocks metadata cares about have a handler of their own, which asks each
 * its tag; the rest share one that does not (each `.on()` costs about 10 µs
 * per page, each `tagName` a call into the runtime: measured in the bench).
 */
const METADATA_BLOCKS = 'p, h1, article, body, nav, footer, aside, form';
const OTHER_BLOCKS =
  'address, blockquote, caption, dd, details, dialog, div, dl, dt, fieldset, figcaption, figure, h2, h3, h4, h5, h6, header, li, main, ol, pre, section, summary, table, tbody, td, tfoot, th, thead, tr, ul, option, label, button';
const BLOCK_TAGS: ReadonlySet<string> = new Set(`${METADATA_BLOCKS}, ${OTHER_BLOCKS}`.split(', '));
/** nav, footer, aside and form: their paragraphs are never the page's description. */
type BlockKind = 'p' | 'h1' | 'article' | 'body' | 'chrome' | 'other';
const KIND_OF_TAG: Readonly<Record<string, BlockKind>> = { p: 'p', h1: 'h1', article: 'article', body: 'body', nav: 'chrome', footer: 'chrome', aside: 'chrome', form: 'chrome' };

/** Elements that name a page's author or dates in its content (one handler: see METADATA_BLOCKS). */
const MARKED =
  'a[rel~="author"], [itemprop~="author"], [itemprop="datePublished"], [itemprop="dateModified"], time[datetime], [class*="byline"], [class*="Byline"], [class*="author"], [class*="Author"]';

/**
 * A class that names a byline (`byline`, `pb-byline`, `article__author`, `author vcard`), not an
 * author's box or list (`author-bio`, `authors`, `author-avatar`): its short text is the author.
 */
const BYLINE_CLASS = /(^|\s)[\w-]*(?:byline|author)(?:[_-]?name|__name|[_-]link)?(?=\s|$)/i;

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
  stop: StopFlag = { requested: false, bytes: 0 },
): Promise<PageFields> {
  const page = new PageReader(options, stop);
  const out = page.rewriter().transform(new Response(body, { headers: { 'content-type': 'text/html; charset=utf-8' } }));
  try {
    await drain(out);
  } catch (error) {
    // Stopped on purpose (the caller tells the origin to stop sending), or the input failed.
    // lol-html also bounds its own memory (its stack of open elements, mostly): a page nested
    // past it gives what was read up to there, not a failure. The caller ends the body.
    if (!stop.requested && !isParserLimit(error)) throw error;
  }
  return page.fields(pageUrl);
}

/** lol-html's error for a document past its memory bound (100,000 nested elements do it; 5,000 do not). */
function isParserLimit(error: unknown): boolean {
  return error instanceof Error && /memory limit has been exceeded/i.test(error.message);
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

/**
 * The raw text of one element while it is open (a paragraph, the h1, a
 * byline), capped; `take()` ends the capture and answers the text tidied.
 */
class TextCapture {
  #raw: string | null = null;

  get open(): boolean {
    return this.#raw !== null;
  }

  start(): void {
    this.#raw = '';
  }

  add(text: string): void {
    if (this.#raw !== null && this.#raw.length < CAPTURE_MAX_CHARS) this.#raw += text;
  }

  /** The text decoded (not tidied: a paragraph is judged as written), the capture ended. */
  take(): string {
    const raw = this.#raw ?? '';
    this.#raw = null;
    return decodeText(raw);
  }
}

/**
 * Once the head is read and the snippet is full, a page that still lacks a
 * title, a description, or (an article) its author or date is read on for at
 * most this many more bytes: the h1, the first paragraph, the byline and its
 * `<time>` sit near the top of the content.
 */
export const MORE_METADATA_BYTES = 49_152;

/** Paragraphs that describe the site's machinery, not the page. */
const BOILERPLATE = /\bcookies?\b|\bconsent\b|enable javascript|your browser/i;

/**
 * A byline sits between the headline and the story: once this many paragraphs
 * have ended after the first h1, a page that showed none is not read on for one.
 */
const BYLINE_PARAGRAPHS = 3;

/** Longest text kept of one paragraph, h1 or byline while it is read. */
const CAPTURE_MAX_CHARS = 4_000;

/** One page's reading: the rewriter's handlers and what they collect. */
class PageReader {
  readonly #meta = new PageMetadata();
  /** Every `<a href>`, when the `links` format is asked for. */
  readonly #links: LinkCollector | null;
  readonly #visible: TextSink;
  /** Text of the elements `selector` matches, when there is one. */
  readonly #selected: TextSink | null;
  /** Open elements whose text is not visible (script, style, template, ...). */
  #hidden = 0;
  /** Open nav, footer, aside and form elements. */
  #chrome = 0;
  #inHead = false;
  #inTitle = false;
  /** True once a `<head>` start tag was seen: a block after it closes the head, as a browser's parser would. */
  #sawHead = false;
  /** True once the head is over: its end tag, `<body>`, or a block element after `<head>`. */
  #headDone = false;
  /** The paragraph, h1 and byline being read, when one is. */
  readonly #paragraph = new TextCapture();
  readonly #h1 = new TextCapture();
  readonly #byline = new TextCapture();
  /** A byline found by its class, read apart: an `<a rel="author">` inside it is read too. */
  readonly #classByline = new TextCapture();
  /** Set by the JSON-LD script's own handler, which runs just before RAW_TEXT's for the same element. */
  #jsonLdOpening = false;
  /** `stop.bytes` when the head and the snippet were first both in. */
  #satisfiedAt: number | null = null;
  /** Paragraphs ended since the first h1 began (see BYLINE_PARAGRAPHS). */
  #paragraphsAfterH1 = -1;
  /** A byline capture a block element started, for its block handler to finish. */
  #blockByline: (() => void) | null = null;
  /**
   * Early stop: with no selector, query or text hash, the page has nothing more
   * to give once the head is read, the snippet is full, and the metadata a
   * preview needs is in (or MORE_METADATA_BYTES did not bring it). Saves CPU
   * and bandwidth.
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
    const formats = options.formats ?? [];
    this.#links = formats.includes('links') ? new LinkCollector() : null;
    // Links and JSON-LD can be anywhere: a format that asks for them reads the whole page (up to maxBytes).
    // The content formats read the whole page themselves (./content.ts), so they leave the early stop on.
    const onlyContent = formats.every((format) => (CONTENT_FORMATS as readonly Format[]).includes(format));
    this.#stopEarly = !options.selector && !options.query && !options.hashText && onlyContent;
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
    if (this.options.snippetLength > 0 && !this.#visible.buffer.full) return;
    this.#satisfiedAt ??= this.stop.bytes;
    const wants = this.#meta.wants();
    const byline = wants.byline && this.#paragraphsAfterH1 < BYLINE_PARAGRAPHS;
    if ((!wants.title && !wants.description && !byline) || this.stop.bytes - this.#satisfiedAt >= MORE_METADATA_BYTES) {
      this.stop.requested = true;
    }
  }

  /** "a</p><p>b" reads "a b": a block's start and end separate the text on each side. */
  #separate = (): void => {
    this.#visible.separate();
    this.#selected?.separate();
  };

  /** Counts an element whose text is not visible until its end tag. */
  #hide(el: Element): void {
    this.#hidden++;
    atEnd(el, () => this.#hidden--);
  }

  /**
   * A block element. Its text is visible (the head, if open, is over); after a
   * `<head>` start tag, a block closes the head as a browser's parser does.
   * Blocks before any `<head>` (an injected `<div>`) leave the head to come.
   * lol-html keeps one end-tag handler per element, so everything a block's
   * end means is done here: the separation, and the first h1, prose paragraph
   * and block-level byline it captured.
   */
  #onBlock(el: Element, kind: BlockKind): void {
    const meta = this.#meta;
    this.#boundary(kind === 'body');
    // A block that is also a byline (itemprop="author") was started by its own selector's handler, just before.
    const byline = this.#blockByline;
    this.#blockByline = null;
    if (kind === 'other' && !byline) {
      atEnd(el, this.#separate);
      return this.#stopIfEnough();
    }
    if (kind === 'article') meta.sawArticle = true;
    const chrome = kind === 'chrome';
    if (chrome) this.#chrome++;
    const paragraph = kind === 'p' && meta.paragraph === null && this.#chrome === 0 && !this.#paragraph.open;
    if (paragraph) this.#paragraph.start();
    const h1 = kind === 'h1' && meta.h1 === null && !this.#h1.open && this.#hidden === 0;
    if (h1) this.#h1.start();
    if (kind === 'h1' && this.#paragraphsAfterH1 < 0) this.#paragraphsAfterH1 = 0;
    atEnd(el, () => {
      this.#separate();
      if (chrome) this.#chrome--;
      if (kind === 'p' && this.#paragraphsAfterH1 >= 0) this.#paragraphsAfterH1++;
      if (paragraph) {
        const text = this.#paragraph.take();
        if (!BOILERPLATE.test(text)) meta.offerParagraph(text);
      }
      if (h1) meta.h1 ??= tidy(this.#h1.take());
      if (byline) byline();
    });
    this.#stopIfEnough();
  }

  /**
   * Where a block or void block starts: its text is visible (the head, if
   * open, is over); after a `<head>` start tag (or at `<body>`) the head is
   * done, as a browser's parser decides; blocks before any `<head>` (an
   * injected `<div>`) leave the head to come.
   */
  #boundary(body: boolean): void {
    this.#inHead = false;
    if (this.#sawHead || body) this.#headDone = true;
    this.#separate();
    // "Jane Doe<br>March 25" reads "Jane Doe March 25" in what is being captured too.
    this.#byline.add(' ');
    this.#classByline.add(' ');
    this.#paragraph.add(' ');
    this.#h1.add(' ');
  }

  /**
   * An author's name in the content: `<a rel="author">` or an element with
   * `itemprop="author"` (its `content`, else its text). Starts capturing its
   * text and answers what to do with it at the end tag, or null.
   */
  #bylineStart(el: Element, kind: 'itemprop' | 'rel' | 'class'): (() => void) | null {
    const meta = this.#meta;
    if (kind === 'itemprop') {
      const content = el.getAttribute('content');
      if (content !== null) {
        meta.addItemprop('author', content);
        return null;
      }
    }
    const found = kind === 'itemprop' ? meta.itemprops.has('author') : kind === 'rel' ? meta.relAuthor !== null : meta.classByline !== null;
    const capture = kind === 'class' ? this.#classByline : this.#byline;
    if (capture.open || found) return null;
    capture.start();
    return () => {
      const text = tidy(capture.take());
      if (!text) return;
      if (kind === 'itemprop') meta.addItemprop('author', text);
      else if (kind === 'rel') meta.relAuthor ??= text;
      else meta.offerClassByline(text);
    };
  }

  /**
   * An element that names the author or a date: `<time datetime>`, `itemprop`,
   * `<a rel="author">`, or a class naming a byline or an author.
   */
  #onMarked(el: Element): void {
    const meta = this.#meta;
    const itemprop = el.getAttribute('itemprop');
    if (itemprop === 'datePublished' || itemprop === 'dateModified') {
      meta.addItemprop(itemprop, el.getAttribute('content') ?? el.getAttribute('datetime'));
    } else if (el.tagName === 'time' && !/(^|\s)author(\s|$)/.test(itemprop ?? '')) {
      // The first <time>, or the first that says it is the publication date.
      if (meta.time === null || el.hasAttribute('pubdate')) meta.time = el.getAttribute('datetime');
    } else {
      const kind = /(^|\s)author(\s|$)/.test(itemprop ?? '')
        ? 'itemprop'
        : el.tagName === 'a' && /(^|\s)author(\s|$)/i.test(el.getAttribute('rel') ?? '')
          ? 'rel'
          : BYLINE_CLASS.test(el.getAttribute('class') ?? '')
            ? 'class'
            : null;
      const byline = kind ? this.#bylineStart(el, kind) : null;
      // A block's one end-tag handler is its block handler's (#onBlock, which runs next): it finishes the capture.
      if (BLOCK_TAGS.has(el.tagName)) this.#blockByline = byline;
      else if (byline) atEnd(el, byline);
    }
  }

  #onText(chunk: Text): void {
    if (this.stop.requested) return;
    const { text } = chunk;
    if (this.#inTitle) this.#meta.titleRaw += text;
    if (this.#hidden > 0 || this.#inHead || this.#inTitle) return;
    this.#paragraph.add(text);
    this.#h1.add(text);
    this.#byline.add(text);
    this.#classByline.add(text);
    if (this.#visible.sated) return;
    if (this.#visible.add(text, chunk.lastInTextNode)) this.#stopIfEnough();
  }

  /** The rewriter with every handler this page's options need. */
  rewriter(): HTMLRewriter {
    const meta = this.#meta;
    const live = () => !this.stop.requested;
    let rewriter = new HTMLRewriter()
      .on('html', {
        element: (el) => {
          if (live()) meta.lang ??= el.getAttribute('lang') ?? el.getAttribute('xml:lang');
        },
      })
      .on('head', {
        element: (el) => {
          if (!live()) return;
          this.#inHead = true;
          this.#sawHead = true;
          atEnd(el, () => {
            this.#inHead = false;
            this.#headDone = true;
            this.#stopIfEnough(); // snippetLength 0: the head was all there was to read
          });
        },
      })
      .on('base[href]', {
        element: (el) => {
          if (live()) meta.baseHref ??= el.getAttribute('href');
        },
      })
      .on('title', {
        element: (el) => {
          // The first <title> outside svg/template is the page's; an icon's <title> is not.
          if (!live() || meta.titleRaw !== null || this.#hidden > 0) return;
          meta.titleRaw = '';
          this.#inTitle = true;
          atEnd(el, () => (this.#inTitle = false));
        },
      })
      .on('meta', {
        element: (el) => {
          if (live()) meta.addMeta(el);
        },
      })
      .on('link[rel][href]', {
        element: (el) => {
          if (live()) meta.addLink(el);
        },
      })
      .on('script[type="application/ld+json"]', {
        // Its end is the RAW_TEXT handler's (one end-tag handler per element), which runs next; its text is here.
        element: () => {
          this.#jsonLdOpening = true;
        },
        text: (chunk) => {
          if (live()) meta.addJsonLdText(chunk.text);
        },
      })
      .on(MARKED, {
        element: (el) => {
          if (live()) this.#onMarked(el);
        },
      })
      .on(RAW_TEXT, {
        element: (el) => {
          if (!live()) return;
          // In <head> no text is kept, so a script or style there needs no end-tag handler (each costs
          // a call into JavaScript; heads carry dozens). A selector may match inside <head>: track it then.
          const hide = !(this.#inHead && !this.#selected);
          const jsonLd = this.#jsonLdOpening;
          this.#jsonLdOpening = false;
          if (jsonLd) meta.startJsonLd();
          if (hide) this.#hidden++;
          if (hide || jsonLd) {
            atEnd(el, () => {
              if (hide) this.#hidden--;
              if (jsonLd) meta.endJsonLd();
            });
          }
        },
      })
      .on(HIDDEN, {
        element: (el) => {
          if (live()) this.#hide(el);
        },
      })
      .on(METADATA_BLOCKS, {
        element: (el) => {
          if (live()) this.#onBlock(el, KIND_OF_TAG[el.tagName] ?? 'other');
        },
      })
      .on(OTHER_BLOCKS, {
        element: (el) => {
          if (live()) this.#onBlock(el, 'other');
        },
      })
      .on(VOID_BLOCKS, {
        element: () => {
          if (!live()) return;
          this.#boundary(false);
          this.#stopIfEnough();
        },
      })
      .onDocument({ text: (chunk) => this.#onText(chunk) });

    const links = this.#links;
    if (links) {
      rewriter = rewriter.on('a[href]', {
        element: (el) => links.start(el),
        text: (chunk) => links.addText(chunk.text),
      });
    }
    const selected = this.#selected;
    if (!this.options.selector || !selected) return rewriter;
    return rewriter.on(this.options.selector, {
      element: () => selected.separate(),
      text: (chunk) => {
        if (this.#hidden === 0 && !selected.buffer.full) selected.add(chunk.text, chunk.lastInTextNode);
      },
    });
  }

  /** The page's fields once the rewriter is done: metadata resolved, the snippet cut. */
  fields(pageUrl: string): PageFields {
    this.#visible.flush();
    this.#selected?.flush();
    const hash = this.#visible.hash;
    const meta = this.#meta;
    const { sources, ...metadata } = meta.resolve(pageUrl, this.options.provenance === true);
    const formats = this.options.formats ?? [];
    return {
      ...metadata,
      snippet: this.#snippet(),
      ...(hash ? { textHash: hash.digest() } : {}),
      ...(sources ? { sources } : {}),
      ...(this.#links ? { links: this.#links.resolve(pageUrl, meta.base(pageUrl)) } : {}),
      ...(formats.includes('jsonld') ? { jsonld: meta.jsonLdValues, jsonldSkipped: meta.jsonLdFailed } : {}),
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
