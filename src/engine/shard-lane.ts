import { LaneBroken } from '../errors';
import type { PageResult } from '../result';
import type { Lane } from './lanes';
import { ENGINE, type FetchOptions } from './options';
import type { PageJob } from './fetch-page';
import { decodeFromShard, encode, type ToShard } from './shard-protocol';
import { unlessAborted, waitUnlessAborted, type Settle } from './wait';

/** What the protocol uses of a WebSocket (either end of a Workers WebSocketPair). */
export type ShardSocket = Pick<WebSocket, 'send' | 'close' | 'addEventListener'>;

/** Close codes (RFC 6455 §7.4.1): the batch is over; the other end broke the protocol; a shard failed. */
export const CLOSE_DONE = 1000;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_SHARD_ERROR = 1011;

/**
 * The batch's end of a shard lane over `socket` (which may still be opening):
 * sends each URL as a `fetch` message and resolves it when its result comes
 * back. Everything in flight rejects with LaneBroken, at once, if the shard
 * reports an error, sends what does not decode, closes or errors before the
 * batch closes the lane, or does not open within `connectTimeoutMs`.
 */
export function shardLane(
  socket: Promise<ShardSocket>,
  options: FetchOptions,
  capacity: number,
  connectTimeoutMs: number = ENGINE.shardConnectTimeoutMs,
): Lane {
  return new ShardLane(socket, options, capacity, connectTimeoutMs);
}

class ShardLane implements Lane {
  readonly #pending = new Map<number, Settle<PageResult>>();
  /** The `free` of each URL in flight that has one (the batch's slot, given back when the shard says so). */
  readonly #frees = new Map<number, () => void>();
  readonly #ready: Promise<ShardSocket | null>;
  #nextId = 0;
  #broken: LaneBroken | null = null;
  #closed = false;

  constructor(
    socket: Promise<ShardSocket>,
    options: FetchOptions,
    readonly capacity: number,
    connectTimeoutMs: number,
  ) {
    this.#ready = this.#connect(socket, options, connectTimeoutMs);
  }

  async run(job: PageJob, signal: AbortSignal): Promise<PageResult> {
    // While the shard is still opening, the batch's end (deadline, client gone) must not wait for it.
    const port = await unlessAborted(this.#ready, signal);
    if (this.#broken) throw this.#broken;
    if (!port) throw new LaneBroken('scale-out shard never connected');
    const id = this.#nextId++;
    const { url, queuedMs, validators, reuseConnection } = job;
    if (job.free) this.#frees.set(id, job.free);
    try {
      return await waitUnlessAborted<PageResult>(signal, (settle) => {
        this.#pending.set(id, settle);
        this.#send(port, { type: 'fetch', id, url, queuedMs, validators, reuseConnection });
        return () => this.#pending.delete(id);
      });
    } finally {
      this.#frees.delete(id);
    }
  }

  close(): void {
    this.#closed = true;
    void this.#ready.then((port) => port?.close(CLOSE_DONE, 'batch done'));
  }

  /** Waits for the socket (at most `timeoutMs`), then listens and sends `init`; null when it never opened. */
  #connect(socket: Promise<ShardSocket>, options: FetchOptions, timeoutMs: number): Promise<ShardSocket | null> {
    // A socket that opens after the lane gave up on it is closed at once.
    socket.then((port) => this.#broken && port.close(CLOSE_DONE, 'gave up waiting'), () => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([socket, timedOut])
      .finally(() => clearTimeout(timer))
      .then(
        (port) => {
          this.#listen(port);
          this.#send(port, { type: 'init', options });
          return port;
        },
        (error: unknown) => {
          this.#breakOff(`could not connect: ${messageOf(error)}`, error);
          return null;
        },
      );
  }

  #listen(port: ShardSocket): void {
    port.addEventListener('message', (event) => this.#receive(port, event.data));
    port.addEventListener('close', (event) => {
      this.#breakOff(`connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`);
    });
    port.addEventListener('error', (event) => this.#breakOff('connection error', event.error));
  }

  /** A message from the shard: `free` gives its URL's slot back, a result settles the URL; an error or an undecodable message ends the lane. */
  #receive(port: ShardSocket, data: unknown): void {
    let message;
    try {
      message = decodeFromShard(data);
    } catch (error) {
      this.#breakOff(`protocol error: ${messageOf(error)}`, error);
      port.close(CLOSE_PROTOCOL_ERROR, 'protocol error');
      return;
    }
    if (message.type === 'error') {
      this.#breakOff(`the shard failed: ${message.message}`);
      return;
    }
    if (message.type === 'free') {
      this.#frees.get(message.id)?.();
      this.#frees.delete(message.id);
      return;
    }
    const waiter = this.#pending.get(message.id);
    this.#pending.delete(message.id);
    waiter?.resolve(message.result);
  }

  #send(port: ShardSocket, message: Omit<Extract<ToShard, { type: 'init' }>, 'v'> | Omit<Extract<ToShard, { type: 'fetch' }>, 'v'>): void {
    try {
      port.send(encode(message));
    } catch (error) {
      this.#breakOff(`send failed: ${messageOf(error)}`, error);
    }
  }

  /** The lane is broken: every URL in flight rejects with LaneBroken (the batch runs them itself). */
  #breakOff(why: string, cause?: unknown): void {
    if (this.#closed || this.#broken) return;
    this.#broken = new LaneBroken(`scale-out shard broke off: ${why}`, { cause });
    for (const { reject } of this.#pending.values()) reject(this.#broken);
    this.#pending.clear();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
