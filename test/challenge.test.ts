/**
 * Bot challenges (src/challenge.ts): an interstitial that a bot-protection
 * service answers instead of the page is never `ok`, whatever its status, and
 * is never retried. The test origin plays each vendor (its `challenge` route).
 */
import { describe, expect, it } from 'vitest';
import { challengeInBody } from '../src/challenge';
import { fanout } from './helpers/worker';
import { newScope, originUrl, stats } from './origin/client';

describe('bot challenges', () => {
  it.each([
    ['cloudflare-header', 'cloudflare', 403],
    ['cloudflare', 'cloudflare', 503],
    ['datadome', 'datadome', 403],
    ['perimeterx', 'perimeterx', 403],
    ['imperva', 'imperva', 200],
    ['akamai', 'akamai', 200],
    ['sucuri', 'sucuri', 403],
    ['captcha', 'captcha', 200],
    ['aws-waf', 'aws-waf', 202],
    ['kasada', 'kasada', 429],
    ['vercel-header', 'vercel', 429],
  ])('Should answer %s as a challenge by %s (status %i), not ok and not retried', async (v, vendor, status) => {
    const scope = newScope(`challenge-${v}`);
    const { results } = await fanout({ urls: [originUrl(scope, `challenge?v=${v}`)], retries: 2 });
    expect(results[0]).toMatchObject({ ok: false, status, title: null, snippet: null, error: { code: 'challenge', retryable: false, vendor } });
    // One request: a challenge is not asked again.
    expect((await stats(scope)).requests).toBe(1);
  });

  it('Should answer LinkedIn\'s status 999 as its challenge', async () => {
    const scope = newScope('challenge-999');
    const { results } = await fanout({ urls: [originUrl(scope, 'challenge?v=linkedin')], retries: 1 });
    expect(results[0]).toMatchObject({ ok: false, error: { code: 'challenge', vendor: 'linkedin' } });
  });

  it('Should take an ordinary page that carries a vendor\'s script for the page it is', async () => {
    const scope = newScope('challenge-jsd');
    const { results } = await fanout({ urls: [originUrl(scope, 'challenge?v=jsd')] });
    expect(results[0]).toMatchObject({ ok: true, status: 200, title: 'Ordinary page', error: null });
  });

  it.each([
    ['DataDome\'s tag on an ordinary page', '<script src="https://js.datadome.co/tags.js" async></script><title>Shop</title>'],
    ['HUMAN\'s client on an ordinary page', '<script src="//client.perimeterx.net/PXabc/main.min.js"></script><title>Shop</title>'],
    ['Imperva\'s resource script on an ordinary page', '<script src="/_Incapsula_Resource?SWJIYLWA=719d34d31c8e3a6e6fffd425f7e032f3"></script><title>Bank</title>'],
    ['a contact form with reCAPTCHA', '<title>Contact us</title><script src="https://www.google.com/recaptcha/api.js"></script>'],
    ['an article about captchas', '<title>Why captcha is broken | Tech Weekly</title><p>Google recaptcha, hCaptcha and Turnstile compared.</p>'],
  ])('Should not take %s for a challenge', (_, html) => {
    expect(challengeInBody(new TextEncoder().encode(`<!doctype html><html><head>${html}</head><body></body></html>`))).toBeNull();
  });
});
