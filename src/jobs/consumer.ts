import { engineFor } from '../config';
import type { RequestOptions } from '../engine/options';
import type { Env } from '../env';
import type { PageResult } from '../result';
import { hostPermits } from './host-gate';
import { jobObjects } from './job-object';
import { messageOf, type ChunkMessage, type ChunkSummary, type RunMessage } from './protocol';
import { JobResults, type IndexedResult } from './results';
import { recordRun } from '../watch/run';
import { WatchStore } from '../watch/store';
import { JOB_DEAD_LETTERS } from './settings';

/**
 * The queue consumer: runs each chunk of a job through the same engine and
 * defaults as POST /v1/fetch, writes its results to R2 as one NDJSON object,
 * and records the chunk in the job's object. A chunk is recorded once
 * (FetchJob.record); a delivery that finds its chunk recorded already
 * deletes the object it wrote and is acknowledged, so nothing is stored twice.
 * A delivery that fails is retried by the queue (with backoff), and after the
 * queue's max_retries it lands in the dead-letter queue, whose messages end
 * the chunk with `unprocessed` results.
 */
export async function consumeQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const deadLetters = batch.queue === JOB_DEAD_LETTERS;
  for (const message of batch.messages) {
    const chunk = messageOf(message.body);
    if (!chunk) {
      console.error(`fanout: dropped a queue message that is not a job chunk (queue ${batch.queue}, id ${message.id})`);
      message.ack();
      continue;
    }
    try {
      if ('run' in chunk) {
        // A watch list's run that failed every delivery: the alarm does not resend it; the next tick runs the list again.
        if (!deadLetters) await storeRun(chunk, env);
        else console.error(`fanout job ${chunk.job.slice(0, 8)}: its watch list run could not be stored`);
      } else if (deadLetters) await jobStub(env, chunk.job).giveUp(chunk.chunk);
      else await runChunk(chunk, env);
      message.ack();
    } catch (error) {
      console.error(`fanout job ${chunk.job} ${'run' in chunk ? 'run' : `chunk ${chunk.chunk}`}: delivery ${message.attempts} failed: ${error instanceof Error ? error.message : String(error)}`);
      message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
    }
  }
}

function jobStub(env: Env, id: string) {
  const jobs = jobObjects(env);
  return jobs.get(jobs.idFromName(id));
}

/** How often a running chunk asks its job whether it was cancelled. */
export const CANCEL_POLL_MS = 1000;

/** Runs one chunk and records it; throws when it could not (the queue then retries the message). */
export async function runChunk({ job, chunk }: ChunkMessage, env: Env): Promise<void> {
  const stub = jobStub(env, job);
  const started = Date.now();
  const work = await stub.claim(chunk);
  if (!work) return; // recorded already, or the job ended
  const claimed = Date.now();
  if (!env.RESULTS) throw new Error('the RESULTS binding is missing');
  const engine = engineFor(env);
  const options = engine.options(JSON.parse(work.options) as RequestOptions);
  // A watch list's chunk: conditional requests with its URLs' last validators, and the text hash change detection needs.
  const previous = work.watch ? await new WatchStore(env.DB).loadStateOf(work.watch.list, work.urls) : null;
  if (work.watch) options.hashText = true;
  // A cancel (or the job ending otherwise) reaches a chunk in flight within CANCEL_POLL_MS: its fetches are cut, and nothing more starts.
  const ended = new AbortController();
  const poll = setInterval(() => {
    stub.status().then(
      (state) => (state === null || state.status === 'cancelled' || state.status === 'completed' || state.status === 'failed' ? ended.abort() : undefined),
      () => {},
    );
  }, CANCEL_POLL_MS);
  let results: PageResult[];
  try {
    ({ results } = await engine.run(work.urls, options, {
      signal: ended.signal,
      // perHost and Crawl-delay hold across every consumer of every job.
      hosts: env.HOSTS ? hostPermits(env.HOSTS) : undefined,
      validators: previous
        ? (url) => {
            const before = previous.get(url);
            return before?.ok ? { etag: before.etag, lastModified: before.lastModified } : undefined;
          }
        : undefined,
    }));
  } finally {
    clearInterval(poll);
  }
  const fetched = Date.now();
  const object = `jobs/${job}/${String(chunk).padStart(6, '0')}-${crypto.randomUUID()}.ndjson`;
  await env.RESULTS.put(object, results.map((result, i) => `${JSON.stringify({ index: work.first + i, ...result })}\n`).join(''), {
    httpMetadata: { contentType: 'application/x-ndjson; charset=utf-8' },
  });
  const stored = Date.now();
  const summary = summarize(results);
  const recorded = await stub.record(chunk, object, summary);
  if (!recorded) await env.RESULTS.delete(object);
  // One line per chunk for Workers Logs (and the bench's job scenario): where its time went. No URL; the job id shortened.
  console.log(
    JSON.stringify({
      event: 'chunk',
      job: job.slice(0, 8),
      chunk,
      urls: results.length,
      ok: summary.ok,
      failed: summary.failed,
      recorded,
      claimMs: claimed - started,
      fetchMs: fetched - claimed,
      storeMs: stored - fetched,
      recordMs: Date.now() - stored,
    }),
  );
}

/** Counts a chunk's results by outcome and error code. */
export function summarize(results: readonly PageResult[]): ChunkSummary {
  const summary: ChunkSummary = { ok: 0, failed: 0, errors: {} };
  for (const result of results) {
    if (result.ok) summary.ok++;
    else summary.failed++;
    if (result.error) summary.errors[result.error.code] = (summary.errors[result.error.code] ?? 0) + 1;
  }
  return summary;
}

/**
 * Stores a completed watch list job's run (recordRun, as an inline run would),
 * once: the job's object hands the work to one consumer at a time and marks it
 * done after; a run stored by a delivery that died before saying so is found
 * by its id (the job's), so a retry does not store it twice.
 */
export async function storeRun({ job }: RunMessage, env: Env): Promise<void> {
  const stub = jobStub(env, job);
  const work = await stub.runWork();
  if (!work) return;
  const store = new WatchStore(env.DB);
  const runId = `${work.watch.startedAt.toString(36).padStart(9, '0')}-${job.slice(0, 8)}`;
  if (!(await store.getRun(runId))) {
    if (!env.RESULTS) throw new Error('the RESULTS binding is missing');
    const reader = new JobResults(stub, env.RESULTS);
    const results: IndexedResult[] = [];
    for (let next: number | null = 0; next !== null; ) {
      const page = await reader.page(next, 1000, () => true);
      results.push(...page.results);
      next = page.nextCursor;
    }
    const urls = results.map((r) => r.url);
    const ok = results.filter((r) => r.ok).length;
    const { watch } = work;
    await recordRun(
      env,
      store,
      { name: watch.list, urls },
      { cron: watch.cron, scheduledTime: watch.scheduledTime, startedAt: watch.startedAt, finishedAt: work.finishedAt, runId },
      results.map(({ index: _index, ...result }) => result),
      { total: results.length, ok, failed: results.length - ok, fetched: results.length, durationMs: work.finishedAt - watch.startedAt, deadlineReached: false, shards: 1 },
    );
  }
  await stub.runRecorded();
}
