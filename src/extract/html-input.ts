import type { CharsetDecision } from './charset';
import type { StopFlag } from './html';
import type { PrefixedBody } from './prefix';

/**
 * The rewriter is handed the body in slices of at most this many bytes, and no
 * slice is read ahead: when extraction has enough (the head read, the snippet
 * full), the input ends at the next pull, so the parser has at most one slice
 * to go through for nothing. A network chunk can be 64 KiB; slicing costs one
 * more pull per slice, far less than parsing what would be thrown away.
 */
const HTML_SLICE_BYTES = 4096;

/**
 * The body as the UTF-8 stream HTMLRewriter takes (it only reads
 * ASCII-compatible input, docs/workers-platform.md): the chunks already taken,
 * then the rest, less the BOM, and re-encoded when the page is in another
 * charset. One stream with one `pull` per slice; a UTF-8 page (nearly all of
 * them) goes through without a copy. It ends early once `stop` is requested.
 * A failure of the body is passed to `onError` before the stream errors (the
 * rewriter reports it as an error of its own).
 */
export function htmlInput(
  body: PrefixedBody,
  decision: CharsetDecision,
  stop: StopFlag,
  onError: (error: unknown) => void,
  /** Sees every UTF-8 chunk read (the feed and content formats keep them). */
  tee?: (chunk: Uint8Array) => void,
): HtmlInput {
  const chunks = utf8Chunks(body, decision);
  const nextBytes = tee
    ? async () => {
        const chunk = await chunks();
        if (chunk) tee(chunk);
        return chunk;
      }
    : chunks;
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
  let rest: Uint8Array | null = null;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (stop.requested) return controller.close();
          rest ??= await take();
          if (rest === null) return controller.close();
          if (rest.byteLength <= HTML_SLICE_BYTES) {
            controller.enqueue(rest);
            stop.bytes += rest.byteLength;
            rest = null;
          } else {
            controller.enqueue(rest.subarray(0, HTML_SLICE_BYTES));
            stop.bytes += HTML_SLICE_BYTES;
            rest = rest.subarray(HTML_SLICE_BYTES);
          }
          readAhead();
        } catch (error) {
          onError(error);
          controller.error(error);
        }
      },
      cancel() {
        // The rewriter stopped (a failure): the engine's `finish` ends the body.
      },
    },
    { highWaterMark: 0 },
  );
  const readRest = async (): Promise<void> => {
    // Chunks go through `tee` as they are read: the one in flight, then every one left.
    const pending = ahead;
    ahead = null;
    if (pending && (await pending) === null) return;
    while ((await nextBytes()) !== null) {
      // Each chunk went to `tee`.
    }
  };
  return { stream, readRest };
}

/** The rewriter's input, and the rest of the body once the rewriter is done with it. */
export interface HtmlInput {
  stream: ReadableStream<Uint8Array>;
  /**
   * Reads what the rewriter did not (after an early stop), through `tee`,
   * to the body's end or its cap; rejects with the body's own error.
   */
  readRest(): Promise<void>;
}

/** The body's chunks as UTF-8, BOM dropped: passed through for UTF-8, decoded and re-encoded otherwise. */
function utf8Chunks(body: PrefixedBody, decision: CharsetDecision): () => Promise<Uint8Array | null> {
  let skip = decision.bomLength;
  const decoder = decision.encoding === 'utf-8' ? null : new TextDecoder(decision.encoding); // It drops the BOM itself.
  const encoder = decoder ? new TextEncoder() : null;
  return async () => {
    for (;;) {
      const chunk = await body.read();
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
}
