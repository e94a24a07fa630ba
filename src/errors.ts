import type { GuardVerdict } from './guard';
import type { ErrorCode, ResultError } from './result';
import { RETRYABLE_STATUSES } from './retry';

/**
 * Every error fanout raises, each with a fixed code (ky's `errors/`, undici's
 * `lib/core/errors.js`): tell them apart by `code` or class, never by message.
 *
 * - Per-URL failures (`FetchFailure` and one subclass per code): a failed URL
 *   is a result carrying one, never an exception that stops the batch
 *   (lychee's per-link status, p-limit's recipe for partial results).
 * - `LaneBroken`: a scale-out shard failed; its URLs run elsewhere.
 * - `ConfigError`: the deployment's configuration is invalid.
 * - `ProblemError`: a request is refused; the HTTP layer answers it as
 *   problem+json (src/problem.ts).
 */

/** Base class: a failure of one URL, with a fixed code and the original `cause` kept. */
export abstract class FetchFailure extends Error {
  abstract readonly code: ErrorCode;
  /** Whether asking again later may succeed. */
  readonly retryable: boolean;

  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable;
  }

  toJSON(): ResultError {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** Not a URL; a scheme other than http/https; credentials in the URL. */
export class InvalidUrlFailure extends FetchFailure {
  readonly code = 'invalid_url';
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** The URL, or a redirect hop, points at an address or name the guard refuses. */
export class BlockedFailure extends FetchFailure {
  readonly code = 'blocked';
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** An attempt ran past `timeoutMs` (headers or body). */
export class TimeoutFailure extends FetchFailure {
  readonly code = 'timeout';
  constructor(phase: 'headers' | 'body', timeoutMs: number) {
    super(`no ${phase === 'headers' ? 'response headers' : 'end of body'} within ${timeoutMs} ms`, { retryable: true });
  }
}

/** The batch's `deadlineMs` passed before this URL finished. */
export class DeadlineFailure extends FetchFailure {
  readonly code = 'deadline';
  constructor(deadlineMs: number) {
    super(`batch deadline of ${deadlineMs} ms reached before this URL finished`, { retryable: true });
  }
}

/** Connection refused or reset, DNS failure, TLS failure, a body that broke off. */
export class NetworkFailure extends FetchFailure {
  readonly code = 'network';
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: true, cause });
  }
}

/** The final response was not 2xx. */
export class HttpStatusFailure extends FetchFailure {
  readonly code = 'http_status';
  readonly status: number;
  /** How long the origin asked callers to wait (its Retry-After), when it said. */
  readonly retryAfterMs: number | null;
  constructor(status: number, statusText: string, retryAfterMs: number | null = null) {
    super(`origin answered ${status}${statusText ? ` ${statusText}` : ''}`, { retryable: RETRYABLE_STATUSES.has(status) });
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  override toJSON(): ResultError {
    return this.retryAfterMs === null ? super.toJSON() : { ...super.toJSON(), retryAfterMs: this.retryAfterMs };
  }
}

/** A bot-protection service answered with a challenge instead of the page (src/challenge.ts). */
export class ChallengeFailure extends FetchFailure {
  readonly code = 'challenge';
  readonly vendor: string;
  constructor(vendor: string, status: number) {
    super(`the origin answered ${status} with a bot challenge (${vendor}) instead of the page`, { retryable: false });
    this.vendor = vendor;
  }

  override toJSON(): ResultError {
    return { ...super.toJSON(), vendor: this.vendor };
  }
}

/** `respectRobots` is on and the host's robots.txt refuses the URL to fanout (or could not be read: RFC 9309's "disallow all"). */
export class RobotsDisallowedFailure extends FetchFailure {
  readonly code = 'robots_disallowed';
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** More than `maxRedirects` hops, or a redirect loop. */
export class TooManyRedirectsFailure extends FetchFailure {
  readonly code = 'too_many_redirects';
  constructor(maxRedirects: number, next: string) {
    super(`more than ${maxRedirects} redirects (next: ${next})`, { retryable: false });
  }
}

/** A 3xx without a Location header. */
export class BadRedirectFailure extends FetchFailure {
  readonly code = 'bad_redirect';
  constructor(status: number) {
    super(`${status} redirect without a Location header`, { retryable: false });
  }
}

/** The caller went away (client disconnect); nobody will read this result. */
export class AbortedFailure extends FetchFailure {
  readonly code = 'aborted';
  constructor() {
    super('the request was cancelled by the client', { retryable: true });
  }
}

/** The URL's job was cancelled (DELETE /v1/jobs/:id) before its chunk was recorded. */
export class CancelledFailure extends FetchFailure {
  readonly code = 'cancelled';
  constructor() {
    super('the job was cancelled before this URL was fetched', { retryable: true });
  }
}

/** The URL's chunk of a job failed every delivery (its consumer kept failing or never reported back). */
export class UnprocessedFailure extends FetchFailure {
  readonly code = 'unprocessed';
  constructor() {
    super("this URL's chunk of the job failed every delivery to a consumer and was never recorded", { retryable: true });
  }
}

/** True for any per-URL failure raised by the engine. */
export function isFetchFailure(value: unknown): value is FetchFailure {
  return value instanceof FetchFailure;
}

/**
 * The failure for a URL the guard refused: the one place a verdict becomes a
 * failure (the input URL, a shard's re-check, every redirect hop). `context`
 * goes before the guard's message, e.g. `redirect 2 to "http://10.0.0.1/" refused`.
 */
export function failureFromVerdict(verdict: Extract<GuardVerdict, { ok: false }>, context?: string): FetchFailure {
  const message = context ? `${context}: ${verdict.message}` : verdict.message;
  return verdict.code === 'blocked' ? new BlockedFailure(message) : new InvalidUrlFailure(message);
}

/** A scale-out shard's connection broke or the shard reported an error; its URLs run elsewhere. */
export class LaneBroken extends Error {
  override readonly name = 'LaneBroken';
}

/** Service misconfiguration: names the var and the value it got (p-map's "Expected ... got ..."). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * The problem kinds fanout answers with (`type` is `urn:fanout:problem:<kind>`);
 * a kind fixes its status and title.
 */
export const PROBLEM_KINDS = {
  'invalid-request': { status: 400, title: 'Invalid request' },
  'malformed-json': { status: 400, title: 'Malformed JSON' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  'too-many-urls': { status: 413, title: 'Too many URLs' },
  'body-too-large': { status: 413, title: 'Request body too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  misconfigured: { status: 500, title: 'Service misconfigured' },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemKind = keyof typeof PROBLEM_KINDS;

/** One offending input: a JSON-path-like field name and what is wrong with it. */
export interface FieldError {
  field: string;
  message: string;
}

/** A refused request: thrown anywhere in the HTTP layer, answered by `app.onError` as problem+json. */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly status: number;

  constructor(
    readonly kind: ProblemKind,
    detail: string,
    readonly extra: { errors?: FieldError[]; headers?: HeadersInit } = {},
  ) {
    super(detail);
    this.status = PROBLEM_KINDS[kind].status;
  }
}
