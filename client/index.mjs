/**
 * A small client for fanout: typed calls through Hono's `hc<AppType>`, plus
 * what callers write by hand otherwise: retries on 429 and 503 that honour
 * Retry-After, and NDJSON results as an async iterator. Plain JavaScript with
 * types beside it (index.d.ts); no build step.
 *
 *   import { createClient } from 'fanout/client';
 *   const fanout = createClient('https://fanout.example.workers.dev', { token });
 *   const { results } = await fanout.fetch(['https://example.com/'], { formats: ['markdown'] });
 *   for await (const result of fanout.stream(urls)) console.log(result.index, result.title);
 */
import { hc } from 'hono/client';

/** Statuses worth asking again after a wait. */
const RETRY_STATUSES = new Set([429, 503]);
/** The longest wait a Retry-After may ask of the client. */
const MAX_WAIT_MS = 60_000;

export class FanoutError extends Error {
  constructor(status, problem) {
    super(`fanout answered ${status}: ${problem?.detail ?? problem?.title ?? 'error'}`);
    this.name = 'FanoutError';
    this.status = status;
    this.problem = problem ?? null;
  }
}

/** The wait a response asks for: its Retry-After (seconds or a date), else exponential backoff from 1 s. */
export function waitFor(res, attempt, now = Date.now()) {
  const header = res.headers.get('retry-after');
  if (header && /^\d+$/.test(header.trim())) return Math.min(MAX_WAIT_MS, Number(header) * 1000);
  const date = header ? Date.parse(header) : NaN;
  if (!Number.isNaN(date)) return Math.min(MAX_WAIT_MS, Math.max(0, date - now));
  return Math.min(MAX_WAIT_MS, 1000 * 2 ** attempt);
}

/** Every JSON line of an NDJSON body, as it arrives (blank lines and the heartbeat's spaces skipped). */
export async function* ndjson(body) {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
  if (buffered.trim()) yield JSON.parse(buffered);
}

export function createClient(baseUrl, options = {}) {
  const { token, retries = 3 } = options;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const headers = token ? { authorization: `Bearer ${token}` } : {};

  /** One request, asked again after the wait a 429 or 503 names, up to `retries` times. */
  const send = async (input, init) => {
    for (let attempt = 0; ; attempt++) {
      const res = await doFetch(input, init);
      if (!RETRY_STATUSES.has(res.status) || attempt >= retries) return res;
      await res.body?.cancel();
      await sleep(waitFor(res, attempt));
    }
  };
  const api = hc(baseUrl, { fetch: send, headers });

  const fail = async (res) => {
    const text = await res.text();
    let problem = null;
    try {
      problem = JSON.parse(text);
    } catch {
      problem = { detail: text.slice(0, 300) };
    }
    throw new FanoutError(res.status, problem);
  };

  return {
    /** The typed client for every route (`api.v1.jobs.$post({ json })`, ...). */
    api,
    /** POST /v1/fetch: every result in input order, and the batch's stats. */
    async fetch(urls, request = {}) {
      const res = await api.v1.fetch.$post({ json: { urls, ...request } });
      if (!res.ok) await fail(res);
      return res.json();
    },
    /** POST /v1/fetch as NDJSON: each result (with its input `index`) as soon as it finishes. */
    async *stream(urls, request = {}) {
      const res = await api.v1.fetch.$post({ json: { urls, ...request } }, { headers: { accept: 'application/x-ndjson' } });
      if (!res.ok) await fail(res);
      // The last line is the batch's stats, not a result.
      for await (const line of ndjson(res.body)) if (line.index !== undefined) yield line;
    },
  };
}
