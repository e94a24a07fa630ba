import { ERROR_CODES, FORMATS, type PageResult } from '../result';
import type { FetchOptions } from './options';
import type { Validators } from './fetch-page';

/**
 * The wire protocol between a batch and its scale-out shards: one JSON text
 * message per event over a WebSocket, each carrying the protocol version `v`.
 * Both ends decode with checks, so a message from another version, or a
 * broken one, is an error with a message instead of a URL that never
 * answers. A shard that fails reports `error` and closes; the batch then
 * runs that shard's URLs itself at once, not at the deadline.
 *
 *   batch -> shard   init   { options }                 once, first
 *   batch -> shard   fetch  { id, url, queuedMs, ... }  one per URL
 *   shard -> batch   free   { id }                      the fetch's connection is done
 *                                                        (body read whole, extraction
 *                                                        to come: read first, parse after)
 *   shard -> batch   result { id, result }              one per fetch
 *   shard -> batch   error  { message }                 the shard gives up
 */
export const PROTOCOL_VERSION = 1;

/** Batch to shard. */
export type ToShard =
  | { v: typeof PROTOCOL_VERSION; type: 'init'; options: FetchOptions }
  | {
      v: typeof PROTOCOL_VERSION;
      type: 'fetch';
      id: number;
      url: string;
      /** Time the URL already waited in the batch before this lane took it. */
      queuedMs: number;
      validators?: Validators | undefined;
      reuseConnection?: boolean | undefined;
    };

/** Shard to batch. */
export type FromShard =
  | { v: typeof PROTOCOL_VERSION; type: 'free'; id: number }
  | { v: typeof PROTOCOL_VERSION; type: 'result'; id: number; result: PageResult }
  | { v: typeof PROTOCOL_VERSION; type: 'error'; message: string };

/** Messages as written, before the version is added. */
type Body<T> = T extends unknown ? Omit<T, 'v'> : never;

/** A message that does not decode: wrong version, unknown type, a field of the wrong type. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** Writes a message with the protocol version. */
export function encode(message: Body<ToShard> | Body<FromShard>): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, ...message });
}

/** Reads a batch-to-shard message; throws ProtocolError naming what is wrong. */
export function decodeToShard(data: unknown): ToShard {
  const message = envelope(data);
  if (message.type === 'init') {
    return { v: PROTOCOL_VERSION, type: 'init', options: checkOptions(field(message, 'options', isObject, 'an object')) };
  }
  if (message.type === 'fetch') {
    const validators = message.validators === undefined ? undefined : checkValidators(message.validators);
    const reuse = message.reuseConnection;
    if (reuse !== undefined && typeof reuse !== 'boolean') throw new ProtocolError('fetch.reuseConnection must be a boolean');
    return {
      v: PROTOCOL_VERSION,
      type: 'fetch',
      id: field(message, 'id', isInteger, 'an integer'),
      url: field(message, 'url', isString, 'a string'),
      queuedMs: field(message, 'queuedMs', isNumber, 'a number'),
      validators,
      reuseConnection: reuse,
    };
  }
  throw new ProtocolError(`unknown message type ${JSON.stringify(message.type)}`);
}

/** Reads a shard-to-batch message; throws ProtocolError naming what is wrong. */
export function decodeFromShard(data: unknown): FromShard {
  const message = envelope(data);
  if (message.type === 'free') return { v: PROTOCOL_VERSION, type: 'free', id: field(message, 'id', isInteger, 'an integer') };
  if (message.type === 'result') {
    return {
      v: PROTOCOL_VERSION,
      type: 'result',
      id: field(message, 'id', isInteger, 'an integer'),
      result: checkResult(field(message, 'result', isObject, 'an object')),
    };
  }
  if (message.type === 'error') return { v: PROTOCOL_VERSION, type: 'error', message: field(message, 'message', isString, 'a string') };
  throw new ProtocolError(`unknown message type ${JSON.stringify(message.type)}`);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function isInteger(value: unknown): value is number {
  return Number.isSafeInteger(value);
}
function isString(value: unknown): value is string {
  return typeof value === 'string';
}
function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
function isBoolean(value: unknown): value is boolean {
  return typeof value === 'boolean';
}
const orNull =
  <T>(check: (value: unknown) => value is T) =>
  (value: unknown): value is T | null =>
    value === null || check(value);
const orAbsent =
  <T>(check: (value: unknown) => value is T) =>
  (value: unknown): value is T | undefined =>
    value === undefined || check(value);

/** `object[key]`, checked; the message names the field and what it should be. */
function field<T>(object: Json, key: string, check: (value: unknown) => value is T, what: string): T {
  const value = object[key];
  if (!check(value)) throw new ProtocolError(`${String(object.type)}.${key} must be ${what}, got ${JSON.stringify(value) ?? 'nothing'}`);
  return value;
}

/** A text message holding a JSON object of this protocol version. */
function envelope(data: unknown): Json {
  if (typeof data !== 'string') throw new ProtocolError('expected a text message');
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    throw new ProtocolError('a message is not JSON');
  }
  if (!isObject(message)) throw new ProtocolError('a message is not a JSON object');
  if (message.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(`protocol version ${JSON.stringify(message.v)} where ${PROTOCOL_VERSION} was expected`);
  }
  return message;
}

const OPTION_CHECKS: Record<keyof FetchOptions, (value: unknown) => boolean> = {
  concurrency: isNumber,
  perHost: orAbsent(isNumber),
  timeoutMs: isNumber,
  deadlineMs: isNumber,
  maxBytes: isNumber,
  retries: isNumber,
  maxRedirects: isNumber,
  snippetLength: isNumber,
  selector: orAbsent(isString),
  query: orAbsent(isString),
  provenance: isBoolean,
  formats: (value) => Array.isArray(value) && value.every((item) => FORMAT_SET.has(item)),
  onlyMainContent: isBoolean,
  maxContentChars: isNumber,
  respectRobots: isBoolean,
  forceRobots: orAbsent(isBoolean),
  maxAge: orAbsent(isNumber),
  defaultMaxAge: orAbsent(isNumber),
  userAgent: isString,
  allowPrivate: isBoolean,
  hashText: orAbsent(isBoolean),
};

function checkOptions(options: Json): FetchOptions {
  for (const [key, check] of Object.entries(OPTION_CHECKS)) {
    if (!check(options[key])) throw new ProtocolError(`init.options.${key} has the wrong type: ${JSON.stringify(options[key])}`);
  }
  return options as unknown as FetchOptions;
}

function checkValidators(value: unknown): Validators {
  if (!isObject(value) || !orNull(isString)(value.etag) || !orNull(isString)(value.lastModified)) {
    throw new ProtocolError('fetch.validators must be { etag, lastModified }, each a string or null');
  }
  return { etag: value.etag, lastModified: value.lastModified };
}

const ERROR_CODE_SET: ReadonlySet<unknown> = new Set(ERROR_CODES);
const FORMAT_SET: ReadonlySet<unknown> = new Set(FORMATS);

/** The fields of a result the batch relies on; the rest are passed through as the engine made them. */
function checkResult(result: Json): PageResult {
  const error = result.error;
  const timings = result.timings;
  const ok =
    isString(result.url) &&
    isBoolean(result.ok) &&
    orNull(isNumber)(result.status) &&
    isNumber(result.attempts) &&
    isObject(timings) &&
    isNumber(timings.queuedMs) &&
    (error === null || (isObject(error) && ERROR_CODE_SET.has(error.code) && isString(error.message)));
  if (!ok) throw new ProtocolError('result is not a page result');
  return result as unknown as PageResult;
}
