/**
 * Starts fanout under `wrangler dev`, the way test/e2e/wrangler-dev.test.ts does:
 * node_modules/.bin first on PATH (wrangler needs the pinned Node 22), D1 migrations
 * applied into its own --persist-to directory, ALLOW_PRIVATE_HOSTS so the loopback
 * origin may be fetched, its own process group so stop() ends workerd too.
 *
 * It runs a snapshot of the Worker: src/, wrangler.toml, migrations/ and package.json are
 * copied to a temporary directory first (node_modules linked), so an edit to src/ while
 * the bench runs neither reloads workerd mid-run nor mixes two versions in one table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { descendants, supervise } from './proc.mjs';

const STARTUP_TIMEOUT_MS = 90_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port nobody listens on right now. */
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
 * Copies the Worker's sources (src/, wrangler.toml, migrations/, package.json) to a
 * temporary directory with node_modules linked, and the environment to run the project's
 * tools there (node_modules/.bin first on PATH: wrangler needs the pinned Node 22).
 */
export function snapshotOf(root) {
  const bin = path.join(root, 'node_modules', '.bin');
  const snapshot = mkdtempSync(path.join(tmpdir(), 'fanout-bench-'));
  for (const name of ['src', 'migrations', 'wrangler.toml', 'package.json', 'tsconfig.json']) {
    if (existsSync(path.join(root, name))) cpSync(path.join(root, name), path.join(snapshot, name), { recursive: true });
  }
  symlinkSync(path.join(root, 'node_modules'), path.join(snapshot, 'node_modules'), 'dir');
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, WRANGLER_SEND_METRICS: 'false' };
  return { snapshot, bin, env };
}

/**
 * @param {{ root: string, vars: Record<string, string> }} options root: the project whose Worker to run
 * @returns {Promise<{ base: string, pid: number, workerd(): { worker: number, all: number[] }, log(): string, stop(): Promise<void> }>}
 */
export async function startWranglerDev({ root, vars }) {
  const { snapshot, bin, env } = snapshotOf(root);
  const persistTo = path.join(snapshot, '.state');

  const migrate = spawnSync(path.join(bin, 'wrangler'), ['d1', 'migrations', 'apply', 'fanout', '--local', '--persist-to', persistTo], {
    cwd: snapshot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`wrangler d1 migrations apply failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const port = await freePort();
  const inspectorPort = await freePort();
  const args = ['dev', '--port', String(port), '--ip', '127.0.0.1', '--inspector-port', String(inspectorPort), '--persist-to', persistTo];
  for (const [key, value] of Object.entries(vars)) args.push('--var', `${key}:${value}`);
  const child = spawn(path.join(bin, 'wrangler'), args, { cwd: snapshot, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  const supervised = supervise(child, { group: true });
  const stop = async () => {
    await supervised.stop();
    rmSync(snapshot, { recursive: true, force: true });
  };

  /**
   * The workerd processes under this wrangler: wrangler dev runs two, its dev proxy
   * (bound to our --port) and the one that runs the Worker (bound to an ephemeral port,
   * with the inspector). Looked up afresh each time, in case wrangler restarted one.
   */
  const workerd = () => {
    const procs = descendants(child.pid).filter((p) => /\bworkerd\b.*\bserve\b/.test(p.cmdline));
    const worker = procs.find((p) => !p.cmdline.includes(`entry=127.0.0.1:${port}`)) ?? procs[0];
    return { worker: worker?.pid, all: procs.map((p) => p.pid) };
  };

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited early (code ${child.exitCode}). Output:\n${supervised.log()}`);
    }
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200 && workerd().worker) return { base, pid: child.pid, inspectorPort, workerd, log: supervised.log, stop };
      lastError = `GET /health answered ${res.status}`;
    } catch (error) {
      lastError = String(error?.cause ?? error);
    }
    await sleep(250);
  }
  await stop();
  throw new Error(`wrangler dev did not answer GET /health within ${STARTUP_TIMEOUT_MS} ms (last: ${lastError}). Output:\n${supervised.log()}`);
}
