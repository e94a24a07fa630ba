import { toHex } from '../hex';
import { sleep } from '../engine/wait';
import { checkUrl } from '../guard';
import { hintForStatus, withRetries, type RetryPolicy } from '../retry';

/**
 * Change notifications: a JSON summary POSTed to NOTIFY_URL, signed with
 * HMAC-SHA256 over the exact body bytes using NOTIFY_SECRET, in the header
 * `X-Fanout-Signature: sha256=<hex>` (the GitHub webhook convention).
 */

/**
 * Two retries after the first attempt, for network errors and the retryable
 * statuses (src/retry.ts), with backoff of 0.5-1 s then 1-2 s, or the
 * receiver's Retry-After up to 10 s.
 */
export const NOTIFY_RETRY: RetryPolicy = { retries: 2, backoffBaseMs: 1_000, backoffMaxMs: 2_000, retryAfterMaxMs: 10_000 };
/** Each notification attempt's timeout. */
export const NOTIFY_TIMEOUT_MS = 10_000;

export const SIGNATURE_HEADER = 'x-fanout-signature';

/** What happened to a notification; stored with the run. */
export interface NotifyOutcome {
  ok: boolean;
  attempts: number;
  status: number | null;
  error: string | null;
}

export interface NotifySettings {
  allowPrivate: boolean;
  userAgent: string;
  fetch?: typeof fetch | undefined;
  /** Waits between attempts (injectable: tests record the waits instead of sleeping through them). */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  random?: (() => number) | undefined;
}

/** Hex HMAC-SHA256 of `body` with `secret`. */
export async function sign(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body));
  return toHex(mac);
}

/**
 * POSTs `payload` to `url`, retrying transient failures as NOTIFY_RETRY says.
 * The URL passes the same guard as fetched URLs, and redirects are not followed.
 */
export async function notify(url: string, secret: string | undefined, payload: unknown, settings: NotifySettings): Promise<NotifyOutcome> {
  const verdict = checkUrl(url, { allowPrivate: settings.allowPrivate });
  if (!verdict.ok) return { ok: false, attempts: 0, status: null, error: `NOTIFY_URL refused: ${verdict.message}` };
  const doFetch = settings.fetch ?? fetch;
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': settings.userAgent };
  if (secret) headers[SIGNATURE_HEADER] = `sha256=${await sign(secret, body)}`;

  const { value, attempts } = await withRetries<Pick<NotifyOutcome, 'status' | 'error'>>(
    NOTIFY_RETRY,
    async () => {
      let status: number | null = null;
      try {
        const res = await doFetch(verdict.url.href, {
          method: 'POST',
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(NOTIFY_TIMEOUT_MS),
        });
        await res.body?.cancel().catch(() => {});
        status = res.status;
        if (res.ok) return { value: { status, error: null }, retry: null };
        // A status that asking again will not change (a refusal, 501) gets no hint: the retries stop.
        return { value: { status, error: `answered ${res.status}` }, retry: hintForStatus(res.status, res.headers.get('retry-after'), Date.now()) };
      } catch (error) {
        return { value: { status, error: error instanceof Error ? error.message : String(error) }, retry: { retryAfterMs: null } };
      }
    },
    { sleep: settings.sleep ?? ((ms) => sleep(ms)), random: settings.random },
  );
  return { ok: value.error === null, attempts, ...value };
}
