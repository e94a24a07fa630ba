/** The bench origin (bench/origin.mjs) in its own process, so its work never shares the runner's event loop. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ORIGIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'origin.mjs');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The origin in its own process; answers { base, stats(scenario), reset(scenario), stop() }.
 * content: also serve the content scenario's pages (read and gunzipped once, at startup).
 */
export async function startOriginProcess({ content = false } = {}) {
  const env = { ...process.env, BENCH_ORIGIN_CONTENT: content ? '1' : '0' };
  const child = spawn(process.execPath, [ORIGIN], { stdio: ['pipe', 'pipe', 'inherit'], env });
  const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
  if (first.done) throw new Error('bench origin exited before listening');
  const base = `http://127.0.0.1:${JSON.parse(first.value).port}`;
  const stats = async (name) => (await fetch(`${base}/__stats/${name}`)).json();
  return {
    base,
    pid: child.pid,
    stats,
    async reset(name) {
      // Wait for stragglers of the previous run (cancelled bodies closing) before zeroing.
      for (let i = 0; i < 100 && (await stats(name)).inFlight > 0; i++) await sleep(20);
      await (await fetch(`${base}/__reset/${name}`, { method: 'POST' })).arrayBuffer();
    },
    async settled(name) {
      let s = await stats(name);
      for (let i = 0; i < 100 && s.inFlight > 0; i++) {
        await sleep(20);
        s = await stats(name);
      }
      return s;
    },
    stop: () => child.stdin.end(),
  };
}

/** The scenario's URLs on this origin: latency, size and type as query knobs. */
export const urlsOf = (origin, scenario) =>
  scenario.urls.map((u) =>
    u.type === 'content'
      ? `${origin.base}/b/${scenario.name}/${encodeURIComponent(u.id)}?d=${u.delay}&t=content`
      : `${origin.base}/b/${scenario.name}/${u.id}?d=${u.delay}&s=${u.size}${u.type === 'huge' ? '&t=huge' : ''}`,
  );
