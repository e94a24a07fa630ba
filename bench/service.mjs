/**
 * fanout as a service, under load and over time: `npm run bench:service`.
 *
 * N clients (default 32) each POST 10-URL batches to /v1/fetch in a loop for D seconds,
 * against fanout-bare (this checkout's Worker in bare workerd, bench/lib/workerd.mjs) and,
 * with --dev, fanout under wrangler dev (bench/lib/wrangler.mjs). Every URL is distinct
 * (nothing is deduplicated or cached) and is a bench-origin page behind 50 ms of latency.
 * Every response is checked: 200, exactly one result per URL, in input order (`url`),
 * each ok with the page's expected title.
 *
 * --soak ROUNDS repeats the load for ROUNDS rounds and reads the Worker process's RSS
 * after each round and again after an idle pause, to see whether memory levels off.
 *
 * Options:
 *   --clients N        concurrent clients (default 32)
 *   --seconds D        seconds of load per round (default 60; 20 with --soak)
 *   --soak [ROUNDS]    soak: ROUNDS rounds (default 5) with RSS after each and after --idle
 *   --idle S           idle pause before the post-round RSS reading (default 5)
 *   --dev              also run fanout under wrangler dev (after bare)
 *   --no-bare          skip fanout-bare (with --dev: dev alone)
 *   --heap             under wrangler dev, also read the V8 heap (Runtime.getHeapUsage through
 *                      wrangler's inspector port) after each idle pause, before and after a forced GC
 *   --delay MS         origin latency per page (default 50)
 *   --size BYTES       page size (default 30000)
 *   --batch N          URLs per request (default 10)
 *   --concurrency N    send this `concurrency` in each batch (default: none, the service's default)
 *
 * Exit status: non-zero if any response was not 200 or any result was lost or wrong.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_VARS } from './lib/contenders.mjs';
import { startOriginProcess } from './lib/origin-process.mjs';
import { cpuSnapshot, cpuDelta, sampleRss, statusKb } from './lib/proc.mjs';
import { startBareWorkerd } from './lib/workerd.mjs';
import { startWranglerDev } from './lib/wrangler.mjs';
import { titleFor } from './origin.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line = '') => process.stdout.write(`${line}\n`);

function parseArgs(argv) {
  const opts = { clients: 32, seconds: null, soak: 0, idle: 5, dev: false, bare: true, heap: false, delay: 50, size: 30_000, batch: 10, concurrency: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined || !/^\d+(\.\d+)?$/.test(v)) throw new Error(`${a} needs a number`);
      return Number(v);
    };
    if (a === '--clients') opts.clients = next();
    else if (a === '--seconds') opts.seconds = next();
    else if (a === '--soak') opts.soak = /^\d+$/.test(argv[i + 1] ?? '') ? next() : 5;
    else if (a === '--idle') opts.idle = next();
    else if (a === '--dev') opts.dev = true;
    else if (a === '--no-bare') opts.bare = false;
    else if (a === '--heap') opts.heap = true;
    else if (a === '--delay') opts.delay = next();
    else if (a === '--size') opts.size = next();
    else if (a === '--batch') opts.batch = next();
    else if (a === '--concurrency') opts.concurrency = next();
    else throw new Error(`unknown option ${a} (see the comment at the top of bench/service.mjs)`);
  }
  opts.seconds ??= opts.soak ? 20 : 60;
  return opts;
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);
const mib = (kb) => (kb === null ? null : kb / 1024);
const fmt = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));

/** RSS of a process in MiB, split as the kernel splits it (anonymous: heaps, V8 and malloc; file: mapped binary). */
function rssOf(pid) {
  return { rss: mib(statusKb(pid, 'VmRSS')), anon: mib(statusKb(pid, 'RssAnon')), file: mib(statusKb(pid, 'RssFile')) };
}

/**
 * The Worker isolate's V8 heap in MiB, through wrangler dev's inspector port (as bench/profile.mjs
 * attaches): used and total, then used after HeapProfiler.collectGarbage. Null if it fails.
 */
async function heapOf(port) {
  try {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
    const ws = new WebSocket(targets[0].webSocketDebuggerUrl, { headers: { origin: `http://127.0.0.1:${port}` } });
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = (event) => reject(new Error(`inspector: ${event.message}`));
    });
    let id = 0;
    // One command at a time. wrangler's proxy renumbers ids and may answer its own messages too,
    // so an answer is the next message with an id whose result passes `accept`.
    const send = (method, accept = () => true) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${method} timed out`)), 10_000);
        ws.onmessage = (event) => {
          const msg = JSON.parse(event.data);
          if (msg.id === undefined) return;
          if (msg.error) {
            clearTimeout(timer);
            reject(new Error(msg.error.message));
          } else if (accept(msg.result ?? {})) {
            clearTimeout(timer);
            resolve(msg.result);
          }
        };
        ws.send(JSON.stringify({ id: ++id, method, params: {} }));
      });
    const usage = (r) => typeof r.usedSize === 'number';
    try {
      const before = await send('Runtime.getHeapUsage', usage);
      await send('HeapProfiler.collectGarbage', (r) => !usage(r));
      const after = await send('Runtime.getHeapUsage', usage);
      const m = (b) => b / 2 ** 20;
      return { used: m(before.usedSize), total: m(before.totalSize), usedAfterGc: m(after.usedSize), totalAfterGc: m(after.totalSize) };
    } finally {
      ws.close();
    }
  } catch (error) {
    log(`  heap reading failed: ${String(error?.message ?? error).slice(0, 200)}`);
    return null;
  }
}

/**
 * One round of load: `clients` loops, each POSTing a batch of distinct URLs and checking the
 * answer, until `seconds` have passed (requests in flight then are let finish and counted).
 */
async function loadRound(target, origin, opts, tag) {
  const stopAt = performance.now() + opts.seconds * 1000;
  const latencies = [];
  const counts = { requests: 0, urls: 0, non200: 0, s5xx: 0, errors: 0, lost: 0, wrong: 0, badShape: 0 };
  const statuses = {};
  const samples = [];
  const sample = (what) => {
    if (samples.length < 5) samples.push(what);
  };
  const client = async (c) => {
    for (let seq = 0; performance.now() < stopAt; seq++) {
      const ids = Array.from({ length: opts.batch }, (_, i) => `${tag}-c${c}-r${seq}-u${i}`);
      const urls = ids.map((id) => `${origin.base}/b/service/${id}?d=${opts.delay}&s=${opts.size}`);
      const body = { urls };
      if (opts.concurrency) body.concurrency = opts.concurrency;
      const t0 = performance.now();
      let status = 0;
      let text = '';
      try {
        const res = await fetch(`${target.base}/v1/fetch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        status = res.status;
        text = await res.text();
      } catch (error) {
        counts.errors++;
        counts.lost += urls.length;
        sample({ error: String(error?.cause ?? error).slice(0, 200) });
        continue;
      }
      latencies.push(performance.now() - t0);
      counts.requests++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 200) {
        counts.non200++;
        if (status >= 500) counts.s5xx++;
        counts.lost += urls.length;
        sample({ status, body: text.slice(0, 300) });
        continue;
      }
      let results;
      try {
        results = JSON.parse(text).results;
      } catch {
        results = null;
      }
      if (!Array.isArray(results)) {
        counts.badShape++;
        counts.lost += urls.length;
        sample({ status, body: text.slice(0, 300) });
        continue;
      }
      if (results.length !== urls.length) {
        counts.badShape++;
        sample({ status, results: results.length, expected: urls.length });
      }
      urls.forEach((url, i) => {
        const r = results[i];
        if (!r) {
          counts.lost++;
          return;
        }
        if (r.url === url && r.ok === true && r.title === titleFor(ids[i])) counts.urls++;
        else {
          counts.wrong++;
          sample({ index: i, expected: { url, title: titleFor(ids[i]) }, got: { url: r.url, ok: r.ok, title: r.title, error: r.error } });
        }
      });
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
  const elapsedS = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    elapsedS,
    ...counts,
    statuses,
    reqPerS: counts.requests / elapsedS,
    urlsPerS: counts.urls / elapsedS,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
    samples,
  };
}

/** Start a target, warm it up, run the load (one round, or --soak rounds with RSS readings). */
async function runTarget(name, start, origin, opts) {
  log(`\n== ${name}: starting`);
  const target = await start();
  try {
    const pid = () => target.workerd().worker;
    const cpuPids = () => target.workerd().all;
    const cold = rssOf(pid());
    // Warm-up, off the clock: workerd compiles the Worker on its first batches.
    await loadRound(target, origin, { ...opts, seconds: 3 }, `${name}-warm`);
    await sleep(opts.idle * 1000);
    const warm = rssOf(pid());
    log(`${name}: worker pid ${pid()}, RSS cold ${fmt(cold.rss)} MiB, after a 3 s warm-up and ${opts.idle} s idle ${fmt(warm.rss)} MiB (anon ${fmt(warm.anon)}, file ${fmt(warm.file)})`);
    const rounds = [];
    for (let round = 1; round <= Math.max(1, opts.soak); round++) {
      const worker = pid();
      const all = cpuPids();
      const cpuBefore = cpuSnapshot(all);
      const rss = sampleRss(worker, 200);
      const r = await loadRound(target, origin, opts, `${name}-${round}`);
      const peak = rss.stop();
      r.cpuMsPerUrl = (cpuDelta(cpuBefore, cpuSnapshot(all)) ?? NaN) / Math.max(1, r.urls + r.wrong);
      r.rssPeak = peak.baseMiB + peak.peakGrowthMiB;
      r.rssAfter = rssOf(worker);
      await sleep(opts.idle * 1000);
      r.rssIdle = rssOf(worker);
      r.pid = worker;
      if (opts.heap && target.inspectorPort) {
        r.heap = await heapOf(target.inspectorPort);
        if (r.heap) log(`  V8 heap after idle: used ${fmt(r.heap.used)} of ${fmt(r.heap.total)} MiB; after a forced GC used ${fmt(r.heap.usedAfterGc)} of ${fmt(r.heap.totalAfterGc)} MiB; RSS then ${fmt(rssOf(worker).rss)} MiB`);
      }
      rounds.push(r);
      log(
        `${name} round ${round}: ${r.requests} requests in ${fmt(r.elapsedS)} s, ${fmt(r.reqPerS)} req/s, ${fmt(r.urlsPerS)} URLs/s, ` +
          `p50 ${fmt(r.p50, 0)} ms p99 ${fmt(r.p99, 0)} ms, non-200 ${r.non200} (5xx ${r.s5xx}), errors ${r.errors}, lost ${r.lost}, wrong ${r.wrong}; ` +
          `CPU ${fmt(r.cpuMsPerUrl, 2)} ms/URL; RSS peak ${fmt(r.rssPeak)} after ${fmt(r.rssAfter.rss)} after ${opts.idle} s idle ${fmt(r.rssIdle.rss)} MiB (anon ${fmt(r.rssIdle.anon)})`,
      );
      if (r.samples.length) log(`  first problems: ${JSON.stringify(r.samples)}`);
    }
    return { name, cold, warm, rounds };
  } finally {
    await target.stop();
  }
}

function loadTable(results, opts) {
  const head = ['target', 'round', 'req/s', 'URLs/s', 'p50 ms', 'p99 ms', 'max ms', 'requests', 'non-200', '5xx', 'errors', 'lost', 'wrong', 'CPU ms/URL'];
  const rows = [];
  for (const t of results)
    t.rounds.forEach((r, i) =>
      rows.push([t.name, String(i + 1), fmt(r.reqPerS), fmt(r.urlsPerS), fmt(r.p50, 0), fmt(r.p99, 0), fmt(r.max, 0), String(r.requests), String(r.non200), String(r.s5xx), String(r.errors), String(r.lost), String(r.wrong), fmt(r.cpuMsPerUrl, 2)]),
    );
  return markdown(head, rows);
}

function rssTable(results, opts) {
  const head = ['target', 'round', 'RSS peak MiB', 'RSS after MiB', `after ${opts.idle} s idle MiB`, 'anon MiB', 'file MiB'];
  const rows = [];
  for (const t of results) {
    rows.push([t.name, 'cold', '', '', fmt(t.cold.rss), fmt(t.cold.anon), fmt(t.cold.file)]);
    rows.push([t.name, 'warm', '', '', fmt(t.warm.rss), fmt(t.warm.anon), fmt(t.warm.file)]);
    t.rounds.forEach((r, i) => rows.push([t.name, String(i + 1), fmt(r.rssPeak), fmt(r.rssAfter.rss), fmt(r.rssIdle.rss), fmt(r.rssIdle.anon), fmt(r.rssIdle.file)]));
  }
  return markdown(head, rows);
}

function markdown(head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Levels off: the last two idle readings within 5% or 8 MiB of each other. */
function verdict(t) {
  const idle = t.rounds.map((r) => r.rssIdle.rss);
  if (idle.length < 2) return null;
  const [a, b] = idle.slice(-2);
  const delta = b - a;
  const levels = Math.abs(delta) <= Math.max(8, 0.05 * a);
  const trend = levels ? 'levels off' : delta > 0 ? 'still growing' : 'falling';
  const growth = b - t.warm.rss;
  const perRound = (idle.at(-1) - idle[0]) / (idle.length - 1);
  return `${t.name}: idle RSS ${idle.map((x) => fmt(x)).join(' → ')} MiB; last two rounds ${delta >= 0 ? '+' : ''}${fmt(delta)} MiB: ${trend} (criterion: within 5% or 8 MiB); ${growth >= 0 ? '+' : ''}${fmt(growth)} MiB over the warm baseline, ${fmt(perRound)} MiB per round from round 1`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const commit = (() => {
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'wrangler.toml'], { cwd: ROOT, encoding: 'utf8' }).trim();
      return dirty ? `${head} (src/ modified)` : head;
    } catch {
      return '?';
    }
  })();
  log(
    `fanout service load${opts.soak ? ` and soak (${opts.soak} rounds)` : ''} at ${commit}: ${opts.clients} clients, ${opts.batch}-URL batches, ` +
      `${opts.seconds} s per round, origin pages ${opts.size} bytes behind ${opts.delay} ms, concurrency ${opts.concurrency ?? 'default'}`,
  );
  const origin = await startOriginProcess();
  const results = [];
  try {
    if (opts.bare) results.push(await runTarget('bare', () => startBareWorkerd({ root: ROOT, vars: DEV_VARS }), origin, opts));
    if (opts.dev) results.push(await runTarget('dev', () => startWranglerDev({ root: ROOT, vars: DEV_VARS }), origin, opts));
  } finally {
    origin.stop();
  }
  log(`\nLoad (${opts.clients} clients × ${opts.batch}-URL batches, ${opts.seconds} s per round, pages at ${opts.delay} ms), at ${commit}:\n`);
  log(loadTable(results, opts));
  log(`\nWorker RSS (the workerd that runs the Worker):\n`);
  log(rssTable(results, opts));
  for (const t of results) {
    const v = verdict(t);
    if (v) log(v);
  }
  const bad = results.flatMap((t) => t.rounds).reduce((n, r) => n + r.non200 + r.errors + r.lost + r.wrong + r.badShape, 0);
  if (bad) {
    log(`\nFAILED: ${bad} non-200 answers, failed requests, lost or wrong results`);
    process.exitCode = 1;
  }
}

await main();
