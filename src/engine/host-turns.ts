/**
 * Turns at hosts shared with other invocations (jobs' consumers ask one
 * HostGate per host, src/jobs/host-gate.ts). A batch keeps a turn it has for
 * its next URL to the same host instead of giving it back and asking again:
 * one round trip per host and batch rather than two per URL. A Crawl-delay or
 * a backoff the host asked for still goes through the gate every time.
 */

export interface HostPermits {
  /**
   * Waits for the host's turn: fewer than `limit` of its requests in flight,
   * `intervalMs` since the last one started, and no backoff it asked for.
   * Rejects with the signal's reason when it aborts first.
   */
  acquire(host: string, rules: { limit: number; intervalMs: number }, signal: AbortSignal): Promise<HostPermit>;
}

export interface HostPermit {
  /** Gives the turn back; `backoffMs` holds the host off for everyone that long. */
  release(backoffMs: number): void;
}

/** A task of the batch waiting for a turn at a host. */
interface Waiter {
  grant(permit: HostPermit): void;
}

/**
 * One batch's turns: taken from the shared gate, and handed from one URL to
 * the batch's next URL for the same host while it has more. A URL waiting for
 * a turn asks the gate and, at the same time, takes the first turn another
 * URL of the batch gives up, whichever comes first (a turn the gate grants
 * too late goes to the next waiter, or back).
 */
export class HostTurns {
  readonly #kept = new Map<string, HostPermit[]>();
  readonly #waiting = new Map<string, Waiter[]>();
  #closed = false;

  constructor(private readonly permits: HostPermits) {}

  /** A turn at `host`: one this batch holds, or one from the gate. */
  take(host: string, rules: { limit: number; intervalMs: number }, signal: AbortSignal): Promise<HostPermit> {
    // With a Crawl-delay every start goes through the gate, which spaces them.
    if (rules.intervalMs > 0) return this.permits.acquire(host, rules, signal);
    const kept = this.#kept.get(host)?.pop();
    if (kept) return Promise.resolve(kept);
    return new Promise<HostPermit>((resolve, reject) => {
      const stopAsking = new AbortController();
      let settled = false;
      const waiter: Waiter = {
        grant: (permit) => {
          settled = true;
          stopAsking.abort();
          resolve(permit);
        },
      };
      const queue = this.#waiting.get(host) ?? [];
      queue.push(waiter);
      this.#waiting.set(host, queue);
      const leave = () => {
        const at = queue.indexOf(waiter);
        if (at !== -1) queue.splice(at, 1);
      };
      this.permits.acquire(host, rules, AbortSignal.any([signal, stopAsking.signal])).then(
        (permit) => {
          if (settled) return this.#pass(host, permit);
          leave();
          waiter.grant(permit);
        },
        (error: unknown) => {
          if (settled) return;
          leave();
          settled = true;
          reject(error);
        },
      );
    });
  }

  /**
   * Done with a turn: handed to a URL of the batch waiting for the host, or
   * kept while the batch has URLs for it queued, else given back to the gate.
   * A backoff or a Crawl-delay gives it back at once.
   */
  give(host: string, permit: HostPermit, { backoffMs, intervalMs, queued }: { backoffMs: number; intervalMs: number; queued: number }): void {
    if (backoffMs > 0 || intervalMs > 0) return permit.release(backoffMs);
    if (queued === 0 && !this.#waiting.get(host)?.length) return permit.release(0);
    this.#pass(host, permit);
  }

  /** A spare turn: to the first waiter, else kept for the batch's next URL to the host. */
  #pass(host: string, permit: HostPermit): void {
    if (this.#closed) return permit.release(0);
    const waiter = this.#waiting.get(host)?.shift();
    if (waiter) return waiter.grant(permit);
    const kept = this.#kept.get(host);
    if (kept) kept.push(permit);
    else this.#kept.set(host, [permit]);
  }

  /** Gives back every turn still kept (the batch is over). */
  close(): void {
    this.#closed = true;
    for (const kept of this.#kept.values()) for (const permit of kept) permit.release(0);
    this.#kept.clear();
  }
}
