// Types for `import { env, exports } from 'cloudflare:workers'` inside tests
// (what `wrangler types` would generate for this Worker).
type FanoutEnv = import('../src/env').Env;
type D1MigrationList = import('cloudflare:test').D1Migration[];

declare namespace Cloudflare {
  interface Env extends FanoutEnv {
    /** migrations/, read by vitest.config.ts for test/setup/apply-migrations.ts. */
    TEST_MIGRATIONS: D1MigrationList;
  }
  interface Exports {
    default: Fetcher;
  }
}

// Vite's import.meta.glob, which test/content.test.ts uses to read its ground-truth files.
interface ImportMeta {
  glob<T = unknown>(pattern: string, options: { query: string; import: string; eager: true }): Record<string, T>;
}
