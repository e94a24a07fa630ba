/**
 * Types of ./workerd.mjs, for TypeScript callers (test/e2e/self-hosted.test.ts):
 * the project type-checks with allowJs off, so the .mjs itself is not read.
 */

export interface BareWorkerd {
  base: string;
  pid: number;
  workerd(): { worker: number; all: number[] };
  log(): string;
  stop(): Promise<void>;
}

export function startBareWorkerd(options: {
  /** The project whose Worker to bundle and run. */
  root: string;
  /** [vars] for the bench's configuration (not read with `shipped`). */
  vars?: Record<string, string>;
  /** Run this ES module instead of fanout's bundle (the bench's floor Worker). */
  script?: string;
  /** false leaves the SHARDS binding out. */
  shards?: boolean;
  /** Run deploy/workerd.capnp as shipped, with `env` as the environment its fromEnvironment bindings read. */
  shipped?: { env?: Record<string, string> };
}): Promise<BareWorkerd>;
