import { CappedBody } from '../engine/read-body';
import { decideHtmlCharset, decideTextCharset, type CharsetDecision } from './charset';
import { EMPTY_FIELDS, extractHtml, type PageFields, type SnippetOptions } from './html';
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
 * Chunks the rewriter's input stream reads ahead of the parser. With 1, a page whose
 * last chunk fills the snippet stopped before the body's end was seen and came out
 * `truncated` (test/fetch.test.ts, test/extract.test.ts catch it); 2 is what the
 * earlier chain of streams gave.
 */
const READ_AHEAD_CHUNKS = 2;

/**
 * The body as the UTF-8 stream HTMLRewriter takes (it only reads ASCII-compatible
 * input, PLATFORM.md): the chunks already taken, then the rest, less the BOM, and
 * re-encoded when the page is in another charset. One stream with one `pull` per
 * chunk, so a UTF-8 page (nearly all of them) goes through without a copy.
 *
 * The stream reads ahead of the parser: when the page ends within the chunks in
 * hand, the body has usually said so (`progress.done`) by the time the rewriter
 * stops early, so a small page still reads as whole, not truncated.
 */
function htmlInput(
  taken: Uint8Array[],
  body: CappedBody,
  decision: CharsetDecision,
  onError: (error: unknown) => void,
): ReadableStream<Uint8Array> {
  let next = 0;
  let skip = decision.bomLength;
  const decoder = decision.encoding === 'utf-8' ? null : new TextDecoder(decision.encoding); // It drops the BOM itself.
  const encoder = decoder ? new TextEncoder() : null;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            let chunk = next < taken.length ? taken[next++]! : await body.read();
            if (chunk === null) {
              const tail = decoder?.decode();
              if (tail) controller.enqueue(encoder!.encode(tail));
              controller.close();
              return;
            }
            if (decoder) {
              const text = decoder.decode(chunk, { stream: true });
              if (!text) continue;
              chunk = encoder!.encode(text);
            } else if (skip > 0) {
              const cut = Math.min(skip, chunk.byteLength);
              skip -= cut;
              if (cut === chunk.byteLength) continue;
              chunk = chunk.subarray(cut);
            }
            controller.enqueue(chunk);
            return;
          }
        } catch (error) {
          onError(error);
          controller.error(error);
        }
      },
      cancel() {
        // The rewriter stopped (early stop, or a failure): extractBody's `finish` ends the body.
      },
    },
    { highWaterMark: READ_AHEAD_CHUNKS },
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
    const stream = htmlInput(taken, input, decision, (error) => (inputError = error));
    try {
      return { fields: await extractHtml(stream, options.pageUrl, options), charset: decision.encoding };
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
