import { CappedBody } from '../engine/read-body';
import { decideHtmlCharset, decideTextCharset, type CharsetDecision } from './charset';
import { EMPTY_FIELDS, extractHtml, type PageFields, type SnippetOptions, type StopFlag } from './html';
import { bestWindow, cutAtWord, JsonCompactor, queryTerms, TextBuffer, TextHash } from './text';

export type { PageFields, SnippetOptions } from './html';

/** What a body yielded: the page fields plus what was read. */
export interface BodyOutcome extends PageFields {
  /** Canonical WHATWG encoding name the text was decoded with; null for binary bodies. */
  charset: string | null;
  bytes: number;
  truncated: boolean;
}

export interface ExtractOptions extends SnippetOptions {
  maxBytes: number;
  /** The URL the body came from (after redirects); relative URLs resolve against it. */
  pageUrl: string;
  /** Aborts reading (timeout, deadline, client gone); extraction rejects with its reason. */
  signal: AbortSignal;
  /** Another URL to this host follows: read a short remainder to the end after an early stop (CappedBody.finish). */
  reuseConnection?: boolean | undefined;
}

type Kind = 'html' | 'json' | 'text' | 'binary';

/** Characters kept from a text body when a query must search it. */
const QUERY_TEXT_CAP = 200_000;

/** How fanout treats a media type. XML (feeds, sitemaps) goes through the HTML reader: its text and <title> come out right. */
export function kindOf(contentType: string | null): Kind | null {
  if (!contentType) return null;
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  if (media === 'text/html' || media === 'application/xhtml+xml') return 'html';
  if (media === 'application/xml' || media === 'text/xml' || media.endsWith('+xml')) return 'html';
  if (media === 'application/json' || media === 'text/json' || media.endsWith('+json')) return 'json';
  if (media.startsWith('text/')) return 'text';
  return 'binary';
}

/** Guesses the kind of an untyped body from its first bytes (a light version of the MIME sniffing standard). */
function sniffKind(first: Uint8Array): Kind {
  const head = new TextDecoder('latin1').decode(first.subarray(0, 512)).replace(/^\ufeff|^\xef\xbb\xbf/, '').trimStart();
  if (/^<(!doctype html|html|head|body|title|meta|!--|\?xml|rss|feed)/i.test(head)) return 'html';
  if (/^[[{]/.test(head)) return 'json';
  // Control bytes other than tab/newline/carriage return/form feed mean binary.
  return /[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]/.test(head) ? 'binary' : 'text';
}

/**
 * The rewriter is handed the body in slices of at most this many bytes, and no
 * slice is read ahead: when extraction has enough (the head read, the snippet
 * full), the input ends at the next pull, so the parser has at most one slice
 * to go through for nothing. A network chunk can be 64 KiB; slicing costs one
 * more pull per slice, far less than parsing what would be thrown away.
 */
const HTML_SLICE_BYTES = 4096;

/**
 * The body as the UTF-8 stream HTMLRewriter takes (it only reads ASCII-compatible
 * input, PLATFORM.md): the chunks already taken, then the rest, less the BOM, and
 * re-encoded when the page is in another charset. One stream with one `pull` per
 * slice; a UTF-8 page (nearly all of them) goes through without a copy. It ends
 * early once `stop` is requested.
 */
function htmlInput(
  taken: Uint8Array[],
  body: CappedBody,
  decision: CharsetDecision,
  stop: StopFlag,
  onError: (error: unknown) => void,
): ReadableStream<Uint8Array> {
  let next = 0;
  let skip = decision.bomLength;
  let rest: Uint8Array | null = null;
  const decoder = decision.encoding === 'utf-8' ? null : new TextDecoder(decision.encoding); // It drops the BOM itself.
  const encoder = decoder ? new TextEncoder() : null;
  /** The next UTF-8 bytes for the rewriter, or null at the end of the body. */
  const nextBytes = async (): Promise<Uint8Array | null> => {
    for (;;) {
      const chunk = next < taken.length ? taken[next++]! : await body.read();
      if (chunk === null) {
        const tail = decoder?.decode();
        return tail ? encoder!.encode(tail) : null;
      }
      if (decoder) {
        const text = decoder.decode(chunk, { stream: true });
        if (text) return encoder!.encode(text);
      } else if (skip >= chunk.byteLength) {
        skip -= chunk.byteLength;
      } else {
        const out = skip > 0 ? chunk.subarray(skip) : chunk;
        skip = 0;
        return out;
      }
    }
  };
  // One network read stays in flight while the parser works through slices: the body's end
  // (or its next chunk) is usually in hand by the time the rewriter wants more, or stops.
  let ahead: Promise<Uint8Array | null> | null = null;
  const readAhead = () => {
    if (ahead) return;
    ahead = nextBytes();
    ahead.catch(() => {}); // seen when taken; unobserved if the rewriter stops first
  };
  const take = (): Promise<Uint8Array | null> => {
    readAhead();
    const chunk = ahead!;
    ahead = null;
    return chunk;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (stop.requested) return controller.close();
          rest ??= await take();
          if (rest === null) return controller.close();
          if (rest.byteLength <= HTML_SLICE_BYTES) {
            controller.enqueue(rest);
            rest = null;
          } else {
            controller.enqueue(rest.subarray(0, HTML_SLICE_BYTES));
            rest = rest.subarray(HTML_SLICE_BYTES);
          }
          readAhead();
        } catch (error) {
          onError(error);
          controller.error(error);
        }
      },
      cancel() {
        // The rewriter stopped (a failure): extractBody's `finish` ends the body.
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Reads a response body (up to `maxBytes`, streaming) and extracts what its
 * type allows: HTML metadata and text, JSON compacted, text's start. Binary
 * bodies are not read past their first chunk.
 */
export async function extractBody(
  body: ReadableStream<Uint8Array> | null,
  contentType: string | null,
  options: ExtractOptions,
): Promise<BodyOutcome> {
  if (!body) return { ...EMPTY_FIELDS, charset: null, bytes: 0, truncated: false };

  const input = new CappedBody(body, options.maxBytes, options.signal);
  let found: { fields: PageFields; charset: string | null };
  try {
    found = await extractFrom(input, contentType, options);
  } finally {
    // Stops the reader (and with it the origin) if extraction ended before the body did.
    await input.finish(options.reuseConnection === true);
  }
  // After `finish`: a remainder read to keep the connection counts as read.
  const { progress } = input;
  return { ...found.fields, charset: found.charset, bytes: progress.bytes, truncated: progress.truncated || !progress.done };
}

/** The fields of a body by its kind, read from `input` as far as they need. */
async function extractFrom(
  input: CappedBody,
  contentType: string | null,
  options: ExtractOptions,
): Promise<{ fields: PageFields; charset: string | null }> {
  let kind = kindOf(contentType);
  const taken: Uint8Array[] = [];
  let takenBytes = 0;
  const takeUntil = async (bytes: number) => {
    while (takenBytes < bytes) {
      const chunk = await input.read();
      if (chunk === null) break;
      taken.push(chunk);
      takenBytes += chunk.byteLength;
    }
  };

  if (kind === null) {
    await takeUntil(1);
    kind = taken[0] ? sniffKind(taken[0]) : 'binary';
  }
  if (kind === 'binary') {
    // Images, PDFs, archives: the type is the answer; stop after the first chunk.
    await takeUntil(1);
    return { fields: EMPTY_FIELDS, charset: null };
  }

  await takeUntil(kind === 'html' ? 4096 : 4);
  const prefix = concat(taken);
  const decision = kind === 'html' ? decideHtmlCharset(prefix, contentType) : decideTextCharset(prefix, contentType);

  if (kind === 'html') {
    // The rewriter reports a failed input as an error of its own; answer with the input's (timeout, reset).
    let inputError: unknown;
    const stop: StopFlag = { requested: false };
    const stream = htmlInput(taken, input, decision, stop, (error) => (inputError = error));
    try {
      return { fields: await extractHtml(stream, options.pageUrl, options, stop), charset: decision.encoding };
    } catch (error) {
      throw inputError ?? error;
    }
  }

  const decoder = new TextDecoder(decision.encoding);
  const terms = options.query ? queryTerms(options.query) : [];
  const cap = terms.length > 0 ? QUERY_TEXT_CAP : options.snippetLength + 64;
  const sink = kind === 'json' ? new JsonCompactor(cap) : new TextBuffer(cap);
  const hash = options.hashText ? new TextHash() : null;
  const push = (text: string) => {
    hash?.update(text);
    if (sink.full) return;
    if (sink instanceof JsonCompactor) sink.push(text);
    else sink.append(text);
  };
  for (let next = 0; ; ) {
    const chunk = next < taken.length ? taken[next++]! : await input.read();
    if (chunk === null) break;
    if (!sink.full || hash) push(decoder.decode(chunk, { stream: true }));
  }
  push(decoder.decode());
  const text = sink instanceof JsonCompactor ? sink.out : sink.text;
  const snippet =
    options.snippetLength > 0
      ? (bestWindow(text, terms, options.snippetLength) ?? cutAtWord(text, options.snippetLength)) || null
      : null;
  return { fields: { ...EMPTY_FIELDS, snippet, ...(hash ? { textHash: hash.digest() } : {}) }, charset: decision.encoding };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
