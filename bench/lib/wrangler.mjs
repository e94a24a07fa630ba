/**
 * Starts fanout under `wrangler dev`, the one launcher for the e2e tests
 * (test/e2e/wrangler-dev.test.ts) and the bench (bench/run.mjs, bench/profile.mjs):
 * node_modules/.bin first on PATH, D1 migrations applied into the server's own
 * --persist-to directory (so parallel runs never share state), `--var`s, its own
 * process group so stop() ends the workerd processes too, and a wait until
 * GET /health answers 200.
 *
 * By default it runs a snapshot of the Worker: src/, wrangler.toml, migrations/ and
 * package.json are copied to a temporary directory first (node_modules linked), so an
 * edit to src/ while the bench runs neither reloads workerd mid-run nor mixes two
 * versions in one table. `snapshot: false` runs the working tree itself (the e2e tests).
 *
 * Types for TypeScript callers: ./wrangler.d.mts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { descendants, supervise } from './proc.mjs';

const STARTUP_TIMEOUT_MS = 90_000;
/** workerd() reads the process tree from Linux's /proc; elsewhere it finds nothing, and startup does not wait for it. */
const HAS_PROC = existsSync('/proc/self/stat');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port nobody listens on right now: bind port 0, read it, let go. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The environment to run the project's tools in: node_modules/.bin first on PATH, because
 * wrangler needs Node >= 22 and its `#!/usr/bin/env node` must find the pinned Node 22 that
 * the `node` devDependency puts there, not an older system Node (docs/workers-platform.md).
 */
function toolEnv(root) {
  const bin = path.join(root, 'node_modules', '.bin');
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, WRANGLER_SEND_METRICS: 'false' };
  return { bin, env };
}

/**
 * Copies the Worker's sources (src/, public/, wrangler.toml, migrations/, package.json) to a
 * temporary directory with node_modules linked, and answers it with toolEnv(root).
 */
export function snapshotOf(root) {
  const snapshot = mkdtempSync(path.join(tmpdir(), 'fanout-bench-'));
  for (const name of ['src', 'migrations', 'public', 'wrangler.toml', 'package.json', 'tsconfig.json']) {
    if (existsSync(path.join(root, name))) cpSync(path.join(root, name), path.join(snapshot, name), { recursive: true });
  }
  symlinkSync(path.join(root, 'node_modules'), path.join(snapshot, 'node_modules'), 'dir');
  return { snapshot, ...toolEnv(root) };
}

/** The message of a failed fetch, with its cause (undici puts ECONNREFUSED there). */
function errorText(error) {
  if (!(error instanceof Error)) return String(error);
  return error.cause ? `${error.message} (${String(error.cause)})` : error.message;
}

/**
 * GET /health's status, within `timeoutMs` or an error. Raced against our own timer, not only
 * aborted by a signal: an abort that lands while the body is being read can leave the read
 * pending forever (nodejs/node#56917), and wrangler's dev proxy holds requests while it starts.
 */
async function healthStatus(base, timeoutMs = 2_000) {
  const controller = new AbortController();
  let timer;
  const timedOut = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no full answer within ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  const answer = (async () => {
    const res = await fetch(`${base}/health`, { signal: controller.signal });
    await res.arrayBuffer();
    return res.status;
  })();
  answer.catch(() => undefined); // It may still settle (reject) after the timer won the race.
  try {
    return await Promise.race([answer, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** See ./wrangler.d.mts for the options and the answer. */
export async function startWranglerDev({ root, snapshot = true, vars = {}, args = [], startupTimeoutMs = STARTUP_TIMEOUT_MS }) {
  const { bin, env } = toolEnv(root);
  // Removed by stop(): the snapshot, or (working tree) a directory for the persisted state only.
  const dir = snapshot ? snapshotOf(root).snapshot : mkdtempSync(path.join(tmpdir(), 'fanout-dev-'));
  const cwd = snapshot ? dir : root;
  const persistTo = path.join(dir, '.state');

  // The D1 schema, as `npm run dev` applies it, into this server's own persistence directory.
  const migrate = spawnSync(path.join(bin, 'wrangler'), ['d1', 'migrations', 'apply', 'fanout', '--local', '--persist-to', persistTo], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (migrate.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`wrangler d1 migrations apply failed:\n${migrate.stdout}\n${migrate.stderr}`);
  }

  const port = await freePort();
  // Our own inspector port (profile.mjs attaches to it), so two servers never contend for wrangler's default.
  const inspectorPort = await freePort();
  const devArgs = ['dev', '--port', String(port), '--ip', '127.0.0.1', '--inspector-port', String(inspectorPort), '--persist-to', persistTo];
  for (const [key, value] of Object.entries(vars)) devArgs.push('--var', `${key}:${value}`);
  devArgs.push(...args);
  // detached: its own process group, which stop() signals as a whole (wrangler and every workerd under it).
  const child = spawn(path.join(bin, 'wrangler'), devArgs, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  // The whole output, not a tail: callers take log().length as a mark and read what came after it.
  const supervised = supervise(child, { group: true, keep: Infinity });
  const stop = async () => {
    await supervised.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  /**
   * The workerd processes under this wrangler: wrangler dev runs two, its dev proxy
   * (bound to our --port) and the one that runs the Worker (bound to an ephemeral port,
   * with the inspector). Looked up afresh each time, in case wrangler restarted one.
   */
  const workerd = () => {
    if (!HAS_PROC) return { worker: undefined, all: [] };
    const procs = descendants(child.pid).filter((p) => /\bworkerd\b.*\bserve\b/.test(p.cmdline));
    const worker = procs.find((p) => !p.cmdline.includes(`entry=127.0.0.1:${port}`)) ?? procs[0];
    return { worker: worker?.pid, all: procs.map((p) => p.pid) };
  };

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startupTimeoutMs;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited early (code ${child.exitCode}, signal ${child.signalCode}). Output:\n${supervised.log()}`);
    }
    try {
      const status = await healthStatus(base);
      if (status === 200 && (!HAS_PROC || workerd().worker)) return { base, pid: child.pid, inspectorPort, workerd, log: supervised.log, stop };
      lastError = status === 200 ? 'GET /health answered 200, but no workerd process found yet' : `GET /health answered ${status}`;
    } catch (error) {
      lastError = errorText(error);
    }
    await sleep(250);
  }
  await stop();
  throw new Error(`wrangler dev did not answer GET /health with 200 within ${startupTimeoutMs} ms (last: ${lastError}). Output:\n${supervised.log()}`);
}
