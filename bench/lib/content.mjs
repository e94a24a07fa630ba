/**
 * The pages of the `content` scenario and of bench/content-quality.mjs: real article
 * pages with their hand-labelled article text, from two sets read at run time (nothing
 * here is committed):
 *   fixtures: test/fixtures/content-*.html, truth in test/fixtures/content-truth/<name>.txt
 *             (BENCH_CONTENT_FIXTURES names another fixtures directory)
 *   corpus:   a copy of scrapinghub/article-extraction-benchmark in BENCH_CONTENT_CORPUS:
 *             html/<id>.html.gz and ground-truth.json ({ "<id>": { articleBody, url } })
 * The origin (bench/origin.mjs) serves their bytes as they are, at /b/<scenario>/<id>?t=content.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The byte cap of the content job, for fanout (sent as `maxBytes`) and the peer alike:
 * whole pages. At the bench's usual 256 KiB, 9 of the corpus's 181 pages lose their whole
 * article to the scripts and styles before it (the largest page is 1.49 MB), for every
 * contender, and the scores would measure the cap rather than the extraction.
 */
export const CONTENT_MAX_BYTES = 2 * 1024 * 1024;

export const CORPUS_HINT = 'set BENCH_CONTENT_CORPUS to a copy of scrapinghub/article-extraction-benchmark';

function fixturesDir() {
  return path.resolve(process.env.BENCH_CONTENT_FIXTURES ?? path.join(ROOT, 'test', 'fixtures'));
}

/**
 * Every content page: `{ id, set, truth, source, load() }`, fixtures first, then the corpus,
 * each sorted by name so every run fetches the same list; `truth` is null for a fixture
 * without its truth file (it is fetched and timed, not scored). `notes` says what was skipped.
 */
export function contentPages() {
  const pages = [];
  const notes = [];
  const fx = fixturesDir();
  const names = existsSync(fx) ? readdirSync(fx).filter((n) => /^content-.*\.html$/.test(n)).sort() : [];
  for (const name of names) {
    const base = name.slice(0, -'.html'.length);
    const truthFile = path.join(fx, 'content-truth', `${base}.txt`);
    pages.push({
      id: `fx-${base.slice('content-'.length)}`,
      set: 'fixtures',
      source: path.relative(process.cwd(), path.join(fx, name)),
      truth: existsSync(truthFile) ? readFileSync(truthFile, 'utf8') : null,
      load: () => readFileSync(path.join(fx, name)),
    });
  }
  if (names.length === 0) notes.push(`content fixtures skipped: none at ${path.relative(process.cwd(), fx) || '.'}/content-*.html`);
  const untrue = pages.filter((p) => p.truth === null).map((p) => p.source);
  if (untrue.length) notes.push(`content fixtures without truth (timed, not scored): ${untrue.join(', ')}`);

  const dir = process.env.BENCH_CONTENT_CORPUS;
  const truthFile = dir && path.join(dir, 'ground-truth.json');
  if (!dir || !existsSync(truthFile)) {
    notes.push(`content corpus skipped: ${CORPUS_HINT}${dir ? ` (no ${truthFile})` : ''}`);
  } else {
    const truth = JSON.parse(readFileSync(truthFile, 'utf8'));
    for (const id of Object.keys(truth).sort()) {
      const file = path.join(dir, 'html', `${id}.html.gz`);
      if (!existsSync(file)) continue;
      pages.push({ id: `aeb-${id}`, set: 'corpus', source: truth[id].url ?? id, truth: truth[id].articleBody ?? '', load: () => gunzipSync(readFileSync(file)) });
    }
    if (!pages.some((p) => p.set === 'corpus')) notes.push(`content corpus skipped: no html/<id>.html.gz in ${dir}`);
  }
  return { pages, notes };
}

/** The charset a page's own bytes declare: a BOM, else a meta charset in the first 1024 bytes (HTML's prescan, simplified). */
export function declaredCharset(bytes) {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  const head = bytes.subarray(0, 1024).toString('latin1');
  const meta = /<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(head);
  return meta ? meta[1].toLowerCase() : null;
}

function isUtf8(bytes) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Content-Type the origin sends for a page: the charset its bytes declare, else
 * utf-8 when they are valid UTF-8 (every corpus page is), else none, and each client
 * sniffs as it would on the web.
 */
export function contentTypeOf(bytes) {
  const charset = declaredCharset(bytes) ?? (isUtf8(bytes) ? 'utf-8' : null);
  return charset ? `text/html; charset=${charset}` : 'text/html';
}

/** Per page id: the bytes and the Content-Type the origin serves (gunzipped once, here). */
export function contentBodies() {
  const bodies = new Map();
  for (const page of contentPages().pages) {
    const body = page.load();
    bodies.set(page.id, { body, type: contentTypeOf(body) });
  }
  return bodies;
}
