/**
 * The scale-out wire protocol (src/engine/shard-protocol.ts) and what each end
 * does with a message it cannot use: checked decoding with a version, and an
 * `error` message that makes the batch run the shard's URLs itself at once.
 * Both ends run on a real WebSocketPair in workerd; fetches go to the test origin.
 */
import { describe, expect, it } from 'vitest';
import { runBatch } from '../src/engine/batch';
import { normalizeOptions } from '../src/engine/options';
import { shardLane } from '../src/engine/shard-lane';
import { serveShard } from '../src/engine/shard-server';
import { decodeFromShard, decodeToShard, encode, PROTOCOL_VERSION, ProtocolError } from '../src/engine/shard-protocol';
import { newScope, originUrl, stats } from './origin/client';

const options = normalizeOptions({ concurrency: 12, deadlineMs: 60_000 }, { userAgent: 'fanout-test', allowPrivate: true });

/** A connected pair: `near` is the test's end, `far` the end under test. */
function pair() {
  const { 0: near, 1: far } = new WebSocketPair();
  near.accept();
  far.accept();
  return { near, far };
}

/** The next message `socket` receives, parsed. */
function nextMessage(socket: WebSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve) => socket.addEventListener('message', (event) => resolve(JSON.parse(String(event.data))), { once: true }));
}

function closed(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => socket.addEventListener('close', (event) => resolve(event.code), { once: true }));
}

describe('decoding', () => {
  it('Should write the protocol version into every message and read it back', () => {
    const text = encode({ type: 'fetch', id: 3, url: 'http://a/', queuedMs: 5 });
    expect(JSON.parse(text)).toMatchObject({ v: PROTOCOL_VERSION, type: 'fetch', id: 3 });
    expect(decodeToShard(text)).toMatchObject({ type: 'fetch', id: 3, url: 'http://a/', queuedMs: 5 });
  });

  it.each([
    ['not json', /not JSON/],
    ['[1]', /not a JSON object/],
    [JSON.stringify({ v: 2, type: 'init', options }), /protocol version 2 where 1 was expected/],
    [JSON.stringify({ type: 'init', options }), /protocol version undefined/],
    [JSON.stringify({ v: 1, type: 'hello' }), /unknown message type "hello"/],
    [JSON.stringify({ v: 1, type: 'fetch', id: '7', url: 'http://a/', queuedMs: 0 }), /fetch\.id must be an integer/],
    [JSON.stringify({ v: 1, type: 'fetch', id: 7, queuedMs: 0 }), /fetch\.url must be a string/],
    [JSON.stringify({ v: 1, type: 'init', options: { ...options, timeoutMs: 'soon' } }), /init\.options\.timeoutMs/],
  ])('Should refuse %s with a ProtocolError naming what is wrong', (text, message) => {
    expect(() => decodeToShard(text)).toThrow(ProtocolError);
    expect(() => decodeToShard(text)).toThrow(message);
  });

  it('Should refuse a result that is not a page result', () => {
    expect(() => decodeFromShard(JSON.stringify({ v: 1, type: 'result', id: 1, result: { url: 'http://a/' } }))).toThrow(/not a page result/);
    expect(decodeFromShard(JSON.stringify({ v: 1, type: 'error', message: 'boom' }))).toEqual({ v: 1, type: 'error', message: 'boom' });
    expect(decodeFromShard(JSON.stringify({ v: 1, type: 'free', id: 4 }))).toEqual({ v: 1, type: 'free', id: 4 });
    expect(() => decodeFromShard(JSON.stringify({ v: 1, type: 'free', id: 'x' }))).toThrow(/free\.id must be an integer/);
  });
});

describe("the shard's end", () => {
  it('Should answer a message it cannot decode with an error naming the problem, then close with 1002', async () => {
    const { near, far } = pair();
    serveShard(far);
    const reply = nextMessage(near);
    const code = closed(near);
    near.send(JSON.stringify({ v: 9, type: 'init', options }));
    expect(await reply).toEqual({ v: PROTOCOL_VERSION, type: 'error', message: 'protocol version 9 where 1 was expected' });
    expect(await code).toBe(1002);
  });

  it('Should answer a fetch that comes before init with an error, and fetch nothing', async () => {
    const scope = newScope('shard-no-init');
    const { near, far } = pair();
    serveShard(far);
    const reply = nextMessage(near);
    near.send(encode({ type: 'fetch', id: 0, url: originUrl(scope, 'page'), queuedMs: 0 }));
    expect(await reply).toMatchObject({ type: 'error', message: 'fetch before init' });
    expect((await stats(scope)).requests).toBe(0);
  });
});

describe('read first over a shard lane', () => {
  /** Runs one URL on a shard lane served by the real shard end, recording when the lane gives its slot back and when the result comes. */
  async function events(url: string, reuseConnection: boolean) {
    const { near, far } = pair();
    serveShard(far);
    const lane = shardLane(Promise.resolve(near), options, 6);
    const seen: string[] = [];
    const result = await lane.run(
      { url, target: new URL(url), queuedMs: 0, reuseConnection, free: () => seen.push('free') },
      new AbortController().signal,
    );
    seen.push('result');
    lane.close();
    return { seen, result };
  }

  it('Should give the batch its slot back when the shard has read a small page whole, before the result', async () => {
    const scope = newScope('shard-free');
    const { seen, result } = await events(originUrl(scope, 'page?size=8000'), true);
    expect(seen).toEqual(['free', 'result']);
    expect(result).toMatchObject({ ok: true, title: 'Test page', truncated: false });
  });

  it('Should send no `free` for a page that streams (no next URL for its host)', async () => {
    const scope = newScope('shard-no-free');
    const { seen, result } = await events(originUrl(scope, 'page?size=8000'), false);
    expect(seen).toEqual(['result']);
    expect(result).toMatchObject({ ok: true, title: 'Test page' });
  });
});

describe("the batch's end", () => {
  /** Runs 12 URLs over two lanes whose shard end is `shard` (given the test's end of the socket). */
  async function batchWithShard(scope: string, shard: (near: WebSocket) => void) {
    const urls = Array.from({ length: 12 }, (_, i) => originUrl(scope, `page?i=${i}`));
    const result = await runBatch(urls, options, {
      shards: (laneOptions, capacity) => {
        const { near, far } = pair();
        shard(near);
        return shardLane(Promise.resolve(far), laneOptions, capacity);
      },
    });
    return { urls, ...result };
  }

  // deadlineMs is 60 s, three times the test's timeout: a batch that waited for the deadline would fail the test.
  it('Should run a failed shard\'s URLs itself as soon as the shard reports an error, not at the deadline', async () => {
    const scope = newScope('shard-error');
    const { urls, results, stats: totals } = await batchWithShard(scope, (near) => {
      near.addEventListener('message', (event) => {
        if (JSON.parse(String(event.data)).type === 'fetch') near.send(encode({ type: 'error', message: 'the object ran out of memory' }));
      });
    });
    expect(results.map((r) => [r.url, r.ok])).toEqual(urls.map((url) => [url, true]));
    expect(totals).toMatchObject({ ok: 12, deadlineReached: false, shards: 2 });
    // The shard fetched nothing: every URL was fetched once, here.
    expect((await stats(scope)).requests).toBe(12);
  });

  it('Should run a shard\'s URLs itself as soon as the shard answers in another protocol version', async () => {
    const scope = newScope('shard-version');
    const { results, stats: totals } = await batchWithShard(scope, (near) => {
      near.addEventListener('message', (event) => {
        const message = JSON.parse(String(event.data));
        if (message.type === 'fetch') near.send(JSON.stringify({ v: 2, type: 'result', id: message.id, result: {} }));
      });
    });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(totals).toMatchObject({ ok: 12, deadlineReached: false });
    expect((await stats(scope)).requests).toBe(12);
  });

  it('Should send the batch options once in init, and each URL with the time it already waited', async () => {
    const scope = newScope('shard-init');
    const seen: Record<string, unknown>[] = [];
    const { results } = await batchWithShard(scope, (near) => {
      near.addEventListener('message', (event) => seen.push(JSON.parse(String(event.data))));
      near.addEventListener('message', (event) => {
        const message = JSON.parse(String(event.data));
        if (message.type === 'fetch') near.send(encode({ type: 'error', message: 'stop here' }));
      });
    });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(seen[0]).toEqual({ v: PROTOCOL_VERSION, type: 'init', options });
    expect(seen.slice(1).every((m) => m.type === 'fetch' && typeof m.queuedMs === 'number' && (m.queuedMs as number) >= 0)).toBe(true);
  });
});
