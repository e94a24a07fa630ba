/**
 * When to try a request again and how long to wait first: one module for the
 * engine's fetches and for notifications (ky's `retry-timing`). Only
 * transient failures are retried: network errors and the statuses below.
 * `Retry-After` is honoured up to a cap; otherwise the wait is exponential
 * backoff with equal jitter.
 */

/** Statuses worth asking again for (RFC 9110 §15.5.9 408, §15.6 5xx except 501/505+; RFC 6585 §4 429). */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** How a caller retries. */
export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** Backoff before retry n is drawn from [c/2, c] with c = min(backoffMaxMs, backoffBaseMs * 2^(n-1)). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Longest `Retry-After` honoured; a longer one ends the retries (come back no sooner than asked). */
  retryAfterMaxMs: number;
}

/** Why an attempt may be retried: the wait it asked for (`Retry-After`, in ms) or null for backoff. */
export interface RetryHint {
  retryAfterMs: number | null;
}

/** The hint for a response status: retryable statuses only, with their `Retry-After`. */
export function hintForStatus(status: number, retryAfter: string | null, now: number): RetryHint | null {
  return RETRYABLE_STATUSES.has(status) ? { retryAfterMs: parseRetryAfter(retryAfter, now) } : null;
}

/** Parses Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Exponential backoff with equal jitter: half fixed, half random (ky's retry timing, AWS's "equal jitter"). */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** (retry - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * The wait before retry number `retry` (1-based), or null to stop: out of
 * retries, or the origin asked for a longer pause than the policy honours.
 */
export function retryDelay(retry: number, hint: RetryHint, policy: RetryPolicy, random: () => number): number | null {
  if (retry > policy.retries) return null;
  if (hint.retryAfterMs === null) return backoffMs(retry, policy, random);
  return hint.retryAfterMs > policy.retryAfterMaxMs ? null : hint.retryAfterMs;
}

/** One attempt's outcome: its value, and a hint when it is worth retrying. */
export interface Attempt<T> {
  value: T;
  retry: RetryHint | null;
}

export interface RetryDeps {
  /** Waits between attempts; rejects to stop retrying (the signal aborted). Injectable so tests need not sleep. */
  sleep: (ms: number) => Promise<void>;
  random?: () => number;
  /** Checked before each wait: true stops (a wait past the batch's deadline, a batch already cut). */
  stopBefore?: (waitMs: number) => boolean;
}

/**
 * Runs `attempt` until it succeeds, is not worth retrying, or the policy says
 * stop; resolves with the last attempt's value and how many attempts ran.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<Attempt<T>>,
  deps: RetryDeps,
): Promise<{ value: T; attempts: number }> {
  const random = deps.random ?? Math.random;
  for (let n = 1; ; n++) {
    const { value, retry } = await attempt(n);
    const wait = retry ? retryDelay(n, retry, policy, random) : null;
    if (wait === null || deps.stopBefore?.(wait)) return { value, attempts: n };
    try {
      await deps.sleep(wait);
    } catch {
      return { value, attempts: n };
    }
  }
}
