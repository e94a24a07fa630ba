/**
 * Metadata accuracy of fanout against mozilla/readability's test pages: title, author,
 * description, siteName, lang and published of each page, compared with Readability's
 * expected metadata (expected-metadata.json). Serves each page's source.html from a local
 * origin on 127.0.0.1, runs fanout-bare (this checkout's src/, bundled and run in bare workerd
 * as by `npm run bench`), and POSTs the pages in batches of 20 to /v1/fetch with
 * `{ urls, maxBytes: 2097152, provenance: true }`.
 *
 *   BENCH_METADATA_CORPUS=/path/to/readability/test/test-pages npm run bench:metadata -- [--out FILE]
 *
 *   --out FILE         also write the whole report (per page, per field, with candidates) as JSON
 *   BENCH_FANOUT_ROOT  run the Worker of another checkout
 *
 * Corpus layout: <dir>/<page>/source.html and <dir>/<page>/expected-metadata.json (keys title,
 * byline, lang, excerpt, siteName, publishedTime). Unset or missing: one line, exit 0.
 *
 * ── The matching rules (they are the definition of "correct") ────────────────────────────
 *
 * Pairs: title↔title, author↔byline, description↔excerpt, siteName↔siteName, lang↔lang,
 * published↔publishedTime. Only fields whose expected value is non-null (and not blank) count.
 * fanout giving null for a counted field is a mismatch.
 *
 * normalise(s): NFKC; lower case; whitespace runs collapsed to one space; punctuation and
 *   symbols (\p{P}, \p{S}) stripped at both ends; a leading "by " stripped (then the ends again).
 *
 * title:       equal, or one contains the other and the shorter is at least 60% of the
 *              longer's length (a site-name suffix kept by one side and not the other).
 * author:      name tokens (runs of letters, digits and marks of the normalised value, minus
 *              "by" and "and"): every token of the expected is among ours, or every token of
 *              ours is among the expected (order-free; one side may name fewer people).
 * description: equal, or one is a prefix of the other and the shorter has at least 60
 *              characters (Readability falls back to the first paragraph whole; fanout cuts
 *              its paragraph fallback at 300).
 * siteName:    equal, or one contains the other.
 * lang:        the primary subtags are equal (`en-US` matches `en`).
 * published:   both parse with Date and fall on the same UTC calendar date.
 *
 * Beside the score, `exact` counts the correct fields that are also equal after normalisation
 * (published: the same instant), so the looser rules' share shows (e.g. titles that still
 * carry a site suffix).
 *
 * Charset mismatch in the corpus: a page whose bytes are valid UTF-8 while its first
 * <meta charset> / <meta http-equiv=Content-Type> names another encoding. A browser (and
 * fanout, which decides the charset as a browser does; pages are served as `text/html` with
 * no charset parameter) decodes it with the declared legacy encoding; Readability's test reads
 * the file as UTF-8. Such pages are left out of the accuracy figures and counted on their own.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_VARS } from './lib/contenders.mjs';
import { startBareWorkerd } from './lib/workerd.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const fanoutRoot = path.resolve(process.env.BENCH_FANOUT_ROOT ?? path.join(HERE, '..'));
const BATCH = 20;
const MAX_BYTES = 2_097_152;

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const outFile = option('--out');
const log = (line = '') => process.stdout.write(`${line}\n`);

const corpus = process.env.BENCH_METADATA_CORPUS;
if (!corpus || !existsSync(corpus) || !statSync(corpus).isDirectory()) {
  log("metadata corpus skipped: set BENCH_METADATA_CORPUS to mozilla/readability's test/test-pages");
  process.exit(0);
}

// ── Matching ─────────────────────────────────────────────────────────────────────────────

const stripEnds = (s) => s.replace(/^[\p{P}\p{S}\s]+|[\p{P}\p{S}\s]+$/gu, '');
function normalise(value) {
  let s = stripEnds(String(value).normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim());
  if (/^by /.test(s)) s = stripEnds(s.slice(3));
  return s;
}
const STOP = new Set(['by', 'and']);
const tokens = (s) => normalise(s).split(/[^\p{L}\p{N}\p{M}]+/u).filter((t) => t && !STOP.has(t));
const within = (a, b) => a.length > 0 && a.every((t) => b.includes(t));
const day = (s) => {
  const t = new Date(s).getTime();
  return Number.isNaN(t) ? null : new Date(t).toISOString().slice(0, 10);
};

/** Does fanout's `got` match Readability's `expected`, field by field (the rules above). */
const MATCH = {
  title(expected, got) {
    const [a, b] = [normalise(expected), normalise(got)];
    if (a === b) return true;
    const [short, long] = a.length <= b.length ? [a, b] : [b, a];
    return short.length > 0 && long.includes(short) && short.length >= 0.6 * long.length;
  },
  author(expected, got) {
    const [a, b] = [tokens(expected), tokens(got)];
    return within(a, b) || within(b, a);
  },
  description(expected, got) {
    const [a, b] = [normalise(expected), normalise(got)];
    if (a === b) return true;
    const [short, long] = a.length <= b.length ? [a, b] : [b, a];
    return short.length >= 60 && long.startsWith(short);
  },
  siteName(expected, got) {
    const [a, b] = [normalise(expected), normalise(got)];
    return a === b || (a.length > 0 && b.length > 0 && (a.includes(b) || b.includes(a)));
  },
  lang(expected, got) {
    const primary = (s) => normalise(s).split(/[-_]/)[0];
    return primary(expected) !== '' && primary(expected) === primary(got);
  },
  published(expected, got) {
    const [a, b] = [day(expected), day(got)];
    return a !== null && a === b;
  },
};
/** Reported beside the score, not part of it: equal after normalisation (published: the same instant). */
const EXACT = (field, expected, got) =>
  field === 'published' ? new Date(expected).getTime() === new Date(got).getTime() : normalise(expected) === normalise(got);
/** fanout's field → the key of expected-metadata.json. */
const FIELDS = { title: 'title', author: 'byline', description: 'excerpt', siteName: 'siteName', lang: 'lang', published: 'publishedTime' };

// ── Corpus ───────────────────────────────────────────────────────────────────────────────

/** The encoding the page's first meta declaration names (the whole file is searched), or null. */
function metaCharset(bytes) {
  const text = bytes.toString('latin1').replace(/<!--[\s\S]*?-->/g, '');
  for (const m of text.matchAll(/<meta\b[^>]*>/gi)) {
    const tag = m[0];
    const direct = /\bcharset\s*=\s*["']?\s*([^\s"'/>;]+)/i.exec(tag);
    if (direct && (/^<meta\b[^>]*\scharset\s*=/i.test(tag) || /http-equiv\s*=\s*["']?content-type/i.test(tag))) return direct[1].toLowerCase();
  }
  return null;
}
const validUtf8 = (bytes) => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
};

const pages = readdirSync(corpus)
  .filter((name) => existsSync(path.join(corpus, name, 'source.html')) && existsSync(path.join(corpus, name, 'expected-metadata.json')))
  .sort()
  .map((name) => {
    const bytes = readFileSync(path.join(corpus, name, 'source.html'));
    const expected = JSON.parse(readFileSync(path.join(corpus, name, 'expected-metadata.json'), 'utf8'));
    const declared = metaCharset(bytes);
    const charsetMismatch = declared !== null && !/^utf-?8$/.test(declared) && validUtf8(bytes);
    return { name, bytes, expected, declared, charsetMismatch };
  });
if (pages.length === 0) {
  log(`metadata corpus skipped: no <page>/source.html with expected-metadata.json in ${corpus}`);
  process.exit(0);
}

// ── Run ──────────────────────────────────────────────────────────────────────────────────

const started = performance.now();
const byName = new Map(pages.map((p) => [p.name, p]));
const server = createServer((req, res) => {
  const name = decodeURIComponent(new URL(req.url, 'http://x').pathname.split('/')[2] ?? '');
  const page = byName.get(name);
  if (!page) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  // No charset parameter: fanout decides the encoding from the bytes, as a browser would.
  res.writeHead(200, { 'content-type': 'text/html', 'content-length': page.bytes.length }).end(page.bytes);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const urlOf = (page) => `${origin}/p/${encodeURIComponent(page.name)}/`;

let bare;
try {
  log(`${pages.length} pages from ${corpus}`);
  log(`starting bare workerd with ${path.relative(process.cwd(), fanoutRoot) || '.'}/src, bundled by \`wrangler deploy --dry-run\``);
  bare = await startBareWorkerd({ root: fanoutRoot, vars: DEV_VARS });

  const results = [];
  for (let at = 0; at < pages.length; at += BATCH) {
    const urls = pages.slice(at, at + BATCH).map(urlOf);
    const res = await fetch(`${bare.base}/v1/fetch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ urls, maxBytes: MAX_BYTES, provenance: true }),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`fanout answered ${res.status}: ${text.slice(0, 500)}`);
    results.push(...JSON.parse(text).results);
  }

  // Score.
  const perField = Object.fromEntries(Object.keys(FIELDS).map((f) => [f, { n: 0, correct: 0, exact: 0 }]));
  const mismatches = [];
  const perPage = [];
  const charsetPages = [];
  pages.forEach((page, i) => {
    const r = results[i];
    const fields = {};
    for (const [field, key] of Object.entries(FIELDS)) {
      const expected = page.expected[key];
      if (expected === null || expected === undefined || String(expected).trim() === '') continue;
      const got = r?.ok ? (r[field] ?? null) : null;
      const ok = got !== null && MATCH[field](String(expected), String(got));
      const source = r?.sources?.[field]?.from ?? null;
      fields[field] = { expected, got, ok, source, candidates: r?.sources?.[field]?.candidates ?? [] };
      if (page.charsetMismatch) continue;
      perField[field].n++;
      if (ok && EXACT(field, String(expected), String(got))) perField[field].exact++;
      if (ok) perField[field].correct++;
      else mismatches.push({ page: page.name, field, expected, got, source });
    }
    const entry = { page: page.name, ok: r?.ok ?? false, status: r?.status ?? null, error: r?.error ?? null, charset: r?.charset ?? null, bytes: r?.bytes ?? null, size: page.bytes.length, truncated: r?.truncated ?? null, fields };
    if (page.charsetMismatch) charsetPages.push({ ...entry, declared: page.declared });
    perPage.push(entry);
  });

  const pct = (c, n) => (n === 0 ? '   -  ' : `${((100 * c) / n).toFixed(1).padStart(5)}%`);
  const n = Object.values(perField).reduce((s, f) => s + f.n, 0);
  const correct = Object.values(perField).reduce((s, f) => s + f.correct, 0);
  log('');
  log(`fanout-bare: ${pages.length} pages in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const exact = Object.values(perField).reduce((s, f) => s + f.exact, 0);
  log(`${'field'.padEnd(12)} ${'n'.padStart(4)} ${'correct'.padStart(8)} ${'accuracy'.padStart(9)} ${'exact'.padStart(6)}`);
  for (const [field, f] of Object.entries(perField)) log(`${field.padEnd(12)} ${String(f.n).padStart(4)} ${String(f.correct).padStart(8)} ${pct(f.correct, f.n).padStart(9)} ${String(f.exact).padStart(6)}`);
  log(`${'overall'.padEnd(12)} ${String(n).padStart(4)} ${String(correct).padStart(8)} ${pct(correct, n).padStart(9)} ${String(exact).padStart(6)}`);
  log('(exact: correct and equal after normalisation, published: the same instant; the rest matched by the looser rule of their field)');

  const failed = perPage.filter((p) => !p.ok);
  if (failed.length) log(`not ok: ${failed.length} (${failed.map((p) => `${p.page} ${p.status ?? ''} ${p.error?.code ?? ''}`.trim()).join(', ')})`);
  if (charsetPages.length) {
    const fields = charsetPages.flatMap((p) => Object.values(p.fields));
    log(
      `charset mismatch in corpus: ${charsetPages.length} page(s), not scored (${charsetPages.map((p) => `${p.page}: meta ${p.declared}, UTF-8 bytes, fanout decoded ${p.charset}`).join('; ')}); their ${fields.length} fields: ${fields.filter((f) => f.ok).length} match`,
    );
  }

  log('');
  log(`${mismatches.length} mismatches (page field: expected | got | (source)):`);
  const show = (v) => (v === null ? '—' : JSON.stringify(v));
  for (const m of mismatches) log(`${m.page} ${m.field}: ${show(m.expected)} | ${show(m.got)} | (${m.source ?? 'none'})`);

  if (outFile) {
    const report = {
      corpus,
      pages: pages.length,
      rules: 'see the header of bench/metadata-quality.mjs',
      fields: Object.fromEntries(Object.entries(perField).map(([k, f]) => [k, { ...f, accuracy: f.n ? f.correct / f.n : null }])),
      overall: { n, correct, exact, accuracy: n ? correct / n : null },
      charsetMismatch: charsetPages.map((p) => ({ page: p.page, declared: p.declared, decodedAs: p.charset, fields: p.fields })),
      mismatches,
      perPage,
    };
    writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
    log('');
    log(`wrote ${outFile}`);
  }
} catch (error) {
  console.error(String(error?.message ?? error));
  process.exitCode = 1;
} finally {
  server.close();
  server.closeAllConnections?.();
  await bare?.stop();
}
