// Types for `import { env, exports } from 'cloudflare:workers'` inside tests
// (what `wrangler types` would generate for this Worker).
declare namespace Cloudflare {
  interface Env extends import('../src/env').Env {}
  interface Exports {
    default: Fetcher;
  }
}
