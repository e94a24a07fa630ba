import { AbortedFailure, DeadlineFailure, failureFromVerdict } from '../errors';
import { checkUrl } from '../guard';
import { failedResult, type PageResult } from '../result';
import { fetchPage, type PageContext } from './fetch-page';
import { ENGINE, type FetchOptions } from './options';
import { Semaphore } from './semaphore';
import { CLOSE_PROTOCOL_ERROR, CLOSE_SHARD_ERROR, type ShardSocket } from './shard-lane';
import { decodeToShard, encode, ProtocolError, type ToShard } from './shard-protocol';

/**
 * The shard's end of a lane: runs the URLs it is sent with the same engine,
 * at most 6 waiting for headers, and sends each result back. The socket
 * closing (the batch ended, or the caller went away) cancels everything still
 * in flight. Anything that goes wrong here is reported to the batch as an
 * `error` message before the socket closes, so the batch runs this lane's
 * URLs itself at once.
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
  const send = (message: { type: 'free'; id: number } | { type: 'result'; id: number; result: PageResult } | { type: 'error'; message: string }) => {
    try {
      socket.send(encode(message));
    } catch {
      stop();
    }
  };
  /** Tells the batch this shard gives up, and why, then stops. */
  const fail = (error: unknown) => {
    if (controller.signal.aborted) return;
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    stop();
    socket.close(error instanceof ProtocolError ? CLOSE_PROTOCOL_ERROR : CLOSE_SHARD_ERROR, 'shard error');
  };

  /** `init`: the batch's options; the batch's own deadline ends it, this one only stops a shard whose caller vanished silently. */
  const start = (options: FetchOptions) => {
    if (context) throw new ProtocolError('init sent twice');
    deadlineTimer = setTimeout(() => controller.abort(new DeadlineFailure(options.deadlineMs)), options.deadlineMs);
    context = {
      options,
      fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
      signal: controller.signal,
      headerGate: new Semaphore(ENGINE.headerSlots),
      parked: { count: 0 },
      deadlineAt: now() + options.deadlineMs,
      now,
    };
  };

  /** `fetch`: one URL, answered with its result (and, when its body is read whole before extraction, `free` first). */
  const run = (message: Extract<ToShard, { type: 'fetch' }>, context: PageContext) => {
    const { id, url, queuedMs, validators, reuseConnection } = message;
    // The caller guarded the URL already; checking again here costs nothing and trusts nobody.
    const verdict = checkUrl(url, { allowPrivate: context.options.allowPrivate });
    const running = verdict.ok
      ? fetchPage({ url, target: verdict.url, queuedMs, validators, reuseConnection, free: () => send({ type: 'free', id }) }, context)
      : Promise.resolve(failedResult(url, failureFromVerdict(verdict), { timings: { queuedMs, ttfbMs: null, bodyMs: null } }));
    running.then((result) => {
      if (!controller.signal.aborted) send({ type: 'result', id, result }); // else nobody is listening any more
    }, fail);
  };

  socket.addEventListener('close', stop);
  socket.addEventListener('error', stop);
  socket.addEventListener('message', (event) => {
    try {
      const message = decodeToShard(event.data);
      if (message.type === 'init') return start(message.options);
      if (!context) throw new ProtocolError('fetch before init');
      run(message, context);
    } catch (error) {
      fail(error);
    }
  });
}
