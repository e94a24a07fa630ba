/**
 * The job scenario: one job of BENCH_JOB_URLS (default 10,000) bench pages (60 KB, 0 ms)
 * through POST /v1/jobs under wrangler dev, whose local Queues, Durable Objects and R2
 * simulators run the job (bare workerd has no queue broker). Measured:
 *   - the job: POST to `completed` (status polled every 25 ms), the first result (the first
 *     poll with done > 0), URLs/s, CPU per URL of every workerd process (Worker, dev proxy,
 *     and the simulators, which run in the same workerd);
 *   - where each chunk's time went, from the consumer's log line per chunk: claim (the job's
 *     object), fetch (the engine), store (R2), record (the job's object again); the job
 *     object's own cost per URL is claim + record over the chunk size;
 *   - the same URLs as plain POST /v1/fetch batches of one chunk's size, one after another, in
 *     the same wrangler dev: what the engine alone costs, so job − batches is what the job
 *     machinery adds per URL.
 * Every result is checked (one per URL, in order, ok, the expected title).
 *
 *   npm run bench:jobs                  (alone; BENCH_JOB_URLS=2000 for a quick look)
 *   npm run bench                       (the full run includes it; BENCH_SCENARIOS=job for just this)
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { titleFor } from './origin.mjs';
import { startOriginProcess } from './lib/origin-process.mjs';
import { cpuDelta, cpuSnapshot } from './lib/proc.mjs';
import { DEV_VARS } from './lib/contenders.mjs';
import { startWranglerDev } from './lib/wrangler.mjs';

/** URLs per chunk: the deployed default (JOB_CHUNK_URLS). */
const CHUNK = 25;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};

/** Runs the scenario against a started wrangler dev and bench origin; answers the figures. */
export async function runJobScenario({ dev, origin, count = Number(process.env.BENCH_JOB_URLS ?? 10_000), log = (line) => process.stdout.write(`${line}\n`) }) {
  const urls = Array.from({ length: count }, (_, i) => `${origin.base}/b/job/${i}?d=0&s=60000`);
  const { all } = dev.workerd();
  const logStart = dev.log().length;

  // The job.
  await origin.reset('job');
  const before = cpuSnapshot(all);
  const t0 = performance.now();
  const created = await fetch(`${dev.base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // The bench origin serves no robots.txt rules; saying so spares a lookup per chunk.
    body: JSON.stringify({ urls, respectRobots: false }),
  });
  if (created.status !== 202) throw new Error(`POST /v1/jobs answered ${created.status}: ${(await created.text()).slice(0, 300)}`);
  const { id } = await created.json();
  let firstResultMs = null;
  let job;
  for (;;) {
    job = await (await fetch(`${dev.base}/v1/jobs/${id}`)).json();
    if (firstResultMs === null && job.done > 0) firstResultMs = performance.now() - t0;
    if (!['queued', 'running'].includes(job.status)) break;
    await sleep(25);
  }
  const makespanMs = performance.now() - t0;
  const cpuMs = cpuDelta(before, cpuSnapshot(all));
  const originStats = await origin.settled('job');

  // Every result, off the clock.
  const lines = (await (await fetch(`${dev.base}/v1/jobs/${id}/results`, { headers: { accept: 'application/x-ndjson' } })).text()).trim().split('\n').map((line) => JSON.parse(line));
  const results = lines.filter((line) => line.index !== undefined);
  const correct = results.filter((r, i) => r.index === i && r.ok && r.title === titleFor(String(i))).length;

  // Where each chunk's time went, from the consumer's log lines.
  const chunks = [...dev.log().slice(logStart).matchAll(/\{"event":"chunk"[^\n]*?\}/g)].map((m) => JSON.parse(m[0])).filter((c) => c.job === id.slice(0, 8) && c.recorded);
  const per = (key) => median(chunks.map((c) => c[key]));

  // The same URLs as plain batches of one chunk's size, one after another.
  await origin.reset('job-batches');
  const batchUrls = urls.map((u) => u.replace('/b/job/', '/b/job-batches/'));
  const beforeBatches = cpuSnapshot(all);
  const t1 = performance.now();
  let batchOk = 0;
  for (let i = 0; i < batchUrls.length; i += CHUNK) {
    const res = await fetch(`${dev.base}/v1/fetch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls: batchUrls.slice(i, i + CHUNK) }) });
    batchOk += (await res.json()).results.filter((r) => r.ok).length;
  }
  const batchesMs = performance.now() - t1;
  const batchesCpuMs = cpuDelta(beforeBatches, cpuSnapshot(all));

  const figures = {
    urls: count,
    status: job.status,
    correct,
    makespanMs: Math.round(makespanMs),
    firstResultMs: firstResultMs === null ? null : Math.round(firstResultMs),
    urlsPerSec: Math.round((count / makespanMs) * 1000),
    cpuMsPerUrl: cpuMs / count,
    originRequests: originStats.requests,
    chunks: { recorded: chunks.length, medianMs: { claim: per('claimMs'), fetch: per('fetchMs'), store: per('storeMs'), record: per('recordMs') } },
    jobObjectMsPerUrl: per('claimMs') === null ? null : (per('claimMs') + per('recordMs')) / CHUNK,
    batches: { urlsPerSec: Math.round((count / batchesMs) * 1000), cpuMsPerUrl: batchesCpuMs / count, ok: batchOk },
    overheadCpuMsPerUrl: cpuMs / count - batchesCpuMs / count,
  };
  log(
    `job: ${count} URLs ${figures.status} in ${figures.makespanMs} ms (${figures.urlsPerSec} URLs/s), first result ${figures.firstResultMs} ms, ` +
      `${figures.cpuMsPerUrl.toFixed(2)} ms CPU per URL; ${correct}/${count} correct, origin requests ${figures.originRequests}`,
  );
  log(
    `job: per chunk of ${CHUNK} (median of ${chunks.length}): claim ${figures.chunks.medianMs.claim} ms, fetch ${figures.chunks.medianMs.fetch} ms, ` +
      `store ${figures.chunks.medianMs.store} ms, record ${figures.chunks.medianMs.record} ms; the job object ${figures.jobObjectMsPerUrl?.toFixed(2)} ms per URL`,
  );
  log(
    `job: the same URLs as /v1/fetch batches of ${CHUNK}: ${figures.batches.urlsPerSec} URLs/s, ${figures.batches.cpuMsPerUrl.toFixed(2)} ms CPU per URL ` +
      `(${batchOk}/${count} ok); the job machinery adds ${figures.overheadCpuMsPerUrl.toFixed(2)} ms CPU per URL (wrangler dev: its simulators run in the same workerd)`,
  );
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = path.resolve(process.env.BENCH_FANOUT_ROOT ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..'));
  const origin = await startOriginProcess();
  const dev = await startWranglerDev({ root, vars: DEV_VARS });
  try {
    // Warm up off the clock: workerd compiles the Worker on its first batch.
    await (await fetch(`${dev.base}/v1/fetch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls: [`${origin.base}/b/warm/0?d=0&s=30000`] }) })).arrayBuffer();
    const figures = await runJobScenario({ dev, origin });
    if (figures.correct !== figures.urls) process.exitCode = 1;
  } finally {
    await dev.stop();
    origin.stop();
  }
}
