import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';

// The same migrations/ that `npm run dev` and deploys apply, against the local D1 simulator.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
