/**
 * Reads a response body as a stream, never past a byte cap, and cancels the
 * stream as soon as the cap is reached so the origin stops sending (Hono's
 * body-limit middleware and ky's capped reader count the same way).
 * Content-Length is never trusted: workerd decompresses gzip/brotli bodies but
 * keeps the compressed Content-Length (PLATFORM.md).
 */

/** What the reader saw; updated as chunks arrive. */
export interface BodyProgress {
  /** Bytes handed on so far (after decompression). */
  bytes: number;
  /** True when the cap cut the body short. */
  truncated: boolean;
  /** True when the body ended by itself. */
  done: boolean;
}

/**
 * Yields the body's chunks up to `maxBytes` in all. Stops early (and cancels
 * the body) when `signal` aborts, rejecting with `signal.reason`, or when the
 * consumer stops iterating.
 */
export async function* readCapped(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  signal: AbortSignal,
  progress: BodyProgress,
): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = body.getReader();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {}); // observed below; keeps an unraced rejection quiet
  try {
    while (progress.bytes < maxBytes) {
      // Race the read against the signal: a trickling origin must not hold us past the timeout.
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) {
        progress.done = true;
        return;
      }
      if (!value || value.byteLength === 0) continue;
      const room = maxBytes - progress.bytes;
      const chunk = value.byteLength > room ? value.subarray(0, room) : value;
      progress.bytes += chunk.byteLength;
      if (chunk !== value) progress.truncated = true;
      yield chunk;
    }
    // At the cap and not done: more may follow, and waiting to find out could hang on a trickle.
    progress.truncated = true;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    if (!progress.done) {
      // Tell the origin to stop: cancelling closes the connection (or returns it when drained).
      reader.cancel().catch(() => {});
    }
    try {
      reader.releaseLock();
    } catch {
      // A read still pending after an abort; the cancel above already ends it.
    }
  }
}
