import {
  FetchFailure,
  HttpStatusFailure,
  isFetchFailure,
  NetworkFailure,
  RETRYABLE_STATUSES,
  TimeoutFailure,
  type ResultError,
} from '../errors';
import { extractBody } from '../extract';
import { EMPTY_FIELDS, type PageFields } from '../extract/html';
import { checkUrl } from '../guard';
import { ENGINE, type FetchOptions } from '../options';
import type { Semaphore } from './semaphore';

/** One URL's answer: the JSON shape of a result. */
export interface PageResult extends PageFields {
  /** The URL as the caller gave it. */
  url: string;
  /** True only for a final 2xx whose body was read. */
  ok: boolean;
  status: number | null;
  finalUrl: string | null;
  redirects: number;
  contentType: string | null;
  charset: string | null;
  /** The final response's ETag and Last-Modified headers (watch lists send them back as validators). */
  etag: string | null;
  lastModified: string | null;
  bytes: number;
  truncated: boolean;
  attempts: number;
  /** From the first request sent to the result (queue time excluded). */
  durationMs: number;
  timings: {
    /** Waiting for a pool slot and a header slot before the first request went out. */
    queuedMs: number;
    /** From the final request being sent to its response headers. */
    ttfbMs: number | null;
    /** Reading and extracting the final body. */
    bodyMs: number | null;
  };
  error: ResultError | null;
}

/** What fetchPage needs from its batch. */
export interface PageContext {
  options: FetchOptions;
  fetch: typeof fetch;
  /** The batch's signal: aborts with a DeadlineFailure or AbortedFailure as its reason. */
  signal: AbortSignal;
  /** The per-invocation header-phase gate (6 on Workers). */
  headerGate: Semaphore;
  /** Epoch ms when the batch's deadline passes. */
  deadlineAt: number;
  /** When the batch started (for queuedMs). */
  batchStart: number;
  now: () => number;
  /** Random in [0, 1) for jitter; injectable for tests. */
  random?: (() => number) | undefined;
}

/** One URL to fetch. */
export interface PageJob {
  /** The URL as the caller gave it (results carry it). */
  url: string;
  /** The same URL, parsed and through the guard. */
  target: URL;
  /** From an earlier check of the URL, for a conditional request. */
  validators?: Validators | undefined;
  /**
   * Another URL to the same host is still queued in this batch: when fanout
   * stops reading early, a short remainder is read to the end so the
   * connection can be reused instead of closed (src/engine/read-body.ts).
   */
  reuseConnection?: boolean | undefined;
}

/** Validators from an earlier check; sent as If-None-Match / If-Modified-Since (RFC 9110 §13.1). */
export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A result for a URL that was never fetched (bad URL, deadline before start). */
export function failedResult(url: string, error: FetchFailure, extra: Partial<PageResult> = {}): PageResult {
  return blankResult(url, { error: error.toJSON(), ...extra });
}

/** A result with nothing known yet: every field present, empty. */
function blankResult(url: string, extra: Partial<PageResult>): PageResult {
  return {
    url,
    ok: false,
    status: null,
    finalUrl: null,
    redirects: 0,
    contentType: null,
    charset: null,
    etag: null,
    lastModified: null,
    ...EMPTY_FIELDS,
    bytes: 0,
    truncated: false,
    attempts: 0,
    durationMs: 0,
    timings: { queuedMs: 0, ttfbMs: null, bodyMs: null },
    error: null,
    ...extra,
  };
}

/** Maps anything thrown during a request to a per-URL failure, preferring the abort reason that caused it. */
function toFailure(error: unknown, batch: AbortSignal, attempt: AbortSignal): FetchFailure {
  if (batch.aborted && isFetchFailure(batch.reason)) return batch.reason;
  if (attempt.aborted && isFetchFailure(attempt.reason)) return attempt.reason;
  if (isFetchFailure(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new NetworkFailure(message || 'network error', error);
}

/** Parses Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Exponential backoff with equal jitter: half fixed, half random (ky's retry timing, AWS's "equal jitter"). */
export function backoffMs(retry: number, random: () => number): number {
  const ceiling = Math.min(ENGINE.backoffMaxMs, ENGINE.backoffBaseMs * 2 ** (retry - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** What one try at a URL (the redirect chain, then the final body) came to. */
interface Attempt {
  result: PageResult;
  /** When set, the attempt failed in a way worth retrying after this many ms (null = use backoff). */
  retry: { afterMs: number | null } | null;
}

/**
 * Fetches one URL (`target`, the input already through the guard): redirects
 * (every hop checked), retries with backoff,
 * a per-attempt timeout that starts when the first request gets a header slot,
 * the body capped and extracted. Never throws: every outcome is a result.
 */
export async function fetchPage(job: PageJob, ctx: PageContext): Promise<PageResult> {
  const { options, now } = ctx;
  const random = ctx.random ?? Math.random;

  let firstSentAt: number | null = null;
  const markSent = (at: number) => {
    firstSentAt ??= at;
  };
  let attempts = 0;
  let last: PageResult | null = null;

  for (;;) {
    attempts++;
    const attempt = await attemptOnce(job, ctx, markSent);
    last = attempt.result;
    const retriesLeft = attempts <= options.retries;
    if (!attempt.retry || !retriesLeft || ctx.signal.aborted) break;
    const wait = attempt.retry.afterMs ?? backoffMs(attempts, random);
    if (attempt.retry.afterMs !== null && attempt.retry.afterMs > ENGINE.retryAfterMaxMs) break; // Politeness: do not come back sooner than asked.
    // Never wait past the deadline: the result we have beats a `deadline` error.
    if (now() + wait >= ctx.deadlineAt) break;
    try {
      await sleep(wait, ctx.signal);
    } catch {
      break;
    }
  }

  const end = now();
  const start = firstSentAt ?? end;
  return {
    ...last,
    attempts,
    durationMs: Math.max(0, end - start),
    timings: { ...last.timings, queuedMs: Math.max(0, start - ctx.batchStart) },
  };
}

async function attemptOnce(job: PageJob, ctx: PageContext, markSent: (at: number) => void): Promise<Attempt> {
  const { options, now, signal: batch } = ctx;
  const { url: inputUrl, validators } = job;
  let current = job.target;
  let redirects = 0;
  const fail = (error: FetchFailure, extra: Partial<PageResult> = {}): Attempt => ({
    result: failedResult(inputUrl, error, { redirects, finalUrl: current.href, ...extra }),
    // Only network errors are retried from here; retryable statuses are handled where they are seen.
    retry: error.code === 'network' ? { afterMs: null } : null,
  });

  // One clock per attempt, redirect hops included, started when the first request really goes out.
  const attemptController = new AbortController();
  const signal = AbortSignal.any([batch, attemptController.signal]);
  let phase: 'headers' | 'body' = 'headers';
  let timer: ReturnType<typeof setTimeout> | undefined;

  try {
    for (;;) {
      // The header phase: wait for one of the invocation's header slots before the clock starts.
      let release: () => void;
      try {
        release = await ctx.headerGate.acquire(signal);
      } catch (error) {
        return fail(toFailure(error, batch, attemptController.signal));
      }

      phase = 'headers';
      timer ??= setTimeout(() => attemptController.abort(new TimeoutFailure(phase, options.timeoutMs)), options.timeoutMs);
      const sentAt = now();
      markSent(sentAt);

      let response: Response;
      try {
        response = await ctx.fetch(current.href, {
          method: 'GET',
          redirect: 'manual',
          signal,
          headers: {
            'user-agent': options.userAgent,
            accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,application/json;q=0.9,text/plain;q=0.8,*/*;q=0.5',
            ...(validators?.etag ? { 'if-none-match': validators.etag } : {}),
            ...(validators?.lastModified ? { 'if-modified-since': validators.lastModified } : {}),
          },
        });
      } catch (error) {
        release();
        return fail(toFailure(error, batch, attemptController.signal));
      }
      release();
      const headersAt = now();
      const ttfbMs = headersAt - sentAt;

      try {
        // Redirects by hand so every hop is guarded and counted.
        if (REDIRECT_STATUSES.has(response.status)) {
          await response.body?.cancel().catch(() => {});
          const location = response.headers.get('location');
          if (!location) {
            return fail(new FetchFailure('bad_redirect', `${response.status} redirect without a Location header`), {
              status: response.status,
            });
          }
          const next = checkUrl(location, { allowPrivate: options.allowPrivate, base: current });
          if (!next.ok) {
            const message = `redirect ${redirects + 1} to ${JSON.stringify(location)} refused: ${next.message}`;
            return fail(new FetchFailure(next.code, message), { status: response.status });
          }
          if (redirects >= options.maxRedirects) {
            return fail(
              new FetchFailure('too_many_redirects', `more than ${options.maxRedirects} redirects (next: ${next.url.href})`),
              { status: response.status },
            );
          }
          redirects++;
          current = next.url;
          continue;
        }

        const retryable = RETRYABLE_STATUSES.has(response.status);
        if (retryable) {
          // About to be retried maybe: do not spend bandwidth on an error page we may throw away.
          const afterMs = parseRetryAfter(response.headers.get('retry-after'), now());
          const failure = new HttpStatusFailure(response.status, response.statusText);
          await response.body?.cancel().catch(() => {});
          return {
            result: failedResult(inputUrl, failure, {
              status: response.status,
              finalUrl: current.href,
              redirects,
              contentType: response.headers.get('content-type'),
              timings: { queuedMs: 0, ttfbMs, bodyMs: null },
            }),
            retry: { afterMs },
          };
        }

        const etag = response.headers.get('etag');
        const lastModified = response.headers.get('last-modified');
        if (response.status === 304 && validators) {
          // Not modified since the validators we sent: nothing to read, the caller keeps what it had.
          await response.body?.cancel().catch(() => {});
          return {
            result: blankResult(inputUrl, {
              ok: true,
              status: 304,
              finalUrl: current.href,
              redirects,
              etag: etag ?? validators.etag,
              lastModified: lastModified ?? validators.lastModified,
              timings: { queuedMs: 0, ttfbMs, bodyMs: null },
            }),
            retry: null,
          };
        }

        phase = 'body';
        const contentType = response.headers.get('content-type');
        const body = await extractBody(response.body, contentType, {
          maxBytes: options.maxBytes,
          snippetLength: options.snippetLength,
          selector: options.selector,
          query: options.query,
          hashText: options.hashText,
          pageUrl: current.href,
          reuseConnection: job.reuseConnection,
          signal,
        });
        const ok = response.status >= 200 && response.status < 300;
        return {
          result: {
            url: inputUrl,
            ok,
            status: response.status,
            finalUrl: current.href,
            redirects,
            contentType,
            etag,
            lastModified,
            ...body,
            attempts: 0,
            durationMs: 0,
            timings: { queuedMs: 0, ttfbMs, bodyMs: now() - headersAt },
            error: ok ? null : new HttpStatusFailure(response.status, response.statusText).toJSON(),
          },
          retry: null,
        };
      } catch (error) {
        await response.body?.cancel().catch(() => {});
        const failure = toFailure(error, batch, attemptController.signal);
        return fail(failure, { status: response.status, contentType: response.headers.get('content-type') });
      }
    }
  } finally {
    clearTimeout(timer);
  }
}
