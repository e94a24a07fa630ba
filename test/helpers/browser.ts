/**
 * A real browser for the end-to-end page tests: Debian's chromium (installed
 * by `.ci/run`, or `apt-get install chromium`), driven by playwright-core.
 * Tests skip with the reason `chromiumMissing()` gives when it cannot run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where the browser is: CHROMIUM_PATH, else Debian's. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Why chromium cannot run here, or null when it can. */
export function chromiumMissing(): string | null {
  if (!existsSync(CHROMIUM_PATH)) return `no browser at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`;
  const probe = spawnSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return probe.status === 0 ? null : `${CHROMIUM_PATH} --version failed: ${probe.stderr || probe.error?.message || `exit ${probe.status}`}`;
}

/**
 * Headless chromium for a sandboxed machine with no outside network: no
 * background networking, component updates or sync (each would try outside
 * hosts), no QUIC, no GPU; --no-sandbox because CI runs as root.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Every host a page asked for, from now on (to check that it loads nothing from elsewhere). */
export function hostsAskedBy(page: Page): Set<string> {
  const hosts = new Set<string>();
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol === 'http:' || url.protocol === 'https:') hosts.add(url.host);
  });
  return hosts;
}

/**
 * Where the tests put their screenshots: the README's own (docs/screenshots/)
 * with UPDATE_SCREENSHOTS=1, else a temporary folder, so a test run leaves
 * the working tree as it was.
 */
export function screenshotDir(): string {
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url)) : path.join(tmpdir(), 'fanout-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
