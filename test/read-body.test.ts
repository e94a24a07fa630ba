/**
 * The capped body reader on its own, over streams whose every read and cancel
 * the test sees: the cap, the end of the body, and an abort while a read waits.
 * (Through the Worker against a real origin, test/fetch.test.ts checks the same
 * rules by what the origin sent.)
 */
import { describe, expect, it } from 'vitest';
import { CappedBody, REUSE_DRAIN_BYTES } from '../src/engine/read-body';

/** A stream that hands out `chunks` (then ends, unless `hang`), and records reads and cancels. */
function source(chunks: number[], { hang = false } = {}) {
  const seen = { pulls: 0, cancelled: false as boolean, reason: undefined as unknown };
  const queue = chunks.map((n) => new Uint8Array(n).fill(0x61));
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        seen.pulls++;
        const next = queue.shift();
        if (next) controller.enqueue(next);
        else if (!hang) controller.close();
        else return new Promise<void>(() => {}); // a silent origin
      },
      cancel(reason) {
        seen.cancelled = true;
        seen.reason = reason;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

async function readAll(body: CappedBody): Promise<number[]> {
  const sizes: number[] = [];
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) sizes.push(chunk.byteLength);
  return sizes;
}

describe('CappedBody', () => {
  it('Should read a body shorter than the cap whole, say it ended by itself, and not cancel it', async () => {
    const { stream, seen } = source([100, 0, 50]);
    const body = new CappedBody(stream, 1000, new AbortController().signal);
    expect(await readAll(body)).toEqual([100, 50]);
    expect(body.progress).toEqual({ bytes: 150, truncated: false, done: true });
    expect(seen.cancelled).toBe(false);
  });

  it('Should cut the chunk that crosses the cap, stop there and cancel the body', async () => {
    const { stream, seen } = source([600, 600, 600]);
    const body = new CappedBody(stream, 1000, new AbortController().signal);
    expect(await readAll(body)).toEqual([600, 400]);
    expect(body.progress).toEqual({ bytes: 1000, truncated: true, done: false });
    expect(seen.cancelled).toBe(true);
    expect(seen.pulls).toBe(2);
  });

  it('Should answer null at the cap reached exactly without reading further', async () => {
    // The origin might still be sending; waiting in read() to learn whether it is could hang on a trickle.
    const { stream, seen } = source([500, 500], { hang: true });
    const body = new CappedBody(stream, 1000, new AbortController().signal);
    expect(await readAll(body)).toEqual([500, 500]);
    expect(seen.pulls).toBe(2);
    expect(body.progress).toEqual({ bytes: 1000, truncated: false, done: false });
  });

  it.each([
    { what: 'ends exactly at the cap', chunks: [500, 500], hang: false, end: 'finish', verdict: 'whole', truncated: false, done: true, cancelled: false },
    { what: 'goes on past the cap', chunks: [500, 500, 10], hang: false, end: 'finish', verdict: 'truncated', truncated: true, done: false, cancelled: true },
    { what: 'stalls at the cap', chunks: [500, 500], hang: true, end: 'finish', verdict: 'truncated', truncated: true, done: false, cancelled: true },
    { what: 'goes on past the cap', chunks: [500, 500, 10], hang: false, end: 'close', verdict: 'truncated', truncated: true, done: false, cancelled: true },
  ] as const)('Should call a body that $what $verdict once $end() ends it, cancelled: $cancelled', async ({ chunks, hang, end, truncated, done, cancelled }) => {
    const { stream, seen } = source([...chunks], { hang });
    const body = new CappedBody(stream, 1000, new AbortController().signal);
    await readAll(body);
    if (end === 'finish') await body.finish(false);
    else body.close();
    // Nothing past the cap is ever counted, whatever the end.
    expect(body.progress).toEqual({ bytes: 1000, truncated, done });
    expect(seen.cancelled).toBe(cancelled);
  });

  it('Should reject a waiting read with the signal\'s reason when it aborts, and cancel the body', async () => {
    const { stream, seen } = source([10], { hang: true });
    const controller = new AbortController();
    const body = new CappedBody(stream, 1000, controller.signal);
    expect((await body.read())!.byteLength).toBe(10);
    const waiting = body.read();
    const reason = new Error('timed out');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(seen.cancelled).toBe(true);
    expect(seen.reason).toBe(reason);
    body.close();
  });

  it('Should reject at once when the signal has already aborted', async () => {
    const { stream } = source([10]);
    const controller = new AbortController();
    const reason = new Error('deadline');
    controller.abort(reason);
    const body = new CappedBody(stream, 1000, controller.signal);
    await expect(body.read()).rejects.toBe(reason);
    body.close();
  });

  it('Should wait for a read in flight before cancelling, so workerd can keep the connection', async () => {
    // Cancelling under a pending read makes workerd drop the connection (the bench origin saw one new
    // connection per page); once the read settles, the rest of a small response can be let through.
    // The order of events is the evidence: the pending read is fulfilled when the chunk is enqueued, and a
    // stream's cancel callback runs within reader.cancel() (WHATWG Streams, ReadableStreamCancel), so a
    // close() that cancelled at once would log the cancel before it returned (and the enqueue would throw).
    const events: string[] = [];
    let deliver = (): void => {
      throw new Error('pull() was not called: no read is pending');
    };
    let cancelled = () => {};
    const cancel = new Promise<void>((resolve) => (cancelled = resolve));
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          return new Promise<void>((resolve) => {
            deliver = () => {
              try {
                controller.enqueue(new Uint8Array(10));
                events.push('read fulfilled');
              } catch {
                events.push('enqueue refused (already cancelled)');
              }
              resolve();
            };
          });
        },
        cancel() {
          events.push('cancelled');
          cancelled();
        },
      },
      { highWaterMark: 0 },
    );
    const body = new CappedBody(stream, 1000, new AbortController().signal);
    const reading = body.read();
    await Promise.resolve();
    body.close();
    events.push('close() returned');
    deliver();
    expect(await reading).toBeNull();
    await cancel;
    expect(events).toEqual(['close() returned', 'read fulfilled', 'cancelled']);
    expect(body.progress).toEqual({ bytes: 0, truncated: false, done: false });
  });

  it('Should still cancel a body closed under a pending read when the signal aborts', async () => {
    const { stream, seen } = source([], { hang: true });
    const controller = new AbortController();
    const body = new CappedBody(stream, 1000, controller.signal);
    const reading = body.read();
    await Promise.resolve();
    body.close();
    const reason = new Error('deadline');
    controller.abort(reason);
    await expect(reading).rejects.toBe(reason);
    expect(seen.cancelled).toBe(true);
  });

  it('Should cancel a body it has not read to the end when closed, and answer null after', async () => {
    const { stream, seen } = source([10, 10, 10]);
    const body = new CappedBody(stream, 1000, new AbortController().signal);
    await body.read();
    body.close();
    body.close();
    expect(seen.cancelled).toBe(true);
    expect(await body.read()).toBeNull();
    expect(body.progress.done).toBe(false);
  });

  describe('finish', () => {
    const stopped = async (chunks: number[], options: { hang?: boolean; maxBytes?: number } = {}) => {
      const { stream, seen } = source(chunks, options);
      const body = new CappedBody(stream, options.maxBytes ?? 1_000_000, new AbortController().signal);
      await body.read(); // the consumer took one chunk and had enough
      return { body, seen };
    };

    it('Should read a short remainder to the end with `reuse`, count it, and not cancel the body', async () => {
      const { body, seen } = await stopped([1000, 20_000, 20_000]);
      await body.finish(true);
      expect(body.progress).toEqual({ bytes: 41_000, truncated: false, done: true });
      expect(seen.cancelled).toBe(false);
    });

    it('Should read at most REUSE_DRAIN_BYTES past the stop, then cancel', async () => {
      const { body, seen } = await stopped([1000, ...Array(10).fill(16_384)]);
      await body.finish(true);
      expect(body.progress.bytes).toBe(1000 + REUSE_DRAIN_BYTES);
      expect(body.progress.done).toBe(false);
      expect(seen.cancelled).toBe(true);
    });

    it('Should not read past `maxBytes` while draining', async () => {
      const { body, seen } = await stopped([1000, 3000, 3000], { maxBytes: 2500 });
      await body.finish(true);
      expect(body.progress).toMatchObject({ bytes: 2500, done: false });
      expect(seen.cancelled).toBe(true);
    });

    it('Should give up on a remainder that does not come within REUSE_DRAIN_MS, and cancel', async () => {
      const { body, seen } = await stopped([1000, 500], { hang: true });
      await body.finish(true);
      expect(body.progress).toMatchObject({ bytes: 1500, done: false });
      expect(seen.cancelled).toBe(true);
    });

    it('Should look for the end without `reuse`: a body that ends within END_PEEK_BYTES counts as read whole', async () => {
      const { body, seen } = await stopped([1000, 500]);
      await body.finish(false);
      expect(body.progress).toEqual({ bytes: 1500, truncated: false, done: true });
      expect(seen.cancelled).toBe(false);
    });

    it('Should cancel without `reuse` once the look passes END_PEEK_BYTES and the body goes on', async () => {
      const { body, seen } = await stopped([1000, 20_000, 20_000]);
      await body.finish(false);
      expect(body.progress).toMatchObject({ bytes: 21_000, done: false });
      expect(seen.pulls).toBe(2);
      expect(seen.cancelled).toBe(true);
    });
  });
});
