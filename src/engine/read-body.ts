/**
 * Reads a response body as a stream, never past a byte cap, and cancels the
 * stream as soon as the cap is reached so the origin stops sending (Hono's
 * body-limit middleware and ky's capped reader count the same way).
 * Content-Length is never trusted: workerd decompresses gzip/brotli bodies but
 * keeps the compressed Content-Length (docs/workers-platform.md).
 *
 * The engine owns the reader and hands it to extraction (src/extract/), which
 * only calls `read()`; once extraction has what it needs, the engine ends the
 * body with `finish()`.
 */

/**
 * After an early stop, a remainder this small is read to the end (and thrown
 * away) when the batch has another URL for the same host: a body read to its
 * end leaves the connection open for that URL, while one cancelled mid-body
 * closes it. On loopback that saved ~2 ms per URL (a new connection each time);
 * on the Internet it saves a TCP and TLS handshake. Larger remainders are
 * cancelled as before, so the origin stops sending.
 */
export const REUSE_DRAIN_BYTES = 65_536;
/** How long that remainder may take to arrive before fanout closes the connection anyway. */
export const REUSE_DRAIN_MS = 50;
/**
 * Without a next URL for the host, fanout still looks (this long, and this many
 * bytes, at most) whether the body's end is already here: a small page then
 * counts as read whole (`truncated: false`), not cut short. A body that filled
 * `maxBytes` exactly gets the same look (for its end only, no byte more).
 */
export const END_PEEK_MS = 5;
export const END_PEEK_BYTES = 16_384;

/** What the reader saw; updated as chunks arrive. */
export interface BodyProgress {
  /** Bytes handed on so far (after decompression). */
  bytes: number;
  /** True when the cap cut the body short: more came (or may have come) after `maxBytes`. */
  truncated: boolean;
  /** True when the body ended by itself. */
  done: boolean;
}

/**
 * A body read in chunks up to `maxBytes` in all. `read()` answers null once the
 * body ended or the cap is reached; `progress` says which (at the cap exactly,
 * `finish()` looks whether the body ends there). When `signal` aborts, the body
 * is cancelled and `read()` rejects with `signal.reason`.
 *
 * One object and one `await` per chunk: extraction reads every chunk of every
 * page through here, so there is no async generator and no `Promise.race` per
 * read (a listener cancels the reader instead, which ends a pending read at once).
 */
export class CappedBody {
  readonly progress: BodyProgress = { bytes: 0, truncated: false, done: false };
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #maxBytes: number;
  readonly #signal: AbortSignal;
  #closed = false;
  /** `maxBytes` read exactly: no more is handed on, and only `finish()` may look for the end. */
  #atCap = false;
  /** The read in flight, if any: a workerd body allows one pending read at a time, and `close()` waits for it. */
  #pending: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;

  constructor(body: ReadableStream<Uint8Array>, maxBytes: number, signal: AbortSignal) {
    this.#reader = body.getReader();
    this.#maxBytes = maxBytes;
    this.#signal = signal;
    signal.addEventListener('abort', this.#onAbort);
  }

  readonly #onAbort = () => {
    // A trickling origin must not hold a read past the timeout: cancelling settles the pending read.
    this.#reader.cancel(this.#signal.reason).catch(() => {});
  };

  /** One read of the underlying body, remembered as the read in flight until it settles. */
  #readOnce(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const pending = this.#reader.read();
    this.#pending = pending;
    const settled = () => {
      if (this.#pending === pending) this.#pending = null;
    };
    pending.then(settled, settled);
    return pending;
  }

  /** The next chunk (never empty), or null when the body ended or the cap was reached. */
  async read(): Promise<Uint8Array | null> {
    for (;;) {
      this.#signal.throwIfAborted();
      // At the cap: waiting to learn whether more follows could hang on a trickle; finish() looks, briefly.
      if (this.#closed || this.#atCap) return null;
      const { done, value } = await this.#readOnce();
      this.#signal.throwIfAborted();
      if (this.#closed) return null; // closed while the read was pending
      if (done) {
        this.progress.done = true;
        this.close();
        return null;
      }
      if (value.byteLength === 0) continue;
      const room = this.#maxBytes - this.progress.bytes;
      if (value.byteLength > room) {
        this.progress.bytes = this.#maxBytes;
        this.progress.truncated = true;
        this.close();
        return value.subarray(0, room);
      }
      this.progress.bytes += value.byteLength;
      if (this.progress.bytes === this.#maxBytes) this.#atCap = true;
      return value;
    }
  }

  /**
   * Stops reading once the consumer has what it needs, then `close()`s. Before
   * that, within a short time budget and never past `maxBytes`:
   * - a read the consumer left in flight (its read-ahead) may settle; `read()`
   *   counts it;
   * - without `reuse`, up to END_PEEK_BYTES more show whether the body's end
   *   is already here, so a small page counts as read whole (`truncated: false`);
   * - with `reuse`, a remainder of at most REUSE_DRAIN_BYTES is read to the end,
   *   so the connection can serve the next URL to the same host;
   * - at `maxBytes` exactly, one more read tells whether the body ends there
   *   (`truncated: false`) or goes on (`truncated: true`; nothing of it is kept).
   * What is read counts in `progress`. Budget: REUSE_DRAIN_MS with `reuse`,
   * END_PEEK_MS without; past it, the body is cancelled at once.
   */
  async finish(reuse: boolean): Promise<void> {
    if (this.#closed || this.progress.done || this.#signal.aborted) return this.close();
    let wake = () => {};
    const expired = new Promise<'expired'>((resolve) => (wake = () => resolve('expired')));
    const timer = setTimeout(() => {
      // Out of time: the rest is not coming soon, so the connection is not worth keeping.
      this.close(true);
      wake();
    }, reuse ? REUSE_DRAIN_MS : END_PEEK_MS);
    try {
      // The consumer's read-ahead settles first (its own read() counts the chunk, or closes on the end).
      if (this.#pending && (await Promise.race([this.#pending.then(() => 'read' as const, () => 'read' as const), expired])) === 'expired') return;
      const limit = Math.min(this.#maxBytes, this.progress.bytes + (reuse ? REUSE_DRAIN_BYTES : END_PEEK_BYTES));
      // read() keeps the count, the cap and the end, and closes the body when it ends.
      while (!this.#closed && !this.#atCap && this.progress.bytes < limit) {
        if ((await Promise.race([this.read(), expired])) === 'expired') return;
      }
      if (this.#atCap && !this.#closed) await this.#lookForEnd(expired);
    } catch {
      // A body that broke off now changes nothing: the result is already made.
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }

  /** At the cap: one more read, to see whether the body ends exactly there. */
  async #lookForEnd(expired: Promise<'expired'>): Promise<void> {
    const next = await Promise.race([this.#readOnce(), expired]);
    if (next !== 'expired' && next.done) this.progress.done = true;
    else this.progress.truncated = true;
  }

  /**
   * Stops reading. Unless the body ended by itself, cancels it: that tells the
   * origin to stop (workerd closes the connection, or keeps it when the rest of a
   * small response is already on its way). Safe to call more than once.
   *
   * With a read in flight (the HTML input reads ahead of the parser), the cancel
   * waits for that read to settle: cancelling under a pending read makes workerd
   * drop the connection every time (measured: 2,000 new connections for 2,000
   * 60 KB pages, against none, and about 10% more CPU per page). Until then the
   * abort listener stays, so a stalled origin is still cut when the signal aborts.
   * With `now`, it cancels at once, pending read or not (giving up on the connection).
   */
  close(now = false): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#atCap && !this.progress.done) this.progress.truncated = true;
    const stop = () => {
      this.#signal.removeEventListener('abort', this.#onAbort);
      if (!this.progress.done) this.#reader.cancel().catch(() => {});
      try {
        this.#reader.releaseLock();
      } catch {
        // A read still pending (closed `now`); the cancel above ends it.
      }
    };
    if (this.#pending && !now) this.#pending.then(stop, stop);
    else stop();
  }
}
