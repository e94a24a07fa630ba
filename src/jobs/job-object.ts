import { DurableObject } from 'cloudflare:workers';
import type { ErrorCode } from '../result';
import { SEND_BATCH_MESSAGES, type ChunkMessage, type ChunkSummary, type ChunkView, type JobStatus, type JobStatusName, type RunMessage, type WatchSpec } from './protocol';
import { chunkResults } from './results';
import { deliver, WEBHOOK_ATTEMPTS, webhookBackoffMs, type Webhook, type WebhookEvent } from './webhook';

/** The bindings and vars a job's object uses (the Worker's Env has them; named here so src/env.ts needs nothing from jobs/). */
interface JobEnv {
  JOBS_QUEUE?: Queue;
  RESULTS?: R2Bucket;
  /** The D1 database whose `jobs` table lists jobs for GET /v1/jobs. */
  DB?: D1Database;
  WEBHOOK_SECRET?: string;
  ALLOW_PRIVATE_HOSTS?: string;
  USER_AGENT?: string;
}

/** The JOBS binding, typed with this class's methods; throws when the deployment has no such binding. */
export function jobObjects(env: { JOBS?: DurableObjectNamespace }): DurableObjectNamespace<FetchJob> {
  if (!env.JOBS) throw new Error('the JOBS binding is missing');
  // The binding names this class in wrangler.toml; Env cannot say so without importing it.
  return env.JOBS as unknown as DurableObjectNamespace<FetchJob>;
}

/** What POST /v1/jobs hands a new job. */
export interface JobSpec {
  id: string;
  /** The API client that created it (null without API tokens); only it may read the job. */
  client: string | null;
  urls: string[];
  /** The request's options (the /v1/fetch body without `urls`), as JSON. */
  options: string;
  /** SHA-256 of the request body: an idempotent resubmission must carry the same one. */
  bodyHash: string;
  chunkUrls: number;
  retentionMs: number;
  redriveMs: number;
  maxSends: number;
  /** Where events go, with the events it gets (resolved: never empty); null for none. */
  webhook: (Webhook & { events: WebhookEvent[] }) | null;
  /** The User-Agent webhooks are sent with. */
  userAgent: string;
  /** Set when the job runs a watch list: the run is stored once the job completes. */
  watch?: WatchSpec | null | undefined;
}

/** What `create` answers: the job, and whether it existed already (an idempotent resubmission). */
export type Created = { job: JobStatus; existing: false } | { job: JobStatus; existing: true; sameBody: boolean };

/** What a consumer gets for a chunk it should run. */
export interface ChunkWork {
  first: number;
  urls: string[];
  options: string;
  /** The watch list the job runs, if it runs one (the chunk then sends its validators and hashes text). */
  watch: WatchSpec | null;
}

/** What storing a watch list's run needs from its completed job. */
export interface RunWork {
  watch: WatchSpec;
  finishedAt: number;
  total: number;
}

/** Rows the object reads back. */
interface JobRow extends Record<string, SqlStorageValue> {
  id: string;
  client: string | null;
  status: JobStatusName;
  total: number;
  done: number;
  ok: number;
  failed: number;
  options: string;
  body_hash: string;
  redrive_ms: number;
  max_sends: number;
  webhook: string | null;
  user_agent: string;
  watch: string | null;
  run_state: 'none' | 'pending' | 'recording' | 'recorded';
  run_claimed_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  expires_at: number;
}
interface EventRow extends Record<string, SqlStorageValue> {
  id: number;
  event: WebhookEvent | 'watch.run';
  chunk: number | null;
  attempts: number;
  next_at: number;
}
interface ChunkRow extends Record<string, SqlStorageValue> {
  chunk: number;
  first: number;
  last: number;
  urls: string;
  state: 'queued' | 'done' | 'cancelled' | 'unprocessed';
  object: string | null;
  sent_at: number | null;
  sends: number;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS job (
    id TEXT PRIMARY KEY, client TEXT, status TEXT NOT NULL, total INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, ok INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
    options TEXT NOT NULL, body_hash TEXT NOT NULL, redrive_ms INTEGER NOT NULL, max_sends INTEGER NOT NULL,
    webhook TEXT, user_agent TEXT NOT NULL,
    watch TEXT, run_state TEXT NOT NULL DEFAULT 'none', run_claimed_at INTEGER,
    created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, expires_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS chunks (
    chunk INTEGER PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL, urls TEXT NOT NULL, state TEXT NOT NULL,
    object TEXT, sent_at INTEGER, sends INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX IF NOT EXISTS chunks_waiting ON chunks (state, sent_at);
  CREATE TABLE IF NOT EXISTS errors (code TEXT PRIMARY KEY, count INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, chunk INTEGER, created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0, last_error TEXT);
`;

/** A consumer storing a watch list's run has this long before another may take it over. */
export const RUN_CLAIM_MS = 10 * 60_000;

/** Status names that end a job. */
const FINISHED: ReadonlySet<JobStatusName> = new Set(['completed', 'cancelled', 'failed']);

/**
 * One job: its URLs, the state of each chunk, the counters and the index of
 * its results (each recorded chunk's R2 object). All of it lives in the
 * object's SQLite storage, and every change is one synchronous transaction,
 * so the counters are exact at every moment: a chunk is recorded once
 * (`record` refuses a chunk that is no longer waiting), and the step that
 * records the last chunk is the step that completes the job.
 *
 * Queues deliver at least once; this object makes the results exactly once.
 * A redelivered chunk finds its chunk recorded and is dropped; a chunk whose
 * consumer went silent is sent again by the alarm; a chunk that never gets
 * recorded after `max_sends` sends (or lands in the dead-letter queue) ends
 * with an `unprocessed` result per URL. So every job ends with exactly one
 * result per input URL.
 */
export class FetchJob extends DurableObject<JobEnv> {
  readonly #sql: SqlStorage;
  /** Whether this object's tables exist (known once seen: only expiry's deleteAll removes them). */
  #created = false;

  constructor(ctx: DurableObjectState, env: JobEnv) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
  }

  /** Creates the job and sends its chunks, or answers the job this object already holds. */
  async create(spec: JobSpec, now = Date.now()): Promise<Created> {
    const existing = this.#job();
    if (existing) return { job: view(existing, this.#errors()), existing: true, sameBody: existing.body_hash === spec.bodyHash };
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec(SCHEMA);
      this.#sql.exec(
        `INSERT INTO job (id, client, status, total, options, body_hash, redrive_ms, max_sends, webhook, user_agent, watch, created_at, expires_at)
         VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        spec.id, spec.client, spec.urls.length, spec.options, spec.bodyHash, spec.redriveMs, spec.maxSends,
        spec.webhook ? JSON.stringify(spec.webhook) : null, spec.userAgent, spec.watch ? JSON.stringify(spec.watch) : null, now, now + spec.retentionMs,
      );
      // A chunk's URLs are one row (a JSON array): one row written per chunk, not per URL.
      for (let chunk = 0, first = 0; first < spec.urls.length; chunk++, first += spec.chunkUrls) {
        const urls = spec.urls.slice(first, first + spec.chunkUrls);
        this.#sql.exec(`INSERT INTO chunks (chunk, first, last, urls, state) VALUES (?, ?, ?, ?, 'queued')`, chunk, first, first + urls.length - 1, JSON.stringify(urls));
      }
    });
    // Sent after the rows exist. A send that fails leaves its chunks unsent (sent_at NULL); the alarm sends them.
    await this.ctx.storage.setAlarm(now + spec.redriveMs);
    await this.#send(this.#sql.exec<ChunkRow>(`SELECT * FROM chunks ORDER BY chunk`).toArray(), now).catch((error: unknown) => {
      console.error(`fanout job ${spec.id}: sending chunks failed, the alarm will: ${String(error)}`);
    });
    return { job: view(this.#job()!, {}), existing: false };
  }

  /** The job as GET /v1/jobs/:id shows it; null when this object holds no job. */
  status(): JobStatus | null {
    const job = this.#job();
    return job ? view(job, this.#errors()) : null;
  }

  /** The client that created the job (null without API tokens); undefined when there is no job. */
  owner(): string | null | undefined {
    return this.#job()?.client;
  }

  /** A chunk's URLs and the job's options, for a consumer; null when the chunk is not waiting (recorded, or the job ended). */
  async claim(chunk: number, now = Date.now()): Promise<ChunkWork | null> {
    const job = this.#job();
    if (!job || FINISHED.has(job.status)) return null;
    const row = this.#sql.exec<ChunkRow>('SELECT * FROM chunks WHERE chunk = ?', chunk).toArray()[0];
    if (!row || row.state !== 'queued') return null;
    if (job.status === 'queued') {
      this.ctx.storage.transactionSync(() => {
        this.#sql.exec(`UPDATE job SET status = 'running', started_at = ? WHERE status = 'queued'`, now);
        this.#emit('job.started', null, now);
      });
      await this.#wake(now);
    }
    return { first: row.first, urls: JSON.parse(row.urls) as string[], options: job.options, watch: job.watch ? (JSON.parse(job.watch) as WatchSpec) : null };
  }

  /**
   * A completed watch list job's run, to store: answered to one consumer at a
   * time (a claim lapses after RUN_CLAIM_MS, for a consumer that died), and
   * never again once `runRecorded` was called.
   */
  async runWork(now = Date.now()): Promise<RunWork | null> {
    const job = this.#job();
    if (!job?.watch || job.finished_at === null || job.run_state === 'recorded') return null;
    if (job.run_state === 'recording' && job.run_claimed_at !== null && now - job.run_claimed_at < RUN_CLAIM_MS) return null;
    this.#sql.exec(`UPDATE job SET run_state = 'recording', run_claimed_at = ?`, now);
    // The alarm looks again when the claim lapses, in case this consumer dies before runRecorded.
    const at = await this.ctx.storage.getAlarm();
    if (at === null || at > now + RUN_CLAIM_MS) await this.ctx.storage.setAlarm(now + RUN_CLAIM_MS);
    return { watch: JSON.parse(job.watch) as WatchSpec, finishedAt: job.finished_at, total: job.total };
  }

  /** The watch list's run is stored. */
  runRecorded(): void {
    this.#sql.exec(`UPDATE job SET run_state = 'recorded'`);
  }

  /**
   * Records a chunk's results (the R2 object a consumer wrote) once. Answers
   * false when the chunk is no longer waiting: a redelivery or a re-drive got
   * there first, or the job was cancelled; the caller then deletes its object.
   */
  async record(chunk: number, object: string, summary: ChunkSummary, now = Date.now()): Promise<boolean> {
    const recorded = this.ctx.storage.transactionSync(() => {
      const row = this.#sql.exec<ChunkRow>('SELECT * FROM chunks WHERE chunk = ?', chunk).toArray()[0];
      const job = this.#job();
      if (!row || !job || row.state !== 'queued' || FINISHED.has(job.status)) return false;
      const size = row.last - row.first + 1;
      if (summary.ok + summary.failed !== size) throw new Error(`chunk ${chunk} holds ${size} URLs, its summary ${summary.ok + summary.failed}`);
      this.#sql.exec(`UPDATE chunks SET state = 'done', object = ? WHERE chunk = ?`, object, chunk);
      this.#emit('job.page', chunk, now);
      if (summary.failed > 0) this.#emit('job.failed_page', chunk, now);
      this.#count(size, summary, now);
      return true;
    });
    if (recorded) await this.#wake(now);
    return recorded;
  }

  /** Cancels the job: every chunk not yet recorded ends with `cancelled` results; results so far are kept. */
  async cancel(now = Date.now()): Promise<JobStatus | null> {
    const job = this.#job();
    if (!job) return null;
    if (!FINISHED.has(job.status)) {
      this.ctx.storage.transactionSync(() => {
        // Cancelled first, so the step that counts the last URLs does not call the job completed.
        this.#sql.exec(`UPDATE job SET status = 'cancelled', finished_at = ?, started_at = COALESCE(started_at, ?)`, now, now);
        this.#end('cancelled', 'cancelled', now);
        this.#emit('job.cancelled', null, now);
      });
      await this.#wake(now);
    }
    return this.status();
  }

  /** A chunk that reached the dead-letter queue: its URLs get `unprocessed` results (once). */
  async giveUp(chunk: number, now = Date.now()): Promise<boolean> {
    const ended = this.ctx.storage.transactionSync(() => this.#end('unprocessed', 'unprocessed', now, chunk) > 0);
    if (ended) await this.#wake(now);
    return ended;
  }

  /** The chunks that hold indexes from `from` on, in order, as the results reader needs them (at most `limit` URLs' worth). */
  chunks(from: number, limit: number): ChunkView[] {
    const rows = this.#sql
      .exec<ChunkRow>('SELECT * FROM chunks WHERE last >= ? AND first < ? ORDER BY chunk', from, from + limit)
      .toArray();
    return rows.map(viewOf);
  }

  /**
   * Re-drives and expiry. While the job runs: chunks sent more than
   * `redrive_ms` ago (or never sent) and still waiting are sent again, and a
   * chunk sent `max_sends` times ends `unprocessed`. Once the job is past
   * `expires_at`, its results and its storage are deleted.
   */
  override async alarm(): Promise<void> {
    const job = this.#job();
    if (!job) return;
    const now = Date.now();
    if (now >= job.expires_at) {
      // Every object under the job's prefix: recorded ones, and those of deliveries that died before recording.
      const bucket = this.env.RESULTS;
      for (let keys = await this.#objectsLeft(bucket); keys.length > 0; keys = await this.#objectsLeft(bucket)) await bucket!.delete(keys);
      await this.env.DB?.prepare('DELETE FROM jobs WHERE id = ?').bind(job.id).run();
      await this.ctx.storage.deleteAll();
      this.#created = false;
      await this.ctx.storage.deleteAlarm();
      return;
    }
    if (!FINISHED.has(job.status)) {
      const stale = this.#sql
        .exec<ChunkRow>(`SELECT * FROM chunks WHERE state = 'queued' AND (sent_at IS NULL OR sent_at <= ?) ORDER BY chunk`, now - job.redrive_ms)
        .toArray();
      const spent = stale.filter((row) => row.sends >= job.max_sends);
      if (spent.length > 0) this.ctx.storage.transactionSync(() => spent.forEach((row) => this.#end('unprocessed', 'unprocessed', now, row.chunk)));
      await this.#send(stale.filter((row) => row.sends < job.max_sends), now);
    }
    // A watch list's run claimed by a consumer that never said it was stored (it died): send the run again.
    const claimed = this.#job()!;
    if (claimed.watch && claimed.run_state === 'recording' && claimed.run_claimed_at !== null && now - claimed.run_claimed_at >= RUN_CLAIM_MS) {
      this.ctx.storage.transactionSync(() => {
        this.#sql.exec(`UPDATE job SET run_state = 'pending', run_claimed_at = NULL`);
        this.#sql.exec(`INSERT INTO outbox (event, chunk, created_at, next_at) VALUES ('watch.run', NULL, ?, ?)`, now, now);
      });
    }
    await this.#deliverDue(now);
    await this.ctx.storage.setAlarm(this.#nextAlarm(now));
  }

  /** Up to 1,000 keys still under the job's prefix in R2 (listed afresh each time, as deleting shifts the pages). */
  async #objectsLeft(bucket: R2Bucket | undefined): Promise<string[]> {
    if (!bucket) return [];
    const listed = await bucket.list({ prefix: `jobs/${this.#job()!.id}/` });
    return listed.objects.map((o) => o.key);
  }

  /** When the alarm should next run: the first webhook retry due, the next re-drive check while the job runs, else its expiry. */
  #nextAlarm(now: number): number {
    const job = this.#job()!;
    const due = this.#sql.exec<{ at: number | null }>('SELECT MIN(next_at) AS at FROM outbox WHERE sent = 0').one().at;
    let base = FINISHED.has(job.status) ? job.expires_at : now + job.redrive_ms;
    // A run being stored is looked at again when its claim lapses.
    if (job.watch && job.run_state === 'recording' && job.run_claimed_at !== null) base = Math.min(base, job.run_claimed_at + RUN_CLAIM_MS);
    return due === null ? base : Math.min(base, Math.max(due, now));
  }

  /** Runs the alarm at once when an event is waiting to be sent (the alarm sends events, so they survive a restart). */
  async #wake(now: number): Promise<void> {
    const pending = this.#sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM outbox WHERE sent = 0 AND next_at <= ?', now).one().n;
    if (pending === 0) return;
    const scheduled = await this.ctx.storage.getAlarm();
    if (scheduled === null || scheduled > now) await this.ctx.storage.setAlarm(now);
  }

  /** Queues a webhook event, if the job has a webhook that wants it (inside the transition's transaction). */
  #emit(event: WebhookEvent, chunk: number | null, now: number): void {
    // (The watch list's `watch.run` row is written where the job completes, whatever the webhook.)
    const webhook = this.#webhook();
    if (!webhook?.events.includes(event)) return;
    this.#sql.exec('INSERT INTO outbox (event, chunk, created_at, next_at) VALUES (?, ?, ?, ?)', event, chunk, now, now);
  }

  #webhook(): (Webhook & { events: WebhookEvent[] }) | null {
    const raw = this.#job()?.webhook;
    return raw ? (JSON.parse(raw) as Webhook & { events: WebhookEvent[] }) : null;
  }

  /** Sends the webhook events that are due, in order; a failure waits for its backoff, one that cannot succeed is given up. */
  async #deliverDue(now: number): Promise<void> {
    const job = this.#job()!;
    // A watch list's run to store goes to the queue, like a chunk.
    for (const row of this.#sql.exec<EventRow>(`SELECT * FROM outbox WHERE sent = 0 AND event = 'watch.run' AND next_at <= ?`, now).toArray()) {
      try {
        await this.env.JOBS_QUEUE!.send({ v: 1, job: job.id, run: true } satisfies RunMessage, { contentType: 'json' });
        this.#sql.exec('UPDATE outbox SET sent = 1, attempts = attempts + 1 WHERE id = ?', row.id);
      } catch (error) {
        this.#sql.exec('UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?', now + webhookBackoffMs(row.attempts + 1), String(error), row.id);
      }
    }
    const webhook = this.#webhook();
    const secret = this.env.WEBHOOK_SECRET;
    if (!webhook || !secret) {
      // The deployment lost its WEBHOOK_SECRET after the job was made: its events cannot be signed, so they are given up
      // (else they would stay due and the alarm would run again at once, for ever).
      this.#sql.exec(`UPDATE outbox SET sent = 1, last_error = 'no WEBHOOK_SECRET' WHERE sent = 0 AND event != 'watch.run'`);
      return;
    }
    const due = this.#sql.exec<EventRow>(`SELECT * FROM outbox WHERE sent = 0 AND event != 'watch.run' AND next_at <= ? ORDER BY id`, now).toArray();
    for (const row of due) {
      const body = JSON.stringify({ event: row.event, id: `${job.id}-${row.id}`, jobId: job.id, createdAt: new Date(now).toISOString(), data: await this.#eventData(row), metadata: webhook.metadata ?? null });
      const outcome = await deliver(webhook.url, row.event as WebhookEvent, `${job.id}-${row.id}`, body, {
        secret,
        allowPrivate: this.env.ALLOW_PRIVATE_HOSTS?.trim().toLowerCase() === 'true',
        userAgent: job.user_agent,
        now,
      });
      const attempts = row.attempts + 1;
      const done = outcome.ok || !outcome.retry || attempts >= WEBHOOK_ATTEMPTS;
      this.#sql.exec(
        'UPDATE outbox SET attempts = ?, sent = ?, next_at = ?, last_error = ? WHERE id = ?',
        attempts,
        done ? 1 : 0,
        now + webhookBackoffMs(attempts),
        outcome.error,
        row.id,
      );
      if (!outcome.ok && done) console.error(`fanout job ${job.id}: webhook ${row.event} given up after ${attempts} attempt(s): ${outcome.error}`);
    }
  }

  /** An event's `data`: the job for job-level events; the chunk's results (failures only for job.failed_page) for page events. */
  async #eventData(row: EventRow): Promise<unknown> {
    if (row.chunk === null) return this.status();
    const view = viewOf(this.#sql.exec<ChunkRow>('SELECT * FROM chunks WHERE chunk = ?', row.chunk).one());
    // A page event is written only for a chunk that has its results (recorded or unprocessed).
    const results = view.state === 'queued' ? [] : await chunkResults(view, this.env.RESULTS);
    return { results: row.event === 'job.failed_page' ? results.filter((r) => !r.ok) : results };
  }

  /** Sends chunks to the queue, SEND_BATCH_MESSAGES at a time, and notes each send. */
  async #send(rows: ChunkRow[], now: number): Promise<void> {
    const queue = this.env.JOBS_QUEUE;
    if (!queue) throw new Error('the JOBS_QUEUE binding is missing');
    const id = this.#job()!.id;
    for (let i = 0; i < rows.length; i += SEND_BATCH_MESSAGES) {
      const slice = rows.slice(i, i + SEND_BATCH_MESSAGES);
      await queue.sendBatch(slice.map((row) => ({ body: { v: 1, job: id, chunk: row.chunk } satisfies ChunkMessage, contentType: 'json' })));
      for (const row of slice) this.#sql.exec('UPDATE chunks SET sent_at = ?, sends = sends + 1 WHERE chunk = ?', now, row.chunk);
    }
  }

  /** Ends waiting chunks (all, or just `only`) without results of their own; answers how many URLs that ended. */
  #end(state: 'cancelled' | 'unprocessed', code: ErrorCode, now: number, only?: number): number {
    const rows = this.#sql
      .exec<ChunkRow>(`SELECT * FROM chunks WHERE state = 'queued'${only === undefined ? '' : ' AND chunk = ?'}`, ...(only === undefined ? [] : [only]))
      .toArray();
    let urls = 0;
    for (const row of rows) {
      this.#sql.exec('UPDATE chunks SET state = ? WHERE chunk = ?', state, row.chunk);
      if (state === 'unprocessed') this.#emit('job.failed_page', row.chunk, now);
      urls += row.last - row.first + 1;
    }
    if (urls > 0) this.#count(urls, { ok: 0, failed: urls, errors: { [code]: urls } }, now);
    return urls;
  }

  /** Adds `size` finished URLs to the counters; the job completes in the same step that makes done equal total. */
  #count(size: number, summary: ChunkSummary, now: number): void {
    this.#sql.exec('UPDATE job SET done = done + ?, ok = ok + ?, failed = failed + ?', size, summary.ok, summary.failed);
    for (const [code, count] of Object.entries(summary.errors)) {
      if (count) this.#sql.exec('INSERT INTO errors (code, count) VALUES (?, ?) ON CONFLICT (code) DO UPDATE SET count = count + excluded.count', code, count);
    }
    const completed = this.#sql.exec(
      `UPDATE job SET status = 'completed', finished_at = ?, started_at = COALESCE(started_at, ?)
       WHERE done = total AND status IN ('queued', 'running')`,
      now,
      now,
    ).rowsWritten;
    if (completed > 0) {
      // A job none of whose URLs could be run at all (every chunk dead-lettered or spent) failed, rather than completed.
      const unprocessed = this.#sql.exec<{ count: number }>(`SELECT count FROM errors WHERE code = 'unprocessed'`).toArray()[0]?.count ?? 0;
      if (unprocessed === this.#job()!.total) this.#sql.exec(`UPDATE job SET status = 'failed'`);
      this.#emit('job.completed', null, now);
      // A watch list's job: its run is stored by a consumer, sent a message by the alarm (so it survives restarts).
      if (this.#job()!.watch) {
        this.#sql.exec(`UPDATE job SET run_state = 'pending'`);
        this.#sql.exec(`INSERT INTO outbox (event, chunk, created_at, next_at) VALUES ('watch.run', NULL, ?, ?)`, now, now);
      }
    }
  }

  #job(): JobRow | undefined {
    // The tables exist once a job was created; an object probed for an unknown id gets none, and writes nothing.
    if (!this.#created) this.#created = this.#sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'job'`).toArray().length > 0;
    return this.#created ? this.#sql.exec<JobRow>('SELECT * FROM job').toArray()[0] : undefined;
  }

  #errors(): JobStatus['errors'] {
    const errors: JobStatus['errors'] = {};
    for (const { code, count } of this.#sql.exec<{ code: ErrorCode; count: number }>('SELECT code, count FROM errors ORDER BY code')) errors[code] = count;
    return errors;
  }
}

/** A chunk as the results reader sees it. */
function viewOf(row: ChunkRow): ChunkView {
  const { first, last } = row;
  if (row.state === 'done') return { state: 'done', first, last, object: row.object! };
  if (row.state === 'queued') return { state: 'queued', first, last };
  return { state: row.state, first, last, urls: JSON.parse(row.urls) as string[] };
}

/** The API's view of a job row. */
function view(job: JobRow, errors: JobStatus['errors']): JobStatus {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: job.id,
    status: job.status,
    total: job.total,
    done: job.done,
    ok: job.ok,
    failed: job.failed,
    errors,
    createdAt: iso(job.created_at)!,
    startedAt: iso(job.started_at),
    finishedAt: iso(job.finished_at),
    expiresAt: iso(job.expires_at)!,
  };
}
