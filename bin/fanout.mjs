#!/usr/bin/env node
/**
 * fanout's command line: `fanout <file|->` fetches the URLs listed in a file
 * (or on stdin), one per line, through a fanout service, and prints a table,
 * JSON, NDJSON, or one Markdown file per page. Plain Node (18+): no build
 * step, no dependencies. `fanout --help` lists everything.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ndjson } from '../client/index.mjs';

const HELP = `Usage: fanout [options] <file|->

Fetches every URL of <file> (one per line; blank lines and lines starting
with # are skipped; - reads stdin) through a fanout service.

Service:
  --endpoint URL        fanout's base URL (default: $FANOUT_URL, else http://127.0.0.1:8787)
                        The bearer token comes from $FANOUT_TOKEN.
Output (default: a table on stdout):
  --json                the API's JSON answer ({ results, stats })
  --ndjson              one JSON line per URL as it finishes
  --markdown DIR        one Markdown file per page in DIR (asks for formats=markdown)
  --fail-on WHAT        exit 1 when a URL failed: any (default), none, or error codes (timeout,http_status)
Options (as the API names them, README "Options"):
  --concurrency N  --per-host N  --timeout-ms MS  --deadline-ms MS  --max-bytes N
  --retries N  --max-redirects N  --snippet-length N  --selector CSS  --query TEXT
  --formats LIST  --only-main-content BOOL  --max-content-chars N  --max-age MS
  --respect-robots BOOL  --provenance BOOL
Lists larger than the service's MAX_URLS run as a job (POST /v1/jobs), polled to the end.
A progress bar goes to stderr when it is a terminal.
`;

/** CLI flag -> API option, with how its value is read. */
const OPTIONS = {
  concurrency: ['concurrency', 'int'],
  'per-host': ['perHost', 'int'],
  'timeout-ms': ['timeoutMs', 'int'],
  'deadline-ms': ['deadlineMs', 'int'],
  'max-bytes': ['maxBytes', 'int'],
  retries: ['retries', 'int'],
  'max-redirects': ['maxRedirects', 'int'],
  'snippet-length': ['snippetLength', 'int'],
  selector: ['selector', 'text'],
  query: ['query', 'text'],
  formats: ['formats', 'list'],
  'only-main-content': ['onlyMainContent', 'bool'],
  'max-content-chars': ['maxContentChars', 'int'],
  'max-age': ['maxAge', 'int'],
  'respect-robots': ['respectRobots', 'bool'],
  provenance: ['provenance', 'bool'],
};

class UsageError extends Error {}

function parse(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      endpoint: { type: 'string' },
      json: { type: 'boolean' },
      ndjson: { type: 'boolean' },
      markdown: { type: 'string' },
      'fail-on': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(Object.keys(OPTIONS).map((flag) => [flag, { type: 'string' }])),
    },
  });
  if (values.help) return { help: true };
  if (positionals.length !== 1) throw new UsageError('give one file of URLs, or - for stdin');
  const request = {};
  for (const [flag, [name, kind]] of Object.entries(OPTIONS)) {
    const raw = values[flag];
    if (raw === undefined) continue;
    if (kind === 'int') {
      if (!/^\d+$/.test(raw)) throw new UsageError(`--${flag} takes a whole number, got ${JSON.stringify(raw)}`);
      request[name] = Number(raw);
    } else if (kind === 'bool') {
      if (raw !== 'true' && raw !== 'false') throw new UsageError(`--${flag} takes true or false, got ${JSON.stringify(raw)}`);
      request[name] = raw === 'true';
    } else if (kind === 'list') request[name] = raw.split(',').map((s) => s.trim()).filter(Boolean);
    else request[name] = raw;
  }
  const outputs = ['json', 'ndjson', 'markdown'].filter((o) => values[o] !== undefined);
  if (outputs.length > 1) throw new UsageError(`choose one of --json, --ndjson, --markdown (got ${outputs.map((o) => `--${o}`).join(', ')})`);
  if (values.markdown !== undefined) request.formats = [...new Set([...(request.formats ?? []), 'markdown'])];
  const failOn = values['fail-on'] ?? 'any';
  return {
    file: positionals[0],
    endpoint: (values.endpoint ?? process.env.FANOUT_URL ?? 'http://127.0.0.1:8787').replace(/\/+$/, ''),
    token: process.env.FANOUT_TOKEN || null,
    output: outputs[0] ?? 'table',
    markdownDir: values.markdown,
    failOn: failOn === 'any' || failOn === 'none' ? failOn : new Set(failOn.split(',').map((s) => s.trim())),
    request,
  };
}

async function readUrls(file) {
  const text = file === '-' ? await new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => (data += chunk));
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  }) : await readFile(file, 'utf8');
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

/** A progress bar on stderr, only when stderr is a terminal. */
function progress(total) {
  const tty = process.stderr.isTTY;
  let done = 0;
  const draw = () => {
    if (!tty) return;
    const width = 30;
    const filled = Math.round((done / Math.max(total, 1)) * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
  };
  return {
    set(n) {
      done = n;
      draw();
    },
    end() {
      if (tty) process.stderr.write('\n');
    },
  };
}

class ServiceError extends Error {}

async function call(opts, pathname, init = {}) {
  const headers = { ...(init.headers ?? {}), ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };
  let res;
  try {
    res = await fetch(`${opts.endpoint}${pathname}`, { ...init, headers });
  } catch (error) {
    throw new ServiceError(`cannot reach fanout at ${opts.endpoint}: ${error.cause?.message ?? error.message}`);
  }
  return res;
}

async function problem(res) {
  const text = await res.text();
  try {
    const body = JSON.parse(text);
    return `${res.status} ${body.title ?? ''}: ${body.detail ?? text}`;
  } catch {
    return `${res.status}: ${text.slice(0, 300)}`;
  }
}

/** Results as they finish (NDJSON from /v1/fetch), or null when the list is over the service's MAX_URLS. */
async function* batch(opts, urls) {
  const res = await call(opts, '/v1/fetch', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
    body: JSON.stringify({ urls, ...opts.request }),
  });
  if (res.status === 413) {
    const body = await res.json().catch(() => ({}));
    if (body.type === 'urn:fanout:problem:too-many-urls') return yield* job(opts, urls);
    throw new ServiceError(`${res.status}: ${body.detail ?? 'request too large'}`);
  }
  if (!res.ok) throw new ServiceError(await problem(res));
  for await (const line of ndjson(res.body)) if (line.index !== undefined) yield line;
}

/** A list over MAX_URLS: POST /v1/jobs, then read its results as they are recorded. */
async function* job(opts, urls) {
  const res = await call(opts, '/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls, ...opts.request }) });
  if (res.status !== 202 && res.status !== 200) throw new ServiceError(await problem(res));
  const { id } = await res.json();
  let cursor = 0;
  for (;;) {
    const page = await call(opts, `/v1/jobs/${id}/results?cursor=${cursor}&limit=1000`);
    if (!page.ok) throw new ServiceError(await problem(page));
    const body = await page.json();
    for (const result of body.results) yield result;
    if (body.nextCursor === null) return;
    if (body.nextCursor === cursor) await new Promise((resolve) => setTimeout(resolve, 500));
    cursor = body.nextCursor;
  }
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

function table(results) {
  const rows = results.map((r) => [
    String(r.index),
    r.status === null ? '-' : String(r.status),
    r.ok ? 'ok' : (r.error?.code ?? 'failed'),
    `${r.durationMs ?? '-'} ms`,
    clip(r.title ?? '', 40),
    clip(r.url, 60),
  ]);
  const head = ['#', 'status', 'result', 'time', 'title', 'url'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

function slug(result) {
  const base = (result.title || new URL(result.finalUrl ?? result.url).hostname).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  return `${String(result.index).padStart(4, '0')}-${base || 'page'}.md`;
}

async function main(argv) {
  let opts;
  try {
    opts = parse(argv);
  } catch (error) {
    process.stderr.write(`fanout: ${error.message}\n\n${HELP}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const urls = await readUrls(opts.file);
  if (urls.length === 0) {
    process.stderr.write('fanout: no URLs in the input\n');
    return 2;
  }
  const bar = progress(urls.length);
  const results = new Array(urls.length);
  let count = 0;
  try {
    for await (const result of batch(opts, urls)) {
      results[result.index] = result;
      count++;
      bar.set(count);
      if (opts.output === 'ndjson') process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  } catch (error) {
    bar.end();
    if (!(error instanceof ServiceError)) throw error;
    process.stderr.write(`fanout: ${error.message}\n`);
    return 2;
  }
  bar.end();
  const all = results.filter(Boolean);
  if (opts.output === 'json') {
    const ok = all.filter((r) => r.ok).length;
    process.stdout.write(`${JSON.stringify({ results: all.map(({ index: _index, ...r }) => r), stats: { total: all.length, ok, failed: all.length - ok } }, null, 2)}\n`);
  } else if (opts.output === 'table') {
    process.stdout.write(`${table(all)}\n`);
  } else if (opts.output === 'markdown') {
    await mkdir(opts.markdownDir, { recursive: true });
    for (const r of all) {
      if (!r.ok || r.markdown === null || r.markdown === undefined) continue;
      await writeFile(path.join(opts.markdownDir, slug(r)), `<!-- ${r.finalUrl ?? r.url} -->\n\n${r.markdown}\n`);
    }
    process.stderr.write(`fanout: wrote ${all.filter((r) => r.ok && typeof r.markdown === 'string').length} Markdown file(s) to ${opts.markdownDir}\n`);
  }
  const failed = all.filter((r) => !r.ok && (opts.failOn === 'any' || (opts.failOn instanceof Set && opts.failOn.has(r.error?.code))));
  return opts.failOn !== 'none' && failed.length > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
