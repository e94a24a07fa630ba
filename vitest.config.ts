import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      // The test origins live on 127.0.0.1/127.0.0.2, which the deployed default refuses.
      miniflare: { bindings: { ALLOW_PRIVATE_HOSTS: 'true' } },
    }),
  ],
  test: {
    globalSetup: ['./test/setup/origin-global.ts'],
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**'],
    testTimeout: 20_000,
  },
});
