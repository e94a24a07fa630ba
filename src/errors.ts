/**
 * Per-URL failures. A failed URL is a result with a fixed `code`, never an
 * exception that stops the batch (lychee's per-link status, p-limit's recipe
 * for partial results). Callers tell failures apart by `code`, never by message.
 */

/** Every code a result's `error.code` can take; the README documents each. */
export const ERROR_CODES = [
  'invalid_url',
  'blocked',
  'timeout',
  'deadline',
  'network',
  'http_status',
  'too_many_redirects',
  'bad_redirect',
  'aborted',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The JSON shape of a failure inside a result. */
export interface ResultError {
  code: ErrorCode;
  message: string;
  /** Whether asking again later may succeed (transient network trouble, 5xx, 429, timeouts). */
  retryable: boolean;
}

/** Base class: a failure of one URL, with a fixed code and the original `cause` kept. */
export class FetchFailure extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'FetchFailure';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  toJSON(): ResultError {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** An attempt ran past `timeoutMs` (headers or body). */
export class TimeoutFailure extends FetchFailure {
  constructor(phase: 'headers' | 'body', timeoutMs: number) {
    super('timeout', `no ${phase === 'headers' ? 'response headers' : 'end of body'} within ${timeoutMs} ms`, {
      retryable: true,
    });
    this.name = 'TimeoutFailure';
  }
}

/** The batch's `deadlineMs` passed before this URL finished. */
export class DeadlineFailure extends FetchFailure {
  constructor(deadlineMs: number) {
    super('deadline', `batch deadline of ${deadlineMs} ms reached before this URL finished`, { retryable: true });
    this.name = 'DeadlineFailure';
  }
}

/** The caller went away (client disconnect); nobody will read this result. */
export class AbortedFailure extends FetchFailure {
  constructor() {
    super('aborted', 'the request was cancelled by the client', { retryable: true });
    this.name = 'AbortedFailure';
  }
}

/** Connection refused or reset, DNS failure, TLS failure, a body that broke off. */
export class NetworkFailure extends FetchFailure {
  constructor(message: string, cause?: unknown) {
    super('network', message, { retryable: true, cause });
    this.name = 'NetworkFailure';
  }
}

/** Statuses worth asking again for (RFC 9110 §15.5.9, §15.6; RFC 6585 §4). */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** The final response was not 2xx. */
export class HttpStatusFailure extends FetchFailure {
  readonly status: number;
  constructor(status: number, statusText: string) {
    super('http_status', `origin answered ${status}${statusText ? ` ${statusText}` : ''}`, {
      retryable: RETRYABLE_STATUSES.has(status),
    });
    this.name = 'HttpStatusFailure';
    this.status = status;
  }
}

/** True for any per-URL failure raised by the engine. */
export function isFetchFailure(value: unknown): value is FetchFailure {
  return value instanceof FetchFailure;
}
