/**
 * The benchmark's origin: a plain Node http server on 127.0.0.1, tuned for load
 * (keep-alive, pages rendered once and cached, no logging), with knobs per URL
 * and counters per scenario.
 *
 * Routes:
 *   GET /b/<scenario>/<id>?d=<ms>&s=<bytes>&t=page|huge
 *     d  latency before the response headers go out (server think time), default 0
 *     s  body size in bytes: a realistic HTML page of about `s` bytes (`page`, default
 *        60000), or a streamed HTML body of exactly `s` bytes (`huge`), written in
 *        64 KiB chunks with backpressure (waits for 'drain')
 *     The page's <title> is titleFor(id) (see below), so clients can be checked.
 *   GET  /__stats/<scenario>   counters since the last reset, as JSON
 *   POST /__reset/<scenario>   zeroes the counters
 *
 * Counters per scenario: requests, in flight now, most in flight at once, body bytes
 * accepted by the socket (counted in write callbacks, so it follows backpressure: it is
 * what left Node for the kernel), responses whose client went away before the end.
 *
 * Run standalone (`node bench/origin.mjs [port]`): prints `{"port":N}` once listening.
 * The bench runner starts it as a child process so its work never shares an event loop
 * with the runner's clocks and samplers.
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { contentBodies } from './lib/content.mjs';

const KIB = 1024;
const CHUNK = 64 * KIB;

/** The title a page serves; entities in the markup, so extraction must decode them. */
export function titleFor(id) {
  return `Bench & page ${id}`;
}
const escapeHtml = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** Deterministic words, so pages are varied text rather than one repeated line. */
const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she ' +
  'there been one all we their has would when if so no will more about can said them some could time these two may then do first ' +
  'any my now such like our over man me even most made after also did many before must through back years where much your way ' +
  'well down should because each just those people how too little state good very make world still own see men work long get here ' +
  'between both life being under never day same another know while last might us great old year off come since against go came ' +
  'right used take three network latency origin request response browser edge worker stream parser cache header body snippet'
).split(' ');

function paragraph(seed, words) {
  let x = seed * 2654435761 >>> 0;
  const out = [];
  for (let i = 0; i < words; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out.push(WORDS[x % WORDS.length]);
  }
  out[0] = out[0][0].toUpperCase() + out[0].slice(1);
  return `${out.join(' ')}.`;
}

/**
 * The part of a page before its <title>, and the part after, for a page of about
 * `size` bytes: a head with the metadata real pages carry (charset, viewport,
 * description, Open Graph, canonical, a stylesheet link, an inline <style>, inline
 * and external scripts, JSON-LD), then a body with nav, article paragraphs, a
 * script in the middle and a footer.
 */
function renderShell(size) {
  const css = Array.from({ length: 40 }, (_, i) => `.c${i}{margin:${i % 7}px ${i % 5}px;color:#${(i * 99991).toString(16).slice(0, 6).padEnd(6, '0')};font:14px/1.4 system-ui}`).join('\n');
  const analytics = Array.from({ length: 30 }, (_, i) => `window.dataLayer.push({event:"e${i}",value:${i * 37},label:"label-${i}"});`).join('\n');
  const before = '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>';
  let after =
    '</title>\n' +
    '<meta name="description" content="A realistic page served by the fanout benchmark origin, with metadata, styles and scripts.">\n' +
    '<meta property="og:type" content="article">\n<meta property="og:site_name" content="Bench Origin">\n' +
    '<meta property="og:image" content="/img/cover.jpg">\n<link rel="canonical" href="/canonical">\n' +
    '<link rel="stylesheet" href="/static/site.css">\n<link rel="icon" href="/favicon.ico">\n' +
    `<style>\n${css}\n</style>\n` +
    '<script async src="/static/app.js"></script>\n' +
    `<script>\nwindow.dataLayer = window.dataLayer || [];\n${analytics}\n</script>\n` +
    '<script type="application/ld+json">{"@context":"https://schema.org","@type":"Article","headline":"Bench page","author":{"@type":"Person","name":"Bench"}}</script>\n' +
    '</head>\n<body class="c1">\n<header class="c2"><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/about">About</a> <a href="/contact">Contact</a></nav></header>\n' +
    '<main>\n<article>\n<h1>The benchmark page</h1>\n';
  const tail = '</article>\n</main>\n<footer class="c3"><p>Footer text, links and a copyright line.</p></footer>\n<script>document.body.dataset.ready="1";</script>\n</body>\n</html>\n';
  for (let i = 1; before.length + after.length + tail.length < size - 40; i++) {
    after += `<p class="c${i % 40}">${paragraph(i, 40 + (i % 30))}</p>\n`;
    if (i % 12 === 0) after += `<script>window.dataLayer.push({section:${i}});</script>\n<div class="ad c4"><span>Advertisement</span></div>\n`;
  }
  return { before: Buffer.from(before), after: Buffer.from(after + tail) };
}

const shells = new Map();
function shellFor(size) {
  let shell = shells.get(size);
  if (!shell) shells.set(size, (shell = renderShell(size)));
  return shell;
}

/** The first chunk of a huge body carries the head (so a title is there to find); the rest are paragraphs. */
const HUGE_FIRST = (() => {
  let s = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Huge page</title></head><body>\n';
  for (let i = 0; s.length < CHUNK; i++) s += `<p>${paragraph(i, 30)}</p>\n`;
  return Buffer.from(s).subarray(0, CHUNK);
})();
const HUGE_REST = (() => {
  let s = '';
  for (let i = 1000; s.length < CHUNK; i++) s += `<p>${paragraph(i, 30)}</p>\n`;
  return Buffer.from(s).subarray(0, CHUNK);
})();

function newCounters() {
  return { requests: 0, inFlight: 0, maxInFlight: 0, bytesSent: 0, closedEarly: 0, completed: 0 };
}

/**
 * Starts the origin. Resolves with its port and a close() that destroys open sockets.
 * @param {{ port?: number, host?: string, content?: boolean }} [options]
 *   content: load the content scenario's pages (test fixtures and BENCH_CONTENT_CORPUS)
 */
export async function startOrigin({ port = 0, host = '127.0.0.1', content = false } = {}) {
  const pages = content ? contentBodies() : new Map();
  const scenarios = new Map();
  const counters = (name) => {
    let c = scenarios.get(name);
    if (!c) scenarios.set(name, (c = newCounters()));
    return c;
  };
  const sockets = new Set();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const parts = url.pathname.split('/');
    if (parts[1] === '__stats' && parts[2]) {
      const body = JSON.stringify(counters(parts[2]));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return res.end(body);
    }
    if (parts[1] === '__reset' && parts[2]) {
      scenarios.set(parts[2], newCounters());
      res.writeHead(204);
      return res.end();
    }
    if (parts[1] !== 'b' || !parts[2] || parts[3] === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end(`unknown route ${req.url}\n`);
    }

    const c = counters(parts[2]);
    const id = decodeURIComponent(parts[3]);
    const delay = Number(url.searchParams.get('d') ?? 0);
    const size = Number(url.searchParams.get('s') ?? 60_000);
    const type = url.searchParams.get('t') ?? 'page';
    c.requests++;
    c.inFlight++;
    if (c.inFlight > c.maxInFlight) c.maxInFlight = c.inFlight;

    let finished = false;
    const done = (early) => {
      if (finished) return;
      finished = true;
      c.inFlight--;
      if (early) c.closedEarly++;
      else c.completed++;
    };
    res.on('finish', () => done(false));
    res.on('close', () => done(!res.writableFinished));
    const write = (chunk) =>
      res.write(chunk, (err) => {
        if (!err) c.bytesSent += chunk.length;
      });

    const respond = async () => {
      if (res.destroyed) return;
      if (type === 'content') {
        const page = pages.get(id);
        if (!page) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          return res.end(`no content page ${id}\n`);
        }
        res.writeHead(200, { 'content-type': page.type, 'content-length': page.body.length });
        write(page.body);
        res.end();
        return;
      }
      if (type === 'huge') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': size });
        for (let sent = 0; sent < size && !res.destroyed; ) {
          const base = sent === 0 ? HUGE_FIRST : HUGE_REST;
          const chunk = size - sent >= base.length ? base : base.subarray(0, size - sent);
          sent += chunk.length;
          if (!write(chunk) && !res.destroyed) {
            await new Promise((resolve) => {
              const go = () => {
                res.off('drain', go);
                res.off('close', go);
                resolve();
              };
              res.on('drain', go);
              res.on('close', go);
            });
          }
        }
        if (!res.destroyed) res.end();
        return;
      }
      const shell = shellFor(size);
      const title = Buffer.from(escapeHtml(titleFor(id)));
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': shell.before.length + title.length + shell.after.length,
      });
      write(shell.before);
      write(title);
      write(shell.after);
      res.end();
    };
    if (delay > 0) setTimeout(respond, delay);
    else void respond();
  });
  server.keepAliveTimeout = 10_000;
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  server.on('connection', (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const origin = await startOrigin({ port: Number(process.argv[2] ?? 0), content: process.env.BENCH_ORIGIN_CONTENT === '1' });
  process.stdout.write(`${JSON.stringify({ port: origin.port })}\n`);
  const stop = () => origin.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Ends with its parent: the runner closes our stdin when it is done or dies.
  process.stdin.resume();
  process.stdin.on('end', stop);
}
