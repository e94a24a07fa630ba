import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

// The D1 schema, read in Node and applied inside workerd by test/setup/apply-migrations.ts.
const migrations = await readD1Migrations('./migrations');

export default defineConfig({
  test: {
    // Declared on the root config, not per project: vitest runs the root globalSetup once per run
    // (even with `--project e2e`), and every project's `inject()` sees what the root provided,
    // so both projects share one test origin. Projects do not inherit the root globalSetup.
    globalSetup: ['./test/setup/origin-global.ts'],
    projects: [
      {
        // Unit and integration tests inside workerd, through the Worker's real entry points.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            // The test origins live on 127.0.0.1/127.0.0.2, which the deployed default refuses.
            // FUZZ_RUNS and FUZZ_SEED carry the shell's settings to test/fuzz.test.ts ('' keeps its defaults).
            miniflare: {
              bindings: {
                ALLOW_PRIVATE_HOSTS: 'true',
                TEST_MIGRATIONS: migrations,
                // Jobs' webhooks are signed with it (test/jobs.test.ts checks the signatures).
                WEBHOOK_SECRET: 'test-webhook-secret',
                FUZZ_RUNS: process.env.FUZZ_RUNS ?? '',
                FUZZ_SEED: process.env.FUZZ_SEED ?? '',
              },
            },
          }),
        ],
        test: {
          name: 'worker',
          setupFiles: ['./test/setup/apply-migrations.ts'],
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', 'test/docs/**'],
          testTimeout: 20_000,
        },
      },
      {
        // The README against the code: its tables' defaults and its Layout (Node; reads files only).
        test: {
          name: 'docs',
          environment: 'node',
          include: ['test/docs/**/*.test.ts'],
        },
      },
      {
        // End to end in Node: starts `wrangler dev` as a user would and talks to it over real HTTP.
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          // wrangler dev takes a few seconds to bundle and start workerd, more on a cold CI machine.
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
