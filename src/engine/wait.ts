/**
 * Waiting with an abort signal, written once. Every wait in the engine (a
 * header slot, a lane, a shard's connection or result, a backoff) is "until
 * something settles, unless the signal aborts first", and each used to spell
 * out the listener bookkeeping by hand.
 */

/** Settles a wait: `resolve` with a value, or `reject` with an error. */
export interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * Starts a wait and returns its promise. `start` is called at once with the
 * ways to settle it and may return a `cancel` function, which runs when the
 * signal aborts first (take the waiter off its queue, clear its timer); the
 * promise then rejects with `signal.reason`. Whichever comes first wins; the
 * abort listener is removed either way.
 */
export function waitUnlessAborted<T>(signal: AbortSignal | undefined, start: (settle: Settle<T>) => (() => void) | void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let cancel: (() => void) | void;
    const onAbort = () => {
      cancel?.();
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    cancel = start({
      resolve(value) {
        done();
        resolve(value);
      },
      reject(error) {
        done();
        reject(error);
      },
    });
  });
}

/** Resolves after `ms`, or rejects with `signal.reason` as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return waitUnlessAborted<void>(signal, ({ resolve }) => {
    const timer = setTimeout(resolve, ms);
    return () => clearTimeout(timer);
  });
}

/** Waits for `promise` unless `signal` aborts first (the promise itself goes on). */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  return waitUnlessAborted<T>(signal, ({ resolve, reject }) => void promise.then(resolve, reject));
}

/** Removes `item` from `queue` if it is still there (a waiter granted and aborted at once is not). */
export function removeFrom<T>(queue: T[], item: T): void {
  const at = queue.indexOf(item);
  if (at !== -1) queue.splice(at, 1);
}
