/**
 * Property-based fuzzing (fast-check) of every route, through the Worker's real
 * fetch entry point: generated bodies, content types, query strings, list names,
 * run ids, `since` times, paths, methods and Authorization headers. Whatever a
 * client sends:
 * - the answer is never a 5xx;
 * - a 4xx is one of 400/404/405/409/413/415 (401 when a token is set), as
 *   `application/problem+json` naming the field to blame in `field` and
 *   `errors[].field` (test/helpers/problem.ts);
 * - a 200 from /v1/fetch has exactly one result per input URL, in input order.
 *
 * Generated URLs never reach a network: they are invalid (`invalid_url`), private
 * hosts the guard refuses (`blocked`, sent with ALLOW_PRIVATE_HOSTS "false"), or,
 * in one property, pages of the loopback test origin. Watch lists are created only
 * with crons of this file's own (day of week 6), so no other file's tick runs them,
 * and each is deleted in the run that made it.
 *
 * Runs are seeded and bounded, so CI is deterministic: FUZZ_RUNS (default 100) per
 * property and FUZZ_SEED (default fixed; "random" for a fresh one) come from the
 * shell through vitest.config.ts. `npm run test:fuzz` runs this file with 2000.
 * On a failure fast-check reports the seed, the path and the shrunk counterexample.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LIMITS } from '../src/engine/options';
import { checkUrl } from '../src/guard';
import { MAX_REQUEST_BYTES } from '../src/http';
import { FORMATS, type BatchStats, type PageResult } from '../src/result';
import { buildRequestSchema } from '../src/schema';
import type { RunRecord, WatchList } from '../src/watch/store';
import { expectProblem } from './helpers/problem';
import { BASE, call, jsonInit, listRuns, post, watchHarness, withEnv } from './helpers/worker';
import { newScope, originUrl } from './origin/client';

// ---------------------------------------------------------------------------
// Settings: runs per property and the seed, from the shell (vitest.config.ts bindings).

const vars = env as unknown as Partial<Record<'FUZZ_RUNS' | 'FUZZ_SEED', string>>;

function intVar(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`);
  return value;
}

/** Runs per property (the costly ones take a share of it). */
const RUNS = Math.max(1, intVar('FUZZ_RUNS', vars.FUZZ_RUNS, 100));
/** One seed for every property of the run; fixed unless FUZZ_SEED says otherwise. */
const SEED = vars.FUZZ_SEED?.trim() === 'random' ? Math.floor(Math.random() * 2 ** 31) : intVar('FUZZ_SEED', vars.FUZZ_SEED, 20_261_125);
/** Per test: the worker project's 20 s, grown with the run count. */
const TIMEOUT = 20_000 + RUNS * 200;

/** fc.assert's parameters: the seed, and `share` of RUNS (at least `min`). */
function runs(share = 1, min = 1): { seed: number; numRuns: number } {
  return { seed: SEED, numRuns: Math.max(min, Math.round(RUNS * share)) };
}

// ---------------------------------------------------------------------------
// The contract every answer keeps.

/** The 4xx statuses fanout answers without API_TOKEN (README "Errors"). */
const CLIENT_ERRORS = [400, 404, 405, 409, 413, 415];

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * Never a 5xx; every 4xx a problem document (expectProblem) of a known status
 * that names a field, first in `field` and in every `errors[]` entry; a 405 with
 * its Allow header. `what` says what was sent, for the failure message.
 */
async function expectContract(res: Response, what: string, allowed: readonly number[] = CLIENT_ERRORS): Promise<Answer> {
  // Decoded by hand: workerd warns when .text() reads a body labelled NDJSON.
  const text = new TextDecoder().decode(await res.clone().arrayBuffer());
  const contentType = res.headers.get('content-type') ?? '';
  const where = `${what} -> ${res.status} ${text.slice(0, 400)}`;
  expect(res.status, where).toBeLessThan(500);
  if (res.status >= 400) {
    expect(allowed, where).toContain(res.status);
    expect(contentType, where).toMatch(/^application\/problem\+json/);
    if (res.status === 405) expect(res.headers.get('allow'), where).toMatch(/^[A-Z]+(, [A-Z]+)*$/);
    if (what.startsWith('HEAD ')) return { status: res.status, contentType, text }; // no body to read
    const problem = await expectProblem(res, res.status);
    expect(problem.field, where).toEqual(expect.any(String));
    expect(problem.field!.length, where).toBeGreaterThan(0);
    expect(problem.errors?.length, where).toBeGreaterThan(0);
    expect(problem.errors![0]!.field, where).toBe(problem.field);
    for (const error of problem.errors!) {
      expect(error.field, where).toEqual(expect.any(String));
      expect(error.field.length, where).toBeGreaterThan(0);
      expect(error.message, where).toMatch(/\S/);
    }
  }
  return { status: res.status, contentType, text };
}

/** The fields a problem answer names (its `errors[].field`). */
function problemFields(answer: Answer): string[] {
  return (JSON.parse(answer.text) as { errors: { field: string }[] }).errors.map((e) => e.field);
}

/**
 * A 200 from /v1/fetch: one result per input URL, in input order (JSON), or one
 * line per input index then the stats line (NDJSON); answers results and stats.
 */
function expectOneResultPerUrl(answer: Answer, urls: readonly string[], what: string): { results: PageResult[]; stats: BatchStats } {
  const where = `${what} -> ${answer.text.slice(0, 400)}`;
  expect(answer.status, where).toBe(200);
  if (/^application\/x-ndjson/.test(answer.contentType)) {
    const lines = answer.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { index: number; stats?: BatchStats } & PageResult);
    const { stats } = lines.pop()!;
    expect(stats, where).toBeDefined();
    expect(lines.map((line) => line.index).sort((a, b) => a - b), where).toEqual(urls.map((_, i) => i));
    const results: PageResult[] = [];
    for (const { index, ...result } of lines) results[index] = result;
    expect(results.map((r) => r.url), where).toEqual(urls);
    expect(stats!.total, where).toBe(urls.length);
    return { results, stats: stats! };
  }
  expect(answer.contentType, where).toMatch(/^application\/json/);
  const batch = JSON.parse(answer.text) as { results: PageResult[]; stats: BatchStats };
  expect(batch.results.map((r) => r.url), where).toEqual(urls);
  expect(batch.stats.total, where).toBe(urls.length);
  return batch;
}

/**
 * Sends a request whose batch (if it runs) holds `urls`, so that nothing reaches a
 * network: through `call` (ALLOW_PRIVATE_HOSTS "true", as the test env has it) when
 * the guard refuses every URL there, else through `withEnv` with "false" when it
 * refuses them there (private hosts); a batch the guard would let out is skipped.
 */
function send(path: string, init: RequestInit, urls: unknown): Promise<Response> {
  const strings = Array.isArray(urls) ? urls.filter((u): u is string => typeof u === 'string') : [];
  if (strings.every((u) => !checkUrl(u, { allowPrivate: true }).ok)) return call(path, init);
  fc.pre(strings.every((u) => !checkUrl(u, { allowPrivate: false }).ok));
  return withEnv({ ALLOW_PRIVATE_HOSTS: 'false' }, path, init);
}

/** The `urls` of a JSON body, if it parses to an object that has them. */
function urlsOf(body: string): unknown {
  try {
    const value: unknown = JSON.parse(body);
    return value !== null && typeof value === 'object' ? (value as { urls?: unknown }).urls : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Arbitraries.

/** URLs the guard refuses as `invalid_url` before any request: not a URL, not http(s), or with credentials. */
const invalidUrl: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('ftp:', 'file:', 'mailto:', 'javascript:', 'data:', 'ws:', 'wss:', 'gopher:', 'blob:', 'about:', 'htp:', 'x-y+z:', 'HTTPX:'),
      fc.constantFrom('', '//', '///'),
      fc.webSegment(),
    )
    .map(([scheme, slashes, rest]) => `${scheme}${slashes}${rest}`),
  fc
    .tuple(fc.constantFrom('http', 'https', 'HTTP', 'hTtPs'), fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/), fc.constantFrom('', ':', ':pw'), fc.domain(), fc.webPath())
    .map(([scheme, user, password, host, path]) => `${scheme}://${user}${password}@${host}${path}`),
  fc.string({ maxLength: 30 }).filter((s) => !checkUrl(s, { allowPrivate: true }).ok),
  fc.constantFrom(
    '',
    ' ',
    'not a url',
    'http://',
    'https://',
    'http:///',
    'http://:80/',
    'http://[zz::1]/',
    'http://[1.2.3.4]/',
    'http://[fe80::1%25eth0]/',
    'http://1.2.3.999/',
    'http://example.123/',
    'http://exa mple.com/',
    'http://%zz/',
    'https://example.com:99999/',
    '//example.com/',
    '/relative/path',
    '?q=1',
    '#fragment',
  ),
);

/** URLs the guard refuses as `blocked` when ALLOW_PRIVATE_HOSTS is "false" (README "What the guard refuses"). */
const blockedUrl: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('http', 'https'),
    fc.constantFrom(
      '127.0.0.1',
      '127.1',
      '2130706433',
      '0x7f000001',
      '0177.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[fd00:ec2::254]',
      '[fe80::1]',
      '[64:ff9b::a00:1]',
      '[2002:7f00:1::]',
      'localhost',
      'LOCALHOST.',
      'app.localhost',
      'printer.local',
      'metadata.google.internal',
      'router.home.arpa',
      'intranet',
    ),
    fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined }),
    fc.webPath(),
  )
  .map(([scheme, host, port, path]) => `${scheme}://${host}${port === undefined ? '' : `:${port}`}${path}`);

type Code = 'invalid_url' | 'blocked';
/** A URL that never reaches a network, with the error code its result must carry. */
const labelledUrl: fc.Arbitrary<{ url: string; code: Code }> = fc.oneof(
  { weight: 3, arbitrary: invalidUrl.map((url) => ({ url, code: 'invalid_url' as const })) },
  { weight: 1, arbitrary: blockedUrl.map((url) => ({ url, code: 'blocked' as const })) },
);
const safeUrl = labelledUrl.map(({ url }) => url);

/** The request options and their valid ranges (README "Options"; maxima from DEFAULT_LIMITS). */
const L = DEFAULT_LIMITS;
const INT_OPTIONS = {
  concurrency: [1, L.maxConcurrency],
  perHost: [1, L.maxConcurrency],
  timeoutMs: [100, L.maxTimeoutMs],
  deadlineMs: [100, L.maxDeadlineMs],
  maxBytes: [1, L.maxBytes],
  retries: [0, L.maxRetries],
  maxRedirects: [0, L.maxRedirects],
  snippetLength: [0, L.maxSnippetLength],
  maxContentChars: [1, L.maxContentChars],
} as const satisfies Record<string, readonly [number, number]>;
/** Every option the request schema has (urls aside): one added later is fuzzed too, with wild values until it has a valid generator here. */
const OPTION_NAMES = Object.keys(buildRequestSchema(DEFAULT_LIMITS).shape).filter((name) => name !== 'urls');
/** Options that may repeat in a query string (besides url and urls). */
const LIST_OPTIONS = new Set(['formats']);

const validOption: Record<string, fc.Arbitrary<unknown>> = {
  ...Object.fromEntries(Object.entries(INT_OPTIONS).map(([name, [min, max]]) => [name, fc.integer({ min, max })])),
  selector: fc.constantFrom('p', 'h1', 'div.x', 'a[href]', '#main', 'article p', 'ul > li', '[data-x="1"]', ' p '),
  query: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).filter((q) => q.trim().length > 0),
  formats: fc.uniqueArray(fc.constantFrom(...FORMATS), { maxLength: FORMATS.length }),
  provenance: fc.boolean(),
  onlyMainContent: fc.boolean(),
  respectRobots: fc.boolean(),
};
const validOptions = fc.record(validOption, { requiredKeys: [] });

/** Numbers a schema must judge: fractions, negatives, huge, tiny, beyond safe integers. */
const edgeNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 0, -0, 0.5, 1.5, 99.999, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e21, 1e308, -1e308, 5e-324),
);
/** Numbers as a query string writes them, and text that only looks like one. */
const numericText = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom('', ' ', '5', ' 5 ', '5.0', '05', '-0', '+5', '1e3', '0x10', '0b1', '0o7', 'NaN', 'Infinity', '-Infinity', '9007199254740993', '1_000', '١٢٣', '5 6'),
);
/** Any JSON value an option might be given. */
const wildValue: fc.Arbitrary<unknown> = fc.oneof(
  edgeNumber,
  numericText,
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
  fc.array(fc.constantFrom(...FORMATS, 'pdf', ''), { maxLength: 8 }),
  fc.constantFrom('markdown', 'links,jsonld', 'p', 'p[', '', '   ', 'x'.repeat(1025), 'true', 'false'),
  // Selector-like text, for the selector check (HTMLRewriter's parser).
  fc.stringMatching(/^[a-z0-9[\]():.#>*~+=^$|"' \\-]{1,24}$/),
);

/** Option names no schema knows, the ones that bite prototype-based code included. */
const unknownName = fc
  .oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'concurreny', 'URLS', 'Urls', 'url', 'urls ', 'crons', ''),
  )
  .filter((name) => name !== 'urls' && !OPTION_NAMES.includes(name));

type Entries = [string, unknown][];

/** A body as entries, so that keys like `__proto__` (and repeated keys) survive into the JSON text. */
function jsonText(entries: Entries): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
}

/**
 * A /v1/fetch body, valid-ish: mostly a list of safe URLs, sometimes a wrong type
 * or none at all; each option valid or wild; now and then an unknown option.
 */
function bodyEntries(extra: fc.Arbitrary<Entries> = fc.constant([])): fc.Arbitrary<Entries> {
  return fc
    .record({
      urls: fc.oneof(
        { weight: 8, arbitrary: fc.array(safeUrl, { minLength: 0, maxLength: 12 }) },
        { weight: 1, arbitrary: wildValue },
        { weight: 1, arbitrary: fc.array(fc.oneof(safeUrl, wildValue), { maxLength: 4 }) },
      ),
      withUrls: fc.oneof({ weight: 12, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      options: fc.record(
        Object.fromEntries(OPTION_NAMES.map((name) => [name, fc.oneof({ weight: 3, arbitrary: validOption[name] ?? wildValue }, { weight: 1, arbitrary: wildValue })])),
        { requiredKeys: [] },
      ),
      unknown: fc.oneof(
        { weight: 8, arbitrary: fc.constant<Entries>([]) },
        { weight: 1, arbitrary: fc.array(fc.tuple(unknownName, wildValue), { minLength: 1, maxLength: 2 }) },
      ),
      extra,
    })
    .map(({ urls, withUrls, options, unknown, extra }): Entries => [
      ...(withUrls ? [['urls', urls] as [string, unknown]] : []),
      ...Object.entries(options),
      ...unknown,
      ...extra,
    ]);
}

/** A valid /v1/fetch body (plus `extra`), as entries: safe URLs and valid options only. */
function validEntries(extra: fc.Arbitrary<Entries> = fc.constant([])): fc.Arbitrary<Entries> {
  return fc
    .tuple(fc.array(safeUrl, { minLength: 1, maxLength: 12 }), validOptions, extra)
    .map(([urls, options, more]): Entries => [['urls', urls], ...Object.entries(options), ...more]);
}

/** Content types JSON bodies are sent with: the JSON ones, near misses, and random header values. */
const jsonType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json;charset=UTF-8',
  'application/problem+json',
  'application/vnd.api+json',
  'application/ld+json',
  'application/json; foo="bar;baz"',
  'application/json ; x=1',
);
const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: jsonType },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonp',
      'application/json-seq',
      'application/xml',
      'json',
      'application/',
      '*/*',
      'application/json+xml',
      'application/+json',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }).filter((value) => {
      try {
        new Headers({ 'content-type': value });
        return true;
      } catch {
        return false;
      }
    }),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
/** What fanout takes as JSON: application/json or application/*+json, any case, any parameters. */
function isJsonType(type: string | null): boolean {
  return /^application\/([\w.-]+\+)?json$/.test((type ?? '').split(';')[0]!.trim().toLowerCase());
}

const accept = fc.constantFrom(undefined, 'application/json', 'application/x-ndjson', 'application/jsonl', 'application/ndjson', '*/*', 'text/html', 'application/x-ndjson;q=0');

/** How a body goes out: a string, bytes (no default content type), or a stream of chunks (no length). */
type Transport = { kind: 'string' } | { kind: 'bytes' } | { kind: 'stream'; chunk: number };
const transport: fc.Arbitrary<Transport> = fc.oneof(
  fc.constant({ kind: 'string' as const }),
  fc.constant({ kind: 'bytes' as const }),
  fc.integer({ min: 1, max: 4096 }).map((chunk) => ({ kind: 'stream' as const, chunk })),
);

function bodyInit(method: string, body: string | Uint8Array, how: Transport, headers: Record<string, string | undefined>): RequestInit {
  const present = Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  if (how.kind === 'string' && typeof body === 'string') return { method, headers: present, body };
  if (how.kind === 'stream') {
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, at + how.chunk));
        at += how.chunk;
      },
    });
    return { method, headers: present, body: stream };
  }
  return { method, headers: present, body: bytes };
}

/** The Content-Type the Worker sees for `init` (a string body gets text/plain unless one is given). */
function sentType(init: RequestInit): string | null {
  const body = init.body instanceof ReadableStream ? new Uint8Array() : init.body;
  return new Request(BASE, { method: init.method, headers: init.headers, body }).headers.get('content-type');
}

/** The body's bytes as the server reads them: UTF-8, BOM dropped, bad bytes replaced. */
function decoded(body: string | Uint8Array): string {
  return new TextDecoder().decode(typeof body === 'string' ? new TextEncoder().encode(body) : body);
}

/** Raw bodies: random text and bytes, JSON of any shape, near-JSON, deep nesting, and known traps. */
type RawBody = { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Uint8Array } | { kind: 'deep'; open: string; depth: number };
const rawBody: fc.Arbitrary<RawBody> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }).map((text) => ({ kind: 'text' as const, text })),
  fc.json({ maxDepth: 3 }).map((text) => ({ kind: 'text' as const, text })),
  fc
    .tuple(bodyEntries().map(jsonText), fc.nat(), fc.nat(3), fc.string({ maxLength: 3 }))
    .map(([text, at, cut, insert]) => {
      const i = at % (text.length + 1);
      return { kind: 'text' as const, text: text.slice(0, i) + insert + text.slice(i + cut) };
    }),
  fc.uint8Array({ maxLength: 80 }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
  fc
    .tuple(fc.constantFrom('[', '{"a":', '{"urls":', '{"urls":["ftp://x"],"selector":'), fc.integer({ min: 1, max: 50_000 }))
    .map(([open, depth]) => ({ kind: 'deep' as const, open, depth })),
  fc
    .constantFrom(
      '',
      ' ',
      'null',
      'true',
      '0',
      '[]',
      '{}',
      '""',
      '"{}"',
      '{"urls":null}',
      '\uFEFF{"urls":["ftp://x"]}',
      '{"urls":["ftp://x"]}x',
      '{"urls":["ftp://x"]}{}',
      '{"urls":["ftp://x"],"urls":["mailto:a"]}',
      '{"urls":["ftp://x"]}\u0000',
      '{"urls":["\\ud800"]}',
      '{"urls":["\\u0000"]}',
      '{"urls":["ftp://x"], }',
      "{'urls':['ftp://x']}",
      '{"urls":["ftp://x"]',
      'NaN',
      '1e999',
      '{"urls":["ftp://x"],"__proto__":{"concurrency":0}}',
      '{"urls":["ftp://x"],"constructor":{"prototype":{}}}',
    )
    .map((text) => ({ kind: 'text' as const, text })),
);

function rawBytes(raw: RawBody): string | Uint8Array {
  if (raw.kind === 'text') return raw.text;
  if (raw.kind === 'bytes') return raw.bytes;
  const close = raw.open === '[' ? ']' : '}';
  const inner = raw.open.endsWith('"selector":') ? `${'['.repeat(raw.depth)}${']'.repeat(raw.depth)}}` : raw.open === '[' ? '' : '1';
  return raw.open.endsWith('"selector":') ? `${raw.open}${inner}` : `${raw.open.repeat(raw.depth)}${inner}${close.repeat(raw.depth)}`;
}

/** How a query string part is written: percent-encoded, form-encoded, raw, every byte encoded, or with a broken escape. */
const encoding = fc.constantFrom('component', 'form', 'raw', 'all', 'broken');
type Encoding = typeof encoding extends fc.Arbitrary<infer E> ? E : never;

function encode(text: string, how: Encoding, at = 0): string {
  let component: string;
  try {
    component = encodeURIComponent(text);
  } catch {
    return text; // a lone surrogate: raw, as a careless client would send it
  }
  switch (how) {
    case 'component':
      return component;
    case 'form':
      return component.replace(/%20/g, '+');
    case 'raw':
      return text;
    case 'all':
      return [...new TextEncoder().encode(text)].map((b, i) => `%${b.toString(16).padStart(2, '0')[i % 2 ? 'toLowerCase' : 'toUpperCase']()}`).join('');
    case 'broken': {
      const i = at % (component.length + 1);
      const junk = ['%', '%G1', '%E2%82', '%%', '%0'][at % 5]!;
      return component.slice(0, i) + junk + component.slice(i);
    }
  }
}

/** A query string from parts: each with its name and value written its own way (or a bare name). */
const queryPart = (name: fc.Arbitrary<string>, value: fc.Arbitrary<string>) =>
  fc.record({ name, value, nameAs: encoding, valueAs: encoding, shape: fc.constantFrom('name=value', 'name=value', 'name=value', 'name', 'name='), at: fc.nat() });
type QueryPart = { name: string; value: string; nameAs: Encoding; valueAs: Encoding; shape: string; at: number };

function queryString(parts: readonly QueryPart[], separator = '&'): string {
  return parts
    .map(({ name, value, nameAs, valueAs, shape, at }) => {
      const key = encode(name, nameAs, at);
      return shape === 'name' ? key : shape === 'name=' ? `${key}=` : `${key}=${encode(value, valueAs, at >> 3)}`;
    })
    .join(separator);
}

/** A path segment percent-decoded as the router decodes it (undefined when it does not decode). */
function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The query's parameters as the Worker sees them. */
function paramsOf(path: string): [string, string][] {
  return [...new URL(`${BASE}${path}`).searchParams];
}

/** Watch list names: valid ones (letters, digits, . _ -, at most 64) and near misses. */
const validName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const listName = fc.oneof(
  { weight: 3, arbitrary: validName },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{64,70}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[._-][A-Za-z0-9._-]{0,10}$/) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('default', 'DEFAULT', '.', '..', '%', '%25', 'a/b', 'a?b', 'a#b', ' a', 'a ', 'été', '__proto__', 'constructor', 'latest'),
  },
);
/** A name as a path segment: a valid name as it is (`plain`), or any name written one way or another. */
const nameSegment = fc.oneof(
  validName.map((name) => ({ segment: name, plain: true })),
  fc.record({ name: listName, as: encoding, at: fc.nat() }).map(({ name, as, at }) => ({ segment: encode(name, as, at), plain: false })),
);

/** A cron of this file's own: day of week 6 is no other test file's (see watchHarness). */
const ownCron = fc.tuple(fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 23 })).map(([minute, hour]) => `${minute} ${hour} * * 6`);
/**
 * `crons` for a list: never null or left out (a list that follows every tick
 * would be run by other files' ticks), but otherwise anything.
 */
const crons = fc.oneof(
  { weight: 4, arbitrary: fc.array(ownCron, { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 20 }), { maxLength: 11 }) },
  { weight: 1, arbitrary: wildValue.filter((value) => value !== null) },
);

/** Run ids as the API writes them, and anything else. */
const runId = fc.stringMatching(/^[0-9a-z]{9}-[0-9a-f]{8}$/);
/** Values for `since`: ISO times, dates in other spellings, edges of the Date range, and junk. */
const since = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).chain((d) => fc.constantFrom(d.toUTCString(), d.toString(), String(d.getTime()), d.toISOString().slice(0, 10))),
  fc.string({ maxLength: 25 }),
  fc.constantFrom(
    '',
    'now',
    'yesterday',
    '0',
    '-1',
    '2026-11-25',
    '2026-11-25T00:00:00Z',
    '2026-02-30',
    '2026-13-01',
    '2026-11-25T24:00:00Z',
    '+275760-09-13T00:00:00.000Z',
    '+275760-09-13T00:00:00.001Z',
    '-271821-04-20T00:00:00.000Z',
    '-271821-04-19T23:59:59.999Z',
    'Tue, 25 Nov 2026 00:00:00 GMT',
  ),
);

/**
 * Methods in any case. workerd takes only the methods it knows (a token such as
 * `a` is a TypeError in the Request constructor), so the names come from its list.
 */
const method = fc
  .tuple(
    fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'PURGE', 'QUERY', 'REPORT', 'SEARCH', 'MERGE', 'NOTIFY', 'SUBSCRIBE'),
    fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
  )
  .map(([name, lower]) => [...name].map((c, i) => (lower[i] ? c.toLowerCase() : c)).join(''))
  .filter((name) => {
    try {
      new Request(BASE, { method: name });
      return true;
    } catch {
      return false;
    }
  });

// The Worker logs one line per batch (src/app.ts, logBatch); thousands of them would bury a
// counterexample, so they are dropped here. Every other line is still logged.
beforeAll(() => {
  const log = console.log.bind(console);
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('{"event":"batch"')) return;
    log(...args);
  });
});
afterAll(() => vi.restoreAllMocks());

// Day of week 6 is this file's (see watchHarness): the ticks here run only this file's lists.
const { tick, watched } = watchHarness({ dayOfWeek: 6, scheduledTime: Date.UTC(2026, 10, 28, 12, 0) });

// ---------------------------------------------------------------------------

describe(`fuzzing the HTTP API (seed ${SEED}, ${RUNS} runs per property; FUZZ_SEED and FUZZ_RUNS change them)`, () => {
  it('Should have a contract check that fails on a 5xx and on a problem that names no field', async () => {
    // A real 500 from the Worker: a var out of range.
    const misconfigured = await withEnv({ MAX_URLS: 'many' }, '/v1/fetch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"urls":["ftp://x"]}' });
    await expect(expectContract(misconfigured, 'POST /v1/fetch with MAX_URLS=many')).rejects.toThrow(/5xx|less than 500/i);
    const unnamed = new Response(JSON.stringify({ type: 'urn:fanout:problem:invalid-request', title: 'Invalid request', status: 400, detail: 'bad' }), {
      status: 400,
      headers: { 'content-type': 'application/problem+json' },
    });
    await expect(expectContract(unnamed, 'a problem without a field')).rejects.toThrow();
  });

  describe('POST /v1/fetch', () => {
    it(
      'Should answer a valid body with 200 and exactly one result per URL, in order, none of them fetched',
      async () => {
        const batch = fc.array(labelledUrl, { minLength: 1, maxLength: 8 }).chain((distinct) => fc.array(fc.constantFrom(...distinct), { minLength: 1, maxLength: 20 }));
        await fc.assert(
          fc.asyncProperty(batch, validOptions, accept, async (items, options, acceptHeader) => {
            const urls = items.map((item) => item.url);
            const body = { urls, ...options };
            const headers: Record<string, string> = acceptHeader === undefined ? {} : { accept: acceptHeader };
            const what = `POST /v1/fetch ${JSON.stringify(body)}`;
            const answer = await expectContract(await send('/v1/fetch', jsonInit('POST', body, headers), urls), what);
            const { results, stats } = expectOneResultPerUrl(answer, urls, what);
            expect(results.map((r) => r.error?.code), what).toEqual(items.map((item) => item.code));
            expect(stats.fetched, what).toBe(0);
          }),
          runs(),
        );
      },
      TIMEOUT,
    );

    it(
      'Should answer any body with no 5xx, a named problem, or one result per URL',
      async () => {
        await fc.assert(
          fc.asyncProperty(bodyEntries(), accept, async (entries, acceptHeader) => {
            const text = jsonText(entries);
            const urls = urlsOf(text);
            const what = `POST /v1/fetch ${text}`;
            const headers = { 'content-type': 'application/json', ...(acceptHeader === undefined ? {} : { accept: acceptHeader }) };
            const answer = await expectContract(await send('/v1/fetch', { method: 'POST', headers, body: text }, urls), what);
            if (answer.status === 200) {
              const { results, stats } = expectOneResultPerUrl(answer, urls as string[], what);
              for (const result of results) expect(['invalid_url', 'blocked'], what).toContain(result.error?.code);
              expect(stats.fetched, what).toBe(0);
            }
          }),
          runs(),
        );
      },
      TIMEOUT,
    );

    it(
      'Should answer raw bodies (any bytes, near-JSON, deep nesting) and any content type by the rules: 415 unless JSON, 400 `body` unless it parses',
      async () => {
        await fc.assert(
          fc.asyncProperty(rawBody, contentType, transport, accept, async (raw, type, how, acceptHeader) => {
            const body = rawBytes(raw);
            const init = bodyInit('POST', body, how, { 'content-type': type, accept: acceptHeader });
            const sent = sentType(init);
            const text = decoded(body);
            const urls = urlsOf(text);
            const what = `POST /v1/fetch (content-type ${JSON.stringify(sent)}, ${how.kind}) ${JSON.stringify(text.slice(0, 200))}`;
            const answer = await expectContract(await send('/v1/fetch', init, urls), what);
            if (!isJsonType(sent)) {
              expect(answer.status, what).toBe(415);
              expect(problemFields(answer), what).toEqual(['content-type']);
              return;
            }
            expect(answer.status, what).not.toBe(415);
            let parses = true;
            try {
              JSON.parse(text);
            } catch {
              parses = false;
            }
            if (!parses) {
              expect(answer.status, what).toBe(400);
              expect(problemFields(answer), what).toEqual(['body']);
            }
            if (answer.status === 200) expectOneResultPerUrl(answer, urls as string[], what);
          }),
          runs(),
        );
      },
      TIMEOUT,
    );

    it(
      'Should take a body of exactly 1 MiB and answer 413 naming `body` to one byte more, counted in bytes, however it is sent',
      async () => {
        const sized = fc.record({
          extra: fc.constantFrom(-1, 0, 1, 2, 65_536),
          filler: fc.constantFrom(' ', 'é', '€', '𝄞'),
          how: transport.filter((t) => t.kind !== 'string').map((t) => (t.kind === 'stream' ? { kind: 'stream' as const, chunk: t.chunk * 64 } : t)),
          json: fc.boolean(),
        });
        await fc.assert(
          fc.asyncProperty(sized, async ({ extra, filler, how, json }) => {
            const size = MAX_REQUEST_BYTES + extra;
            const { bytes, urls } = bodyOfSize(size, filler);
            expect(bytes.length).toBe(size);
            const what = `POST /v1/fetch of ${size} bytes (${JSON.stringify(filler)}, ${how.kind}, ${json ? 'JSON' : 'text/plain'})`;
            const init = bodyInit('POST', bytes, how, { 'content-type': json ? 'application/json' : 'text/plain' });
            const answer = await expectContract(await call('/v1/fetch', init), what);
            if (size > MAX_REQUEST_BYTES) {
              expect(answer.status, what).toBe(413);
              expect(problemFields(answer), what).toEqual(['body']);
            } else if (!json) {
              expect(answer.status, what).toBe(415);
            } else {
              expectOneResultPerUrl(answer, urls, what);
            }
          }),
          runs(0.1, 8),
        );
      },
      TIMEOUT,
    );

    it(
      'Should keep order and duplicates when some URLs are really fetched (from the loopback test origin)',
      async () => {
        const scope = newScope('fuzz');
        const pick = fc.oneof(
          { weight: 3, arbitrary: fc.integer({ min: 0, max: 9 }).map((page) => ({ page })) },
          { weight: 1, arbitrary: invalidUrl.map((url) => ({ url })) },
        );
        const batch = fc.record({
          picks: fc.array(pick, { minLength: 1, maxLength: 12 }),
          concurrency: fc.integer({ min: 1, max: 12 }),
          perHost: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
          snippetLength: fc.integer({ min: 0, max: 300 }),
          extract: fc.record({ formats: validOption.formats!, selector: validOption.selector!, query: validOption.query!, provenance: fc.boolean() }, { requiredKeys: [] }),
          accept,
        });
        await fc.assert(
          fc.asyncProperty(batch, async ({ picks, concurrency, perHost, snippetLength, extract, accept: acceptHeader }) => {
            const urls = picks.map((p) => ('page' in p ? originUrl(scope, `page?title=P${p.page}`) : p.url));
            const body = { urls, concurrency, perHost, snippetLength, ...extract, retries: 0, timeoutMs: 5000 };
            const what = `POST /v1/fetch ${JSON.stringify(body)}`;
            const answer = await expectContract(await post(body, { headers: acceptHeader === undefined ? {} : { accept: acceptHeader } }), what);
            const { results, stats } = expectOneResultPerUrl(answer, urls, what);
            picks.forEach((p, i) => {
              const result = results[i]!;
              if ('page' in p) expect({ ok: result.ok, title: result.title, error: result.error }, what).toEqual({ ok: true, title: `P${p.page}`, error: null });
              else expect(result.error?.code, what).toBe('invalid_url');
            });
            // Each distinct URL is fetched once, however often it is given.
            expect(stats.fetched, what).toBe(new Set(picks.filter((p) => 'page' in p).map((p) => (p as { page: number }).page)).size);
          }),
          runs(0.5, 10),
        );
      },
      TIMEOUT,
    );
  });

  describe('GET /v1/fetch', () => {
    it(
      'Should judge any query string as a body is judged: no 5xx, repeats and unknown names refused by name, else one result per url',
      async () => {
        const part = fc.oneof(
          { weight: 3, arbitrary: queryPart(fc.constantFrom('url', 'urls'), safeUrl) },
          { weight: 4, arbitrary: queryPart(fc.constantFrom(...OPTION_NAMES), fc.oneof(numericText, fc.string({ unit: 'grapheme', maxLength: 20 }), wildValue.map(String))) },
          { weight: 1, arbitrary: queryPart(unknownName, fc.string({ maxLength: 10 })) },
        );
        // A valid query: url parameters and each option once, its value as a query string writes it, encoded so it decodes back.
        const validParts = fc
          .tuple(fc.array(fc.tuple(fc.constantFrom('url', 'urls'), safeUrl), { minLength: 1, maxLength: 10 }), validOptions, fc.constantFrom<Encoding>('component', 'form', 'all'))
          .chain(([urls, options, as]) => {
            const pairs = [...urls, ...Object.entries(options).map(([name, value]): [string, string] => [name, Array.isArray(value) ? value.join(',') : String(value)])];
            return fc.shuffledSubarray(pairs, { minLength: pairs.length }).map((shuffled) => shuffled.map(([name, value]): QueryPart => ({ name, value, nameAs: as, valueAs: as, shape: 'name=value', at: 0 })));
          });
        const query = fc.oneof(
          fc.record({ parts: validParts, separator: fc.constant('&'), accept, valid: fc.constant(true) }),
          fc.record({ parts: fc.array(part, { maxLength: 8 }), separator: fc.constantFrom('&', '&', '&', '&&', ';'), accept, valid: fc.constant(false) }),
        );
        await fc.assert(
          fc.asyncProperty(query, async ({ parts, separator, accept: acceptHeader, valid }) => {
            const path = `/v1/fetch?${queryString(parts, separator)}`;
            const params = paramsOf(path);
            const urls = params.filter(([name]) => name === 'url' || name === 'urls').map(([, value]) => value);
            const what = `GET ${path}`;
            const answer = await expectContract(await send(path, acceptHeader === undefined ? {} : { headers: { accept: acceptHeader } }, urls), what);

            const names = params.map(([name]) => name);
            // Any name but url, urls and a list option is single-valued, unknown names too: a repeat is refused first.
            const repeated = [...new Set(names.filter((name, i) => name !== 'url' && name !== 'urls' && !LIST_OPTIONS.has(name) && names.indexOf(name) !== i))];
            const unknown = names.filter((name) => name !== 'url' && name !== 'urls' && !OPTION_NAMES.includes(name));
            if (repeated.length > 0) {
              expect(answer.status, what).toBe(400);
              expect(problemFields(answer).sort(), what).toEqual(repeated.map((name) => name || '[""]').sort());
            } else if (unknown.length > 0) {
              expect(answer.status, what).toBe(400);
              // A parameter with an empty name (`?=x`) is named as the empty string, `[""]`.
              expect(problemFields(answer), what).toEqual(expect.arrayContaining(unknown.map((name) => name || '[""]')));
            } else if (urls.length === 0) {
              expect(answer.status, what).toBe(400);
              expect(problemFields(answer), what).toContain('urls');
            }
            if (valid) expect(answer.status, what).toBe(200);
            if (answer.status === 200) {
              const { results, stats } = expectOneResultPerUrl(answer, urls, what);
              for (const result of results) expect(['invalid_url', 'blocked'], what).toContain(result.error?.code);
              expect(stats.fetched, what).toBe(0);
            }
          }),
          runs(),
        );
      },
      TIMEOUT,
    );
  });

  describe('jobs', () => {
    it(
      'Should take or refuse any POST /v1/jobs body, and answer any status and results query for it, with no 5xx and fields named',
      async () => {
        const type = fc.oneof(contentType, fc.constantFrom('text/plain', 'application/x-ndjson', 'application/jsonl'));
        const resultsQuery = fc.array(
          fc.oneof(
            queryPart(fc.constantFrom('cursor', 'limit'), fc.oneof(numericText, fc.string({ maxLength: 6 }))),
            queryPart(fc.constant('status'), fc.constantFrom('ok', 'failed', 'maybe', '')),
            queryPart(unknownName, fc.string({ maxLength: 6 })),
          ),
          { maxLength: 3 },
        );
        await fc.assert(
          fc.asyncProperty(bodyEntries(), type, transport, resultsQuery, async (entries, sent, how, query) => {
            const text = jsonText(entries);
            const what = `POST /v1/jobs (content-type ${JSON.stringify(sent)}) ${text.slice(0, 300)}`;
            const created = await expectContract(await call('/v1/jobs', bodyInit('POST', text, how, { 'content-type': sent })), what);
            if (created.status !== 202) {
              expect(created.status, what).toBeGreaterThanOrEqual(400);
              return;
            }
            const { id, total } = JSON.parse(created.text) as { id: string; total: number };
            expect(id, what).toMatch(/^[0-9a-f]{32}$/);
            const job = await expectContract(await call(`/v1/jobs/${id}`), `GET /v1/jobs/${id}`);
            expect(JSON.parse(job.text).total, what).toBe(total);
            const path = `/v1/jobs/${id}/results?${queryString(query)}`;
            const page = await expectContract(await call(path), `GET ${path}`);
            if (page.status === 200) {
              const limit = paramsOf(path).find(([name]) => name === 'limit')?.[1];
              const { results } = JSON.parse(page.text) as { results: unknown[] };
              expect(results.length, path).toBeLessThanOrEqual(limit !== undefined && /^\d+$/.test(limit) ? Number(limit) : 100);
            }
          }),
          runs(0.5),
        );
      },
      TIMEOUT,
    );
  });

  describe('watch lists and runs', () => {
    it(
      'Should create, show, list and delete a list under any name and body, or refuse it by name, and store nothing it refused',
      async () => {
        const putBody = fc.oneof(
          fc.record({ entries: validEntries(fc.array(ownCron, { minLength: 1, maxLength: 3 }).map((c): Entries => [['crons', c]])), type: jsonType, how: transport, valid: fc.constant(true) }),
          fc.record({ entries: bodyEntries(crons.map((value): Entries => [['crons', value]])), type: contentType, how: transport, valid: fc.constant(false) }),
        );
        await fc.assert(
          fc.asyncProperty(nameSegment, putBody, async ({ segment, plain }, { entries, type, how, valid }) => {
            const path = `/v1/watchlists/${segment}`;
            const text = jsonText(entries);
            const init = bodyInit('PUT', text, how, { 'content-type': type });
            const what = `PUT ${path} (content-type ${JSON.stringify(type)}) ${text}`;
            const put = await expectContract(await call(path, init), what);
            const created = put.status === 200 || put.status === 201;
            try {
              // A valid body under a valid name is stored, unless the name is the built-in list's.
              if (valid && plain) expect(put.status, what).toBe(segment === 'default' ? 409 : 201);
              if (created) {
                // Each run's list is deleted before the next, so every name is fresh.
                expect(put.status, what).toBe(201);
                const list = JSON.parse(put.text) as WatchList;
                expect(list.urls, what).toEqual(urlsOf(text));
                const got = await expectContract(await call(path), `GET ${path}`);
                expect(got.status, what).toBe(200);
                expect(JSON.parse(got.text), what).toEqual(list);
                const all = await expectContract(await call('/v1/watchlists'), 'GET /v1/watchlists');
                const listed = (JSON.parse(all.text) as { watchlists: { name: string; urlCount: number }[] }).watchlists.filter((l) => l.name === list.name);
                expect(listed.map((l) => l.urlCount), what).toEqual([list.urls.length]);
                const gone = await expectContract(await call(path, { method: 'DELETE' }), `DELETE ${path}`);
                expect(gone.status, what).toBe(204);
              } else {
                expect(put.status, what).toBeGreaterThanOrEqual(400);
                const del = await expectContract(await call(path, { method: 'DELETE' }), `DELETE ${path}`);
                expect(del.status, `DELETE ${path} after ${what}`).toBe(404);
              }
              const after = await expectContract(await call(path), `GET ${path}`);
              expect(after.status, `GET ${path} after ${what}`).toBe(404);
            } finally {
              if (created) await (await call(path, { method: 'DELETE' })).arrayBuffer();
            }
          }),
          runs(),
        );
      },
      TIMEOUT,
    );

    it(
      'Should answer any /v1/runs, /v1/runs/:id, /v1/runs/latest and /v1/changes query with no 5xx and its fields named',
      async () => {
        // Three real runs of a list to look for (its URLs are invalid: the ticks fetch nothing).
        const { cron, name } = await watched('fuzz-runs', () => ['ftp://fuzz/a', 'mailto:fuzz@example.com', 'not a url']);
        for (let i = 0; i < 3; i++) await tick(cron);
        const ids = (await listRuns(name)).runs.map((run) => run.id);
        expect(ids).toHaveLength(3);
        const watchlist = fc.oneof(fc.constant(name), listName);
        const someRunId = fc.oneof(fc.constantFrom(...ids), runId);

        const runsQuery = fc.array(
          fc.oneof(
            queryPart(fc.constant('watchlist'), watchlist),
            queryPart(fc.constant('cursor'), fc.oneof(someRunId, fc.string({ maxLength: 20 }))),
            queryPart(fc.constant('limit'), numericText),
            queryPart(unknownName, fc.string({ maxLength: 10 })),
          ),
          { maxLength: 5 },
        );
        const changesQuery = fc.array(
          fc.oneof(
            { weight: 3, arbitrary: queryPart(fc.constant('since'), since) },
            { weight: 1, arbitrary: queryPart(fc.constant('watchlist'), watchlist) },
            { weight: 1, arbitrary: queryPart(fc.constant('limit'), numericText) },
            { weight: 1, arbitrary: queryPart(unknownName, fc.string({ maxLength: 10 })) },
          ),
          { maxLength: 4 },
        );
        const route = fc.oneof(
          runsQuery.map((parts) => `/v1/runs?${queryString(parts)}`),
          fc.constantFrom(...ids).map((id) => `/v1/runs/${id}`),
          fc
            .record({ id: fc.oneof(someRunId, fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom('latest', '000000000-00000000')), as: encoding, at: fc.nat() })
            .map(({ id, as, at }) => `/v1/runs/${encode(id, as, at)}`),
          runsQuery.map((parts) => `/v1/runs/latest?${queryString(parts)}`),
          changesQuery.map((parts) => `/v1/changes?${queryString(parts)}`),
        );
        await fc.assert(
          fc.asyncProperty(route, async (path) => {
            const what = `GET ${path}`;
            const answer = await expectContract(await call(path), what);
            const { pathname } = new URL(`${BASE}${path}`);
            const params = paramsOf(path);
            const names = params.map(([name]) => name);
            const once = names.filter((name, i) => names.indexOf(name) === i).length === names.length;
            if (answer.status === 404) expect(problemFields(answer)[0], what).toMatch(/^(path|id|watchlist)$/);
            if (pathname === '/v1/changes') {
              const sinceValues = params.filter(([name]) => name === 'since').map(([, value]) => value);
              const known = names.every((name) => ['since', 'watchlist', 'limit'].includes(name));
              if (once && known && sinceValues.length === 1 && Number.isNaN(Date.parse(sinceValues[0]!))) {
                expect(answer.status, what).toBe(400);
                expect(problemFields(answer), what).toContain('since');
              }
              if (answer.status === 200) {
                const body = JSON.parse(answer.text) as { since: string; changes: unknown[] };
                expect(Array.isArray(body.changes), what).toBe(true);
                expect(body.since, what).toBe(sinceValues.length === 1 ? new Date(sinceValues[0]!).toISOString() : body.since);
                expect(new Date(body.since).toISOString(), what).toBe(body.since);
              }
            }
            if (pathname === '/v1/runs' && answer.status === 200) {
              const body = JSON.parse(answer.text) as { runs: RunRecord[]; nextCursor: string | null };
              expect(Array.isArray(body.runs), what).toBe(true);
              expect(body.nextCursor === null || typeof body.nextCursor === 'string', what).toBe(true);
              const limit = params.find(([key]) => key === 'limit')?.[1];
              if (limit !== undefined) expect(body.runs.length, what).toBeLessThanOrEqual(Number(limit));
              const asked = params.find(([key]) => key === 'watchlist')?.[1];
              if (asked !== undefined) for (const run of body.runs) expect(run.watchlist, what).toBe(asked);
            }
            // The real runs are found by id, and the newest as the list's latest.
            const id = pathname.startsWith('/v1/runs/') ? safeDecode(pathname.slice('/v1/runs/'.length)) : undefined;
            if (id !== undefined && ids.includes(id)) {
              expect(answer.status, what).toBe(200);
              const run = JSON.parse(answer.text) as RunRecord & { results: unknown[] };
              expect([run.id, run.watchlist, run.results.length], what).toEqual([id, name, 3]);
            }
            if (pathname === '/v1/runs/latest' && params.find(([key]) => key === 'watchlist')?.[1] === name) {
              expect(answer.status, what).toBe(200);
              expect((JSON.parse(answer.text) as RunRecord).id, what).toBe(ids[0]);
            }
            if (!once && (pathname === '/v1/runs' || pathname === '/v1/changes')) expect(answer.status, what).toBe(400);
          }),
          runs(),
        );
      },
      TIMEOUT,
    );
  });

  describe('auth', () => {
    it(
      'Should let exactly "Bearer <token>" through when API_TOKEN is set, and answer 401 naming `authorization` to any other header',
      async () => {
        const TOKEN = 'fuzz-token-0123456789';
        const header = fc.oneof(
          fc
            .tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'BeArEr'), fc.constantFrom(' ', '  ', '\t', ' \t '), fc.constantFrom('', ' ', '\t'))
            .map(([scheme, gap, end]) => `${scheme}${gap}${TOKEN}${end}`),
          fc
            .tuple(fc.constantFrom('Bearer ', 'Bearer', 'Basic ', 'Token ', ''), fc.oneof(fc.constant(TOKEN), fc.string({ unit: 'binary-ascii', maxLength: 30 })), fc.string({ unit: 'binary-ascii', maxLength: 4 }))
            .map(([scheme, token, end]) => `${scheme}${token}${end}`),
          fc.string({ unit: 'binary', maxLength: 40 }),
        );
        const value = fc.option(header, { nil: undefined }).filter((v) => {
          try {
            new Headers(v === undefined ? {} : { authorization: v });
            return true;
          } catch {
            return false;
          }
        });
        await fc.assert(
          fc.asyncProperty(value, async (authorization) => {
            const init = jsonInit('POST', { urls: ['ftp://x'] }, authorization === undefined ? {} : { authorization });
            const sent = new Headers(init.headers).get('authorization');
            const what = `POST /v1/fetch with Authorization ${JSON.stringify(sent)}`;
            const res = await withEnv({ API_TOKEN: TOKEN }, '/v1/fetch', init);
            const answer = await expectContract(res, what, [...CLIENT_ERRORS, 401]);
            if (sent !== null && new RegExp(`^Bearer\\s+${TOKEN}$`, 'i').test(sent)) {
              expect(answer.status, what).toBe(200);
            } else {
              expect(answer.status, what).toBe(401);
              expect(problemFields(answer), what).toEqual(['authorization']);
              expect(res.headers.get('www-authenticate'), what).toMatch(/^Bearer realm="fanout"/);
            }
          }),
          runs(),
        );
      },
      TIMEOUT,
    );
  });

  describe('unknown paths and methods', () => {
    it(
      'Should answer any method on any path with no 5xx: 404 naming `path` off the routes, 405 with Allow on them',
      async () => {
        const known = fc.constantFrom('/health', '/v1/fetch', '/v1/watchlists', '/v1/watchlists/fuzz-no-such-list', '/v1/runs', '/v1/runs/latest', '/v1/runs/000000000-00000000', '/v1/changes');
        const near = fc
          .tuple(
            fc.constantFrom('/', '/v1', '/v1/', '/V1/fetch', '/v1/fetch/', '/v1//fetch', '/health/', '/v2/fetch', '/v1/watchlists/a/b', '/v1/runs/a/b', '//v1/fetch', '/%76%31/fetch', '/v1/fetch%2F', '/v1/%66etch', '/v1/fetch;x', '/v1/watchlists/', '/v1/runs/'),
            fc.oneof(fc.constant(''), fc.webPath(), fc.string({ maxLength: 10 }).map((s) => encode(s, 'raw'))),
          )
          .map(([base, tail]) => `${base}${tail}`);
        const unknown = fc.tuple(fc.webSegment(), fc.webPath()).map(([segment, rest]) => `/zz${segment}${rest}`);
        const request = fc.record({
          path: fc.oneof({ weight: 2, arbitrary: known }, { weight: 2, arbitrary: near }, { weight: 1, arbitrary: unknown }),
          method,
          body: fc.option(fc.oneof(fc.string({ maxLength: 40 }), fc.json({ maxDepth: 2 })), { nil: undefined }),
          type: contentType,
        });
        await fc.assert(
          fc.asyncProperty(request, async ({ path, method: verb, body, type }) => {
            const init: RequestInit = { method: verb, headers: type === undefined ? {} : { 'content-type': type } };
            const normalized = new Request(`${BASE}/`, { method: verb }).method;
            if (body !== undefined && normalized !== 'GET' && normalized !== 'HEAD') init.body = body;
            const what = `${normalized} ${path}${init.body === undefined ? '' : ` ${JSON.stringify(body)}`}`;
            const res = await send(path, init, body === undefined ? undefined : urlsOf(body));
            const created = (res.status === 200 || res.status === 201) && normalized === 'PUT';
            try {
              const answer = await expectContract(res, what);
              if (path.startsWith('/zz')) {
                expect(answer.status, what).toBe(404);
                if (normalized !== 'HEAD') expect(problemFields(answer), what).toEqual(['path']);
              }
              if (answer.status === 405) expect(res.headers.get('allow')!.split(', '), what).not.toContain(normalized);
            } finally {
              if (created) await (await call(path, { method: 'DELETE' })).arrayBuffer();
            }
          }),
          runs(),
        );
      },
      TIMEOUT,
    );
  });
});

/**
 * A /v1/fetch body of exactly `size` bytes: `ftp://` URLs made of `filler` (so a
 * multi-byte filler makes far fewer characters than bytes), padded with spaces.
 */
function bodyOfSize(size: number, filler: string): { bytes: Uint8Array; urls: string[] } {
  const encoder = new TextEncoder();
  const urls: string[] = [];
  const head = '{"urls":[';
  const tail = ']}';
  let used = head.length + tail.length + 'ftp://x'.length + 2;
  urls.push('ftp://x');
  if (filler !== ' ') {
    const url = `ftp://${filler.repeat(Math.floor((8192 - 6) / filler.length))}`;
    const cost = encoder.encode(url).length + 3; // quotes and a comma
    while (urls.length < DEFAULT_LIMITS.maxUrls && used + cost <= size) {
      urls.push(url);
      used += cost;
    }
  }
  const text = `${head}${urls.map((u) => JSON.stringify(u)).join(',')}${' '.repeat(size - used)}${tail}`;
  return { bytes: encoder.encode(text), urls };
}
