/**
 * fanout's benchmark: `npm run bench` (full) and `npm run bench:smoke` (tiny, for CI).
 *
 * Starts the bench origin (bench/origin.mjs) and fanout under `wrangler dev` once, then
 * for every scenario runs the contenders in turn, A B C A B C ..., BENCH_ROUNDS times, and
 * reports medians: a table on stdout, bench/results/latest.json and latest.svg (full run only).
 *
 * Environment knobs:
 *   BENCH_ROUNDS=3            rounds per scenario (smoke: 1)
 *   BENCH_SCENARIOS=a,b       only these scenarios (names in bench/lib/scenarios.mjs)
 *   BENCH_CONTENDERS=fanout,node,aiohttp   only these contenders
 *   BENCH_CONTENT_CORPUS=dir  a copy of scrapinghub/article-extraction-benchmark for the `content`
 *                             scenario (html/<id>.html.gz, ground-truth.json); without it the
 *                             scenario runs on test/fixtures/content-*.html alone
 *   BENCH_FANOUT_ROOT=dir     run the Worker from another checkout (to measure a change to src/ first)
 *   BENCH_BASELINE_ROOT=dir   also run that checkout's Worker, bare, as `fanout-baseline` in the same
 *                             rounds: an A/B of two commits in one run (e.g. a `git worktree` of the
 *                             commit before a change, with node_modules linked)
 *   BENCH_OUT=dir             where latest.json/latest.svg go (default bench/results)
 *
 * Exit status: non-zero if fanout returned a wrong result (not ok, wrong title, no snippet;
 * in `content`: not ok or no Markdown) for any URL, in either mode, or failed a content run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { aiohttpPeer, DEV_VARS, fanoutContender, MAX_BYTES, maxBytesOf, nodeContentPeer, nodePeer, SNIPPET_LENGTH } from './lib/contenders.mjs';
import { corpusF1 } from './lib/f1.mjs';
import { addRatios, contentTable, judge, summarize, svg, table } from './lib/report.mjs';
import { fullScenarios, smokeScenarios } from './lib/scenarios.mjs';
import { startOriginProcess, urlsOf } from './lib/origin-process.mjs';
import { startBareWorkerd } from './lib/workerd.mjs';
import { startWranglerDev } from './lib/wrangler.mjs';
import { runJobScenario } from './jobs.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const smoke = process.argv.includes('--smoke');
const rounds = Number(process.env.BENCH_ROUNDS ?? (smoke ? 1 : 3));
const only = process.env.BENCH_SCENARIOS?.split(',').filter(Boolean);
const wanted =
  process.env.BENCH_CONTENDERS?.split(',').filter(Boolean) ?? (smoke ? ['fanout', 'node'] : ['fanout', 'fanout-bare', 'fanout-single', 'floor', 'node', 'aiohttp', 'node-content']);
const outDir = process.env.BENCH_OUT ?? path.join(HERE, 'results');
const fanoutRoot = path.resolve(process.env.BENCH_FANOUT_ROOT ?? ROOT);
const baselineRoot = process.env.BENCH_BASELINE_ROOT ? path.resolve(process.env.BENCH_BASELINE_ROOT) : null;
/** Content pages used to warm a contender up for the content scenario (off the clock). */
const CONTENT_WARMUP = 12;

const log = (line) => process.stdout.write(`${line}\n`);

/**
 * Counts results that are ok, carry the expected title and a snippet (in `content`: a
 * non-empty Markdown), within the byte cap; lists the first few wrong ones.
 */
function check(scenario, results, snippet = true) {
  let correct = 0;
  const wrong = [];
  const content = scenario.kind === 'content';
  scenario.urls.forEach((u, i) => {
    const r = results[i];
    // The byte cap holds too: a result never reports more body read than maxBytes.
    const good = content ? typeof r?.markdown === 'string' && r.markdown.trim() !== '' : r?.title === u.title && (r.snippet || !snippet);
    if (r && r.ok && good && !(r.bytes > maxBytesOf(scenario))) correct++;
    else if (wrong.length < 3) {
      const got = r ? { ...r, snippet: r.snippet?.slice(0, 40), markdown: r.markdown?.slice(0, 40) } : null;
      wrong.push(content ? { index: i, page: u.source, got } : { index: i, expected: u.title, got });
    }
  });
  return { correct, wrong };
}

/** Shingle F1, precision and recall of each page set (and all pages with a truth), from a quality pass's texts. */
function score(scenario, texts) {
  const pairs = { fixtures: [], corpus: [] };
  scenario.urls.forEach((u, i) => {
    if (u.truth !== null && u.truth !== undefined) pairs[u.set].push({ truth: u.truth, pred: texts[i]?.text ?? '' });
  });
  const out = {};
  for (const [set, list] of Object.entries(pairs)) if (list.length) out[set] = corpusF1(list);
  out.all = corpusF1([...pairs.fixtures, ...pairs.corpus]);
  // Pages with no text at all (not ok, or nothing found), scored as empty.
  out.empty = texts.filter((t, i) => scenario.urls[i].truth != null && !t?.text?.trim()).length;
  return out;
}

function readOr(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const git = (...args) => {
    try {
      return execFileSync('git', args, { cwd: fanoutRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return null;
    }
  };
  // Loopback TCP buffers (min, default, max bytes): what an origin can push before a cancel lands.
  const sysctl = (name) => readOr(`/proc/sys/net/ipv4/${name}`)?.trim().split(/\s+/).map(Number) ?? null;
  return {
    tcpRmem: sysctl('tcp_rmem'),
    tcpWmem: sysctl('tcp_wmem'),
    nproc: os.availableParallelism(),
    cpu: model,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    wrangler: pkg('wrangler'),
    workerd: pkg('workerd'),
    commit: git('rev-parse', '--short', 'HEAD'),
    dirty: git('status', '--porcelain', '--', 'src', 'wrangler.toml') ? true : false,
  };
}

async function main() {
  const started = Date.now();
  const scenarios = (smoke ? smokeScenarios() : fullScenarios()).filter((s) => !only || only.includes(s.name));
  for (const s of scenarios) for (const note of s.notes ?? []) log(note);
  const empty = scenarios.filter((s) => s.urls.length === 0);
  for (const s of empty) log(`${s.name} skipped: no pages`);
  scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => s.urls.length > 0));
  const origin = await startOriginProcess({ content: scenarios.some((s) => s.kind === 'content') });
  let dev;
  let bare;
  let single;
  let floor;
  let baseline;
  const cleanup = async () => {
    origin.stop();
    await dev?.stop();
    await bare?.stop();
    await single?.stop();
    await floor?.stop();
    await baseline?.stop();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    const contenders = [];
    /** Wanted, and running in at least one selected scenario (`only`: the scenarios it is limited to). */
    const runsIn = (name, only) => wanted.includes(name) && scenarios.some((s) => (!only || only.includes(s.name)) && (!s.contenders || s.contenders.includes(name)));
    if (runsIn('fanout') || (!smoke && wanted.includes('fanout') && (!only || only.includes('job')))) {
      log(`starting wrangler dev (a snapshot of ${path.relative(process.cwd(), fanoutRoot) || '.'}/src) with bench settings: ${Object.entries(DEV_VARS).map(([k, v]) => `--var ${k}:${v}`).join(' ')}`);
      dev = await startWranglerDev({ root: fanoutRoot, vars: DEV_VARS });
      contenders.push(fanoutContender(dev));
    }
    if (runsIn('fanout-bare')) {
      log('starting bare workerd with the same Worker, bundled by `wrangler deploy --dry-run` (no dev proxy, no inspector)');
      bare = await startBareWorkerd({ root: fanoutRoot, vars: DEV_VARS });
      contenders.push(fanoutContender(bare, 'fanout-bare'));
    }
    if (baselineRoot) {
      const commit = (() => {
        try {
          return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: baselineRoot, encoding: 'utf8' }).trim();
        } catch {
          return '?';
        }
      })();
      log(`starting bare workerd with the baseline Worker from ${baselineRoot} (${commit}), as fanout-baseline`);
      baseline = await startBareWorkerd({ root: baselineRoot, vars: DEV_VARS });
      contenders.push({ ...fanoutContender(baseline, 'fanout-baseline'), baselineCommit: commit });
    }
    if (runsIn('fanout-single', ['throughput'])) {
      log('starting bare workerd with the same bundle without the SHARDS binding (one invocation per batch; throughput only)');
      single = await startBareWorkerd({ root: fanoutRoot, vars: DEV_VARS, shards: false });
      contenders.push({ ...fanoutContender(single, 'fanout-single'), only: ['throughput'] });
    }
    if (runsIn('floor', ['lat200', 'throughput', 'budget50'])) {
      log('starting the floor Worker in bare workerd (fetch + <title> only, 16 KiB per URL; lat200 and the CPU scenarios)');
      floor = await startBareWorkerd({ root: fanoutRoot, vars: {}, script: path.join(HERE, 'floor', 'worker.js') });
      contenders.push({ ...fanoutContender(floor, 'floor'), only: ['lat200', 'throughput', 'budget50'], checksSnippet: false });
    }
    if (runsIn('node')) contenders.push(nodePeer());
    if (runsIn('node-content', ['content'])) contenders.push({ ...nodeContentPeer(), only: ['content'] });
    let python = null;
    if (runsIn('aiohttp')) {
      const peer = aiohttpPeer();
      if (peer) {
        python = peer.version;
        contenders.push(peer);
      } else {
        log('aiohttp peer skipped: install with `apt-get install -y python3-aiohttp`');
      }
    }
    const names = contenders.map((c) => c.name);

    // Warm-up, off the clock: fanout's workerd compiles the Worker on its first batch.
    // The peers warm up inside each run, before they say "ready" (same URLs: 0 ms, small pages).
    const warmup = Array.from({ length: 32 }, (_, i) => `${origin.base}/b/warmup/${i}?d=0&s=30000`);
    for (const runtime of [dev, bare, baseline, single, floor].filter(Boolean)) {
      for (let i = 0; i < 3; i++) {
        await (
          await fetch(`${runtime.base}/v1/fetch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls: warmup, concurrency: 32 }) })
        ).arrayBuffer();
      }
    }

    const runs = {};
    const qualities = {};
    const failures = [];
    for (const scenario of scenarios) {
      const urls = urlsOf(origin, scenario);
      const content = scenario.kind === 'content';
      let here = contenders.filter((c) => (!c.only || c.only.includes(scenario.name)) && (!scenario.contenders || scenario.contenders.includes(c.name)));
      // A content run that throws (fanout answering 400 to `formats`, say) fails the bench for
      // fanout and fanout-bare and drops that contender from the scenario, instead of ending the run.
      const contentFailed = (contender, what, error) => {
        log(`${scenario.name}: ${contender.name} failed ${what}: ${String(error?.message ?? error).slice(0, 300)}`);
        if (contender.name === 'fanout' || contender.name === 'fanout-bare') failures.push(`${scenario.name} ${contender.name} failed ${what}`);
        here = here.filter((c) => c !== contender);
      };
      // The content scenario's warm-up: a few of its own pages with its own options (workerd
      // compiles the Markdown path; the peer gets the same pages before it says "ready").
      // (Counted under another scenario name, so the origin's figures for the run leave them out.)
      const peerWarmup = content
        ? urls.slice(0, CONTENT_WARMUP).map((u) => u.replace(`/b/${scenario.name}/`, `/b/${scenario.name}-warmup/`))
        : warmup.slice(0, Math.max(scenario.concurrency, 6));
      if (content) {
        for (const contender of [...here]) {
          if (!contender.warm) continue;
          try {
            await contender.warm(scenario, peerWarmup);
          } catch (error) {
            contentFailed(contender, 'its warm-up', error);
          }
        }
      }
      runs[scenario.name] = Object.fromEntries(here.map((c) => [c.name, []]));
      for (let round = 1; round <= rounds; round++) {
        for (const contender of [...here]) {
          await origin.reset(scenario.name);
          let run;
          try {
            run = await contender.run(scenario, urls, peerWarmup);
          } catch (error) {
            if (!content) throw error;
            contentFailed(contender, `round ${round}`, error);
            delete runs[scenario.name][contender.name];
            continue;
          }
          run.origin = await origin.settled(scenario.name);
          const { correct, wrong } = check(scenario, run.results, contender.checksSnippet !== false);
          run.correct = correct;
          delete run.results;
          runs[scenario.name][contender.name].push(run);
          const first = run.firstResultMs === null || run.firstResultMs === undefined ? '' : ` first ${run.firstResultMs.toFixed(0)} ms`;
          log(
            `${scenario.name} round ${round} ${contender.name.padEnd(7)} ${run.makespanMs.toFixed(0).padStart(6)} ms${first}` +
              ` cpu ${run.cpuMs?.toFixed(0) ?? '?'} ms rss +${run.rss.peakGrowthMiB.toFixed(1)} MiB origin ${(run.origin.bytesSent / 1e6).toFixed(1)} MB` +
              ` maxInFlight ${run.origin.maxInFlight} ok ${correct}/${urls.length}`,
          );
          if (correct < urls.length) {
            log(`  wrong results from ${contender.name}: ${JSON.stringify(wrong)}`);
            if (contender.name.startsWith('fanout')) failures.push(`${scenario.name} round ${round}: ${urls.length - correct} wrong`);
          }
        }
      }
      // Quality, once per contender (it is deterministic), off the clock: main content as text.
      if (content) {
        qualities[scenario.name] = {};
        for (const contender of here) {
          if (!contender.quality) continue;
          await origin.reset(scenario.name);
          try {
            const q = score(scenario, await contender.quality(scenario, urls));
            qualities[scenario.name][contender.name] = q;
            const fig = (x) => (x ? `F1 ${x.f1.toFixed(3)} P ${x.precision.toFixed(3)} R ${x.recall.toFixed(3)} (${x.pages} pages)` : '');
            log(`${scenario.name} quality ${contender.name}: ${['fixtures', 'corpus'].filter((s) => q[s]).map((s) => `${s} ${fig(q[s])}`).join('; ')}${q.empty ? `; ${q.empty} pages without text` : ''}`);
          } catch (error) {
            contentFailed(contender, 'its quality pass', error);
          }
        }
      }
    }

    // The job scenario (bench/jobs.mjs): wrangler dev only, whose simulators run jobs.
    let job = null;
    if (!smoke && (!only || only.includes('job'))) {
      if (dev) {
        log('');
        job = await runJobScenario({ dev, origin, log });
        if (job.correct !== job.urls) failures.push(`job: ${job.urls - job.correct} wrong`);
      } else {
        log('job scenario skipped: it runs under wrangler dev (the `fanout` contender)');
      }
    }

    const summaries = {};
    for (const scenario of scenarios) {
      summaries[scenario.name] = {};
      for (const name of Object.keys(runs[scenario.name])) {
        summaries[scenario.name][name] = summarize(scenario, runs[scenario.name][name]);
        if (qualities[scenario.name]?.[name]) summaries[scenario.name][name].quality = qualities[scenario.name][name];
      }
      addRatios(scenario, summaries[scenario.name]);
    }
    const targets = smoke ? [] : judge(scenarios, summaries);
    const m = machine();
    const meta = {
      date: new Date().toISOString(),
      machine: m,
      python,
      rounds,
      baseline: baseline ? contenders.find((c) => c.name === 'fanout-baseline')?.baselineCommit ?? null : null,
      settings: {
        devVars: DEV_VARS,
        fanout: { timeoutMs: 60_000, deadlineMs: 120_000, maxBytes: `${MAX_BYTES} (default)`, snippetLength: `${SNIPPET_LENGTH} (default)` },
        peers: { maxBytes: MAX_BYTES, snippetLength: SNIPPET_LENGTH },
        ...(() => {
          const c = scenarios.find((s) => s.kind === 'content');
          return c ? { content: { maxBytes: c.maxBytes, rounds: c.request, quality: { ...c.request, formats: ['text'] }, pages: c.sets, corpus: process.env.BENCH_CONTENT_CORPUS ?? null } } : {};
        })(),
      },
      summaryLine: `medians of ${rounds} interleaved rounds · fanout ${m.commit ?? '?'}${m.dirty ? '+dirty' : ''} · ${new Date().toISOString().slice(0, 10)}`,
      machineLine: `${m.nproc} × ${m.cpu}, ${m.ramGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}${python ? `, Python ${python.python} + aiohttp ${python.aiohttp}` : ''}`,
      durationS: Math.round((Date.now() - started) / 1000),
    };

    log('');
    log(table(scenarios, summaries, names));
    const contentRows = contentTable(scenarios, summaries, names);
    if (contentRows) {
      log('');
      log(contentRows);
    }
    if (targets.length) {
      log('');
      for (const t of targets) log(`${t.met ? 'met   ' : 'MISSED'} ${t.contender.padEnd(11)} ${t.target}: ${t.figure}`);
    }
    if (summaries.memory && m.tcpRmem && m.tcpWmem) {
      const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
      log(`loopback TCP buffers per socket here: receive up to ${mib(m.tcpRmem[2])}, send up to ${mib(m.tcpWmem[2])} (net.ipv4.tcp_rmem, tcp_wmem): what an origin can hand the kernel before any client's cancel lands`);
    }
    log('');
    log(`${meta.summaryLine}; ${meta.machineLine}; ${meta.durationS} s`);

    if (!smoke) {
      mkdirSync(outDir, { recursive: true });
      const scenarioInfo = scenarios.map(({ urls, notes, ...rest }) => ({ ...rest, urlCount: urls.length }));
      // Raw runs without per-URL results: small enough to commit.
      const compact = Object.fromEntries(
        Object.entries(runs).map(([s, byName]) => [
          s,
          Object.fromEntries(
            Object.entries(byName).map(([n, list]) => [
              n,
              list.map((r) => ({
                makespanMs: Math.round(r.makespanMs),
                firstResultMs: r.firstResultMs === null || r.firstResultMs === undefined ? null : Math.round(r.firstResultMs),
                cpuMs: r.cpuMs === null ? null : Math.round(r.cpuMs * 10) / 10,
                rssGrowthMiB: Math.round(r.rss.peakGrowthMiB * 10) / 10,
                originBytes: r.origin.bytesSent,
                originMaxInFlight: r.origin.maxInFlight,
                correct: r.correct,
              })),
            ]),
          ),
        ]),
      );
      writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify({ meta, scenarios: scenarioInfo, summaries, targets, runs: compact, job }, null, 1)}\n`);
      writeFileSync(path.join(outDir, 'latest.svg'), svg(meta, scenarios, summaries, names));
      log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'latest.json'))} and latest.svg`);
    }
    if (failures.length) {
      log(`FAIL: fanout returned wrong results: ${failures.join('; ')}`);
      process.exitCode = 1;
    }
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
