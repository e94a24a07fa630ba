import { checkUrl } from '../guard';
import { hintForStatus } from '../retry';
import { sign } from '../watch/notify';

/**
 * Job webhooks: events POSTed to the job's `webhook.url`, signed with
 * HMAC-SHA256 over `<timestamp>.<body>` with WEBHOOK_SECRET, in the header
 * `X-Fanout-Signature: t=<unix seconds>,v1=<hex>` (Stripe's scheme: the
 * timestamp is signed too, so a receiver can refuse a replay older than
 * 5 minutes). README "Jobs" has the receiver's recipe.
 */

export const WEBHOOK_EVENTS = ['job.started', 'job.page', 'job.failed_page', 'job.completed', 'job.cancelled'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Events a webhook gets when it names none: every one but `job.page` (a POST per chunk of results). */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = ['job.started', 'job.failed_page', 'job.completed', 'job.cancelled'];

export const WEBHOOK_SIGNATURE_HEADER = 'x-fanout-signature';

/**
 * Attempts per event before it is given up, and the waits between them:
 * 1 s, 2 s, 4 s ... up to 10 minutes (about 21 minutes in all).
 */
export const WEBHOOK_ATTEMPTS = 8;
export const webhookBackoffMs = (attempts: number) => Math.min(600_000, 1000 * 2 ** Math.max(0, attempts - 1));
/** Each attempt's timeout. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** A job's webhook as the request gives it. */
export interface Webhook {
  url: string;
  events?: WebhookEvent[] | undefined;
  /** Sent back in every event, as given (at most 4 KB of JSON). */
  metadata?: Record<string, unknown> | undefined;
}

/** `X-Fanout-Signature` for `body` sent at `seconds` (Unix time). */
export async function signature(secret: string, seconds: number, body: string): Promise<string> {
  return `t=${seconds},v1=${await sign(secret, `${seconds}.${body}`)}`;
}

/** What one delivery attempt came to. */
export interface Delivery {
  ok: boolean;
  /** When it failed: retry (a network error, or a status src/retry.ts retries) or give up (any other status, a refused URL). */
  retry: boolean;
  error: string | null;
}

export interface DeliverySettings {
  secret: string;
  allowPrivate: boolean;
  userAgent: string;
  now: number;
}

/** POSTs one event: the URL through the guard, no redirects followed, one attempt. */
export async function deliver(url: string, event: WebhookEvent, deliveryId: string, body: string, settings: DeliverySettings): Promise<Delivery> {
  const verdict = checkUrl(url, { allowPrivate: settings.allowPrivate });
  if (!verdict.ok) return { ok: false, retry: false, error: `webhook URL refused: ${verdict.message}` };
  try {
    const res = await fetch(verdict.url.href, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        'user-agent': settings.userAgent,
        'x-fanout-event': event,
        'x-fanout-delivery': deliveryId,
        [WEBHOOK_SIGNATURE_HEADER]: await signature(settings.secret, Math.floor(settings.now / 1000), body),
      },
      body,
    });
    await res.body?.cancel().catch(() => {});
    if (res.ok) return { ok: true, retry: false, error: null };
    // The statuses worth asking again are the fetches' and the notifications' (src/retry.ts).
    return { ok: false, retry: hintForStatus(res.status, null, settings.now) !== null, error: `answered ${res.status}` };
  } catch (error) {
    return { ok: false, retry: true, error: error instanceof Error ? error.message : String(error) };
  }
}
