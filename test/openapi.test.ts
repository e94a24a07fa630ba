/**
 * GET /openapi.json and GET /docs in workerd: every route the app registers is
 * in the document (and nothing else is), the documented examples pass both the
 * document's JSON Schema and the route itself, and real answers (a batch with
 * every format, an NDJSON stream, a problem, a job) match the answer schemas.
 * The document's schemas are checked with Ajv (JSON Schema 2020-12), not with
 * the zod schemas they were generated from.
 */
import Ajv2020 from 'ajv/dist/2020';
import { env } from 'cloudflare:workers';
import * as z from 'zod/mini';
import { describe, expect, it } from 'vitest';
import { app } from '../src/app';
import type { Env } from '../src/env';
import { jobSchemaFor } from '../src/jobs/routes';
import { requestSchemaFor } from '../src/schema';
import type { OpenApiDocument } from '../src/openapi/document';
import { EXAMPLES } from '../src/openapi/document';
import { expectProblem } from './helpers/problem';
import { call, jsonInit, post, withEnv } from './helpers/worker';
import { fixtureUrl, newScope, originUrl } from './origin/client';

async function documentOf(res?: Response): Promise<OpenApiDocument> {
  const answer = res ?? (await call('/openapi.json'));
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  return answer.json<OpenApiDocument>();
}

/** A validator for the document's schemas; `#/components/schemas/X` references resolve within it. */
function validatorFor(document: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'fanout', components: document.components }, 'fanout');
  return (schema: unknown, value: unknown): string[] => {
    const resolved = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"fanout#/components/'));
    const validate = ajv.compile(resolved);
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  };
}

const HTTP_METHODS = ['get', 'post', 'put', 'delete', 'patch'];

describe('GET /openapi.json', () => {
  it('Should document every route the app registers, and no route it does not', async () => {
    const document = await documentOf();
    expect(document.openapi).toBe('3.1.0');
    const registered = new Set(
      app.routes
        .filter((route) => HTTP_METHODS.includes(route.method.toLowerCase()))
        .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:([A-Za-z]+)/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).filter((m) => HTTP_METHODS.includes(m)).map((m) => `${m} ${path}`)),
    );
    expect(registered.size).toBeGreaterThan(15);
    expect([...registered].filter((route) => !documented.has(route))).toEqual([]);
    expect([...documented].filter((route) => !registered.has(route))).toEqual([]);
    // Each operation sits in one of the document's groups.
    const tags = new Set((document as unknown as { tags: { name: string }[] }).tags.map((tag) => tag.name));
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const operation of Object.values(operations)) expect((operation as { tags: string[] }).tags.filter((tag) => tags.has(tag)), path).toHaveLength(1);
    }
    expect((document.paths['/v1/scrape']!.post as { tags: string[] }).tags).toEqual(['Firecrawl compatible']);
  });

  it('Should give every path parameter of a route a documented parameter', async () => {
    const document = await documentOf();
    for (const [path, operations] of Object.entries(document.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, operation] of Object.entries(operations)) {
        const declared = ((operation as { parameters?: { name: string; in: string }[] }).parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(declared, `${method} ${path}`).toEqual(names);
      }
    }
  });

  it("Should state this deployment's limits and every option the route accepts", async () => {
    const document = await withEnv({ MAX_URLS: '40', MAX_CONCURRENCY: '12' }, '/openapi.json').then((res) => documentOf(res));
    const body = (document.paths['/v1/fetch']!.post as { requestBody: { content: Record<string, { schema: { properties: Record<string, { maxItems?: number; maximum?: number }>; additionalProperties: boolean } }> } })
      .requestBody.content['application/json']!.schema;
    expect(body.properties.urls!.maxItems).toBe(40);
    expect(body.properties.concurrency!.maximum).toBe(12);
    // Each option says what it does, with this deployment's default (the default of 6 gives way to a lower maximum).
    expect((body.properties.concurrency as { description?: string }).description).toBe('Most URLs in flight at once (default 6).');
    expect((body.properties.formats as { description?: string }).description).toMatch(/markdown/);
    expect(body.additionalProperties).toBe(false);
    // Each option in the schema is one the route takes: sending it with a valid value passes validation.
    expect(Object.keys(body.properties).sort()).toEqual(
      ['concurrency', 'deadlineMs', 'formats', 'maxAge', 'maxBytes', 'maxContentChars', 'maxRedirects', 'onlyMainContent', 'perHost', 'provenance', 'query', 'respectRobots', 'retries', 'selector', 'snippetLength', 'timeoutMs', 'urls'].sort(),
    );
  });

  it('Should list every result error code and every problem kind', async () => {
    const document = await documentOf();
    const codes = (document.components.schemas.PageResult as { properties: { error: { anyOf: { properties?: { code?: { enum: string[] } } }[] } } }).properties.error.anyOf.find((s) => s.properties)!
      .properties!.code!.enum;
    expect(codes).toEqual(expect.arrayContaining(['invalid_url', 'blocked', 'timeout', 'http_status', 'challenge', 'robots_disallowed', 'cancelled', 'unprocessed']));
    for (const code of codes) expect(document.info.description).toContain(`\`${code}\`: `);
    for (const kind of ['invalid-request', 'malformed-json', 'unauthorized', 'too-many-urls', 'rate-limited', 'conflict']) expect(document.info.description).toContain(`\`${kind}\``);
  });

  it('Should hold examples that the document and the routes both accept', async () => {
    const document = await documentOf();
    const validate = validatorFor(document);
    const bodies = [
      ['/v1/fetch', 'post', EXAMPLES.fetch],
      ['/v1/jobs', 'post', EXAMPLES.job],
      ['/v1/watchlists/{name}', 'put', EXAMPLES.watchlist],
    ] as const;
    for (const [path, method, example] of bodies) {
      const content = (document.paths[path]![method] as { requestBody: { content: Record<string, { schema: unknown; example: unknown }> } }).requestBody.content['application/json']!;
      expect(content.example).toEqual(example);
      expect(validate(content.schema, content.example), path).toEqual([]);
      // And a wrong one is refused by the document, as by the route.
      expect(validate(content.schema, { ...example, concurrency: 0 }).length, path).toBeGreaterThan(0);
    }
    // The routes' own schemas take them (run without fetching: the example URLs are outside hosts).
    expect(z.safeParse(requestSchemaFor(env as Env), EXAMPLES.fetch).success).toBe(true);
    expect(z.safeParse(jobSchemaFor(env as Env), EXAMPLES.job).success).toBe(true);
    const listed = await call('/v1/watchlists/openapi-example', jsonInit('PUT', EXAMPLES.watchlist));
    expect(listed.status).toBe(201);
  });
});

describe('answers match the document', () => {
  it('Should describe a batch with every format, provenance and the cache, field for field', async () => {
    const document = await documentOf();
    const validate = validatorFor(document);
    const scope = newScope('openapi');
    const res = await post({
      urls: [
        fixtureUrl(scope, 'article-jsonld.html', 'text/html; charset=utf-8'),
        originUrl(scope, 'status/404'),
        'not a url',
        fixtureUrl(scope, 'rss2.xml', 'application/rss+xml; charset=utf-8'),
      ],
      formats: ['markdown', 'text', 'html', 'links', 'jsonld', 'feed'],
      provenance: true,
      maxAge: 60_000,
    });
    expect(res.status).toBe(200);
    const batch = await res.json<{ results: { ok: boolean; error: { code: string } | null }[] }>();
    expect(batch.results.map((r) => r.error?.code ?? 'ok')).toEqual(['ok', 'http_status', 'invalid_url', 'ok']);
    expect(validate({ $ref: '#/components/schemas/BatchResult' }, batch)).toEqual([]);
    // The answer schemas admit no field the code does not write: an extra one fails.
    expect(validate({ $ref: '#/components/schemas/PageResult' }, { ...batch.results[0], surprise: 1 }).join()).toMatch(/additional/);
  });

  it('Should describe each NDJSON line of a streamed batch', async () => {
    const validate = validatorFor(await documentOf());
    const scope = newScope('openapi-ndjson');
    const res = await post({ urls: [originUrl(scope, 'page?title=One'), originUrl(scope, 'page?title=Two')] }, { headers: { accept: 'application/x-ndjson' } });
    const lines = (await res.text()).split('\n').map((line) => line.trim()).filter(Boolean).map((line) => JSON.parse(line));
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(validate({ $ref: '#/components/schemas/FetchLine' }, line)).toEqual([]);
  });

  it('Should describe a problem answer', async () => {
    const validate = validatorFor(await documentOf());
    const problem = await expectProblem(await post({ urls: ['http://a'], concurrency: 0 }), 400, 'concurrency');
    expect(validate({ $ref: '#/components/schemas/Problem' }, problem)).toEqual([]);
  });
});

describe('GET /docs', () => {
  it('Should serve the reference page pointing at the document and a same-origin script, under a CSP that allows nothing else', async () => {
    const res = await call('/docs');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-url="/openapi.json"');
    expect(html).toContain('<script src="/docs/scalar.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-eval');
  });

  it('Should answer 405 for a POST to either route', async () => {
    await expectProblem(await call('/docs', { method: 'POST' }), 405);
    await expectProblem(await call('/openapi.json', { method: 'POST' }), 405);
  });
});
