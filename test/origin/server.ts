/**
 * A real, deliberately hostile HTTP origin for fanout's tests.
 *
 * Runs in Node (vitest `globalSetup`), never inside workerd: tests reach it over
 * the network, so they see real sockets, real backpressure and real resets.
 * One handler and one state serve two listeners, 127.0.0.1 and 127.0.0.2 on the
 * same port, so tests have two distinct hosts (per-host limits, cross-host
 * redirects) without DNS.
 *
 * Every test route lives under `/s/<scope>/<route>?knobs`. A scope is a string
 * each test picks (see `newScope()` in ./client.ts); all counters are kept per
 * scope, so tests running in parallel never see each other's traffic.
 * Control routes (not counted): `GET /__stats/<scope>`, `POST /__release/<scope>`,
 * `POST /__close-gate/<scope>`, `POST /__reset/<scope>`,
 * `POST /__version/<scope>?name=X&v=N` (what `versioned?name=X` serves).
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';

/** One request as the origin saw it. */
export interface OriginLogEntry {
  /** The request target as sent, e.g. `/s/abc/redirect?n=2`. */
  path: string;
  /** The part after `/s/<scope>/`, query included, e.g. `redirect?n=2`. */
  route: string;
  /** Hostname from the Host header, without the port, e.g. `127.0.0.2`. */
  host: string;
  method: string;
  /** Milliseconds since this scope's first request. */
  t: number;
  /** The TCP connection it came on, numbered from 1 in the origin's lifetime: equal numbers mean a reused connection. */
  connection: number;
  /** The request headers tests assert on. */
  headers: { 'user-agent'?: string; accept?: string; 'if-none-match'?: string; 'if-modified-since'?: string };
  /** The raw request body, for routes that read it (`hook`). */
  body?: string;
  /** Every request header, for routes that keep them (`hook`); repeated headers joined with ", ". */
  allHeaders?: Record<string, string>;
  /** The status the route answered with, for routes that record it (`versioned`, `hook`, `status`, `flaky`, `retry-after`). */
  status?: number;
}

/** What `GET /__stats/<scope>` answers. */
export interface OriginStats {
  /** Requests received, whatever their outcome. */
  requests: number;
  /** Requests whose response has neither finished nor lost its socket. */
  inFlight: number;
  maxInFlight: number;
  /** Host header hostname -> highest number in flight at once for that host. */
  maxInFlightByHost: Record<string, number>;
  /** Body bytes the socket accepted (counted in write callbacks, so it follows backpressure). */
  bytesSent: number;
  /** Responses whose socket closed before they finished (the client went away). */
  closedEarly: number;
  /** Requests waiting at `gate` right now. */
  held: number;
  /** Whether `gate` lets requests through (after `/__release`, until `/__close-gate`). */
  gateOpen: boolean;
  log: OriginLogEntry[];
}

/** A running origin. */
export interface Origin {
  /** The port both 127.0.0.1 and 127.0.0.2 listen on. */
  port: number;
  /** Destroys every open socket (hung and trickling ones included) and stops listening. */
  close(): Promise<void>;
}

/** Hosts the origin listens on; tests treat them as two different sites. */
export const ORIGIN_HOSTS = ['127.0.0.1', '127.0.0.2'] as const;

/**
 * Short, so idle keep-alive sockets do not outlive a test run; close() destroys
 * the rest. Not shorter: a server closing an idle socket just as the client reuses
 * it is the classic keep-alive race, and a tiny timeout makes it frequent.
 */
const KEEP_ALIVE_TIMEOUT_MS = 1_000;
const KIB = 1024;
const MIB = 1024 * KIB;
/** Chunk sizes named in the test brief: `huge` writes 64 KiB, `binary` 16 KiB. */
const HUGE_CHUNK = 64 * KIB;
const BINARY_CHUNK = 16 * KIB;
const FIXTURES_DIR = new URL('../fixtures/', import.meta.url);

interface ScopeState {
  requests: number;
  inFlight: number;
  maxInFlight: number;
  maxInFlightByHost: Record<string, number>;
  bytesSent: number;
  closedEarly: number;
  gateOpen: boolean;
  log: OriginLogEntry[];
  startedAt: number | undefined;
  inFlightByHost: Map<string, number>;
  gateWaiters: Set<() => void>;
  /** Hits per exact request target, for `flaky` and `retry-after`. */
  hits: Map<string, number>;
  /** What `versioned?name=X` serves, per name; set by `POST /__version/<scope>`. */
  versions: Map<string, PageVersion>;
}

/** One version of a `versioned` page. */
interface PageVersion {
  v: number;
  /** Overrides the version-dependent title. */
  title?: string;
  /** Overrides the version-dependent text. */
  body?: string;
  /** The status the page answers with (500 to make it fail); 304 logic applies only to 200. */
  status: number;
}

interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  scope: ScopeState;
  route: string;
  knobs: URLSearchParams;
  /** Set once the response is done, normally or because the socket closed. */
  closed: boolean;
  /** Set when the origin itself killed the socket (`reset`), so it is not counted as closedEarly. */
  closedByOrigin: boolean;
  /** This request's entry in the scope's log, for routes that add to it. */
  entry: OriginLogEntry;
}

function newScopeState(): ScopeState {
  return {
    requests: 0,
    inFlight: 0,
    maxInFlight: 0,
    maxInFlightByHost: {},
    bytesSent: 0,
    closedEarly: 0,
    gateOpen: false,
    log: [],
    startedAt: undefined,
    inFlightByHost: new Map(),
    gateWaiters: new Set(),
    hits: new Map(),
    versions: new Map(),
  };
}

function snapshot(s: ScopeState): OriginStats {
  return {
    requests: s.requests,
    inFlight: s.inFlight,
    maxInFlight: s.maxInFlight,
    maxInFlightByHost: { ...s.maxInFlightByHost },
    bytesSent: s.bytesSent,
    closedEarly: s.closedEarly,
    held: s.gateWaiters.size,
    gateOpen: s.gateOpen,
    log: s.log,
  };
}

function hostnameOf(host: string | undefined): string {
  if (!host) return '';
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return host;
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function intKnob(knobs: URLSearchParams, name: string, fallback: number, min = 0): number {
  const raw = knobs.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new TypeError(`Expected knob \`${name}\` to be a number >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

const FILLER =
  'The quick brown fox jumps over the lazy dog while the test origin pads this page with ordinary visible words.';

/**
 * An HTML page of exactly `size` bytes when `size` is larger than its skeleton,
 * so byte-cap tests can aim just above or below it.
 */
export function renderPage({ title, description = `Description of ${title}.`, size = 2 * KIB }: { title: string; description?: string; size?: number }): string {
  const head =
    `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escapeHtml(title)}</title>\n` +
    `<meta name="description" content="${escapeHtml(description)}">\n</head>\n<body>\n` +
    `<h1>${escapeHtml(title)}</h1>\n` +
    `<p>Welcome to ${escapeHtml(title)}. This page is served by the fanout test origin.</p>\n` +
    '<p>Second paragraph with a few more sentences. Nothing here is hidden from readers.</p>\n';
  const tail = '</body>\n</html>\n';
  let body = '';
  let used = Buffer.byteLength(head) + tail.length;
  for (let i = 1; ; i++) {
    const p = `<p>Filler paragraph ${i}. ${FILLER}</p>\n`;
    if (used + p.length > size) break;
    body += p;
    used += p.length;
  }
  // Top up with one last paragraph so the page hits `size` exactly.
  const room = size - used - '<p></p>\n'.length;
  if (room > 0) body += `<p>${'z'.repeat(room)}</p>\n`;
  return head + body + tail;
}

let compressed: { gzip: Buffer; br: Buffer } | undefined;
function compressedPages(): { gzip: Buffer; br: Buffer } {
  compressed ??= {
    gzip: gzipSync(renderPage({ title: 'Gzipped page', size: 8 * KIB })),
    br: brotliCompressSync(renderPage({ title: 'Brotli page', size: 8 * KIB })),
  };
  return compressed;
}

/** Whether a response with this status to this method may carry a body (RFC 9110 §6.4.1). */
function mayHaveBody(ctx: Ctx, status: number): boolean {
  return ctx.req.method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

/** Writes one chunk and counts it only once the socket has taken it. */
function write(ctx: Ctx, chunk: Buffer): boolean {
  return ctx.res.write(chunk, (err) => {
    if (!err) ctx.scope.bytesSent += chunk.length;
  });
}

function send(ctx: Ctx, status: number, headers: http.OutgoingHttpHeaders, body: string | Buffer = ''): void {
  if (ctx.closed) return;
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  const withBody = mayHaveBody(ctx, status);
  ctx.res.writeHead(status, withBody ? { ...headers, 'content-length': buf.length } : headers);
  if (withBody && buf.length > 0) write(ctx, buf);
  ctx.res.end();
}

function sendHtml(ctx: Ctx, status: number, html: string, headers: http.OutgoingHttpHeaders = {}): void {
  send(ctx, status, { 'content-type': 'text/html; charset=utf-8', ...headers }, html);
}

function sendSmallHtml(ctx: Ctx, status: number, title: string, headers: http.OutgoingHttpHeaders = {}): void {
  sendHtml(ctx, status, `<!doctype html><html><head><title>${escapeHtml(title)}</title></head><body><p>${escapeHtml(title)}</p></body></html>\n`, headers);
}

function notFound(res: http.ServerResponse, text = 'origin: unknown route'): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/** Resolves after `ms`, or as soon as the response closes; true if still open. */
function sleep(ctx: Ctx, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!ctx.closed);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      ctx.res.off('close', done);
      resolve(!ctx.closed);
    };
    const timer = setTimeout(done, ms);
    ctx.res.on('close', done);
  });
}

/** Resolves on 'drain' or 'close', whichever comes first. */
function drained(ctx: Ctx): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      ctx.res.off('drain', done);
      ctx.res.off('close', done);
      resolve();
    };
    ctx.res.on('drain', done);
    ctx.res.on('close', done);
  });
}

/** Streams `total` bytes in chunks, waiting for 'drain' whenever the socket is full; stops if the client goes away. */
async function stream(ctx: Ctx, total: number, chunkAt: (offset: number, size: number) => Buffer): Promise<void> {
  let offset = 0;
  while (offset < total && !ctx.closed) {
    const chunk = chunkAt(offset, total - offset);
    offset += chunk.length;
    if (!write(ctx, chunk)) await drained(ctx);
  }
  if (!ctx.closed) ctx.res.end();
}

function hugeChunk(first: boolean, size: number): Buffer {
  const head = first ? '<!doctype html>\n<html><head><meta charset="utf-8"><title>Huge page</title></head><body>\n' : '';
  let text = head;
  for (let i = 0; text.length < size; i++) text += `<p>Huge paragraph ${i}. ${FILLER}</p>\n`;
  return Buffer.from(text.slice(0, size));
}
const HUGE_FIRST = hugeChunk(true, HUGE_CHUNK);
const HUGE_REST = hugeChunk(false, HUGE_CHUNK);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const BINARY_BLOCK = Buffer.alloc(BINARY_CHUNK, 0xa5);

type Route = (ctx: Ctx, rest: string) => void | Promise<void>;

/** robots.txt requests per host, and how 127.0.0.1 answers them (see `robotsTxt`). */
const robotsHits = new Map<string, number>();
const ROBOTS_MODES: ReadonlySet<string> = new Set(['normal', '503', '404', 'redirect']);
let robotsMode = 'normal';

/** Routes under `/s/<scope>/`, by first path segment; `rest` is what follows it. */
const ROUTES: Record<string, Route> = {
  async page(ctx) {
    const title = ctx.knobs.get('title') ?? 'Test page';
    const description = ctx.knobs.get('desc') ?? undefined;
    const status = intKnob(ctx.knobs, 'status', 200, 200);
    if (!(await sleep(ctx, intKnob(ctx.knobs, 'delay', 0)))) return;
    sendHtml(ctx, status, renderPage({ title, description, size: intKnob(ctx.knobs, 'size', 2 * KIB) }));
  },

  gate(ctx) {
    const answer = (): void => sendSmallHtml(ctx, 200, 'gate');
    if (ctx.scope.gateOpen) return answer();
    const waiters = ctx.scope.gateWaiters;
    const waiter = (): void => {
      waiters.delete(waiter);
      answer();
    };
    waiters.add(waiter);
    ctx.res.on('close', () => waiters.delete(waiter));
  },

  'gate-body'(ctx) {
    // Like `gate`, but past the header phase: 200 headers and the start of a page go out at once,
    // the rest of the body waits for `/__release/<scope>`. Counted in `held` while it waits.
    // `declare=1` sends the whole body's Content-Length with the headers.
    const start = Buffer.from('<!doctype html><html><head><title>gate-body</title></head><body>\n<p>Start of the body.</p>\n');
    const rest = Buffer.from('<p>Rest of the body.</p>\n</body></html>\n');
    const declared = ctx.knobs.get('declare') === '1' ? { 'content-length': start.length + rest.length } : {};
    ctx.res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...declared });
    write(ctx, start);
    const finish = (): void => {
      if (ctx.closed) return;
      write(ctx, rest);
      ctx.res.end();
    };
    if (ctx.scope.gateOpen) return finish();
    const waiters = ctx.scope.gateWaiters;
    const waiter = (): void => {
      waiters.delete(waiter);
      finish();
    };
    waiters.add(waiter);
    ctx.res.on('close', () => waiters.delete(waiter));
  },

  hang() {
    // Never answer; the request stays in flight until the client gives up.
  },

  trickle(ctx) {
    const interval = intKnob(ctx.knobs, 'interval', 1_000, 1);
    ctx.res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    ctx.res.flushHeaders();
    const byte = Buffer.from('a');
    const timer = setInterval(() => write(ctx, byte), interval);
    ctx.res.on('close', () => clearInterval(timer));
  },

  reset(ctx) {
    ctx.closedByOrigin = true;
    const socket = ctx.req.socket;
    // RST rather than FIN where Node supports it (v18.3+), so the client sees ECONNRESET.
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  },

  loop(ctx) {
    send(ctx, 302, { location: ctx.req.url ?? '/' });
  },

  redirect(ctx) {
    const n = intKnob(ctx.knobs, 'n', 3);
    if (n <= 0) return sendHtml(ctx, 200, renderPage({ title: 'end of chain' }));
    // Relative on purpose: the client must resolve it against the current URL.
    send(ctx, 302, { location: `redirect?n=${n - 1}` });
  },

  'redirect-to'(ctx) {
    const location = ctx.knobs.get('location');
    if (location === null) throw new TypeError('Expected knob `location`, got nothing');
    send(ctx, 302, { location });
  },

  /** A page under `robots/...` (robots.txt decides which ones fanout may fetch). */
  robots(ctx, rest) {
    sendSmallHtml(ctx, 200, `robots ${rest}`);
  },

  'redirect-bare'(ctx) {
    sendSmallHtml(ctx, 302, 'redirect without location');
  },

  /**
   * A bot-protection answer as the vendor `v` sends it (its status `status`, default the
   * vendor's usual one): headers only (`cloudflare-header`, `aws-waf`, `kasada`, `linkedin`,
   * `vercel-header`) or a challenge page's markup (`cloudflare`, `datadome`, `perimeterx`,
   * `imperva`, `akamai`, `sucuri`, `captcha`). `v=jsd` is an ordinary page that carries
   * Cloudflare's bot-management script, which is no challenge.
   */
  challenge(ctx) {
    const vendor = ctx.knobs.get('v') ?? 'cloudflare';
    const page = (title: string, body: string) => `<!DOCTYPE html><html lang="en-US"><head><title>${title}</title><meta name="robots" content="noindex,nofollow"></head><body>${body}</body></html>`;
    const pages: Record<string, [number, http.OutgoingHttpHeaders, string]> = {
      'cloudflare-header': [403, { 'cf-mitigated': 'challenge', server: 'cloudflare' }, page('Just a moment...', '<noscript>Enable JavaScript and cookies to continue</noscript>')],
      cloudflare: [503, { server: 'cloudflare' }, page('Just a moment...', '<div id="challenge-stage"></div><script>(function(){window._cf_chl_opt={cvId: \'3\',cZone: "shop.example",cType: \'managed\'};}());</script>')],
      datadome: [403, { 'x-datadome': 'protected' }, page('shop.example', '<script>var dd={"rt":"c","cid":"AHrlqAAAAAMA","hsh":"2211F"}</script><script src="https://ct.captcha-delivery.com/c.js"></script>')],
      perimeterx: [403, {}, page('Access to this page has been denied.', '<div id="px-captcha"></div><script src="/px/captcha/bundle.js"></script>')],
      imperva: [200, { 'x-cdn': 'Imperva' }, '<html style="height:100%"><head><META NAME="ROBOTS" CONTENT="NOINDEX, NOFOLLOW"></head><body style="margin:0px;height:100%"><iframe id="main-iframe" src="/_Incapsula_Resource?CWUDNSAI=27" frameborder=0 width="100%" height="100%">Request unsuccessful. Incapsula incident ID: 1170000430093012201-71087347441748417</iframe></body></html>'],
      akamai: [200, {}, page('Challenge Validation', '<div id="sec-if-cpt-container"></div><script src="/_sec/cp_challenge/sec-cpt-int-4-3.js"></script>')],
      sucuri: [403, { 'x-sucuri-id': '18013' }, page('Sucuri WebSite Firewall - Access Denied', '<p>Access Denied - Sucuri Website Firewall</p>')],
      captcha: [200, {}, page('Are you a robot?', '<form method="post"><script src="https://www.google.com/recaptcha/api.js" async defer></script><div class="g-recaptcha"></div></form>')],
      'aws-waf': [202, { 'x-amzn-waf-action': 'challenge' }, page('', '<script src="https://token.awswaf.com/challenge.js"></script>')],
      kasada: [429, { 'x-kpsdk-ct': '0abc', 'retry-after': '1' }, ''],
      linkedin: [999, {}, '<html><head><script>window.onload=function(){location.href="/authwall"}</script></head></html>'],
      'vercel-header': [429, { 'x-vercel-mitigated': 'challenge' }, page('Vercel Security Checkpoint', '')],
      jsd: [200, { server: 'cloudflare' }, page('Ordinary page', '<h1>Ordinary page</h1><p>Text a reader came for, served through Cloudflare.</p><script>(function(){var a=document.createElement("script");a.src="/cdn-cgi/challenge-platform/scripts/jsd/main.js";document.head.appendChild(a)})();</script>')],
    };
    const answer = pages[vendor];
    if (!answer) return notFound(ctx.res, `origin: no such challenge vendor ${vendor}`);
    const [status, headers, html] = answer;
    sendHtml(ctx, intKnob(ctx.knobs, 'status', status, 100), html, headers);
  },

  /** `depth` nested divs (default 100,000) after a paragraph, with a paragraph inside: HTML no browser would nest. */
  nested(ctx) {
    const depth = intKnob(ctx.knobs, 'depth', 100_000);
    const html = `<!doctype html><html><head><title>Nested</title></head><body><p>Before the nesting, a paragraph of ordinary words that any reader would see.</p>${'<div>'.repeat(depth)}<p>Deep inside.</p>${'</div>'.repeat(depth)}</body></html>`;
    sendHtml(ctx, 200, html);
  },

  async huge(ctx) {
    const total = Math.floor(intKnob(ctx.knobs, 'mb', 200) * MIB);
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/html; charset=utf-8' };
    // Off by default, so clients must enforce their cap while streaming; `length=1` lets them reject up front.
    if (ctx.knobs.get('length') === '1') headers['content-length'] = total;
    ctx.res.writeHead(200, headers);
    await stream(ctx, total, (offset, left) => {
      const chunk = offset === 0 ? HUGE_FIRST : HUGE_REST;
      return left < chunk.length ? chunk.subarray(0, left) : chunk;
    });
  },

  gzip(ctx) {
    send(ctx, 200, { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'gzip', vary: 'Accept-Encoding' }, compressedPages().gzip);
  },

  brotli(ctx) {
    send(ctx, 200, { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'br', vary: 'Accept-Encoding' }, compressedPages().br);
  },

  async fixture(ctx, name) {
    // One plain file name only: no sub-directories, no `..`.
    if (!/^[\w][\w.-]*$/.test(name)) return notFound(ctx.res, 'origin: bad fixture name');
    let bytes: Buffer;
    try {
      bytes = await readFile(new URL(name, FIXTURES_DIR));
    } catch {
      return notFound(ctx.res, `origin: no such fixture ${name}`);
    }
    const ct = ctx.knobs.get('ct');
    send(ctx, 200, ct === null ? {} : { 'content-type': ct }, bytes);
  },

  json(ctx) {
    const data = {
      name: 'fanout test origin',
      version: 1,
      tags: ['edge', 'fetch', 'json'],
      owner: { id: 42, login: 'origin', roles: ['admin', 'tester'] },
      items: [
        { id: 1, title: 'First item', price: 9.5, available: true },
        { id: 2, title: 'Second item', price: null, available: false },
      ],
    };
    send(ctx, 200, { 'content-type': 'application/json' }, JSON.stringify(data, null, 2) + '\n');
  },

  text(ctx) {
    const lines = [
      'Plain text from the fanout test origin.',
      'Second line with ordinary words in it.',
      '',
      'Fourth line after a blank one: apples, pears and plums.',
      'Last line.',
    ];
    send(ctx, 200, { 'content-type': 'text/plain; charset=utf-8' }, lines.join('\n') + '\n');
  },

  async binary(ctx) {
    const total = intKnob(ctx.knobs, 'kb', 1024) * KIB;
    // `ct` labels the bytes as something else (a binary body served as text/html); `sig=0` leaves out
    // the PNG signature and `fill` sets the byte that fills the rest (0xa5, or 0 for NULs).
    const fill = intKnob(ctx.knobs, 'fill', 0xa5);
    const block = fill === 0xa5 ? BINARY_BLOCK : Buffer.alloc(BINARY_CHUNK, fill & 0xff);
    const first = ctx.knobs.get('sig') === '0' ? block : Buffer.concat([PNG_SIGNATURE, block.subarray(PNG_SIGNATURE.length)]);
    ctx.res.writeHead(200, { 'content-type': ctx.knobs.get('ct') ?? 'image/png', 'content-length': total });
    await stream(ctx, total, (offset, left) => {
      const chunk = offset === 0 ? first : block;
      return left < chunk.length ? chunk.subarray(0, left) : chunk;
    });
  },

  status(ctx, rest) {
    const code = Number(rest);
    if (!Number.isInteger(code) || code < 200 || code > 599) return notFound(ctx.res, `origin: bad status ${JSON.stringify(rest)}`);
    ctx.entry.status = code;
    sendSmallHtml(ctx, code, `status ${code}`);
  },

  flaky(ctx) {
    const fails = intKnob(ctx.knobs, 'fails', 1);
    const code = intKnob(ctx.knobs, 'code', 503, 200);
    const failed = hit(ctx) <= fails;
    ctx.entry.status = failed ? code : 200;
    if (failed) return sendSmallHtml(ctx, code, `status ${code}`);
    sendHtml(ctx, 200, renderPage({ title: 'recovered' }));
  },

  'retry-after'(ctx) {
    const fails = intKnob(ctx.knobs, 'fails', 1);
    const seconds = intKnob(ctx.knobs, 'seconds', 1);
    const failed = hit(ctx) <= fails;
    ctx.entry.status = failed ? 429 : 200;
    if (failed) {
      // RFC 9110 §10.2.3 allows delay-seconds or an HTTP-date; `form=date` sends the latter.
      const value = ctx.knobs.get('form') === 'date' ? new Date(Date.now() + seconds * 1000).toUTCString() : String(seconds);
      return sendSmallHtml(ctx, 429, 'status 429', { 'retry-after': value });
    }
    sendHtml(ctx, 200, renderPage({ title: 'after 429' }));
  },

  'echo-headers'(ctx) {
    send(ctx, 200, { 'content-type': 'application/json' }, JSON.stringify(ctx.req.headers, null, 2));
  },

  versioned(ctx) {
    // A page that changes only when a test says so (`POST /__version/<scope>?name=X&v=N`), with
    // validators per version: `ETag: "<name>-v<N>"` and a Last-Modified fixed per version.
    // Knobs: `name` (default "page"), `deep=1` (only text past ~2000 fixed characters changes),
    // `etag=0` / `lm=0` (leave that validator out, to test the other one alone).
    const name = ctx.knobs.get('name') ?? 'page';
    const version = ctx.scope.versions.get(name) ?? { v: 1, status: 200 };
    ctx.entry.status = version.status;
    if (version.status !== 200) return sendSmallHtml(ctx, version.status, `${name} status ${version.status}`);

    const etag = `"${name}-v${version.v}"`;
    const lastModifiedAt = versionDate(version.v);
    const headers: http.OutgoingHttpHeaders = {};
    if (ctx.knobs.get('etag') !== '0') headers.etag = etag;
    if (ctx.knobs.get('lm') !== '0') headers['last-modified'] = lastModifiedAt.toUTCString();
    if (notModified(ctx, headers, lastModifiedAt)) {
      ctx.entry.status = 304;
      return send(ctx, 304, headers);
    }
    sendHtml(ctx, 200, renderVersioned(name, version, ctx.knobs.get('deep') === '1'), headers);
  },

  async hook(ctx) {
    // A notification receiver: keeps the raw body and every header in the log entry, and answers
    // `code` (503 unless set) to the first `fails` requests (per exact target), then 200. With
    // `seconds`, those failures carry `Retry-After: <seconds>`.
    if (ctx.req.method !== 'POST') return send(ctx, 405, { allow: 'POST' });
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
    ctx.entry.body = Buffer.concat(chunks).toString('utf8');
    const all: Record<string, string> = {};
    for (const [key, value] of Object.entries(ctx.req.headers)) {
      if (value !== undefined) all[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    ctx.entry.allHeaders = all;
    const failed = hit(ctx) <= intKnob(ctx.knobs, 'fails', 0);
    const status = failed ? intKnob(ctx.knobs, 'code', 503, 200) : 200;
    ctx.entry.status = status;
    // `connection: close`: fanout pauses up to 2 s between notification attempts, longer than
    // KEEP_ALIVE_TIMEOUT_MS, and workerd sometimes reuses the pooled socket this server has
    // already closed; a POST on it fails with "Network connection lost" before reaching here.
    // A fresh connection per request keeps the retry tests about the statuses they set.
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', connection: 'close' };
    if (failed && ctx.knobs.has('seconds')) headers['retry-after'] = String(intKnob(ctx.knobs, 'seconds', 0));
    send(ctx, status, headers, JSON.stringify({ received: true }));
  },
};

/** Last-Modified of version `v` of a `versioned` page: fixed, one day later per version. */
function versionDate(v: number): Date {
  return new Date(Date.UTC(2026, 0, 1) + v * 86_400_000);
}

/**
 * Whether a conditional GET matches (RFC 9110 §13.1.2, §13.1.3): If-None-Match against the ETag
 * sent; only without If-None-Match, If-Modified-Since not older than Last-Modified.
 */
function notModified(ctx: Ctx, headers: http.OutgoingHttpHeaders, lastModifiedAt: Date): boolean {
  const ifNoneMatch = ctx.req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const etag = headers.etag;
    return typeof etag === 'string' && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
  }
  const ifModifiedSince = ctx.req.headers['if-modified-since'];
  if (ifModifiedSince === undefined || headers['last-modified'] === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  // HTTP dates have whole seconds; Last-Modified is whole days here.
  return !Number.isNaN(since) && since >= lastModifiedAt.getTime();
}

/** Fixed text that pushes `deep` pages' version-dependent text past the snippet (default 300 characters). */
const DEEP_FILLER = Array.from({ length: 20 }, (_, i) => `<p>Fixed paragraph ${i + 1}. ${FILLER}</p>\n`).join('');

/** The HTML of one version of a `versioned` page. */
function renderVersioned(name: string, version: PageVersion, deep: boolean): string {
  const text = version.body ?? `This is version ${version.v} of ${name}.`;
  if (deep) {
    // Title, description and the opening stay the same across versions; only text deep in the body moves.
    const title = version.title ?? `${name} (deep)`;
    return (
      `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escapeHtml(title)}</title>\n` +
      `<meta name="description" content="${escapeHtml(`Description of ${name}.`)}">\n</head>\n<body>\n` +
      `<h1>${escapeHtml(title)}</h1>\n<p>The opening paragraph of ${escapeHtml(name)} never changes.</p>\n` +
      DEEP_FILLER +
      `<p>${escapeHtml(text)}</p>\n</body>\n</html>\n`
    );
  }
  const title = version.title ?? `${name} v${version.v}`;
  return (
    `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escapeHtml(title)}</title>\n` +
    `<meta name="description" content="${escapeHtml(`Description of ${name}, version ${version.v}.`)}">\n</head>\n<body>\n` +
    `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(text)}</p>\n<p>A second paragraph that stays the same.</p>\n</body>\n</html>\n`
  );
}

/** 1-based count of requests to this exact target (path and query) in the scope; add a knob like `&k=a` for an independent counter. */
function hit(ctx: Ctx): number {
  const key = ctx.req.url ?? '';
  const n = (ctx.scope.hits.get(key) ?? 0) + 1;
  ctx.scope.hits.set(key, n);
  return n;
}

/** Each accepted socket's number, in order of arrival. */
const connectionIds = new WeakMap<Socket, number>();
let connectionCount = 0;

/** Counts the request and watches its response until it finishes or loses its socket. */
function track(scope: ScopeState, req: http.IncomingMessage, res: http.ServerResponse, route: string): Ctx {
  const now = performance.now();
  scope.startedAt ??= now;
  const host = hostnameOf(req.headers.host);
  const header = (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  scope.requests++;
  const entry: OriginLogEntry = {
    path: req.url ?? '',
    route,
    host,
    method: req.method ?? '',
    t: Math.round(now - scope.startedAt),
    connection: connectionIds.get(req.socket) ?? 0,
    headers: {
      'user-agent': header('user-agent'),
      accept: header('accept'),
      'if-none-match': header('if-none-match'),
      'if-modified-since': header('if-modified-since'),
    },
  };
  scope.log.push(entry);

  scope.inFlight++;
  scope.maxInFlight = Math.max(scope.maxInFlight, scope.inFlight);
  const hostNow = (scope.inFlightByHost.get(host) ?? 0) + 1;
  scope.inFlightByHost.set(host, hostNow);
  scope.maxInFlightByHost[host] = Math.max(scope.maxInFlightByHost[host] ?? 0, hostNow);

  const ctx: Ctx = { req, res, scope, route, knobs: new URLSearchParams(), closed: false, closedByOrigin: false, entry };
  const done = (): void => {
    if (ctx.closed) return;
    ctx.closed = true;
    scope.inFlight--;
    scope.inFlightByHost.set(host, (scope.inFlightByHost.get(host) ?? 1) - 1);
  };
  res.on('finish', done);
  // 'close' also follows a normal finish; only a close before it is early.
  res.on('close', () => {
    if (!res.writableFinished && !ctx.closedByOrigin) scope.closedEarly++;
    done();
  });
  return ctx;
}

/**
 * Starts the origin on 127.0.0.1 and 127.0.0.2, same port, shared state.
 * Retries a few times if another process already holds the port on 127.0.0.2.
 */
export async function startOrigin(): Promise<Origin> {
  const scopes = new Map<string, ScopeState>();
  const scopeFor = (name: string): ScopeState => {
    let s = scopes.get(name);
    if (!s) scopes.set(name, (s = newScopeState()));
    return s;
  };

  function control(req: http.IncomingMessage, res: http.ServerResponse, action: string, name: string): void {
    const json = (value: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(value));
    };
    const expect = (method: string): boolean => {
      if (req.method === method) return true;
      res.writeHead(405, { allow: method, 'content-type': 'text/plain; charset=utf-8' });
      res.end(`origin: ${action} needs ${method}`);
      return false;
    };
    switch (action) {
      case '__robots': {
        // GET /__robots/hits: robots.txt requests per host; POST /__robots/<mode>: how 127.0.0.1 answers them.
        if (name === 'hits') {
          if (expect('GET')) json(Object.fromEntries(robotsHits));
          return;
        }
        if (!expect('POST')) return;
        if (!ROBOTS_MODES.has(name)) {
          res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`origin: robots mode must be one of ${[...ROBOTS_MODES].join(', ')}`);
          return;
        }
        robotsMode = name;
        json({ mode: robotsMode });
        return;
      }
      case '__stats':
        if (expect('GET')) json(snapshot(scopes.get(name) ?? newScopeState()));
        return;
      case '__release': {
        if (!expect('POST')) return;
        const s = scopeFor(name);
        s.gateOpen = true;
        const released = s.gateWaiters.size;
        for (const waiter of [...s.gateWaiters]) waiter();
        json({ released });
        return;
      }
      case '__close-gate':
        if (expect('POST')) {
          scopeFor(name).gateOpen = false;
          json({ gateOpen: false });
        }
        return;
      case '__version': {
        // Sets what `versioned?name=X` serves: `?name=X&v=N` and optionally `&title=`, `&body=`, `&status=`.
        if (!expect('POST')) return;
        const query = new URL(req.url ?? '/', 'http://origin.invalid').searchParams;
        const page = query.get('name') ?? 'page';
        const v = Number(query.get('v') ?? '');
        const status = Number(query.get('status') ?? '200');
        if (!Number.isInteger(v) || v < 1 || !Number.isInteger(status) || status < 200 || status > 599) {
          res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`origin: __version needs ?v=<integer >= 1> and an optional ?status=<200..599>, got ${query}`);
          return;
        }
        const version: PageVersion = { v, status };
        const title = query.get('title');
        const body = query.get('body');
        if (title !== null) version.title = title;
        if (body !== null) version.body = body;
        scopeFor(name).versions.set(page, version);
        json({ name: page, ...version });
        return;
      }
      case '__reset':
        // Requests still in flight keep their old state object and no longer touch the new one.
        if (expect('POST')) {
          scopes.set(name, newScopeState());
          json({ reset: true });
        }
        return;
      default:
        notFound(res);
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://origin.invalid');
    if (url.pathname === '/robots.txt') return robotsTxt(req, res);
    // ['', 's', scope, first, ...rest]
    const parts = url.pathname.split('/');
    const [, top = '', name = ''] = parts;
    if (top.startsWith('__') && name !== '' && parts.length === 3) return control(req, res, top, name);
    if (top !== 's' || name === '' || parts.length < 4) return notFound(res);

    const scope = scopeFor(name);
    const routePath = parts.slice(3).join('/');
    const ctx = track(scope, req, res, routePath + url.search);
    ctx.knobs = url.searchParams;
    const [first = '', ...rest] = parts.slice(3);
    const route = Object.hasOwn(ROUTES, first) ? ROUTES[first] : undefined;
    if (!route) return notFound(res);
    await route(ctx, rest.join('/'));
  }

  /**
   * `/robots.txt`, per host: 127.0.0.1 asks fanout for a Crawl-delay of 1 s, 127.0.0.2 for
   * none; both refuse `/s/<scope>/robots/private` (but not `.../private/open`) and
   * `/s/<scope>/robots/no-fanout` to fanout, and `/s/<scope>/robots/others` to everyone else.
   * `POST /__robots/<mode>` makes 127.0.0.1 answer 503, 404, or a redirect to 127.0.0.2's file.
   */
  function robotsTxt(req: http.IncomingMessage, res: http.ServerResponse): void {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    robotsHits.set(host, (robotsHits.get(host) ?? 0) + 1);
    const first = host === ORIGIN_HOSTS[0];
    if (first && robotsMode === '503') return void res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
    if (first && robotsMode === '404') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('none');
    if (first && robotsMode === 'redirect') {
      const port = (req.headers.host ?? '').split(':')[1];
      return void res.writeHead(301, { location: `http://${ORIGIN_HOSTS[1]}:${port}/robots.txt` }).end();
    }
    const text = [
      'User-agent: fanout',
      'Disallow: /s/*/robots/private',
      'Allow: /s/*/robots/private/open',
      'Disallow: /s/*/robots/no-fanout',
      ...(first ? ['Crawl-delay: 1'] : []),
      '',
      'User-agent: *',
      'Disallow: /s/*/robots/others',
      '',
    ].join('\n');
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(text);
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      // A bad knob or a bug in a route: say so loudly rather than hang the test.
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`origin: ${err instanceof Error ? err.message : String(err)}`);
      } else {
        res.destroy();
      }
    });
  };

  const sockets = new Set<Socket>();
  const servers = ORIGIN_HOSTS.map(() => {
    const server = http.createServer(onRequest);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.on('connection', (socket) => {
      connectionIds.set(socket, ++connectionCount);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return server;
  });

  const listen = (server: http.Server, port: number, host: string): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  const closeServer = (server: http.Server): Promise<void> =>
    new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));

  const [first, second] = servers as [http.Server, http.Server];
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    await listen(first, 0, ORIGIN_HOSTS[0]);
    port = (first.address() as AddressInfo).port;
    try {
      await listen(second, port, ORIGIN_HOSTS[1]);
      break;
    } catch (err) {
      await closeServer(first);
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
    }
  }

  return {
    port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map(closeServer));
    },
  };
}
