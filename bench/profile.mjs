/**
 * CPU profile of fanout in workerd for one bench scenario, through the workerd inspector
 * (the DevTools protocol that `wrangler dev --inspector-port` exposes).
 *
 *   node bench/profile.mjs [scenario=budget50] [--runs=N]
 *   (or: npm run bench:profile -- throughput)
 *
 * Starts the bench origin and wrangler dev (same settings as the bench), warms up, starts
 * the V8 sampling profiler, runs the scenario's batch N times, and writes
 * bench/results/<scenario>.cpuprofile (open it in Chrome DevTools > Performance, or
 * speedscope). Prints the top functions by self time, and the workerd process CPU
 * for comparison: V8 samples only JavaScript (native work such as HTMLRewriter's parser
 * shows under the JS function that called into it, or as "(program)").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuDelta, cpuSnapshot } from './lib/proc.mjs';
import { startOriginProcess, urlsOf } from './lib/origin-process.mjs';
import { fullScenarios, smokeScenarios } from './lib/scenarios.mjs';
import { startWranglerDev } from './lib/wrangler.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(process.env.BENCH_FANOUT_ROOT ?? path.join(HERE, '..'));
const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith('--')) ?? 'budget50';
const runs = Number(args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 1);
const scenario = [...fullScenarios(), ...smokeScenarios()].find((s) => s.name === name);
if (!scenario) throw new Error(`Expected a scenario name from bench/lib/scenarios.mjs, got ${JSON.stringify(name)}`);

/**
 * A minimal DevTools protocol client over Node's global WebSocket, through wrangler's
 * inspector proxy (it wants an Origin header, and renumbers message ids, so commands are
 * sent one at a time and each answer is the next message that carries an id).
 */
async function inspector(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl, { headers: { origin: `http://127.0.0.1:${port}` } });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = (event) => reject(new Error(`inspector connection failed: ${event.message}`));
  });
  let waiter = null;
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.id === undefined || !waiter) return;
    const { resolve, reject } = waiter;
    waiter = null;
    if (msg.error) reject(new Error(msg.error.message));
    else resolve(msg.result);
  };
  let id = 0;
  let queue = Promise.resolve();
  const send = (method, params = {}) => {
    const result = queue.then(
      () =>
        new Promise((resolve, reject) => {
          waiter = { resolve, reject };
          ws.send(JSON.stringify({ id: ++id, method, params }));
        }),
    );
    queue = result.catch(() => {});
    return result;
  };
  return { send, close: () => ws.close() };
}

/** Self time per function (ms), from a .cpuprofile's samples. */
function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const dt = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const totals = new Map();
  for (const [id, count] of counts) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const key = `${functionName || '(anonymous)'} ${url ? `${path.basename(url)}:${lineNumber + 1}` : ''}`.trim();
    totals.set(key, (totals.get(key) ?? 0) + count * dt);
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

const origin = await startOriginProcess({ content: scenario.kind === 'content' });
const dev = await startWranglerDev({ root: ROOT, vars: { ALLOW_PRIVATE_HOSTS: 'true', MAX_URLS: '2000', MAX_CONCURRENCY: '50' } });
try {
  const urls = urlsOf(origin, scenario);
  const batch = async () => {
    const res = await fetch(`${dev.base}/v1/fetch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ urls, concurrency: scenario.concurrency, timeoutMs: 60_000, deadlineMs: 120_000, ...scenario.request }),
    });
    const body = await res.json();
    if (body.stats?.ok !== urls.length) throw new Error(`batch not all ok: ${JSON.stringify(body.stats ?? body)}`);
  };
  await batch(); // warm-up, off the profile

  const session = await inspector(dev.inspectorPort);
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 100 });
  const { all } = dev.workerd();
  const before = cpuSnapshot(all);
  await session.send('Profiler.start');
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await batch();
  const wall = performance.now() - t0;
  const { profile } = await session.send('Profiler.stop');
  const cpu = cpuDelta(before, cpuSnapshot(all));
  session.close();

  mkdirSync(path.join(HERE, 'results'), { recursive: true });
  const file = path.join(HERE, 'results', `${scenario.name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const top = selfTimes(profile);
  const sampled = top.reduce((sum, [, ms]) => sum + ms, 0);
  const idle = top.filter(([k]) => k.startsWith('(idle)')).reduce((sum, [, ms]) => sum + ms, 0);
  console.log(`${scenario.label}: ${runs} batch(es), ${urls.length * runs} URLs, wall ${wall.toFixed(0)} ms`);
  console.log(`workerd process CPU ${cpu.toFixed(0)} ms (${(cpu / (urls.length * runs)).toFixed(2)} ms/URL); profile: ${sampled.toFixed(0)} ms sampled, ${(sampled - idle).toFixed(0)} ms not idle`);
  console.log('top self time:');
  for (const [key, ms] of top.slice(0, 30)) console.log(`${ms.toFixed(1).padStart(9)} ms  ${((ms / sampled) * 100).toFixed(1).padStart(5)}%  ${key}`);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
} finally {
  origin.stop();
  await dev.stop();
}
