/**
 * The contenders: fanout in workerd (called over HTTP like a user), and the two peers
 * (child processes driven over stdin/stdout). Each run answers the same record:
 * makespan and first result (measured here, client-side), CPU ms of the contender's own
 * process(es) from /proc, peak RSS growth, and the per-URL results for checking.
 */
import { ndjson as ndjsonLines } from '../../client/index.mjs';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuDelta, cpuSnapshot, sampleRss } from './proc.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PEERS = path.join(HERE, '..', 'peers');
/** CPU a process spends after its last byte (closing sockets, freeing) still belongs to the run. */
const SETTLE_MS = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Per-URL limits that never bind in the bench: it measures speed, not timeouts. */
export const FANOUT_LIMITS = { timeoutMs: 60_000, deadlineMs: 120_000 };
/** fanout's default maxBytes and snippetLength; the peers get the same caps, so it is the same job. */
export const MAX_BYTES = 262_144;
export const SNIPPET_LENGTH = 300;
/**
 * Bench settings for the Worker (wrangler dev and bare workerd), not the deployed defaults:
 * the 600- and 2,000-URL scenarios need MAX_URLS above its default 100 (one batch, as a
 * user of a self-hosted fanout with a raised limit would send); MAX_CONCURRENCY is the
 * default 50, stated; the origin is on 127.0.0.1.
 */
export const DEV_VARS = { ALLOW_PRIVATE_HOSTS: 'true', MAX_URLS: '2000', MAX_CONCURRENCY: '50' };

/** The byte cap a scenario's job runs with: its own (the content scenario reads whole pages), else fanout's default. */
export const maxBytesOf = (scenario) => scenario.maxBytes ?? MAX_BYTES;

/** The fields of a result the runner checks and scores (main content only where the scenario asks for it). */
function keep(r) {
  if (!r) return null;
  const out = { ok: r.ok, status: r.status, title: r.title, snippet: r.snippet, bytes: r.bytes, error: r.error?.code ?? r.error };
  if ('markdown' in r) out.markdown = r.markdown;
  if ('text' in r) out.text = r.text;
  return out;
}

/**
 * fanout in workerd (under wrangler dev, or bare): one POST /v1/fetch per run, JSON (or
 * NDJSON when the scenario measures the first result). CPU is the workerd processes' (under
 * wrangler dev: the Worker's and the dev proxy's), RSS the Worker's workerd.
 */
export function fanoutContender(dev, name = 'fanout') {
  /** One batch off the clock (a scenario's warm-up: workerd compiles the code paths its options take). */
  const warm = async (scenario, urls) => {
    const res = await fetch(`${dev.base}/v1/fetch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ urls, concurrency: scenario.concurrency, ...FANOUT_LIMITS, ...scenario.request }),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${name} answered ${res.status}: ${text.slice(0, 500)}`);
  };
  return {
    name,
    warm,
    /** The content scenario's quality pass: each page's main content as text (`formats: ["text"]`), off the clock. */
    async quality(scenario, urls) {
      const res = await fetch(`${dev.base}/v1/fetch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ urls, concurrency: scenario.concurrency, ...FANOUT_LIMITS, ...scenario.request, formats: ['text'] }),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${name} answered ${res.status}: ${text.slice(0, 500)}`);
      return JSON.parse(text).results.map((r) => ({ ok: r.ok, status: r.status, bytes: r.bytes, text: r.text ?? null }));
    },
    async run(scenario, urls) {
      const { worker, all } = dev.workerd();
      const ndjson = scenario.kind === 'first';
      const before = cpuSnapshot(all);
      const workerBefore = cpuSnapshot([worker]);
      const rss = sampleRss(worker);
      const t0 = performance.now();
      const res = await fetch(`${dev.base}/v1/fetch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ndjson ? 'application/x-ndjson' : 'application/json' },
        // scenario.request: the content scenario's formats and byte cap.
        body: JSON.stringify({ urls, concurrency: scenario.concurrency, ...FANOUT_LIMITS, ...scenario.request }),
      });
      let firstResultMs = null;
      let results;
      if (ndjson) {
        results = new Array(urls.length);
        for await (const parsed of ndjsonLines(res.body)) {
          if (parsed.index === undefined) continue;
          firstResultMs ??= performance.now() - t0;
          results[parsed.index] = parsed;
        }
      } else {
        const text = await res.text();
        if (res.status !== 200) throw new Error(`fanout answered ${res.status}: ${text.slice(0, 500)}`);
        results = JSON.parse(text).results;
      }
      const makespanMs = performance.now() - t0;
      await sleep(SETTLE_MS);
      const memory = rss.stop();
      const after = cpuSnapshot(all);
      return {
        makespanMs,
        firstResultMs,
        cpuMs: cpuDelta(before, after),
        workerCpuMs: cpuDelta(workerBefore, cpuSnapshot([worker])),
        rss: memory,
        results: results.map(keep),
      };
    },
  };
}

/** Runs a peer script for one run: job in, "ready", then "go", then one JSON line out. */
function peerContender(name, command, args) {
  const self = {
    name,
    /** The content scenario's quality pass: the peer in its `text` mode (Readability's textContent), off the clock. */
    async quality(scenario, urls) {
      const run = await self.run({ ...scenario, peerJob: { ...scenario.peerJob, mode: 'text' } }, urls, []);
      return run.results.map((r) => ({ ok: r.ok, status: r.status, bytes: r.bytes, text: r.text ?? null }));
    },
    async run(scenario, urls, warmup) {
      const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const next = async (what) => {
        const { value, done } = await lines.next();
        if (done) throw new Error(`${name} exited before ${what} (code ${child.exitCode})`);
        return value;
      };
      try {
        child.stdin.write(
          `${JSON.stringify({ urls, concurrency: scenario.concurrency, maxBytes: maxBytesOf(scenario), snippetLength: SNIPPET_LENGTH, timeoutMs: FANOUT_LIMITS.timeoutMs, warmup, ...scenario.peerJob })}\n`,
        );
        if ((await next('ready')) !== 'ready') throw new Error(`${name} did not say ready`);
        const before = cpuSnapshot([child.pid]);
        const rss = sampleRss(child.pid);
        const t0 = performance.now();
        child.stdin.write('go\n');
        const out = JSON.parse(await next('its result'));
        const makespanMs = performance.now() - t0;
        await sleep(SETTLE_MS);
        const memory = rss.stop();
        const cpuMs = cpuDelta(before, cpuSnapshot([child.pid]));
        return { makespanMs, firstResultMs: out.firstResultMs, peerMakespanMs: out.makespanMs, cpuMs, rss: memory, results: out.results.map(keep) };
      } finally {
        child.stdin.end();
        await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))]);
      }
    },
  };
  return self;
}

export function nodePeer(nodeBinary = process.execPath) {
  return peerContender('node', nodeBinary, [path.join(PEERS, 'node-peer.mjs')]);
}

/** The content scenario's Node peer: fetch + p-limit, linkedom, Readability, turndown (bench/peers/node-content-peer.mjs). */
export function nodeContentPeer(nodeBinary = process.execPath) {
  return peerContender('node-content', nodeBinary, [path.join(PEERS, 'node-content-peer.mjs')]);
}

/**
 * The aiohttp peer, on the first Python that imports aiohttp: Debian's /usr/bin/python3
 * (python3-aiohttp), then whatever python3 is first on PATH. Null when none does.
 */
export function aiohttpPeer() {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(python, ['-c', 'import aiohttp, sys; print(aiohttp.__version__, sys.version.split()[0])'], { encoding: 'utf8' });
    if (probe.status === 0) {
      const [aiohttp, version] = probe.stdout.trim().split(' ');
      return { ...peerContender('aiohttp', python, [path.join(PEERS, 'aiohttp_peer.py')]), version: { python: version, aiohttp, binary: python } };
    }
  }
  return null;
}
