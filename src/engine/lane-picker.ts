import type { Lane } from './lanes';
import { removeFrom, waitUnlessAborted } from './wait';

interface Waiter {
  /** Only this lane will do (a URL whose shard broke runs in lane 0). */
  only: number | undefined;
  grant: (lane: number) => void;
}

/**
 * Hands out lane slots: the lane with the most free room (lane 0 on a tie), so
 * the work spreads evenly. A broken lane takes no more URLs; when no live lane
 * has room, callers wait in FIFO order.
 */
export class LanePicker {
  readonly #busy: number[];
  readonly #broken: boolean[];
  readonly #waiters: Waiter[] = [];

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
    return waitUnlessAborted(signal, ({ resolve }) => {
      const waiter: Waiter = { only, grant: resolve };
      this.#waiters.push(waiter);
      return () => removeFrom(this.#waiters, waiter);
    });
  }

  /** Gives a lane's room back, to the first waiters it suits. */
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
