import { DurableObject } from 'cloudflare:workers';

/**
 * One API client's rate limit: a token bucket in a Durable Object named after
 * the client, so every invocation everywhere draws from the same bucket.
 *
 * Why a Durable Object and not the Workers rate-limiting binding: the binding's
 * limit and period are fixed per binding in wrangler.toml, so per-client limits
 * set in a secret would need a binding per limit; and its counts are kept per
 * Cloudflare location, approximate by design. A Durable Object holds an exact
 * count per client for any limit, for one call (a few ms) per request.
 *
 * The bucket lives in the object's memory: an object that is evicted (idle)
 * starts again full, which errs on the client's side.
 */
export class RateLimiter extends DurableObject {
  #tokens = 0;
  #updatedAt = 0;
  #rate = 0;

  /** Takes one request from the bucket; answers how long to wait when it is empty. */
  take(ratePerMinute: number): { ok: boolean; retryAfterMs: number } {
    const now = Date.now();
    if (this.#rate !== ratePerMinute) {
      // A new or changed limit starts full.
      this.#rate = ratePerMinute;
      this.#tokens = ratePerMinute;
      this.#updatedAt = now;
    }
    this.#tokens = Math.min(ratePerMinute, this.#tokens + ((now - this.#updatedAt) * ratePerMinute) / 60_000);
    this.#updatedAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return { ok: true, retryAfterMs: 0 };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - this.#tokens) * 60_000) / ratePerMinute) };
  }
}
