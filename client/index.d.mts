/**
 * Types of ./index.mjs: the typed client over fanout's own route types.
 */
import type { hc } from 'hono/client';
import type { AppType } from '../src/app';
import type { BatchResult, PageResult } from '../src/result';
import type { FetchRequest } from '../src/schema';

/** The app's route types, for `hc<AppType>` without the client's extras. */
export type { AppType };

/** The options of POST /v1/fetch (everything but `urls`). */
export type FetchOptions = Omit<FetchRequest, 'urls'>;

export interface ClientOptions {
  /** The bearer token (API_TOKEN, or a client's of API_TOKENS). */
  token?: string;
  /** Times a 429 or 503 is asked again after its Retry-After (default 3). */
  retries?: number;
  /** The fetch to use (default: the global one). */
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** How to wait before a retry (default: a timer); tests record the waits. */
  sleep?: (ms: number) => Promise<void>;
}

export interface FanoutClient {
  /** The typed client for every route: a wrong option is a compile error. */
  api: ReturnType<typeof hc<AppType>>;
  fetch(urls: string[], request?: FetchOptions): Promise<BatchResult>;
  stream(urls: string[], request?: FetchOptions): AsyncIterable<PageResult & { index: number }>;
}

export class FanoutError extends Error {
  readonly status: number;
  readonly problem: { type?: string; title?: string; detail?: string; field?: string } | null;
}

/** The wait a 429 or 503 asks for: its Retry-After, else 1 s, 2 s, 4 s ... (at most 60 s). */
export function waitFor(res: Response, attempt: number, now?: number): number;

/** Every JSON line of an NDJSON body, as it arrives. */
export function ndjson(body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): AsyncIterable<any>;

export function createClient(baseUrl: string, options?: ClientOptions): FanoutClient;
