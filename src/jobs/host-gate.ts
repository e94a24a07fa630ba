import { DurableObject } from 'cloudflare:workers';
import type { HostPermit, HostPermits } from '../engine/host-turns';
import { sleep } from '../engine/wait';

/**
 * Politeness across invocations: one HostGate object per host (by name, so
 * every consumer of every job asks the same one) holds the host's requests
 * in flight, the earliest time the next may start (Crawl-delay), and a
 * backoff the host asked for (a 429 or 503, with its Retry-After). A
 * consumer asks before each request to the host and gives the turn back
 * after; a turn that is never given back (a consumer killed mid-request)
 * lapses after its lease.
 *
 * The state lives in the object's memory: an object evicted while idle
 * forgets leases that have all ended anyway, and a backoff, which errs on the
 * side of sending (as the RateLimiter does).
 */
export class HostGate extends DurableObject {
  readonly #leases = new Map<string, number>();
  #nextStart = 0;
  #backoffUntil = 0;

  /** A turn (`lease`), or how long to wait before asking again. */
  acquire(limit: number, intervalMs: number, leaseMs: number): { lease: string | null; waitMs: number } {
    const now = Date.now();
    for (const [lease, expires] of this.#leases) if (expires <= now) this.#leases.delete(lease);
    if (now < this.#backoffUntil) return { lease: null, waitMs: this.#backoffUntil - now };
    if (now < this.#nextStart) return { lease: null, waitMs: this.#nextStart - now };
    if (this.#leases.size >= limit) return { lease: null, waitMs: FULL_POLL_MS };
    const lease = crypto.randomUUID();
    this.#leases.set(lease, now + leaseMs);
    this.#nextStart = now + intervalMs;
    return { lease, waitMs: 0 };
  }

  /** Gives a turn back; `backoffMs` holds the host off for everyone that long. */
  release(lease: string, backoffMs: number): void {
    this.#leases.delete(lease);
    if (backoffMs > 0) this.#backoffUntil = Math.max(this.#backoffUntil, Date.now() + backoffMs);
  }

  /** The host's state, for tests and logs. */
  state(): { inFlight: number; backoffUntil: number } {
    return { inFlight: this.#leases.size, backoffUntil: this.#backoffUntil };
  }
}

/** How long a consumer waits before asking a full host again. */
export const FULL_POLL_MS = 100;
/** A turn lapses this long after it was given, whatever happened to its holder. */
export const LEASE_MS = 5 * 60_000;

/** The engine's HostPermits over HostGate objects of `namespace` (the HOSTS binding). */
export function hostPermits(namespace: DurableObjectNamespace): HostPermits {
  const gates = namespace as unknown as DurableObjectNamespace<HostGate>;
  return {
    async acquire(host, rules, signal): Promise<HostPermit> {
      const gate = gates.get(gates.idFromName(host));
      for (;;) {
        signal.throwIfAborted();
        const { lease, waitMs } = await gate.acquire(rules.limit, rules.intervalMs, LEASE_MS);
        if (lease) return { release: (backoffMs) => void gate.release(lease, backoffMs).catch(() => {}) };
        await sleep(waitMs, signal);
      }
    },
  };
}
