import * as z from 'zod/mini';
import type { $ZodType } from 'zod/v4/core';
import { clientsFromEnv } from '../clients';
import { limitsFromEnv } from '../config';
import { VERSION } from '../engine/options';
import type { Env } from '../env';
import { PROBLEM_KINDS } from '../errors';
import { jobSchemaFor, listQuery, resultsQuery } from '../jobs/routes';
import { optionNames, type FirecrawlVersion } from '../firecrawl/options';
import { jobSettings, MAX_JOB_REQUEST_BYTES } from '../jobs/settings';
import { perObject } from '../memo';
import { ERROR_CODES, ERROR_HELP } from '../result';
import { engineFor } from '../config';
import { optionHelp, requestSchemaFor } from '../schema';
import { changesQuery, listSchemaFor, runsQuery } from '../watch/routes';
import { answerSchemas } from './schemas';

/**
 * The OpenAPI 3.1 document, built per deployment: the request bodies and
 * query strings are the zod schemas the routes validate with (their maxima
 * are this deployment's limits), the answers the schemas of ./schemas.ts.
 * Every route the app registers is here (test/openapi.test.ts checks it).
 */

type JsonSchema = Record<string, unknown>;

/**
 * A zod schema as the JSON Schema an OpenAPI 3.1 document holds (draft
 * 2020-12): a request as a caller writes it (`input`), an answer as fanout
 * writes it (`output`: objects then admit no other property).
 */
function jsonSchema(schema: $ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' }) as JsonSchema;
  return rest;
}

/** `schema` (an object's JSON Schema) with each option described, as the MCP tools describe them, with this deployment's defaults. */
function described(schema: JsonSchema, help: Record<string, string>): JsonSchema {
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (!properties) return schema;
  const out: Record<string, JsonSchema> = {};
  for (const [name, property] of Object.entries(properties)) out[name] = help[name] && !property.description ? { ...property, description: help[name] } : property;
  return { ...schema, properties: out };
}

/** A component reference. */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A query schema's properties as OpenAPI query parameters. */
function queryParameters(schema: $ZodType | JsonSchema, skip: readonly string[] = []): JsonSchema[] {
  const { properties = {}, required = [] } = ('_zod' in schema ? jsonSchema(schema as $ZodType) : schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(properties)
    .filter(([name]) => !skip.includes(name))
    .map(([name, property]) => {
      const { description, ...rest } = property;
      return { name, in: 'query', required: required.includes(name), ...(description ? { description } : {}), schema: rest };
    });
}

const json = (schema: unknown, example?: unknown) => ({ 'application/json': { schema, ...(example === undefined ? {} : { example }) } });

/** The problem answers an operation may give, by status. */
function problems(...statuses: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const status of [...new Set(statuses)].sort()) {
    const kinds = Object.entries(PROBLEM_KINDS).filter(([, kind]) => kind.status === status);
    out[String(status)] = {
      description: kinds.map(([name, kind]) => `\`${name}\`: ${kind.title}`).join('; '),
      content: { 'application/problem+json': { schema: ref('Problem') } },
    };
  }
  return out;
}

/** Problems every authenticated route may answer. */
const AUTHED = [401, 429, 500];
const idParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });

/** A Firecrawl body: every option the route reads, by name; README "Firecrawl clients" says how each maps. */
function firecrawlBody(version: FirecrawlVersion, route: 'scrape' | 'batch'): JsonSchema {
  return {
    type: 'object',
    description: "Firecrawl's body. An option fanout cannot honour (browser actions, screenshots, proxies, LLM extraction) answers 400 naming it; so does an unknown one.",
    properties: Object.fromEntries(optionNames(version, route).map((name) => [name, {}])),
    required: [route === 'scrape' ? 'url' : 'urls'],
    additionalProperties: false,
  };
}

/** Firecrawl's answers: its own shapes, documented by Firecrawl; fanout's subset is in the README. */
const firecrawlAnswer = (description: string) => ({ description, content: json({ type: 'object', properties: { success: { type: 'boolean' } }, required: ['success'] }) });

/** The Firecrawl-compatible routes of one API version. */
function firecrawlPaths(version: FirecrawlVersion): Record<string, Record<string, unknown>> {
  const id = idParam('id', 'The batch id (a fanout job id)');
  const refusals = problems(400, 404, 413, 415, ...AUTHED);
  return {
    [`/${version}/scrape`]: {
      post: { operationId: `firecrawlScrape${version}`, summary: `Firecrawl ${version}: scrape one URL`, requestBody: { required: true, content: json(firecrawlBody(version, 'scrape')) }, responses: { '200': firecrawlAnswer('{ success, data: document }, or { success: false, code, error } for a page that gave no answer'), '408': firecrawlAnswer('SCRAPE_TIMEOUT'), ...refusals } },
    },
    [`/${version}/batch/scrape`]: {
      post: { operationId: `firecrawlBatch${version}`, summary: `Firecrawl ${version}: start a batch scrape (a fanout job)`, requestBody: { required: true, content: json(firecrawlBody(version, 'batch')) }, responses: { '200': firecrawlAnswer('{ success, id, url, invalidURLs? }'), ...refusals } },
    },
    [`/${version}/batch/scrape/{id}`]: {
      get: { operationId: `firecrawlBatchStatus${version}`, summary: `Firecrawl ${version}: a batch's status and a page of documents`, parameters: [id, { name: 'skip', in: 'query', schema: { type: 'integer', minimum: 0 } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 } }], responses: { '200': firecrawlAnswer('{ success, status, total, completed, creditsUsed, expiresAt, next?, data }'), ...refusals } },
      delete: { operationId: `firecrawlBatchCancel${version}`, summary: `Firecrawl ${version}: cancel a batch`, parameters: [id], responses: { '200': firecrawlAnswer('{ success, status }'), ...refusals } },
    },
    [`/${version}/batch/scrape/{id}/errors`]: {
      get: { operationId: `firecrawlBatchErrors${version}`, summary: `Firecrawl ${version}: the URLs of a batch that gave no answer`, parameters: [id], responses: { '200': { description: '{ errors: [{ id, url, code, error }], robotsBlocked: [url] }', content: json({ type: 'object' }) }, ...refusals } },
    },
    ...(version === 'v1'
      ? { '/v1/crawl/{id}': { get: { operationId: 'firecrawlCrawlStatusv1', summary: "Firecrawl v1: a batch's status where the v1 SDK polls for it", parameters: [id], responses: { '200': firecrawlAnswer('as GET /v1/batch/scrape/{id}'), ...refusals } } } }
      : {}),
  };
}

/** Examples of request bodies; the test validates each against the document and the route's schema. */
export const EXAMPLES = {
  fetch: { urls: ['https://example.com/', 'https://example.org/news'], concurrency: 8, timeoutMs: 10000, formats: ['markdown', 'links'] },
  job: {
    urls: ['https://example.com/a', 'https://example.com/b'],
    formats: ['markdown'],
    webhook: { url: 'https://hooks.example.net/fanout', events: ['job.completed'], metadata: { batch: 'nightly' } },
  },
  watchlist: { urls: ['https://example.com/pricing'], crons: ['0 * * * *'], snippetLength: 300 },
} as const;

/** The groups of operations, in the order the reference shows them, and which paths each holds. */
const TAGS = [
  { name: 'Fetch', description: 'A batch of URLs, answered at once (JSON) or as each URL finishes (NDJSON).', paths: /^\/v1\/fetch$/ },
  { name: 'Jobs', description: 'Up to MAX_JOB_URLS URLs, run in the background; results read back a page at a time.', paths: /^\/v1\/jobs/ },
  { name: 'Watch lists', description: 'Lists re-checked by cron, their runs and what changed.', paths: /^\/v1\/(watchlists|runs|changes)/ },
  { name: 'Agents', description: 'The Model Context Protocol endpoint.', paths: /^\/mcp$/ },
  { name: 'Firecrawl compatible', description: "A subset of Firecrawl's v1 and v2 API, in its shapes (README \"Firecrawl clients\").", paths: /^\/v[12]\/(scrape|batch|crawl)/ },
  { name: 'Service', description: 'Health, this document, the reference page and the playground.', paths: /^/ },
] as const;

/** Every operation with the tag of its path (the first group whose paths match). */
function tagged(paths: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(paths).map(([path, operations]) => {
      const tag = TAGS.find((t) => t.paths.test(path))!.name;
      return [path, Object.fromEntries(Object.entries(operations).map(([method, operation]) => [method, { tags: [tag], ...(operation as object) }]))];
    }),
  );
}

function build(env: Env) {
  const answers = answerSchemas();
  const limits = limitsFromEnv(env);
  const help: Record<string, string> = optionHelp(engineFor(env));
  const request = described(jsonSchema(requestSchemaFor(env)), help);
  const fetchQuery = [
    { name: 'url', in: 'query', required: true, description: 'A URL to fetch; repeat it for more (`urls` is a synonym).', schema: { type: 'array', items: { type: 'string' }, maxItems: limits.maxUrls }, style: 'form', explode: true },
    ...queryParameters(request, ['urls']).map((parameter) =>
      parameter.name === 'formats' ? { ...parameter, description: 'Repeated, or comma separated (formats=markdown,links).', style: 'form', explode: false } : parameter,
    ),
  ];
  const fetchAnswers = {
    '200': {
      description: 'One result per input URL, in input order. With `Accept: application/x-ndjson`, one line per URL as it finishes (`index` says which), then a `stats` line.',
      content: { ...json(ref('BatchResult')), 'application/x-ndjson': { schema: ref('FetchLine') } },
    },
    ...problems(400, 405, 413, 415, ...AUTHED),
  };
  const errorCodes = ERROR_CODES.map((code) => `- \`${code}\`: ${ERROR_HELP[code]}`).join('\n');

  return {
    openapi: '3.1.0',
    info: {
      title: 'fanout',
      version: VERSION,
      description: [
        'Many URLs in, aggregated results out: status, final URL, metadata, a snippet or the main content, timings, or a precise error per URL.',
        '',
        'A result\'s `error.code`:',
        errorCodes,
        '',
        `Refused requests answer \`application/problem+json\` (RFC 9457) with \`type\` \`urn:fanout:problem:<kind>\`: ${Object.entries(PROBLEM_KINDS)
          .map(([kind, { status }]) => `\`${kind}\` (${status})`)
          .join(', ')}.`,
      ].join('\n'),
    },
    servers: [{ url: '/' }],
    ...(clientsFromEnv(env).length > 0 ? { security: [{ bearer: [] }] } : {}),
    tags: TAGS.map(({ name, description }) => ({ name, description })),
    paths: tagged({
      '/health': { get: { operationId: 'health', summary: 'Liveness and version', security: [], responses: { '200': { description: 'Up', content: json(jsonSchema(answers.health, 'output')) } } } },
      '/v1/fetch': {
        post: {
          operationId: 'fetchBatch',
          summary: 'Fetch a batch of URLs',
          requestBody: { required: true, content: json(request, EXAMPLES.fetch) },
          responses: fetchAnswers,
        },
        get: { operationId: 'fetchBatchGet', summary: 'Fetch a batch of URLs named in the query string', parameters: fetchQuery, responses: fetchAnswers },
      },
      '/v1/jobs': {
        post: {
          operationId: 'createJob',
          summary: `Start a job of up to ${jobSettings(env).maxJobUrls} URLs`,
          description: `The /v1/fetch body with more URLs and an optional webhook; or a URL list as text/plain or NDJSON with the options in the query string. At most ${MAX_JOB_REQUEST_BYTES} bytes. Idempotency-Key makes a retry return the same job.`,
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } }],
          requestBody: {
            required: true,
            content: {
              ...json(described(jsonSchema(jobSchemaFor(env)), help), EXAMPLES.job),
              'text/plain': { schema: { type: 'string', description: 'One URL per line.' } },
              'application/x-ndjson': { schema: { type: 'string', description: 'One JSON string (a URL) or {"url": ...} per line.' } },
            },
          },
          responses: {
            '202': { description: 'Created', content: json(ref('JobCreated')) },
            '200': { description: 'The same Idempotency-Key and body: the job made before', content: json(ref('JobCreated')) },
            ...problems(400, 409, 413, 415, ...AUTHED),
          },
        },
        get: {
          operationId: 'listJobs',
          summary: "The caller's jobs, newest first",
          parameters: queryParameters(listQuery),
          responses: { '200': { description: 'A page of jobs', content: json(ref('JobList')) }, ...problems(400, ...AUTHED) },
        },
      },
      '/v1/jobs/{id}': {
        get: {
          operationId: 'getJob',
          summary: "A job's status and counters",
          parameters: [idParam('id', 'The job id')],
          responses: { '200': { description: 'The job', content: json(ref('JobStatus')) }, ...problems(404, ...AUTHED) },
        },
        delete: {
          operationId: 'cancelJob',
          summary: 'Cancel a job (results so far are kept)',
          parameters: [idParam('id', 'The job id')],
          responses: { '200': { description: 'The job, cancelled', content: json(ref('JobStatus')) }, ...problems(404, ...AUTHED) },
        },
      },
      '/v1/jobs/{id}/results': {
        get: {
          operationId: 'getJobResults',
          summary: "A job's results in input order, a page at a time (or all as NDJSON)",
          parameters: [idParam('id', 'The job id'), ...queryParameters(resultsQuery)],
          responses: {
            '200': {
              description: 'A page of results; with `Accept: application/x-ndjson`, every result recorded so far, then a line with `nextCursor` and `status`.',
              content: { ...json(ref('JobResultsPage')), 'application/x-ndjson': { schema: { oneOf: [ref('PageResult'), { type: 'object', properties: { nextCursor: { type: ['integer', 'null'] }, status: { type: 'string' } } }] } } },
            },
            ...problems(400, 404, ...AUTHED),
          },
        },
      },
      '/v1/watchlists': {
        get: { operationId: 'listWatchlists', summary: 'Every watch list (the built-in one first)', responses: { '200': { description: 'The lists', content: json(jsonSchema(answers.watchLists, 'output')) }, ...problems(...AUTHED) } },
      },
      '/v1/watchlists/{name}': {
        put: {
          operationId: 'putWatchlist',
          summary: 'Create or replace a watch list',
          parameters: [idParam('name', 'Letters, digits, ".", "_" and "-", at most 64')],
          requestBody: { required: true, content: json(described(jsonSchema(listSchemaFor(env)), help), EXAMPLES.watchlist) },
          responses: {
            '201': { description: 'Created', content: json(ref('WatchList')) },
            '200': { description: 'Replaced', content: json(ref('WatchList')) },
            ...problems(400, 409, 413, 415, ...AUTHED),
          },
        },
        get: { operationId: 'getWatchlist', summary: 'A watch list', parameters: [idParam('name', 'The list name')], responses: { '200': { description: 'The list', content: json(ref('WatchList')) }, ...problems(404, ...AUTHED) } },
        delete: { operationId: 'deleteWatchlist', summary: 'Delete a watch list', parameters: [idParam('name', 'The list name')], responses: { '204': { description: 'Deleted' }, ...problems(404, 409, ...AUTHED) } },
      },
      '/v1/runs': {
        get: { operationId: 'listRuns', summary: 'Stored runs, newest first', parameters: queryParameters(runsQuery), responses: { '200': { description: 'A page of runs', content: json(ref('RunList')) }, ...problems(400, ...AUTHED) } },
      },
      '/v1/runs/latest': {
        get: {
          operationId: 'latestRun',
          summary: "A list's latest run with its results",
          parameters: [{ name: 'watchlist', in: 'query', required: false, description: 'The list name (default: the built-in list)', schema: { type: 'string' } }],
          responses: { '200': { description: 'The run', content: json(ref('Run')) }, ...problems(404, ...AUTHED) },
        },
      },
      '/v1/runs/{id}': {
        get: { operationId: 'getRun', summary: 'A run with its results', parameters: [idParam('id', 'The run id')], responses: { '200': { description: 'The run', content: json(ref('Run')) }, ...problems(404, ...AUTHED) } },
      },
      '/v1/changes': {
        get: { operationId: 'listChanges', summary: 'What changed across runs since a time', parameters: queryParameters(changesQuery), responses: { '200': { description: 'The changes', content: json(ref('Changes')) }, ...problems(400, ...AUTHED) } },
      },
      '/mcp': {
        post: {
          operationId: 'mcp',
          summary: 'MCP over Streamable HTTP (stateless): the tools fetch_pages and read_page',
          description: 'A JSON-RPC 2.0 message of the Model Context Protocol; answered as an SSE stream (progress notifications, then the result). README "Agents (MCP)".',
          requestBody: { required: true, content: json({ type: 'object', description: 'A JSON-RPC 2.0 message (or batch)' }) },
          responses: {
            '200': { description: 'An SSE stream of JSON-RPC messages', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            '202': { description: 'A notification, accepted' },
            ...problems(405, 413, ...AUTHED),
          },
        },
      },
      ...firecrawlPaths('v1'),
      ...firecrawlPaths('v2'),
      '/': { get: { operationId: 'playground', summary: 'The playground: a page that runs a batch and shows its NDJSON stream as it arrives', security: [], responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } } },
      '/openapi.json': { get: { operationId: 'openapi', summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } } } },
      '/docs': { get: { operationId: 'docs', summary: 'This document as an interactive reference page', security: [], responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } } },
    }),
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token of API_TOKEN or API_TOKENS, when the deployment sets one.' } },
      schemas: {
        PageResult: jsonSchema(answers.pageResult, 'output'),
        BatchResult: jsonSchema(answers.batchResult, 'output'),
        FetchLine: jsonSchema(answers.ndjsonLine, 'output'),
        Problem: jsonSchema(answers.problem, 'output'),
        JobStatus: jsonSchema(answers.jobStatus, 'output'),
        JobCreated: jsonSchema(answers.jobCreated, 'output'),
        JobList: jsonSchema(answers.jobList, 'output'),
        JobResultsPage: jsonSchema(answers.jobResultsPage, 'output'),
        WatchList: jsonSchema(answers.watchList, 'output'),
        RunList: jsonSchema(answers.runList, 'output'),
        Run: jsonSchema(answers.run, 'output'),
        Changes: jsonSchema(answers.changes, 'output'),
      } as Record<string, JsonSchema>,
    },
  };
}

export type OpenApiDocument = ReturnType<typeof build>;

/** The document for this deployment (built once per environment). */
export const openApiDocument = perObject(build);
