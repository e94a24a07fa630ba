import { checkUrl } from '../guard';

/**
 * Change notifications: a JSON summary POSTed to NOTIFY_URL, signed with
 * HMAC-SHA256 over the exact body bytes using NOTIFY_SECRET, in the header
 * `X-Fanout-Signature: sha256=<hex>` (the GitHub webhook convention).
 */

/** Attempts made for one notification, and the pause before each retry. */
export const NOTIFY_RETRY_DELAYS_MS = [0, 500, 2000] as const;
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

/** Hex HMAC-SHA256 of `body` with `secret`. */
export async function sign(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * POSTs `payload` to `url`, retrying network errors and 5xx/429 a few times.
 * The URL passes the same guard as fetched URLs, and redirects are not followed.
 */
export async function notify(
  url: string,
  secret: string | undefined,
  payload: unknown,
  settings: { allowPrivate: boolean; userAgent: string; fetch?: typeof fetch },
): Promise<NotifyOutcome> {
  const verdict = checkUrl(url, { allowPrivate: settings.allowPrivate });
  if (!verdict.ok) return { ok: false, attempts: 0, status: null, error: `NOTIFY_URL refused: ${verdict.message}` };
  const doFetch = settings.fetch ?? fetch;
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': settings.userAgent };
  if (secret) headers[SIGNATURE_HEADER] = `sha256=${await sign(secret, body)}`;

  let outcome: NotifyOutcome = { ok: false, attempts: 0, status: null, error: null };
  for (const delay of NOTIFY_RETRY_DELAYS_MS) {
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    outcome = { ...outcome, attempts: outcome.attempts + 1 };
    try {
      const res = await doFetch(verdict.url.href, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(NOTIFY_TIMEOUT_MS),
      });
      await res.body?.cancel().catch(() => {});
      outcome = { ...outcome, status: res.status, error: res.ok ? null : `answered ${res.status}` };
      if (res.ok) return { ...outcome, ok: true };
      if (res.status < 500 && res.status !== 429 && res.status !== 408) return outcome; // the receiver refused; asking again will not help
    } catch (error) {
      outcome = { ...outcome, status: null, error: error instanceof Error ? error.message : String(error) };
    }
  }
  return outcome;
}
