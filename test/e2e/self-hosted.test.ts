/**
 * The self-hosting configuration, deploy/workerd.capnp, run as shipped by the
 * bench's bare workerd launcher: its outbound network reaches public
 * addresses only, so even with fanout's guard switched off
 * (FANOUT_ALLOW_PRIVATE_HOSTS) a loopback address is refused after
 * resolution, and the origin never sees the request. (No machine here
 * resolves a public name to a private address, so the loopback literal stands
 * in for one: the network service judges the address, however it was found.)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBareWorkerd, type BareWorkerd } from '../../bench/lib/workerd.mjs';
import { newScope, originUrl, stats } from '../origin/client';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let open: BareWorkerd;
let guarded: BareWorkerd;

beforeAll(async () => {
  [open, guarded] = await Promise.all([
    startBareWorkerd({ root: ROOT, shipped: { env: { FANOUT_ALLOW_PRIVATE_HOSTS: 'true' } } }),
    startBareWorkerd({ root: ROOT, shipped: { env: {} } }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([open?.stop(), guarded?.stop()]);
});

async function fetchThrough(worker: BareWorkerd, urls: string[]) {
  const res = await fetch(`${worker.base}/v1/fetch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls, retries: 0, timeoutMs: 5000 }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { results: { ok: boolean; error: { code: string; message: string } | null }[] };
}

describe('deploy/workerd.capnp', () => {
  it('Should refuse a loopback address at the network layer when the guard lets it through, with no request at the origin', async () => {
    const scope = newScope('self-hosted-network');
    const { results } = await fetchThrough(open, [originUrl(scope, 'page?title=Local'), originUrl(scope, 'page?title=Other', '127.0.0.2')]);
    for (const result of results) expect(result).toMatchObject({ ok: false, error: { code: 'network' } });
    expect((await stats(scope)).requests).toBe(0);
  });

  it('Should refuse it at the guard first with the shipped defaults', async () => {
    const scope = newScope('self-hosted-guard');
    const { results } = await fetchThrough(guarded, [originUrl(scope, 'page?title=Local')]);
    expect(results[0]).toMatchObject({ ok: false, error: { code: 'blocked' } });
  });

  it('Should run with the compatibility date and flags of wrangler.toml', () => {
    const capnp = readFileSync(new URL('../../deploy/workerd.capnp', import.meta.url), 'utf8');
    const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8');
    expect(/compatibilityDate = "([^"]+)"/.exec(capnp)?.[1]).toBe(/^compatibility_date = "([^"]+)"/m.exec(toml)?.[1]);
    expect(/compatibilityFlags = \[([^\]]*)\]/.exec(capnp)?.[1]?.trim()).toBe(/^compatibility_flags = \[([^\]]*)\]/m.exec(toml)?.[1]?.trim());
  });
});
