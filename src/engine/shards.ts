/**
 * Scale-out past one invocation's 6 header slots (PLATFORM.md). A batch whose
 * `concurrency` is above 6 runs its URLs in lanes of at most 6 in flight each:
 * lane 0 is the calling invocation itself, every other lane is a shard, a
 * Durable Object of its own (a fresh object per lane, so each is a separate
 * invocation with its own 6 connections, CPU, memory and subrequest budget;
 * Cloudflare documents the same "6 simultaneous outgoing connections per
 * request" for a Durable Object as for a Worker).
 *
 * The batch keeps one pool for all lanes: URLs still start in input order,
 * `concurrency` and `perHost` hold for the whole batch, and a lane that frees a
 * slot takes the next URL, whichever lane it is (work-conserving, unlike
 * dealing the URLs out up front). The caller talks to each shard over one
 * WebSocket: it sends a URL when the lane has room and gets the result back.
 *
 * This file holds the plan, the lane picker, both ends of the wire protocol
 * and the WebSocket transport; the Durable Object class is src/shard.ts.
 */
import { AbortedFailure, DeadlineFailure, FetchFailure } from '../errors';
import { checkUrl } from '../guard';
import { ENGINE, type FetchOptions } from '../options';
import { failedResult, fetchPage, type PageContext, type PageJob, type PageResult, type Validators } from './fetch-page';
import { Semaphore } from './semaphore';

/** Where URLs run: this invocation or a shard. */
export interface Lane {
  /** Most URLs the lane runs at once (at most ENGINE.headerSlots for a shard). */
  readonly capacity: number;
  /**
   * Fetches one URL. Resolves with its result (a failed URL is a result);
   * rejects with a LaneBroken when the lane itself failed, so the URL can run
   * elsewhere, or with the signal's reason when the batch was cut.
   */
  run(job: PageJob, signal: AbortSignal): Promise<PageResult>;
  /** Ends the lane: a shard cancels whatever it still has in flight. */
  close(): void;
}

/** A shard's connection broke (the object was reset, crashed or unreachable). */
export class LaneBroken extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LaneBroken';
  }
}

/** What a shard needs to know before its first URL. */
export interface ShardInit {
  /** The batch's options (the shard keeps at most 6 of its URLs waiting for headers). */
  options: FetchOptions;
  /** Milliseconds left of the batch's deadline when the shard was opened: the shard's own backstop. */
  deadlineMs: number;
}

/** Opens a shard lane with room for `capacity` URLs; `headerGate` is the caller's (opening one is a subrequest). */
export type ShardOpener = (init: ShardInit, capacity: number, headerGate: Semaphore) => Lane;

/**
 * How many URLs each lane holds for a batch of `distinct` URLs, lane 0 first;
 * a single lane means the batch stays in one invocation.
 */
export function planLanes(concurrency: number, distinct: number): number[] {
  const inFlight = Math.max(1, Math.min(concurrency, distinct));
  const count = Math.ceil(inFlight / ENGINE.headerSlots);
  if (count <= 1) return [concurrency];
  return Array.from({ length: count }, (_, lane) => Math.floor(inFlight / count) + (lane < inFlight % count ? 1 : 0));
}

/**
 * Hands out lane slots: the lane with the most free room (lane 0 on a tie), so
 * the work spreads evenly. A broken lane takes no more URLs; when no live lane
 * has room, callers wait in FIFO order.
 */
export class LanePicker {
  readonly #busy: number[];
  readonly #broken: boolean[];
  readonly #waiters: Array<{ only: number | undefined; grant: (lane: number) => void }> = [];

  constructor(private readonly lanes: readonly Lane[]) {
    this.#busy = lanes.map(() => 0);
    this.#broken = lanes.map(() => false);
  }

  /**
   * Resolves with the index of a lane with room, taking the room; with `only`,
   * waits for that lane. Rejects with the signal's reason if it aborts first.
   */
  take(signal: AbortSignal, only?: number): Promise<number> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const free = this.#freest(only);
    if (free !== -1) {
      this.#busy[free]!++;
      return Promise.resolve(free);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        only,
        grant: (lane: number) => {
          signal.removeEventListener('abort', onAbort);
          resolve(lane);
        },
      };
      const onAbort = () => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Gives a lane's room back, to the first waiter it suits. */
  give(lane: number): void {
    this.#busy[lane]!--;
    for (let i = 0; i < this.#waiters.length; ) {
      const waiter = this.#waiters[i]!;
      const free = this.#freest(waiter.only);
      if (free === -1) {
        i++;
        continue;
      }
      this.#busy[free]!++;
      this.#waiters.splice(i, 1);
      waiter.grant(free);
    }
  }

  /** Marks a lane broken: it gets no more URLs. */
  breakLane(lane: number): void {
    this.#broken[lane] = true;
  }

  #freest(only: number | undefined): number {
    let best = -1;
    let bestRoom = 0;
    this.lanes.forEach((lane, index) => {
      if (only !== undefined && index !== only) return;
      const room = this.#broken[index] ? 0 : lane.capacity - this.#busy[index]!;
      if (room > bestRoom) {
        best = index;
        bestRoom = room;
      }
    });
    return best;
  }
}

/** The lane of the calling invocation: fetchPage with the batch's own context. */
export function localLane(capacity: number, context: PageContext): Lane {
  return {
    capacity,
    run: (job) => fetchPage(job, context),
    close() {},
  };
}

// ---- The wire protocol: one JSON text message each way per event. ----

/** Caller to shard. */
export type ToShard =
  | { type: 'init'; init: ShardInit }
  | { type: 'fetch'; id: number; url: string; validators?: Validators | undefined; reuseConnection?: boolean | undefined };

/** Shard to caller. */
export type FromShard = { type: 'result'; id: number; result: PageResult };

/** What the protocol uses of a WebSocket (either end of a Workers WebSocketPair). */
export type ShardSocket = Pick<WebSocket, 'send' | 'close' | 'addEventListener'>;

/** Close code the caller uses when its batch is over (RFC 6455 §7.4.1: normal closure). */
const CLOSE_DONE = 1000;

/**
 * The shard's end: runs the URLs it is sent with the same engine, at most 6
 * waiting for headers, and sends each result back. The socket closing (the
 * batch ended, or the caller went away) cancels everything still in flight.
 */
export function serveShard(socket: ShardSocket, deps: { fetch?: typeof fetch; now?: () => number } = {}): void {
  const now = deps.now ?? Date.now;
  const controller = new AbortController();
  let context: PageContext | null = null;
  let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    clearTimeout(deadlineTimer);
    controller.abort(new AbortedFailure());
  };

  socket.addEventListener('close', stop);
  socket.addEventListener('error', stop);
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as ToShard;
    if (message.type === 'init') {
      const { options, deadlineMs } = message.init;
      // The caller's deadline cuts the batch; this one only stops a shard whose caller vanished silently.
      deadlineTimer = setTimeout(() => controller.abort(new DeadlineFailure(options.deadlineMs)), deadlineMs);
      context = {
        options,
        fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
        signal: controller.signal,
        headerGate: new Semaphore(ENGINE.headerSlots),
        deadlineAt: now() + deadlineMs,
        batchStart: now(),
        now,
      };
      return;
    }
    if (!context) throw new Error('fanout shard: fetch before init');
    const { id, url, validators, reuseConnection } = message;
    // The caller guarded the URL already; checking again here costs nothing and trusts nobody.
    const verdict = checkUrl(url, { allowPrivate: context.options.allowPrivate });
    const running = verdict.ok
      ? fetchPage({ url, target: verdict.url, validators, reuseConnection }, { ...context, batchStart: now() })
      : Promise.resolve(failedResult(url, new FetchFailure(verdict.code, verdict.message)));
    void running.then((result) => {
      if (controller.signal.aborted) return; // Nobody is listening any more.
      const reply: FromShard = { type: 'result', id, result };
      try {
        socket.send(JSON.stringify(reply));
      } catch {
        stop();
      }
    });
  });
}

/**
 * The caller's end of a shard lane over `socket` (which may still be opening):
 * sends each URL as a `fetch` message and resolves it when its result comes
 * back. Everything in flight rejects with LaneBroken if the socket closes or
 * errors before the batch closes the lane, or if it does not open within
 * `connectTimeoutMs`.
 */
export function shardLane(
  socket: Promise<ShardSocket>,
  init: ShardInit,
  capacity: number,
  connectTimeoutMs: number = ENGINE.shardConnectTimeoutMs,
): Lane {
  const pending = new Map<number, { resolve: (result: PageResult) => void; reject: (error: unknown) => void }>();
  let nextId = 0;
  let broken: LaneBroken | null = null;
  let closed = false;

  const breakOff = (why: string, cause?: unknown) => {
    if (closed || broken) return;
    broken = new LaneBroken(`scale-out shard broke off: ${why}`, { cause });
    for (const { reject } of pending.values()) reject(broken);
    pending.clear();
  };

  let connectTimer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    connectTimer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs);
  });
  // A socket that opens after the lane gave up on it is closed at once.
  socket.then((port) => broken && port.close(CLOSE_DONE, 'gave up waiting'), () => {});
  const ready = Promise.race([socket, timedOut]).finally(() => clearTimeout(connectTimer)).then(
    (port) => {
      port.addEventListener('message', (event) => {
        const message = JSON.parse(String(event.data)) as FromShard;
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        waiter?.resolve(message.result);
      });
      port.addEventListener('close', (event) => {
        breakOff(`connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`);
      });
      port.addEventListener('error', (event) => breakOff('connection error', event.error));
      port.send(JSON.stringify({ type: 'init', init } satisfies ToShard));
      return port;
    },
    (error: unknown) => {
      breakOff(`could not connect: ${error instanceof Error ? error.message : String(error)}`, error);
      return null;
    },
  );

  return {
    capacity,
    async run(job, signal) {
      // While the shard is still opening, the batch's end (deadline, client gone) must not wait for it.
      const port = await new Promise<ShardSocket | null>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        void ready.then((value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        });
      });
      if (broken) throw broken;
      if (!port) throw new LaneBroken('scale-out shard never connected');
      if (signal.aborted) throw signal.reason;
      const id = nextId++;
      return new Promise<PageResult>((resolve, reject) => {
        const onAbort = () => {
          pending.delete(id);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.set(id, {
          resolve: (value) => {
            signal.removeEventListener('abort', onAbort);
            resolve(value);
          },
          reject: (error) => {
            signal.removeEventListener('abort', onAbort);
            reject(error);
          },
        });
        try {
          const { url, validators, reuseConnection } = job;
          port.send(JSON.stringify({ type: 'fetch', id, url, validators, reuseConnection } satisfies ToShard));
        } catch (error) {
          breakOff(`send failed: ${error instanceof Error ? error.message : String(error)}`, error);
        }
      });
    },
    close() {
      closed = true;
      void ready.then((port) => port?.close(CLOSE_DONE, 'batch done'));
    },
  };
}

/**
 * Opens shard lanes as Durable Objects of `namespace` (class FetchShard), one
 * fresh object per lane, reached over a WebSocket. Connecting holds one of the
 * caller's header slots until the upgrade is answered.
 */
export function durableShards(namespace: DurableObjectNamespace): ShardOpener {
  return (init, capacity, headerGate) => {
    const connect = async (): Promise<ShardSocket> => {
      const release = await headerGate.acquire();
      try {
        const stub = namespace.get(namespace.newUniqueId());
        const response = await stub.fetch('https://shard.fanout.internal/', { headers: { upgrade: 'websocket' } });
        const socket = response.webSocket;
        if (response.status !== 101 || !socket) {
          await response.body?.cancel().catch(() => {});
          throw new Error(`shard answered ${response.status} instead of a WebSocket`);
        }
        socket.accept();
        return socket;
      } finally {
        release();
      }
    };
    return shardLane(connect(), init, capacity);
  };
}
