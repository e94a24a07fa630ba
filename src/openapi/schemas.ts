import * as z from 'zod/mini';
import { PROBLEM_KINDS } from '../errors';
import { JOB_STATUSES, type JobStatus } from '../jobs/protocol';
import type { Problem } from '../problem';
import { ERROR_CODES, METADATA_FIELDS, type BatchResult, type PageResult } from '../result';
import { COMPARED_FIELDS, URL_STATES } from '../watch/diff';
import type { ChangeRecord, RunEntry, RunRecord, WatchList } from '../watch/store';

/**
 * The answers' shapes as zod schemas, for the OpenAPI document only: the
 * requests are described by the very schemas that validate them (src/schema.ts
 * and the route modules), the answers by these. Each schema is held to the
 * TypeScript type the code writes (`Same` below): a field added to, dropped
 * from or retyped in PageResult, JobStatus and the others is a compile error
 * here until the schema follows, so the document cannot drift from the code.
 */

/** True when A and B are the same type (not merely assignable either way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only for `true`. */
const same = <T extends true>(): T | undefined => undefined;

/**
 * Builds the schemas: called once, by the document's first request, so an
 * isolate that never serves /openapi.json never spends its start-up on them.
 */
function build() {
  const text = (description: string) => z.string().check(z.describe(description));
  const maybeText = (description: string) => z.nullable(z.string()).check(z.describe(description));
  const iso = (description: string) => z.nullable(z.string()).check(z.describe(`${description} (ISO 8601)`));

  const errorCode = z.enum(ERROR_CODES).check(z.describe('Why the URL failed; README "Errors" explains each code.'));

  const resultError = z.object({
    code: errorCode,
    message: text('What went wrong, for people.'),
    retryable: z.boolean().check(z.describe('Whether asking again later may succeed (transient network trouble, 5xx, 429, timeouts).')),
    vendor: z.optional(text('For `challenge`: the bot-protection service that answered, when fanout can tell.')),
    retryAfterMs: z.optional(z.number().check(z.describe("For `http_status` with a retryable status: the wait the origin's Retry-After asked for, in ms."))),
  });

  const pageLink = z.object({
    url: text('Absolute http(s) URL, without its fragment.'),
    text: maybeText("The anchor's text, else its title or aria-label."),
    rel: maybeText("The rel attribute's tokens, lower case, space separated."),
    internal: z.boolean().check(z.describe("True when the link stays on the page's site.")),
  });

  const feedItem = z.object({
    id: maybeText('The item id (guid, id).'),
    title: maybeText('The item title.'),
    link: maybeText('The item link.'),
    published: iso('Published'),
    updated: iso('Updated'),
    author: maybeText('The author.'),
    summary: maybeText('Plain text, at most 1,000 characters.'),
  });

  const feed = z.object({
    format: z.enum(['rss', 'rdf', 'atom', 'json']),
    title: maybeText('The feed title.'),
    link: maybeText("The feed's site link."),
    description: maybeText('The feed description.'),
    updated: iso('Updated'),
    items: z.array(feedItem),
  });

  const feedLink = z.object({
    url: text('The feed URL.'),
    type: text('Its media type as the page gives it (application/rss+xml, application/atom+xml, application/feed+json, ...).'),
    title: maybeText('Its title.'),
  });

  const source = z.object({
    from: text('The source that gave the value (og:title, jsonld, title, ...).'),
    candidates: z.array(z.object({ from: z.string(), value: z.string() })),
  });

  /** One URL's answer: every field of /v1/fetch's `results[]`, NDJSON lines, job results and watch runs. */
  const pageResultSchema = z
    .object({
      url: text('The URL as the caller gave it.'),
      cache: z.optional(
        z
          .object({
            status: z.enum(['hit', 'miss', 'stale', 'bypass']),
            ageMs: z.nullable(z.number()).check(z.describe('How old the answer is, for a hit or a stale answer.')),
          })
          .check(z.describe('What the result cache did (only when the request has a maxAge).')),
      ),
      ok: z.boolean().check(z.describe('True only for a final 2xx whose body was read.')),
      status: z.nullable(z.int()).check(z.describe('The final HTTP status; null when no response came.')),
      finalUrl: maybeText('The URL after redirects.'),
      redirects: z.int().check(z.describe('Redirects followed.')),
      contentType: maybeText('The final response\'s media type.'),
      charset: maybeText('Canonical WHATWG encoding name the text was decoded with; null for binary bodies.'),
      etag: maybeText("The final response's ETag."),
      lastModified: maybeText("The final response's Last-Modified."),
      title: maybeText('The page title (og:title, twitter:title, JSON-LD headline, <title>, first <h1>).'),
      description: maybeText('The description (og, meta, twitter, JSON-LD).'),
      snippet: maybeText('The first snippetLength characters of the visible text (or of the query\'s best passage, or the selector\'s text).'),
      lang: maybeText('The page language (BCP 47).'),
      canonical: maybeText('The canonical URL.'),
      image: maybeText('The preview image URL.'),
      siteName: maybeText('The site name.'),
      author: maybeText('People who wrote the page, joined with ", ".'),
      published: iso('Published: a date or a UTC date-time'),
      modified: iso('Modified'),
      icon: maybeText("The site's icon URL (not fetched)."),
      type: maybeText('og:type, or the JSON-LD @type of the main entity.'),
      feeds: z.array(feedLink).check(z.describe('Feeds the page advertises.')),
      textHash: z.optional(text('Hash of all visible text (watch lists).')),
      sources: z.optional(z.partialRecord(z.enum(METADATA_FIELDS), source).check(z.describe('Where each metadata field came from (with provenance).'))),
      links: z.optional(z.array(pageLink).check(z.describe('Every link of the page (format links).'))),
      jsonld: z.optional(z.array(z.unknown()).check(z.describe('Every JSON-LD block, parsed (format jsonld).'))),
      jsonldSkipped: z.optional(z.int().check(z.describe('JSON-LD blocks that did not parse (format jsonld).'))),
      feed: z.optional(z.nullable(feed).check(z.describe('The feed, when the body is one (format feed).'))),
      markdown: z.optional(maybeText('The main content as Markdown (format markdown).')),
      text: z.optional(maybeText('The main content as plain text (format text).')),
      html: z.optional(maybeText('The main content as cleaned HTML (format html).')),
      contentTruncated: z.optional(z.boolean().check(z.describe('True when a content format was cut at maxContentChars.'))),
      bytes: z.int().check(z.describe('Body bytes read (after decompression).')),
      truncated: z.boolean().check(z.describe("True unless fanout saw the body's end.")),
      attempts: z.int().check(z.describe('Requests sent for this URL (retries included).')),
      durationMs: z.number().check(z.describe('From the first request sent to the result.')),
      timings: z.object({
        queuedMs: z.number().check(z.describe('Waiting for a pool slot, a lane and a header slot.')),
        ttfbMs: z.nullable(z.number()).check(z.describe('From the final request to its response headers.')),
        bodyMs: z.nullable(z.number()).check(z.describe('Reading and extracting the final body.')),
      }),
      error: z.nullable(resultError).check(z.describe('Null when the URL succeeded.')),
    });

  const batchStats = z
    .object({
      total: z.int(),
      ok: z.int(),
      failed: z.int(),
      fetched: z.int().check(z.describe('Distinct URLs whose fetch started.')),
      durationMs: z.number(),
      deadlineReached: z.boolean().check(z.describe('True when the deadline cut the batch short.')),
      shards: z.int().check(z.describe('Invocations the batch ran in.')),
    });

  const batchResultSchema = z
    .object({ results: z.array(pageResultSchema).check(z.describe('One per input URL, in input order.')), stats: batchStats });

  /** An NDJSON line of /v1/fetch: a result with its input index, then one closing line with the stats. */
  const ndjsonLineSchema = z
    .union([z.extend(pageResultSchema, { index: z.int().check(z.describe('The URL\'s position in the input.')) }), z.object({ stats: batchStats })]);

  const problemSchema = z
    .object({
      type: z.string().check(z.describe(`urn:fanout:problem:<kind>; kinds: ${Object.keys(PROBLEM_KINDS).join(', ')}.`)),
      title: z.string(),
      status: z.int(),
      detail: z.string().check(z.describe('What is wrong, naming the field.')),
      field: z.optional(text('The first offending field.')),
      errors: z.optional(z.array(z.object({ field: z.string(), message: z.string() }))),
    });

  const jobStatusSchema = z
    .object({
      id: z.string(),
      status: z.enum(JOB_STATUSES),
      total: z.int(),
      done: z.int().check(z.describe('URLs with their one final result; exact at every moment.')),
      ok: z.int(),
      failed: z.int(),
      errors: z.partialRecord(errorCode, z.int()).check(z.describe('Failed results by error code.')),
      createdAt: z.string(),
      startedAt: z.nullable(z.string()),
      finishedAt: z.nullable(z.string()),
      expiresAt: z.string(),
    });

  const jobCreatedSchema = z
    .object({ id: z.string(), status: z.enum(JOB_STATUSES), total: z.int(), statusUrl: z.string(), resultsUrl: z.string() });

  const jobListSchema = z.object({ jobs: z.array(jobStatusSchema), nextCursor: z.nullable(z.string()) });

  const jobResultsPageSchema = z
    .object({
      id: z.string(),
      status: z.enum(JOB_STATUSES),
      total: z.int(),
      done: z.int(),
      results: z.array(z.extend(pageResultSchema, { index: z.int() })),
      nextCursor: z.nullable(z.int()).check(z.describe('The cursor of the next page; null at the end of a finished job.')),
    });

  const options = z.record(z.string(), z.unknown()).check(z.describe('The /v1/fetch options (everything but urls).'));

  const watchListSchema = z
    .object({
      name: z.string(),
      urls: z.array(z.string()),
      options,
      crons: z.nullable(z.array(z.string())).check(z.describe('Cron expressions the list follows; null = every tick.')),
      createdAt: z.string(),
      updatedAt: z.string(),
      builtIn: z.boolean().check(z.describe('True for the list from the WATCH_URLS var.')),
    });

  const watchListsSchema = z.object({
    watchlists: z.array(z.extend(z.omit(watchListSchema, { urls: true }), { urlCount: z.int() })),
  });

  const runStats = z.extend(batchStats, { changed: z.int(), new: z.int(), failing: z.int(), recovered: z.int(), notModified: z.int() });

  const runRecord = z.object({
    id: z.string(),
    watchlist: z.string(),
    cron: z.nullable(z.string()),
    scheduledTime: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    stats: runStats,
    notification: z.nullable(z.object({ ok: z.boolean(), attempts: z.int(), status: z.nullable(z.int()), error: z.nullable(z.string()) })),
  });

  const runEntry = z.object({
    index: z.int(),
    url: z.string(),
    changed: z.boolean(),
    changes: z.array(z.enum(COMPARED_FIELDS)),
    state: z.enum(URL_STATES),
    notModified: z.boolean().check(z.describe('True when the origin answered 304 and the previous content was carried forward.')),
    result: pageResultSchema,
  });

  const runListSchema = z.object({ runs: z.array(runRecord), nextCursor: z.nullable(z.string()) });
  const runSchema = z.extend(runRecord, { results: z.array(runEntry) });

  const changeRecord = z.object({
    runId: z.string(),
    watchlist: z.string(),
    at: z.string(),
    url: z.string(),
    changes: z.array(z.enum(COMPARED_FIELDS)),
    state: z.enum(URL_STATES),
    status: z.nullable(z.int()),
    finalUrl: z.nullable(z.string()),
    title: z.nullable(z.string()),
    snippet: z.nullable(z.string()),
  });

  const changesSchema = z.object({ since: z.string(), changes: z.array(changeRecord) });

  const healthSchema = z.object({ status: z.literal('ok'), service: z.literal('fanout'), version: z.string() });

  return {
    pageResult: pageResultSchema,
    batchResult: batchResultSchema,
    ndjsonLine: ndjsonLineSchema,
    problem: problemSchema,
    jobStatus: jobStatusSchema,
    jobCreated: jobCreatedSchema,
    jobList: jobListSchema,
    jobResultsPage: jobResultsPageSchema,
    watchList: watchListSchema,
    watchLists: watchListsSchema,
    runList: runListSchema,
    run: runSchema,
    changes: changesSchema,
    health: healthSchema,
    runRecord,
    runEntry,
    changeRecord,
  };
}

let built: ReturnType<typeof build> | undefined;

/** The answers' schemas (built on first use). */
export function answerSchemas(): ReturnType<typeof build> {
  return (built ??= build());
}

type Schemas = ReturnType<typeof build>;
type Out<K extends keyof Schemas> = z.infer<Schemas[K]>;

// Each answer schema is the type the code writes.
same<Same<Out<'pageResult'>, PageResult>>();
same<Same<Out<'batchResult'>, BatchResult>>();
same<Same<Out<'problem'>, Problem>>();
same<Same<Out<'jobStatus'>, JobStatus>>();
same<Same<Omit<Out<'watchList'>, 'options'>, Omit<WatchList, 'options'>>>();
same<Same<Omit<Out<'runRecord'>, 'stats'>, Omit<RunRecord, 'stats'>>>();
same<Same<Out<'runEntry'>['state'], RunEntry['state']>>();
same<Same<Out<'changeRecord'>, ChangeRecord>>();
