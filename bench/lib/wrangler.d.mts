/**
 * Types of ./wrangler.mjs, for TypeScript callers (test/e2e/wrangler-dev.test.ts):
 * the project type-checks with allowJs off, so the .mjs itself is not read.
 */

export interface WranglerDevOptions {
  /** The project whose Worker to run (its node_modules provide wrangler and Node 22). */
  root: string;
  /**
   * Run a copy of src/, migrations/, wrangler.toml, package.json and tsconfig.json, so edits
   * to the working tree during the run neither reload workerd nor mix two versions (the bench).
   * `false` runs `root` itself, as `npm run dev` does (the e2e tests).
   * @default true
   */
  snapshot?: boolean;
  /** Each becomes `--var KEY:VALUE`, overriding wrangler.toml's [vars]. */
  vars?: Record<string, string>;
  /** More `wrangler dev` arguments, after the launcher's own (e.g. `--test-scheduled`). */
  args?: string[];
  /** How long wrangler may take to answer GET /health with 200. @default 90000 */
  startupTimeoutMs?: number;
}

export interface WranglerDev {
  /** `http://127.0.0.1:<port>`, wrangler's dev proxy. */
  base: string;
  /** wrangler's pid, which leads the process group. */
  pid: number;
  /** The DevTools inspector port passed as `--inspector-port`. */
  inspectorPort: number;
  /**
   * The workerd processes under this wrangler (read from Linux's /proc; elsewhere none):
   * `worker` runs the Worker, `all` includes the dev proxy's.
   */
  workerd(): { worker: number | undefined; all: number[] };
  /** Everything wrangler and workerd printed so far, stdout and stderr interleaved. */
  log(): string;
  /** Ends wrangler's whole process group (workerd too) and removes its temporary directory. */
  stop(): Promise<void>;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number>;

/** Copies the Worker's sources to a temporary directory; `env` has node_modules/.bin first on PATH. */
export function snapshotOf(root: string): { snapshot: string; bin: string; env: Record<string, string | undefined> };

/**
 * Applies the D1 migrations into a fresh --persist-to directory, starts `wrangler dev`
 * on a free port in its own process group, and resolves once GET /health answers 200.
 */
export function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev>;
