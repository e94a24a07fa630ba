import { challengeInBody, challengeInHeaders, type ChallengeVendor } from '../challenge';
import {
  BadRedirectFailure,
  ChallengeFailure,
  failureFromVerdict,
  HttpStatusFailure,
  isFetchFailure,
  NetworkFailure,
  TimeoutFailure,
  TooManyRedirectsFailure,
  type FetchFailure,
} from '../errors';
import { extract, type ChunkSource, type ExtractOptions } from '../extract';
import { checkUrl } from '../guard';
import { blankResult, EMPTY_FIELDS, failedResult, type PageFields, type PageResult } from '../result';
import { hintForStatus, withRetries, type Attempt, type RetryPolicy } from '../retry';
import { ENGINE, type FetchOptions } from './options';
import { CappedBody, REUSE_DRAIN_BYTES } from './read-body';
import type { Semaphore } from './semaphore';
import { sleep } from './wait';

/**
 * The challenge an HTML error page is, from its first chunk, or null; the
 * body is cancelled either way.
 */
async function peekChallenge(response: Response): Promise<ChallengeVendor | null> {
  const body = response.body;
  if (!body) return null;
  if (!/html/i.test(response.headers.get('content-type') ?? '')) {
    await body.cancel().catch(() => {});
    return null;
  }
  const reader = body.getReader();
  try {
    const { value } = await reader.read();
    return value ? challengeInBody(value) : null;
  } catch {
    return null;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** What fetchPage needs from its batch (or its shard). */
export interface PageContext {
  options: FetchOptions;
  fetch: typeof fetch;
  /** The batch's signal: aborts with a DeadlineFailure or AbortedFailure as its reason. */
  signal: AbortSignal;
  /** The per-invocation header-phase gate (6 on Workers). */
  headerGate: Semaphore;
  /** Bodies read whole and waiting for extraction in this invocation (bounded by PARKED_BODIES). */
  parked: { count: number };
  /** Epoch ms when the batch's deadline passes: no retry waits past it. */
  deadlineAt: number;
  now: () => number;
  /** Random in [0, 1) for jitter; injectable for tests. */
  random?: (() => number) | undefined;
  /** Waits before a retry, or rejects when the signal aborts; injectable so tests need not sleep through backoff. */
  sleep?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
}

/** One URL to fetch. */
export interface PageJob {
  /** The URL as the caller gave it (results carry it). */
  url: string;
  /** The same URL, parsed and through the guard. */
  target: URL;
  /** Time the URL waited in its batch before a lane took it; fetchPage adds its wait for a header slot. */
  queuedMs: number;
  /** From an earlier check of the URL, for a conditional request. */
  validators?: Validators | undefined;
  /**
   * Another URL to the same host is still queued in this batch: when fanout
   * stops reading early, a short remainder is read to the end so the
   * connection can be reused instead of closed (CappedBody.finish).
   */
  reuseConnection?: boolean | undefined;
  /**
   * Hands the URL's slot to the next URL once its connection is done with, before
   * extraction (read first, parse after: see `readsFirst`). Without it, or when the
   * body streams, the slot is given back when the result is made.
   */
  free?: (() => void) | undefined;
}

/** Validators from an earlier check; sent as If-None-Match / If-Modified-Since (RFC 9110 §13.1). */
export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Most bodies (each at most REUSE_DRAIN_BYTES) read whole and waiting for
 * extraction in one invocation; past it, a body streams through extraction
 * while holding its slot, as every body does without read-first.
 */
export const PARKED_BODIES = ENGINE.headerSlots;

/**
 * Read first, parse after, for a body that fanout would read to its end anyway:
 * another URL for the host is queued (so the connection is worth keeping, and a
 * remainder up to REUSE_DRAIN_BYTES is read after an early stop), the body is
 * not compressed (workerd decompresses but keeps the compressed length) and its
 * Content-Length is within REUSE_DRAIN_BYTES and `maxBytes`. Such a body is read
 * whole before extraction, its slot goes to the next URL, and only then is it
 * parsed: the next request is on the wire while the CPU works. Streamed with an
 * early stop instead, the slot waits for the parse; when several pages arrive at
 * once they take turns on one thread, and the last one's next request waits for
 * every parse (docs/workers-platform.md, "Read first, parse after").
 */
function readsFirst(response: Response, job: PageJob, ctx: PageContext): boolean {
  if (!job.free || !job.reuseConnection || ctx.parked.count >= PARKED_BODIES) return false;
  if (response.headers.has('content-encoding')) return false;
  const declared = response.headers.get('content-length');
  if (declared === null || !/^\d{1,9}$/.test(declared)) return false;
  return Number(declared) <= Math.min(REUSE_DRAIN_BYTES, ctx.options.maxBytes);
}

/** One turn of the event loop: lets a request just started go out before CPU-bound work (a timer: microtasks would not). */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A body already read, as the chunk source extraction reads. */
function chunksOf(chunks: Uint8Array[]): ChunkSource {
  let next = 0;
  return { read: async () => chunks[next++] ?? null };
}

const ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,application/json;q=0.9,text/plain;q=0.8,*/*;q=0.5';

/**
 * Fetches one URL (`target`, the input already through the guard): redirects
 * (every hop checked), retries with backoff, a per-attempt timeout that starts
 * when the first request gets a header slot, the body capped and extracted.
 * Never throws: every outcome is a result.
 */
export async function fetchPage(job: PageJob, ctx: PageContext): Promise<PageResult> {
  const takenAt = ctx.now();
  let firstSentAt: number | null = null;
  const policy: RetryPolicy = {
    retries: ctx.options.retries,
    backoffBaseMs: ENGINE.backoffBaseMs,
    backoffMaxMs: ENGINE.backoffMaxMs,
    retryAfterMaxMs: ENGINE.retryAfterMaxMs,
  };
  const { value: last, attempts } = await withRetries(
    policy,
    async () => {
      const attempt = new PageAttempt(job, ctx);
      const outcome = await attempt.run();
      firstSentAt ??= attempt.sentAt;
      return outcome;
    },
    {
      sleep: (ms) => (ctx.sleep ?? sleep)(ms, ctx.signal),
      random: ctx.random,
      // Never wait past the deadline: the result we have beats a `deadline` error.
      stopBefore: (waitMs) => ctx.signal.aborted || ctx.now() + waitMs >= ctx.deadlineAt,
    },
  );
  const end = ctx.now();
  const start = firstSentAt ?? end;
  return {
    ...last,
    attempts,
    durationMs: Math.max(0, end - start),
    timings: { ...last.timings, queuedMs: job.queuedMs + Math.max(0, start - takenAt) },
  };
}

/** A request that got its response headers. */
interface Sent {
  response: Response;
  sentAt: number;
  headersAt: number;
}

/**
 * One try at a URL: the redirect chain, then the final response. One clock
 * covers the whole attempt, redirect hops included, started when its first
 * request really goes out.
 */
class PageAttempt {
  /** When the attempt's first request went out (null if it never did). */
  sentAt: number | null = null;
  #current: URL;
  #redirects = 0;
  #phase: 'headers' | 'body' = 'headers';
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #timeout = new AbortController();
  readonly #signal: AbortSignal;

  constructor(
    private readonly job: PageJob,
    private readonly ctx: PageContext,
  ) {
    this.#current = job.target;
    this.#signal = AbortSignal.any([ctx.signal, this.#timeout.signal]);
  }

  /** Follows redirects to a final response and answers it. Never throws. */
  async run(): Promise<Attempt<PageResult>> {
    let response: Response | null = null;
    let isFinal = false;
    try {
      for (;;) {
        response = null; // a hop that fails to send has no status of its own
        const sent = await this.#send();
        response = sent.response;
        isFinal = !REDIRECT_STATUSES.has(response.status);
        if (isFinal) return await this.#answer(sent);
        this.#current = await this.#redirect(response);
      }
    } catch (error) {
      await response?.body?.cancel().catch(() => {});
      return this.#failed(this.#toFailure(error), {
        status: response?.status ?? null,
        contentType: isFinal ? (response?.headers.get('content-type') ?? null) : null,
      });
    } finally {
      clearTimeout(this.#timer);
    }
  }

  /** Waits for one of the invocation's header slots, starts the clock, sends the request. */
  async #send(): Promise<Sent> {
    const release = await this.ctx.headerGate.acquire(this.#signal);
    try {
      const { options, now } = this.ctx;
      this.#phase = 'headers';
      this.#timer ??= setTimeout(() => this.#timeout.abort(new TimeoutFailure(this.#phase, options.timeoutMs)), options.timeoutMs);
      const sentAt = now();
      this.sentAt ??= sentAt;
      const { validators } = this.job;
      const response = await this.ctx.fetch(this.#current.href, {
        method: 'GET',
        redirect: 'manual',
        signal: this.#signal,
        headers: {
          'user-agent': options.userAgent,
          accept: ACCEPT,
          ...(validators?.etag ? { 'if-none-match': validators.etag } : {}),
          ...(validators?.lastModified ? { 'if-modified-since': validators.lastModified } : {}),
        },
      });
      return { response, sentAt, headersAt: now() };
    } finally {
      release();
    }
  }

  /** The next hop of a redirect, through the guard; throws the failure that ends the chain. */
  async #redirect(response: Response): Promise<URL> {
    await response.body?.cancel().catch(() => {});
    const location = response.headers.get('location');
    if (!location) throw new BadRedirectFailure(response.status);
    const next = checkUrl(location, { allowPrivate: this.ctx.options.allowPrivate, base: this.#current });
    if (!next.ok) throw failureFromVerdict(next, `redirect ${this.#redirects + 1} to ${JSON.stringify(location)} refused`);
    const { maxRedirects } = this.ctx.options;
    if (this.#redirects >= maxRedirects) throw new TooManyRedirectsFailure(maxRedirects, next.url.href);
    this.#redirects++;
    return next.url;
  }

  /** The final response: a retryable status, a 304 to our validators, or a body to read. */
  async #answer({ response, sentAt, headersAt }: Sent): Promise<Attempt<PageResult>> {
    const { now } = this.ctx;
    const { status } = response;
    const timings = { queuedMs: 0, ttfbMs: headersAt - sentAt, bodyMs: null };
    // A bot challenge is never the page, and asking again will not pass it: no retry, no body.
    const vendor = challengeInHeaders(status, response.headers);
    if (vendor) {
      await response.body?.cancel().catch(() => {});
      const failure = new ChallengeFailure(vendor, status);
      return { value: this.#result(failedResult(this.job.url, failure, { status, contentType: response.headers.get('content-type'), timings })), retry: null };
    }
    const retry = hintForStatus(status, response.headers.get('retry-after'), now());
    if (retry) {
      // About to be retried maybe: do not spend bandwidth on an error page we may throw away,
      // but look at its first chunk: a challenge page (Cloudflare's comes as 503) is not retried.
      const challenge = await peekChallenge(response);
      const failure = challenge ? new ChallengeFailure(challenge, status) : new HttpStatusFailure(status, response.statusText, retry.retryAfterMs);
      if (challenge) return { value: this.#result(failedResult(this.job.url, failure, { status, contentType: response.headers.get('content-type'), timings })), retry: null };
      return { value: this.#result(failedResult(this.job.url, failure, { status, contentType: response.headers.get('content-type'), timings })), retry };
    }
    const etag = response.headers.get('etag');
    const lastModified = response.headers.get('last-modified');
    const { validators } = this.job;
    if (status === 304 && validators) {
      // Not modified since the validators we sent: nothing to read, the caller keeps what it had.
      await response.body?.cancel().catch(() => {});
      const result = blankResult(this.job.url, {
        ok: true,
        status,
        etag: etag ?? validators.etag,
        lastModified: lastModified ?? validators.lastModified,
        timings,
      });
      return { value: this.#result(result), retry: null };
    }
    this.#phase = 'body';
    const contentType = response.headers.get('content-type');
    const { challenge, ...body } = await this.#read(response, contentType);
    if (challenge) {
      const failure = new ChallengeFailure(challenge, status);
      const fields = { status, contentType, charset: body.charset, bytes: body.bytes, truncated: body.truncated, timings: { ...timings, bodyMs: now() - headersAt } };
      return { value: this.#result(failedResult(this.job.url, failure, fields)), retry: null };
    }
    const ok = status >= 200 && status < 300;
    const result: PageResult = {
      ...blankResult(this.job.url),
      ok,
      status,
      contentType,
      etag,
      lastModified,
      ...body,
      timings: { ...timings, bodyMs: now() - headersAt },
      error: ok ? null : new HttpStatusFailure(status, response.statusText).toJSON(),
    };
    return { value: this.#result(result), retry: null };
  }

  /** Reads the body through the byte cap into extraction, and ends it once extraction has what it needs. */
  async #read(
    response: Response,
    contentType: string | null,
  ): Promise<PageFields & Pick<PageResult, 'charset' | 'bytes' | 'truncated'> & { challenge?: ChallengeVendor | undefined }> {
    const stream = response.body;
    if (!stream) return { ...EMPTY_FIELDS, charset: null, bytes: 0, truncated: false };
    const { options, parked } = this.ctx;
    const body = new CappedBody(stream, options.maxBytes, this.#signal);
    const extractOptions: ExtractOptions = {
      snippetLength: options.snippetLength,
      selector: options.selector,
      query: options.query,
      hashText: options.hashText,
      provenance: options.provenance,
      formats: options.formats,
      onlyMainContent: options.onlyMainContent,
      maxContentChars: options.maxContentChars,
      pageUrl: this.#current.href,
    };
    let source: ChunkSource = body;
    let parking = false;
    if (readsFirst(response, this.job, this.ctx)) {
      const chunks: Uint8Array[] = [];
      for (let chunk = await body.read(); chunk; chunk = await body.read()) chunks.push(chunk);
      source = chunksOf(chunks);
      parking = true;
      parked.count++;
      this.job.free!();
      await nextTurn();
    }
    let found;
    try {
      found = await extract(source, contentType, extractOptions);
    } finally {
      if (parking) parked.count--;
      // Stops the reader (and with it the origin) if extraction ended before the body did.
      await body.finish(this.job.reuseConnection === true);
    }
    // After `finish`: a remainder read to keep the connection counts as read.
    return { ...found.fields, charset: found.charset, bytes: body.progress.bytes, truncated: !body.progress.done, challenge: found.challenge };
  }

  /** Where the attempt got to: the hop it ended on and the redirects it took. */
  #result(result: PageResult): PageResult {
    return { ...result, finalUrl: this.#current.href, redirects: this.#redirects };
  }

  /** A failed attempt; only network errors are retried from here (retryable statuses are answered in #answer). */
  #failed(failure: FetchFailure, extra: Partial<PageResult>): Attempt<PageResult> {
    return {
      value: this.#result(failedResult(this.job.url, failure, extra)),
      retry: failure.code === 'network' ? { retryAfterMs: null } : null,
    };
  }

  /** Maps anything thrown to a per-URL failure, preferring the abort reason that caused it. */
  #toFailure(error: unknown): FetchFailure {
    const batch = this.ctx.signal;
    if (batch.aborted && isFetchFailure(batch.reason)) return batch.reason;
    if (this.#timeout.signal.aborted && isFetchFailure(this.#timeout.signal.reason)) return this.#timeout.signal.reason;
    if (isFetchFailure(error)) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new NetworkFailure(message || 'network error', error);
  }
}
