/**
 * The playground (GET /) in a real browser: Debian's chromium, driven by
 * playwright-core, against `wrangler dev` with API_TOKEN set and the loopback
 * test origin. Streaming is shown without clocks: one URL is held at the
 * origin's gate while the rows of the others are already filled. The
 * README's screenshots (playground.png, playground-dark.png) are taken here,
 * written to docs/screenshots/ with UPDATE_SCREENSHOTS=1 (test/helpers/browser.ts).
 */
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWranglerDev, type WranglerDev } from '../../bench/lib/wrangler.mjs';
import { ERROR_HELP } from '../../src/result';
import { chromiumMissing, hostsAskedBy, launchChromium, screenshotDir } from '../helpers/browser';
import { fixtureUrl, newScope, originUrl, release, stats, waitForStats } from '../origin/client';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = `playground-${crypto.randomUUID()}`;
const missing = chromiumMissing();
if (missing) console.warn(`playground browser tests skipped: ${missing}`);

/** How long the page may take to show what the test waits for. */
const UI_TIMEOUT_MS = 20_000;

describe.skipIf(missing !== null)('the playground at GET / in chromium', () => {
  let dev: WranglerDev;
  let browser: Browser;

  beforeAll(async () => {
    [dev, browser] = await Promise.all([
      startWranglerDev({ root: ROOT, snapshot: false, vars: { ALLOW_PRIVATE_HOSTS: 'true', API_TOKEN: TOKEN }, startupTimeoutMs: 60_000 }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  /** A fresh page on the playground, with the clipboard allowed; page errors are collected. */
  async function openPlayground(colorScheme: 'light' | 'dark' = 'light'): Promise<{ context: BrowserContext; page: Page; errors: string[]; hosts: Set<string> }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme, permissions: ['clipboard-read', 'clipboard-write'] });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    const hosts = hostsAskedBy(page);
    await page.goto(`${dev.base}/`);
    return { context, page, errors, hosts };
  }

  const row = (page: Page, index: number) => page.locator(`#results tbody tr[data-index="${index}"]`);
  const stateOf = (page: Page, index: number) => row(page, index).getAttribute('data-state');
  const focusedId = (page: Page) => page.locator(':focus').getAttribute('id', { timeout: 2000 });

  it('Should fill rows as their lines arrive while another URL is still held, explain the error code, and run from the keyboard', async () => {
    const scope = newScope('playground');
    const urls = [
      fixtureUrl(scope, 'content-docs.html', 'text/html; charset=utf-8'),
      originUrl(scope, 'page?title=Playground%20one'),
      originUrl(scope, 'page?title=Missing%20page&status=404'),
      originUrl(scope, 'gate'),
    ];
    const { context, page, errors, hosts } = await openPlayground();
    // Idle, light and dark, beside the run's other files (not committed; for looking at).
    await page.screenshot({ path: path.join(tmpdir(), 'playground-idle.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(tmpdir(), 'playground-idle-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });

    await page.fill('#urls', urls.join('\n'));
    await page.check('#format-markdown');
    await page.fill('#token', TOKEN);
    // Tab from the URL list to Run (every control on the way is reachable), then Enter.
    await page.focus('#urls');
    let tabs = 0;
    while ((await focusedId(page)) !== 'run' && tabs < 30) {
      await page.keyboard.press('Tab');
      tabs++;
    }
    expect(await focusedId(page)).toBe('run');
    await page.screenshot({ path: path.join(tmpdir(), 'playground-focus.png'), clip: { x: 0, y: 0, width: 1280, height: 640 } });
    await page.keyboard.press('Enter');

    for (const [index, state] of [[0, 'ok'], [1, 'ok'], [2, 'error']] as const) {
      await expect.poll(() => stateOf(page, index), { timeout: UI_TIMEOUT_MS }).toBe(state);
    }
    // The gate still holds the last URL at the origin: the batch has not finished, yet three rows are filled.
    await waitForStats(scope, (s) => s.held === 1, { timeoutMs: UI_TIMEOUT_MS, message: 'the gate URL held' });
    expect(await stateOf(page, 3)).toBe('pending');
    expect(await page.textContent('#stats')).toBe('');
    expect(await page.isDisabled('#cancel')).toBe(false);
    expect(await page.textContent('#progress')).toBe('3 of 4 done.');

    expect(await row(page, 1).locator('td.title').textContent()).toBe('Playground one');
    expect(await row(page, 1).locator('.code-num').textContent()).toBe('200');
    expect(await row(page, 2).locator('.code-num').textContent()).toBe('404');
    expect(await row(page, 2).locator('.badge').textContent()).toBe('http_status');
    expect(await row(page, 2).locator('.help').textContent()).toBe(ERROR_HELP.http_status);
    expect(await row(page, 1).locator('.bar').getAttribute('aria-label')).toMatch(/^queued \d+ ms, first byte \d+ ms, body \d+ ms$/);

    expect(await release(scope)).toBe(1);
    await expect.poll(() => page.textContent('#stats'), { timeout: UI_TIMEOUT_MS }).toMatch(/^4 URLs: 3 ok, 1 failed, in \d+ ms\.$/);
    expect(await stateOf(page, 3)).toBe('ok');
    expect(await row(page, 3).locator('td.title').textContent()).toBe('gate');
    expect(await page.isDisabled('#cancel')).toBe(true);

    // The docs page's markdown, rendered: its headings under the preview's h2 (# as h3, ## as h4), code blocks, inline code, a link.
    await row(page, 0).getByRole('button', { name: 'Show result 0' }).click();
    expect(await focusedId(page)).toBe('preview-heading');
    expect(await page.locator('#preview-body h4').allTextContents()).toEqual(['How batches are formed', 'Acknowledging messages', 'Retries and the dead-letter queue']);
    expect(await page.locator('#preview-body h5').allTextContents()).toEqual(['Configuration options', 'Backing off between attempts']);
    expect(await page.locator('#preview-body pre code').first().textContent()).toMatch(/^import \{ Consumer \} from "@larkspur\/client";\n/);
    expect(await page.locator('#preview-body pre code').count()).toBe(3);
    expect(await page.locator('#preview-body p code').allTextContents()).toContain('maxBatchSize');
    expect(await page.getByRole('link', { name: 'View history' }).getAttribute('href')).toBe('https://github.com/larkspur-io/docs/commits/main/source/consumers/batching-and-retries.rst');
    expect(await page.textContent('#preview-body')).toContain('A consumer receives messages from a queue in batches rather than one at a time.');

    // The token is in this tab's sessionStorage and nowhere longer-lived.
    expect(await page.evaluate(() => [sessionStorage.getItem('fanout.playground.token'), localStorage.length])).toEqual([TOKEN, 0]);
    const routes = (await stats(scope)).log.map((entry) => entry.route).sort();
    expect(routes).toEqual(['fixture/content-docs.html?ct=text%2Fhtml%3B%20charset%3Dutf-8', 'gate', 'page?title=Missing%20page&status=404', 'page?title=Playground%20one']);
    expect(errors).toEqual([]);
    expect([...hosts]).toEqual([new URL(dev.base).host]);

    // The top of the page: the form, the table and the start of the preview.
    const clip = { x: 0, y: 0, width: 1280, height: 1500 };
    await page.screenshot({ path: path.join(screenshotDir(), 'playground.png'), fullPage: true, clip });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(screenshotDir(), 'playground-dark.png'), fullPage: true, clip });
    await context.close();
  });

  it("Should show a page's text that looks like markup as text, in the table and the preview", async () => {
    const scope = newScope('playground-markup');
    const title = '<img src=x onerror="document.title=1">';
    const { context, page, errors } = await openPlayground();
    await page.fill('#urls', originUrl(scope, `page?title=${encodeURIComponent(title)}`));
    await page.check('#format-markdown');
    await page.fill('#token', TOKEN);
    await page.click('#run');
    await expect.poll(() => page.textContent('#stats'), { timeout: UI_TIMEOUT_MS }).toMatch(/^1 URL: 1 ok, 0 failed, in \d+ ms\.$/);
    expect(await row(page, 0).locator('td.title').textContent()).toBe(title);
    expect(await page.textContent('#preview-body')).toContain(`Welcome to ${title}.`);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.title()).toBe('fanout playground');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('Should show the 401 problem when run without the token, and no row as done', async () => {
    const scope = newScope('playground-401');
    const { context, page } = await openPlayground();
    await page.fill('#urls', originUrl(scope, 'page?title=Never'));
    await page.click('#run');
    await expect.poll(() => page.textContent('#problem'), { timeout: UI_TIMEOUT_MS }).toMatch(/^401 Unauthorized: .+ Enter the API token above\.$/);
    expect(await stateOf(page, 0)).toBe('refused');
    expect((await stats(scope)).requests).toBe(0);
    await context.close();
  });

  it('Should copy a curl command that sh runs against wrangler dev for the same URLs, and the request body as JSON', async () => {
    const scope = newScope('playground-curl');
    const urls = [originUrl(scope, 'page?title=Curl%20one'), originUrl(scope, 'page?title=Curl%20two')];
    const { context, page } = await openPlayground();
    await page.fill('#urls', urls.join('\n'));
    await page.check('#format-markdown');
    // A quote in a value: the command must still quote it for sh.
    await page.fill('#query', "the fox's words");
    await page.fill('#token', TOKEN);

    await page.click('#copy-json');
    await expect.poll(() => page.textContent('#progress')).toBe('The request body (JSON) copied to the clipboard.');
    const json = await page.evaluate<string>('navigator.clipboard.readText()');
    expect(JSON.parse(json)).toEqual({ urls, formats: ['markdown'], query: "the fox's words" });

    await page.click('#copy-curl');
    await expect.poll(() => page.textContent('#progress')).toBe('The curl command copied to the clipboard.');
    const command = await page.evaluate<string>('navigator.clipboard.readText()');
    expect(command).toBe(await page.textContent('#copied'));
    expect((await stats(scope)).requests).toBe(0);

    const { stdout } = await promisify(execFile)('sh', ['-c', command], { timeout: 30_000 });
    const lines = stdout
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { index?: number; url?: string; title?: string; markdown?: string; stats?: { ok: number } });
    const results = lines.filter((line) => line.stats === undefined).sort((a, b) => a.index! - b.index!);
    expect(results.map((result) => [result.url, result.title])).toEqual([
      [urls[0], 'Curl one'],
      [urls[1], 'Curl two'],
    ]);
    expect(results[0]!.markdown).toContain('Welcome to Curl one.');
    expect(lines.at(-1)!.stats).toMatchObject({ ok: 2 });
    expect((await stats(scope)).requests).toBe(2);
    await context.close();
  });

  it('Should cancel a running batch from the Cancel button: the held request is closed at the origin', async () => {
    const scope = newScope('playground-cancel');
    const { context, page } = await openPlayground();
    await page.fill('#urls', [originUrl(scope, 'page?title=Quick'), originUrl(scope, 'gate')].join('\n'));
    await page.fill('#token', TOKEN);
    await page.click('#run');
    await expect.poll(() => stateOf(page, 0), { timeout: UI_TIMEOUT_MS }).toBe('ok');
    await waitForStats(scope, (s) => s.held === 1, { timeoutMs: UI_TIMEOUT_MS, message: 'the gate URL held' });
    await page.click('#cancel');
    await expect.poll(() => page.textContent('#stats'), { timeout: UI_TIMEOUT_MS }).toBe('Cancelled after 1 of 2 URLs.');
    expect(await stateOf(page, 1)).toBe('cancelled');
    // workerd sees the closed connection at its next heartbeat write and aborts the batch's fetches.
    await waitForStats(scope, (s) => s.closedEarly === 1 && s.inFlight === 0, { timeoutMs: UI_TIMEOUT_MS, message: 'the held request closed by fanout' });
    await context.close();
  });
});
