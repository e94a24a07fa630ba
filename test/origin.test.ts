/**
 * Smoke tests for the test origin itself, run from inside workerd: if these fail,
 * every test that relies on the origin is suspect.
 */
import { describe, expect, it } from 'vitest';
import { newScope, originUrl, release, stats, waitFor, waitForStats } from './origin/client';

const MIB = 1024 * 1024;

/** Reads at least `bytes` from a body, then cancels it; returns how much was read. */
async function readThenCancel(body: ReadableStream<Uint8Array>, bytes: number): Promise<number> {
  const reader = body.getReader();
  let read = 0;
  while (read < bytes) {
    const { done, value } = await reader.read();
    if (done) break;
    read += value.byteLength;
  }
  await reader.cancel();
  return read;
}

describe('test origin', () => {
  it('Should serve a page with its title and count the request', async () => {
    const scope = newScope('page');
    const res = await fetch(originUrl(scope, 'page?title=Hello%20origin&size=5000'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toContain('<title>Hello origin</title>');
    expect(new TextEncoder().encode(html).byteLength).toBe(5000);

    const s = await waitForStats(scope, (s) => s.inFlight === 0);
    expect(s.requests).toBe(1);
    expect(s.bytesSent).toBe(5000);
    expect(s.log[0]).toMatchObject({ route: 'page?title=Hello%20origin&size=5000', host: '127.0.0.1', method: 'GET' });
  });

  it('Should hold gate requests until released', async () => {
    const scope = newScope('gate');
    const pending = fetch(originUrl(scope, 'gate'));
    await waitForStats(scope, (s) => s.inFlight === 1 && s.held === 1);
    expect(await release(scope)).toBe(1);
    const res = await pending;
    expect(await res.text()).toContain('<title>gate</title>');
    // The gate stays open after a release.
    expect(await (await fetch(originUrl(scope, 'gate'))).text()).toContain('<title>gate</title>');
  });

  it('Should stop streaming huge once the client cancels', async () => {
    const scope = newScope('huge');
    const res = await fetch(originUrl(scope, 'huge?mb=200'));
    expect(res.headers.get('content-length')).toBeNull();
    expect(await readThenCancel(res.body!, 100 * 1024)).toBeGreaterThanOrEqual(100 * 1024);
    const s = await waitForStats(scope, (s) => s.closedEarly >= 1 && s.inFlight === 0);
    expect(s.bytesSent).toBeLessThan(8 * MIB);
  });

  it('Should stop streaming binary once the client cancels', async () => {
    const scope = newScope('binary');
    const res = await fetch(originUrl(scope, 'binary?kb=65536'));
    expect(res.headers.get('content-type')).toBe('image/png');
    await readThenCancel(res.body!, 16 * 1024);
    const s = await waitForStats(scope, (s) => s.closedEarly >= 1);
    expect(s.bytesSent).toBeLessThan(8 * MIB);
  });

  it('Should keep hang in flight until the client aborts', async () => {
    const scope = newScope('hang');
    const controller = new AbortController();
    const pending = fetch(originUrl(scope, 'hang'), { signal: controller.signal });
    await waitForStats(scope, (s) => s.inFlight === 1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    const s = await waitForStats(scope, (s) => s.inFlight === 0);
    expect(s.closedEarly).toBe(1);
  });

  it('Should trickle one byte per interval', async () => {
    const scope = newScope('trickle');
    const res = await fetch(originUrl(scope, 'trickle?interval=20'));
    expect(res.status).toBe(200);
    expect(await readThenCancel(res.body!, 3)).toBeGreaterThanOrEqual(3);
    await waitForStats(scope, (s) => s.closedEarly === 1);
  });

  it('Should count 127.0.0.2 as a separate host of the same origin', async () => {
    const scope = newScope('hosts');
    const gated = [fetch(originUrl(scope, 'gate')), fetch(originUrl(scope, 'gate', '127.0.0.2')), fetch(originUrl(scope, 'gate', '127.0.0.2'))];
    await waitForStats(scope, (s) => s.held === 3);
    await release(scope);
    await Promise.all(gated.map(async (p) => (await p).arrayBuffer()));
    const s = await stats(scope);
    expect(s.maxInFlight).toBe(3);
    expect(s.maxInFlightByHost).toEqual({ '127.0.0.1': 1, '127.0.0.2': 2 });
  });

  it('Should reset the connection without a response', async () => {
    const scope = newScope('reset');
    await expect(fetch(originUrl(scope, 'reset'))).rejects.toThrow();
    expect((await stats(scope)).closedEarly).toBe(0);
  });

  it('Should follow a relative redirect chain to its end', async () => {
    const scope = newScope('redirect');
    const res = await fetch(originUrl(scope, 'redirect?n=3'));
    expect(await res.text()).toContain('<title>end of chain</title>');
    expect((await stats(scope)).log.map((e) => e.route)).toEqual(['redirect?n=3', 'redirect?n=2', 'redirect?n=1', 'redirect?n=0']);

    const loop = await fetch(originUrl(scope, 'loop'), { redirect: 'manual' });
    expect(loop.status).toBe(302);
    expect(loop.headers.get('location')).toBe(`/s/${scope}/loop`);
  });

  it('Should fail flaky and retry-after the given number of times', async () => {
    const scope = newScope('flaky');
    expect((await fetch(originUrl(scope, 'flaky?fails=2&code=502'))).status).toBe(502);
    expect((await fetch(originUrl(scope, 'flaky?fails=2&code=502'))).status).toBe(502);
    expect(await (await fetch(originUrl(scope, 'flaky?fails=2&code=502'))).text()).toContain('<title>recovered</title>');

    const limited = await fetch(originUrl(scope, 'retry-after?seconds=7'));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(await (await fetch(originUrl(scope, 'retry-after?seconds=7'))).text()).toContain('<title>after 429</title>');
  });

  it('Should serve compressed pages that fetch decodes', async () => {
    const scope = newScope('compressed');
    const gz = await fetch(originUrl(scope, 'gzip'));
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(await gz.text()).toContain('<title>Gzipped page</title>');
    const br = await fetch(originUrl(scope, 'brotli'));
    expect(await br.text()).toContain('<title>Brotli page</title>');
    // Content-Length is the compressed size, far below the 8 KiB decoded page.
    expect(Number(gz.headers.get('content-length'))).toBeLessThan(4096);
  });

  it('Should serve fixture bytes with the given content type, or none', async () => {
    const scope = newScope('fixture');
    const ct = encodeURIComponent('text/html; charset=windows-1251');
    const res = await fetch(originUrl(scope, `fixture/cp1251-header.html?ct=${ct}`));
    expect(res.headers.get('content-type')).toBe('text/html; charset=windows-1251');
    const html = new TextDecoder('windows-1251').decode(await res.arrayBuffer());
    expect(html).toContain('<title>Учёные нашли воду на Марсе — новости науки</title>');

    const bare = await fetch(originUrl(scope, 'fixture/windows-1252.html'));
    expect(bare.headers.get('content-type')).toBeNull();
    expect(new TextDecoder('windows-1252').decode(await bare.arrayBuffer())).toContain('<title>Café “Zur Sonne” – Menü ab 9 €</title>');

    expect((await fetch(originUrl(scope, 'fixture/missing.html'))).status).toBe(404);
  });

  it('Should echo request headers and log the selected ones', async () => {
    const scope = newScope('echo');
    const res = await fetch(originUrl(scope, 'echo-headers'), { headers: { 'user-agent': 'fanout-test', accept: 'text/html', 'if-none-match': '"v1"' } });
    expect(await res.json()).toMatchObject({ 'user-agent': 'fanout-test', 'if-none-match': '"v1"' });
    expect((await stats(scope)).log[0]?.headers).toEqual({ 'user-agent': 'fanout-test', accept: 'text/html', 'if-none-match': '"v1"' });
  });

  it('Should answer unknown routes with 404 and a telling body', async () => {
    const res = await fetch(originUrl(newScope('unknown'), 'no-such-route'));
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('origin: unknown route');
  });

  it('Should time out waitFor with a message', async () => {
    await expect(waitFor(async () => false, { timeoutMs: 30, message: 'never' })).rejects.toThrow('waitFor: never not met within 30 ms');
  });
});
