/**
 * fanout in bare `workerd serve`: the Worker bundled exactly as `wrangler deploy` bundles
 * it (`--dry-run --outdir`, offline), run by the same workerd binary wrangler dev uses,
 * but without wrangler's dev proxy, its inspector session and its per-request plumbing.
 * That is the closest local stand-in for the production runtime, and it separates what
 * fanout's engine costs from what the dev tooling costs.
 *
 * Bindings: the [vars] of wrangler.toml with the bench's overrides and the SHARDS Durable
 * Object namespace (scale-out past 6 in flight, in memory); no D1 (POST /v1/fetch does not
 * use it). Outbound fetches go through a network service that allows loopback.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { supervise } from './proc.mjs';
import { freePort, snapshotOf } from './wrangler.mjs';

const STARTUP_TIMEOUT_MS = 30_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** compatibility_date, compatibility_flags and [vars] from wrangler.toml (the simple `key = "value"` lines it uses). */
function readWranglerToml(file) {
  const toml = readFileSync(file, 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = [...(/^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  const vars = {};
  const section = /^\[vars\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(toml)?.[1] ?? '';
  for (const m of section.matchAll(/^([A-Z0-9_]+)\s*=\s*"((?:[^"\\]|\\.)*)"/gm)) vars[m[1]] = m[2];
  return { date, flags, vars };
}

const capnpString = (s) => JSON.stringify(String(s));

/**
 * @param {{ root: string, vars?: Record<string, string>, script?: string, shards?: boolean, shipped?: { env?: Record<string, string> } }} options
 *   script: run this ES module instead of fanout's bundle (the bench's floor Worker)
 *   shards: false leaves the SHARDS binding out, so every batch stays in one invocation
 *   shipped: run deploy/workerd.capnp (the self-hosting configuration) as shipped, with
 *     `shipped.env` as its environment (FANOUT_* variables), instead of the bench's configuration
 * @returns {Promise<{ base: string, pid: number, workerd(): { worker: number, all: number[] }, stop(): Promise<void> }>}
 */
export async function startBareWorkerd({ root, vars, script, shards = true, shipped }) {
  const { snapshot, bin, env } = snapshotOf(root);
  const outdir = path.join(snapshot, shipped ? path.join('deploy', 'dist') : 'dist');
  if (script) {
    mkdirSync(outdir, { recursive: true });
    copyFileSync(script, path.join(outdir, 'index.js'));
  } else {
    const build = spawnSync(path.join(bin, 'wrangler'), ['deploy', '--dry-run', '--outdir', outdir], { cwd: snapshot, env, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${build.stdout}\n${build.stderr}`);
  }

  if (shipped) return serveShipped(root, snapshot, shipped);

  const toml = readWranglerToml(path.join(snapshot, 'wrangler.toml'));
  const bindings = Object.entries({ ...toml.vars, ...vars }).map(([name, text]) => `(name = ${capnpString(name)}, text = ${capnpString(text)})`);
  // The scale-out shards (wrangler.toml's SHARDS binding, class FetchShard), kept in memory as wrangler dev keeps them locally.
  const withShards = !script && shards;
  const shardBindings = withShards ? ['(name = "SHARDS", durableObjectNamespace = "FetchShard")'] : [];
  const shardNamespaces = `  durableObjectNamespaces = [ (className = "FetchShard", uniqueKey = "fanout-bench-FetchShard", enableSql = true) ],
  durableObjectStorage = (inMemory = void),
`;
  const port = await freePort();
  const config = path.join(snapshot, 'fanout.capnp');
  writeFileSync(
    config,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .fanout),
    (name = "internet", network = (allow = ["public", "private", "local"], tlsOptions = (trustBrowserCas = true))),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const fanout :Workerd.Worker = (
  modules = [ (name = "index.js", esModule = embed "dist/index.js") ],
  compatibilityDate = ${capnpString(toml.date)},
  compatibilityFlags = [${toml.flags.map(capnpString).join(', ')}],
  bindings = [ ${[...bindings, ...shardBindings].join(', ')} ],
${withShards ? shardNamespaces : ''});
`,
  );
  return serve(root, snapshot, [config], port);
}

/**
 * The shipped self-hosting configuration (deploy/workerd.capnp) as it is, on a free port, with
 * `shipped.env` as the environment its `fromEnvironment` bindings read.
 */
async function serveShipped(root, snapshot, shipped) {
  mkdirSync(path.join(snapshot, 'deploy'), { recursive: true });
  copyFileSync(path.join(root, 'deploy', 'workerd.capnp'), path.join(snapshot, 'deploy', 'workerd.capnp'));
  const port = await freePort();
  return serve(root, snapshot, [path.join(snapshot, 'deploy', 'workerd.capnp'), '--socket-addr', `http=127.0.0.1:${port}`], port, shipped.env ?? {});
}

/** Runs `workerd serve <args>` in `snapshot` and answers once GET /health says 200 on `port`. */
async function serve(root, snapshot, args, port, extraEnv = {}) {
  // The workerd package answers the path of its platform's binary (the one wrangler dev runs).
  // (A CommonJS module: Node hands it as `default`; vitest's loader may hand its exports' `default` directly.)
  const main = await import(pathToFileURL(path.join(root, 'node_modules', 'workerd', 'lib', 'main.js')).href);
  const workerdBin = typeof main.default === 'string' ? main.default : main.default.default;
  const child = spawn(workerdBin, ['serve', ...args], { cwd: snapshot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...extraEnv } });
  const supervised = supervise(child);
  const stop = async () => {
    await supervised.stop();
    rmSync(snapshot, { recursive: true, force: true });
  };

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return { base, pid: child.pid, workerd: () => ({ worker: child.pid, all: [child.pid] }), log: supervised.log, stop };
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`workerd serve did not answer GET /health within ${STARTUP_TIMEOUT_MS} ms. Output:\n${supervised.log()}`);
}
