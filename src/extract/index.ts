import { readCapped, type BodyProgress } from '../engine/read-body';
import { decideHtmlCharset, decideTextCharset } from './charset';
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

/** A stream over chunks already taken off the body followed by the rest of the body. */
function rejoin(taken: Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      yield* taken;
      try {
        for (;;) {
          const { done, value } = await rest.next();
          if (done) return;
          yield value;
        }
      } finally {
        await rest.return?.();
      }
    },
  };
}

/** Re-encodes a byte stream in `encoding` as UTF-8 (HTMLRewriter only takes ASCII-compatible input, PLATFORM.md). */
async function* toUtf8(chunks: AsyncIterable<Uint8Array>, encoding: string, skip: number): AsyncIterable<Uint8Array> {
  if (encoding === 'utf-8') {
    for await (const chunk of chunks) {
      if (skip > 0) {
        const cut = Math.min(skip, chunk.byteLength);
        skip -= cut;
        if (cut === chunk.byteLength) continue;
        yield chunk.subarray(cut);
      } else {
        yield chunk;
      }
    }
    return;
  }
  const decoder = new TextDecoder(encoding); // The decoder drops the BOM itself.
  const encoder = new TextEncoder();
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    if (text) yield encoder.encode(text);
  }
  const tail = decoder.decode();
  if (tail) yield encoder.encode(tail);
}

function streamOf(chunks: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = chunks[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await it.return?.();
    },
  });
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
  const progress: BodyProgress = { bytes: 0, truncated: false, done: false };
  const outcome = (fields: PageFields, charset: string | null): BodyOutcome => ({
    ...fields,
    charset,
    bytes: progress.bytes,
    truncated: progress.truncated || !progress.done,
  });
  if (!body) {
    progress.done = true;
    return outcome(EMPTY_FIELDS, null);
  }

  const chunks = readCapped(body, options.maxBytes, options.signal, progress);
  let kind = kindOf(contentType);
  const taken: Uint8Array[] = [];
  let takenBytes = 0;
  const takeUntil = async (bytes: number) => {
    while (takenBytes < bytes) {
      const { done, value } = await chunks.next();
      if (done) break;
      taken.push(value);
      takenBytes += value.byteLength;
    }
  };

  try {
    if (kind === null) {
      await takeUntil(1);
      kind = taken[0] ? sniffKind(taken[0]) : 'binary';
    }
    if (kind === 'binary') {
      // Images, PDFs, archives: the type is the answer; stop after the first chunk.
      await takeUntil(1);
      return outcome(EMPTY_FIELDS, null);
    }

    await takeUntil(kind === 'html' ? 4096 : 4);
    const prefix = concat(taken);
    const decision = kind === 'html' ? decideHtmlCharset(prefix, contentType) : decideTextCharset(prefix, contentType);
    const all = rejoin(taken, chunks);

    if (kind === 'html') {
      const fields = await extractHtml(streamOf(toUtf8(all, decision.encoding, decision.bomLength)), options.pageUrl, options);
      return outcome(fields, decision.encoding);
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
    for await (const chunk of all) {
      if (!sink.full || hash) push(decoder.decode(chunk, { stream: true }));
    }
    push(decoder.decode());
    const text = sink instanceof JsonCompactor ? sink.out : sink.text;
    const snippet =
      options.snippetLength > 0
        ? (bestWindow(text, terms, options.snippetLength) ?? cutAtWord(text, options.snippetLength)) || null
        : null;
    return outcome({ ...EMPTY_FIELDS, snippet, ...(hash ? { textHash: hash.digest() } : {}) }, decision.encoding);
  } finally {
    // Stops the reader (and with it the origin) if extraction ended before the body did.
    await chunks.return();
  }
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
