/**
 * GET /docs in a real browser: Debian's chromium, driven by playwright-core,
 * against `wrangler dev` (the static assets included). The reference page
 * renders every operation of /openapi.json from the deployment itself and
 * asks no other host for anything. Its screenshot is the README's with
 * UPDATE_SCREENSHOTS=1 (test/helpers/browser.ts).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWranglerDev, type WranglerDev } from '../../bench/lib/wrangler.mjs';
import { chromiumMissing, hostsAskedBy, launchChromium, screenshotDir } from '../helpers/browser';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const missing = chromiumMissing();
if (missing) console.warn(`docs-page browser tests skipped: ${missing}`);

describe.skipIf(missing !== null)('GET /docs in chromium', () => {
  let dev: WranglerDev;
  let browser: Browser;
  const token = `docs-${crypto.randomUUID()}`;

  beforeAll(async () => {
    [dev, browser] = await Promise.all([
      startWranglerDev({ root: ROOT, snapshot: false, vars: { API_TOKEN: token }, startupTimeoutMs: 60_000 }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('Should render every documented operation from this deployment alone, with bearer auth offered', async () => {
    const document = (await (await fetch(`${dev.base}/openapi.json`)).json()) as { paths: Record<string, Record<string, { summary: string }>> };
    const summaries = Object.values(document.paths).flatMap((operations) => Object.values(operations).map((operation) => operation.summary));
    expect(summaries.length).toBeGreaterThan(15);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const hosts = hostsAskedBy(page);
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    await page.goto(`${dev.base}/docs`);
    for (const summary of summaries) await expect.poll(() => page.getByText(summary, { exact: true }).count(), { timeout: 20_000 }).toBeGreaterThan(0);
    // The deployment has API_TOKEN, so the document names bearer auth and the page offers it.
    await expect.poll(() => page.getByText(/bearer/i).count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    expect([...hosts]).toEqual([new URL(dev.base).host]);
    await page.screenshot({ path: path.join(screenshotDir(), 'docs.png') });
    await page.close();
  });
});
