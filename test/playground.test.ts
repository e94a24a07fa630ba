/**
 * GET / (the playground page) through the Worker's entry point: its security
 * headers, the token field only where the API wants a token, and the
 * deployment's settings embedded so that no var can end the script element.
 * The page at work in a browser is test/e2e/playground.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ERROR_HELP, FORMATS } from '../src/result';
import { expectProblem } from './helpers/problem';
import { call, withEnv } from './helpers/worker';

/** The inline style, the executable inline script, and the JSON data block of a page. */
function partsOf(html: string): { style: string; script: string; settings: Record<string, unknown>; markup: string } {
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
  const json = /<script type="application\/json" id="settings">([\s\S]*?)<\/script>/.exec(html)![1]!;
  const markup = html.replace(style, '').replace(script, '').replace(json, '');
  return { style, script, settings: JSON.parse(json) as Record<string, unknown>, markup };
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`;
}

const TOKEN = `playground-token-${crypto.randomUUID()}`;

describe('GET / (the playground)', () => {
  it('Should answer HTML whose CSP allows only its own inline script and style by hash, fetches to itself, and no frames', async () => {
    const res = await call('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const { style, script } = partsOf(await res.text());
    const directives = Object.fromEntries(
      res.headers
        .get('content-security-policy')!
        .split('; ')
        .map((directive) => [directive.split(' ')[0], directive.split(' ').slice(1).join(' ')]),
    );
    expect(directives).toEqual({
      'default-src': "'none'",
      'script-src': await sha256(script),
      'style-src': await sha256(style),
      'connect-src': "'self'",
      'img-src': 'data:',
      'base-uri': "'none'",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
    });
  });

  it('Should carry no inline event handler, no style attribute and nothing from another host in its markup', async () => {
    const { markup } = partsOf(await (await call('/')).text());
    expect(markup).not.toMatch(/\son[a-z]+\s*=/i);
    expect(markup).not.toMatch(/\sstyle\s*=/i);
    expect(markup).not.toMatch(/\ssrc\s*=/i);
    const hrefs = [...markup.matchAll(/\shref="([^"]*)"/g)].map((match) => match[1]);
    expect(hrefs).toEqual(['data:,', '/docs', '/openapi.json']);
  });

  it('Should show the token field only when API_TOKEN or API_TOKENS gives the API clients', async () => {
    const open = await (await withEnv({ API_TOKEN: undefined, API_TOKENS: undefined }, '/')).text();
    expect(open).not.toContain('id="token"');
    expect(partsOf(open).settings.auth).toBe(false);
    for (const env of [{ API_TOKEN: TOKEN }, { API_TOKENS: JSON.stringify([{ name: 'acme', token: TOKEN }]) }]) {
      const guarded = await (await withEnv(env, '/')).text();
      expect(guarded).toContain('<input type="password" id="token"');
      expect(partsOf(guarded).settings.auth).toBe(true);
      // The page is public: it holds no token and needs none.
      expect(guarded).not.toContain(TOKEN);
    }
  });

  it("Should embed the deployment's limits and settings, and every error code's explanation", async () => {
    const html = await (await withEnv({ MAX_URLS: '7', MAX_CONCURRENCY: '4', MAX_TIMEOUT_MS: '5000' }, '/')).text();
    const { settings } = partsOf(html);
    expect(settings).toMatchObject({
      limits: { maxUrls: 7, maxConcurrency: 4, maxTimeoutMs: 5000 },
      // Maxima below the defaults (6, 10000) win, as they do for requests.
      defaults: { concurrency: 4, timeoutMs: 5000 },
      formats: [...FORMATS],
      errorHelp: ERROR_HELP,
    });
    expect(html).toContain('Up to 7 URLs (MAX_URLS)');
    expect(html).toContain('<input type="number" id="concurrency" min="1" max="4" step="1" value="4"');
    expect(html).toContain('<input type="number" id="timeoutMs" min="100" max="5000" step="100" value="5000"');
  });

  it('Should keep a var holding </script> or <!-- inside the JSON block, read back unchanged', async () => {
    const userAgent = '</script><script>alert(1)</script><!--<script>\u2028&amp;';
    const html = await (await withEnv({ USER_AGENT: userAgent }, '/')).text();
    expect(html.match(/<script/gi)).toHaveLength(2);
    expect(html.match(/<\/script>/gi)).toHaveLength(2);
    expect(html).not.toContain('<!--');
    expect(partsOf(html).settings.userAgent).toBe(userAgent);
  });

  it('Should answer 500 misconfigured naming a malformed var, as the API does', async () => {
    const problem = await expectProblem(await withEnv({ MAX_URLS: 'many' }, '/'), 500);
    expect(problem.type).toBe('urn:fanout:problem:misconfigured');
    expect(problem.detail).toBe('Expected MAX_URLS to be an integer >= 1, got "many"');
  });

  it('Should answer POST / with 405 and Allow: GET', async () => {
    const res = await call('/', { method: 'POST' });
    await expectProblem(res, 405, 'method');
    expect(res.headers.get('allow')).toBe('GET');
  });
});
