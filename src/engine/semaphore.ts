import { removeFrom, waitUnlessAborted } from './wait';

/**
 * A FIFO counting semaphore whose waiters can be cancelled by a signal.
 * fanout uses one per invocation to gate the header phase at the Workers limit.
 */
export class Semaphore {
  #free: number;
  readonly #waiters: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new TypeError(`Expected \`size\` to be an integer >= 1, got ${size}`);
    }
    this.#free = size;
  }

  /** Slots taken right now. */
  get taken(): number {
    return this.size - this.#free;
  }

  /**
   * Waits for a slot and resolves with its release function (idempotent).
   * Rejects with `signal.reason` if the signal aborts first.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(release);
    }
    return waitUnlessAborted(signal, ({ resolve }) => {
      const grant = () => resolve(release);
      this.#waiters.push(grant);
      return () => removeFrom(this.#waiters, grant);
    });
  }
}
