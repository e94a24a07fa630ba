/**
 * Main-content quality of fanout, alone: the `content` scenario's quality pass without the
 * timed rounds. Starts the bench origin with the content pages (test/fixtures/content-*.html
 * and, with BENCH_CONTENT_CORPUS, the article-extraction benchmark) and fanout-bare (this
 * checkout's src/, bundled and run in bare workerd as by `npm run bench`), asks for every
 * page's main content as text (`formats: ["text"]`), and scores it against the article text
 * with shingle F1 (bench/lib/f1.mjs).
 *
 *   npm run bench:content -- [--out DIR] [--markdown] [--worst N] [--max-bytes N] [--contender NAME]
 *
 *   --out DIR         write each page's prediction (<id>.txt), its truth (<id>.truth.txt),
 *                     with --markdown its Markdown (<id>.md), and scores.tsv to DIR
 *   --markdown        also ask for `formats: ["markdown"]` (a second batch) and write it
 *   --worst N         how many of the lowest-F1 pages to list (default 15)
 *   --max-bytes N     the byte cap (default: the content scenario's, whole pages)
 *   --contender NAME  fanout-bare (default) or node-content (the Readability peer, for comparison)
 *   BENCH_FANOUT_ROOT run the Worker of another checkout
 *
 * Exits non-zero when fanout does not answer 200 (before it supports the formats: 400).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_VARS, fanoutContender, nodeContentPeer } from './lib/contenders.mjs';
import { corpusF1 } from './lib/f1.mjs';
import { startOriginProcess, urlsOf } from './lib/origin-process.mjs';
import { contentScenario } from './lib/scenarios.mjs';
import { startBareWorkerd } from './lib/workerd.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const fanoutRoot = path.resolve(process.env.BENCH_FANOUT_ROOT ?? path.join(HERE, '..'));

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const outDir = option('--out');
const worst = Number(option('--worst') ?? 15);
const who = option('--contender') ?? 'fanout-bare';
const withMarkdown = args.includes('--markdown');
if (!['fanout-bare', 'node-content'].includes(who)) throw new Error(`--contender: fanout-bare or node-content, got ${who}`);

const log = (line) => process.stdout.write(`${line}\n`);
const fig = (q) => `F1 ${q.f1.toFixed(3)}  precision ${q.precision.toFixed(3)}  recall ${q.recall.toFixed(3)}  (${q.pages} pages)`;

const started = performance.now();
const scenario = contentScenario();
if (option('--max-bytes')) {
  scenario.maxBytes = Number(option('--max-bytes'));
  scenario.request = { ...scenario.request, maxBytes: scenario.maxBytes };
}
for (const note of scenario.notes) log(note);
if (scenario.urls.length === 0) {
  log('no content pages: nothing to score');
  process.exit(1);
}

const origin = await startOriginProcess({ content: true });
let bare;
try {
  let contender;
  if (who === 'fanout-bare') {
    log(`starting bare workerd with ${path.relative(process.cwd(), fanoutRoot) || '.'}/src, bundled by \`wrangler deploy --dry-run\``);
    bare = await startBareWorkerd({ root: fanoutRoot, vars: DEV_VARS });
    contender = fanoutContender(bare, 'fanout-bare');
  } else {
    contender = nodeContentPeer();
  }
  const urls = urlsOf(origin, scenario);
  const t0 = performance.now();
  const texts = await contender.quality(scenario, urls);
  const passMs = performance.now() - t0;
  const markdown = withMarkdown ? (await contender.run(scenario, urls, [])).results : null;

  const rows = scenario.urls.map((u, i) => {
    const pred = texts[i]?.text ?? '';
    const q = u.truth === null ? null : corpusF1([{ truth: u.truth, pred }]);
    return { ...u, pred, ok: texts[i]?.ok, status: texts[i]?.status, q };
  });
  const scored = rows.filter((r) => r.q);
  log('');
  log(`${who}: ${urls.length} pages as text in ${(passMs / 1000).toFixed(1)} s (c=${scenario.concurrency}, maxBytes ${scenario.maxBytes})`);
  for (const set of ['fixtures', 'corpus']) {
    const list = scored.filter((r) => r.set === set);
    if (list.length) log(`${set.padEnd(8)}  ${fig(corpusF1(list.map((r) => ({ truth: r.truth, pred: r.pred }))))}`);
  }
  log(`${'all'.padEnd(8)}  ${fig(corpusF1(scored.map((r) => ({ truth: r.truth, pred: r.pred }))))}`);
  const failed = rows.filter((r) => !r.ok);
  const empty = rows.filter((r) => r.ok && !r.pred.trim());
  if (failed.length) log(`not ok: ${failed.length} (${failed.slice(0, 5).map((r) => `${r.id} ${r.status}`).join(', ')})`);
  if (empty.length) log(`ok but no text: ${empty.length}`);

  log('');
  log(`${Math.min(worst, scored.length)} worst pages by F1:`);
  log(`${'F1'.padStart(6)} ${'P'.padStart(6)} ${'R'.padStart(6)} ${'chars'.padStart(7)} ${'truth'.padStart(7)}  id  source`);
  for (const r of [...scored].sort((a, b) => a.q.f1 - b.q.f1).slice(0, worst)) {
    log(
      `${r.q.f1.toFixed(3).padStart(6)} ${r.q.precision.toFixed(3).padStart(6)} ${r.q.recall.toFixed(3).padStart(6)} ${String(r.pred.length).padStart(7)} ${String(r.truth.length).padStart(7)}  ${r.id}  ${r.source}`,
    );
  }

  if (outDir) {
    mkdirSync(outDir, { recursive: true });
    const tsv = ['id\tset\tf1\tprecision\trecall\tchars\ttruthChars\tok\tstatus\tsource'];
    rows.forEach((r, i) => {
      writeFileSync(path.join(outDir, `${r.id}.txt`), r.pred);
      if (r.truth !== null) writeFileSync(path.join(outDir, `${r.id}.truth.txt`), r.truth);
      if (markdown) writeFileSync(path.join(outDir, `${r.id}.md`), markdown[i]?.markdown ?? '');
      const f = (x) => (x === undefined ? '' : x.toFixed(4));
      tsv.push([r.id, r.set, f(r.q?.f1), f(r.q?.precision), f(r.q?.recall), r.pred.length, r.truth?.length ?? '', r.ok, r.status, r.source].join('\t'));
    });
    writeFileSync(path.join(outDir, 'scores.tsv'), `${tsv.join('\n')}\n`);
    log('');
    log(`wrote ${rows.length} predictions${markdown ? ' (text and Markdown)' : ''} and scores.tsv to ${outDir}`);
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(String(error?.message ?? error));
  process.exitCode = 1;
} finally {
  origin.stop();
  await bare?.stop();
}
