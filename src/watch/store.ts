import { toHex } from '../hex';
import type { RequestOptions } from '../engine/options';
import type { BatchStats, PageResult } from '../result';
import type { ComparedField, Content, Previous, UrlState } from './diff';
import type { NotifyOutcome } from './notify';

/**
 * Watch lists, runs and per-URL state in D1. Bulk writes pass one JSON
 * parameter and expand it with json_each, so a 200-URL run is a handful of
 * statements (D1 limits bound parameters per query to 100 and queries per
 * invocation to 50 on Free / 1000 on Paid).
 */

/** A watch list as the API shows it. */
export interface WatchList {
  name: string;
  urls: string[];
  /** The /v1/fetch options (everything but `urls`). */
  options: RequestOptions;
  /** Cron expressions this list follows; null = every tick. */
  crons: string[] | null;
  createdAt: string;
  updatedAt: string;
  /** True for the list that comes from the WATCH_URLS var. */
  builtIn: boolean;
}

/** A run's totals: the batch's own, plus how the URLs moved since the previous run. */
export interface RunStats extends BatchStats {
  changed: number;
  new: number;
  failing: number;
  recovered: number;
  notModified: number;
}

/** A stored run, without its results. */
export interface RunRecord {
  id: string;
  watchlist: string;
  cron: string | null;
  scheduledTime: string;
  startedAt: string;
  finishedAt: string;
  stats: RunStats;
  /** What happened to the NOTIFY_URL call, when one was made. */
  notification: NotifyOutcome | null;
}

/** One URL's entry in a run. */
export interface RunEntry {
  index: number;
  url: string;
  changed: boolean;
  changes: ComparedField[];
  state: UrlState;
  /** True when the origin answered 304 and the previous content was carried forward. */
  notModified: boolean;
  result: PageResult;
}

/** What to remember of a URL after a run. */
export interface UrlMemory {
  url: string;
  ok: boolean;
  etag: string | null;
  lastModified: string | null;
  content: Content | null;
}

export interface StoredPrevious extends Previous {
  etag: string | null;
  lastModified: string | null;
}

/** A change, as GET /v1/changes lists it. */
export interface ChangeRecord {
  runId: string;
  watchlist: string;
  at: string;
  url: string;
  changes: ComparedField[];
  state: UrlState;
  status: number | null;
  finalUrl: string | null;
  title: string | null;
  snippet: string | null;
}

/** Two JSON texts with the same value (key order ignored). */
function sameJson(a: string, b: string): boolean {
  const canonical = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, canonical(v)]))
      : value;
  return JSON.stringify(canonical(JSON.parse(a))) === JSON.stringify(canonical(JSON.parse(b)));
}

/** A new run id: the start time in base 36 (fixed width, so ids sort by time), then randomness. */
export function newRunId(now: number): string {
  const random = crypto.getRandomValues(new Uint8Array(4));
  return `${now.toString(36).padStart(9, '0')}-${toHex(random)}`;
}

interface WatchListRow {
  name: string;
  urls: string;
  options: string;
  crons: string | null;
  created_at: string;
  updated_at: string;
}

interface RunRow {
  id: string;
  watchlist: string;
  cron: string | null;
  scheduled_time: string;
  started_at: string;
  finished_at: string;
  stats: string;
  notification: string | null;
}

const toList = (row: WatchListRow): WatchList => ({
  name: row.name,
  urls: JSON.parse(row.urls),
  options: JSON.parse(row.options),
  crons: row.crons === null ? null : JSON.parse(row.crons),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  builtIn: false,
});

const toRun = (row: RunRow): RunRecord => ({
  id: row.id,
  watchlist: row.watchlist,
  cron: row.cron,
  scheduledTime: row.scheduled_time,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
  stats: JSON.parse(row.stats),
  notification: row.notification === null ? null : JSON.parse(row.notification),
});

/** D1 access for watch lists and runs. */
export class WatchStore {
  constructor(private readonly db: D1Database) {}

  /**
   * Creates or replaces a list; tells which. When the options change, what the
   * earlier runs remembered of each URL is forgotten (validators and content,
   * not the ok/failing state): it was extracted under the old options, so
   * comparing against it would flag unchanged pages, and a 304 would carry a
   * snippet forward that the new options would not produce.
   */
  async putList(list: Pick<WatchList, 'name' | 'urls' | 'options' | 'crons'>, now: string): Promise<{ list: WatchList; created: boolean }> {
    const existing = await this.db
      .prepare('SELECT created_at, options FROM watchlists WHERE name = ?1')
      .bind(list.name)
      .first<{ created_at: string; options: string }>();
    const options = JSON.stringify(list.options);
    const upsert = this.db
      .prepare(
        `INSERT INTO watchlists (name, urls, options, crons, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (name) DO UPDATE SET urls = excluded.urls, options = excluded.options, crons = excluded.crons, updated_at = excluded.updated_at
         RETURNING *`,
      )
      .bind(list.name, JSON.stringify(list.urls), options, list.crons === null ? null : JSON.stringify(list.crons), now);
    const optionsChanged = existing !== null && !sameJson(existing.options, options);
    const statements = optionsChanged
      ? [upsert, this.db.prepare('UPDATE url_state SET etag = NULL, last_modified = NULL, content = NULL WHERE watchlist = ?1').bind(list.name)]
      : [upsert];
    const [result] = await this.db.batch<WatchListRow>(statements);
    return { list: toList(result!.results[0]!), created: existing === null };
  }

  async getList(name: string): Promise<WatchList | null> {
    const row = await this.db.prepare('SELECT * FROM watchlists WHERE name = ?1').bind(name).first<WatchListRow>();
    return row ? toList(row) : null;
  }

  async listLists(): Promise<WatchList[]> {
    const { results } = await this.db.prepare('SELECT * FROM watchlists ORDER BY name').all<WatchListRow>();
    return results.map(toList);
  }

  /** Deletes a list with its runs and URL state; false when there was no such list. */
  async deleteList(name: string): Promise<boolean> {
    const [deleted] = await this.db.batch([
      this.db.prepare('DELETE FROM watchlists WHERE name = ?1').bind(name),
      this.db.prepare('DELETE FROM run_results WHERE run_id IN (SELECT id FROM runs WHERE watchlist = ?1)').bind(name),
      this.db.prepare('DELETE FROM runs WHERE watchlist = ?1').bind(name),
      this.db.prepare('DELETE FROM url_state WHERE watchlist = ?1').bind(name),
    ]);
    return (deleted?.meta.changes ?? 0) > 0;
  }

  /** What the previous runs left for each URL of a list. */
  async loadState(watchlist: string): Promise<Map<string, StoredPrevious>> {
    const { results } = await this.db
      .prepare('SELECT url, ok, etag, last_modified, content FROM url_state WHERE watchlist = ?1')
      .bind(watchlist)
      .all<{ url: string; ok: number; etag: string | null; last_modified: string | null; content: string | null }>();
    return new Map(
      results.map((row) => [
        row.url,
        { ok: row.ok === 1, etag: row.etag, lastModified: row.last_modified, content: row.content === null ? null : JSON.parse(row.content) },
      ]),
    );
  }

  /** Stores a run, its entries and the new URL state in one transaction (a D1 batch). */
  /** The last check of some of a list's URLs (the validators a job's chunk sends), in slices under D1's 100 bound parameters. */
  async loadStateOf(watchlist: string, urls: readonly string[]): Promise<Map<string, StoredPrevious>> {
    const found = new Map<string, StoredPrevious>();
    const distinct = [...new Set(urls)];
    for (let i = 0; i < distinct.length; i += 90) {
      const slice = distinct.slice(i, i + 90);
      const { results } = await this.db
        .prepare(`SELECT url, ok, etag, last_modified, content FROM url_state WHERE watchlist = ?1 AND url IN (${slice.map((_, j) => `?${j + 2}`).join(', ')})`)
        .bind(watchlist, ...slice)
        .all<{ url: string; ok: number; etag: string | null; last_modified: string | null; content: string | null }>();
      for (const row of results) found.set(row.url, { ok: row.ok === 1, etag: row.etag, lastModified: row.last_modified, content: row.content === null ? null : JSON.parse(row.content) });
    }
    return found;
  }

  async saveRun(run: RunRecord, entries: RunEntry[], memory: UrlMemory[], listUrls: string[], now: string): Promise<void> {
    await this.db.batch([
      this.db
        .prepare(
          `INSERT INTO runs (id, watchlist, cron, scheduled_time, started_at, finished_at, stats, notification)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
        )
        .bind(run.id, run.watchlist, run.cron, run.scheduledTime, run.startedAt, run.finishedAt, JSON.stringify(run.stats), null),
      // One statement per slice of entries: each binds its JSON as one string, which D1 caps (MAX_BOUND_BYTES).
      ...chunkByBytes(
        entries.map((e) =>
          JSON.stringify({
            index: e.index,
            url: e.url,
            changed: e.changed ? 1 : 0,
            changes: JSON.stringify(e.changes),
            state: e.state,
            result: storedResult(e.result, e.notModified),
          }),
        ),
        MAX_BOUND_BYTES,
      ).map((slice) =>
        this.db
          .prepare(
            `INSERT INTO run_results (run_id, idx, url, changed, changes, state, result)
             SELECT ?1, json_extract(value, '$.index'), json_extract(value, '$.url'), json_extract(value, '$.changed'),
                    json_extract(value, '$.changes'), json_extract(value, '$.state'), json_extract(value, '$.result')
             FROM json_each(?2)`,
          )
          .bind(run.id, `[${slice.join(',')}]`),
      ),
      this.db
        .prepare(
          `INSERT INTO url_state (watchlist, url, ok, etag, last_modified, content, updated_at)
           SELECT ?1, json_extract(value, '$.url'), json_extract(value, '$.ok'), json_extract(value, '$.etag'),
                  json_extract(value, '$.lastModified'), json_extract(value, '$.content'), ?3
           FROM json_each(?2) WHERE true
           ON CONFLICT (watchlist, url) DO UPDATE SET ok = excluded.ok, etag = excluded.etag,
             last_modified = excluded.last_modified, content = excluded.content, updated_at = excluded.updated_at`,
        )
        .bind(
          run.watchlist,
          JSON.stringify(
            memory.map((m) => ({
              url: m.url,
              ok: m.ok ? 1 : 0,
              etag: m.etag,
              lastModified: m.lastModified,
              content: m.content === null ? null : JSON.stringify(m.content),
            })),
          ),
          now,
        ),
      // URLs no longer on the list are forgotten.
      this.db
        .prepare('DELETE FROM url_state WHERE watchlist = ?1 AND url NOT IN (SELECT value FROM json_each(?2))')
        .bind(run.watchlist, JSON.stringify(listUrls)),
    ]);
  }

  /** Records the notification outcome on a run. */
  async setNotification(runId: string, outcome: NotifyOutcome): Promise<void> {
    await this.db.prepare('UPDATE runs SET notification = ?2 WHERE id = ?1').bind(runId, JSON.stringify(outcome)).run();
  }

  /** Keeps the newest `keep` runs of a list and deletes the rest; returns how many runs went. */
  async prune(watchlist: string, keep: number): Promise<number> {
    const older = 'SELECT id FROM runs WHERE watchlist = ?1 ORDER BY id DESC LIMIT -1 OFFSET ?2';
    const [, runs] = await this.db.batch([
      this.db.prepare(`DELETE FROM run_results WHERE run_id IN (${older})`).bind(watchlist, keep),
      this.db.prepare(`DELETE FROM runs WHERE id IN (${older})`).bind(watchlist, keep),
    ]);
    return runs?.meta.changes ?? 0;
  }

  /** Runs newest first, optionally of one list, after a cursor (a run id). */
  async listRuns(query: { watchlist?: string | undefined; limit: number; cursor?: string | undefined }): Promise<{ runs: RunRecord[]; nextCursor: string | null }> {
    const { results } = await this.db
      .prepare(
        `SELECT * FROM runs WHERE (?1 IS NULL OR watchlist = ?1) AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3`,
      )
      .bind(query.watchlist ?? null, query.cursor ?? null, query.limit + 1)
      .all<RunRow>();
    const runs = results.slice(0, query.limit).map(toRun);
    return { runs, nextCursor: results.length > query.limit ? runs[runs.length - 1]!.id : null };
  }

  /** One run with its entries in input order. */
  async getRun(id: string): Promise<(RunRecord & { results: RunEntry[] }) | null> {
    const row = await this.db.prepare('SELECT * FROM runs WHERE id = ?1').bind(id).first<RunRow>();
    if (!row) return null;
    const { results } = await this.db
      .prepare('SELECT idx, url, changed, changes, state, result FROM run_results WHERE run_id = ?1 ORDER BY idx')
      .bind(id)
      .all<{ idx: number; url: string; changed: number; changes: string; state: UrlState; result: string }>();
    return {
      ...toRun(row),
      results: results.map((r) => {
        const { notModified, ...result } = JSON.parse(r.result) as StoredResult;
        return { index: r.idx, url: r.url, changed: r.changed === 1, changes: JSON.parse(r.changes), state: r.state, notModified, result };
      }),
    };
  }

  /** The newest run of a list. */
  async latestRun(watchlist: string): Promise<(RunRecord & { results: RunEntry[] }) | null> {
    const row = await this.db.prepare('SELECT id FROM runs WHERE watchlist = ?1 ORDER BY id DESC LIMIT 1').bind(watchlist).first<{ id: string }>();
    return row ? this.getRun(row.id) : null;
  }

  /** URLs whose content changed in runs started at or after `since`, newest first. */
  async changesSince(query: { since: string; watchlist?: string | undefined; limit: number }): Promise<ChangeRecord[]> {
    const { results } = await this.db
      .prepare(
        `SELECT r.id AS run_id, r.watchlist, r.started_at, rr.url, rr.changes, rr.state, rr.result
         FROM run_results rr JOIN runs r ON r.id = rr.run_id
         WHERE rr.changed = 1 AND r.started_at >= ?1 AND (?2 IS NULL OR r.watchlist = ?2)
         ORDER BY r.id DESC, rr.idx LIMIT ?3`,
      )
      .bind(query.since, query.watchlist ?? null, query.limit)
      .all<{ run_id: string; watchlist: string; started_at: string; url: string; changes: string; state: UrlState; result: string }>();
    return results.map((row) => {
      const result = JSON.parse(row.result) as PageResult;
      return {
        runId: row.run_id,
        watchlist: row.watchlist,
        at: row.started_at,
        url: row.url,
        changes: JSON.parse(row.changes),
        state: row.state,
        status: result.status,
        finalUrl: result.finalUrl,
        title: result.title,
        snippet: result.snippet,
      };
    });
  }
}

/**
 * D1 refuses a string, BLOB or row over 2,000,000 bytes (docs/workers-platform.md).
 * A stored result stays under MAX_STORED_RESULT_BYTES (its largest format fields
 * give way, see storedResult), and each statement's bound JSON under MAX_BOUND_BYTES.
 */
export const MAX_STORED_RESULT_BYTES = 1_000_000;
const MAX_BOUND_BYTES = 1_800_000;

/** The format fields a stored result drops first when it is too large, largest kinds first. */
const TRIMMED_FIRST = ['html', 'text', 'markdown', 'links', 'jsonld', 'feed'] as const;

/** A run's result as stored: `notModified`, and `trimmed` when fields gave way to the size cap. */
export type StoredResult = PageResult & { notModified: boolean; trimmed?: (typeof TRIMMED_FIRST)[number][] };

const utf8Bytes = (text: string): number => new TextEncoder().encode(text).byteLength;

/**
 * A result as JSON for run_results: whole when it fits MAX_STORED_RESULT_BYTES,
 * else without its largest format fields (null, or [] for links and jsonld, and named in `trimmed`)
 * until it does. The metadata, snippet and error always stay.
 */
export function storedResult(result: PageResult, notModified: boolean): string {
  const stored: StoredResult = { ...result, notModified };
  let json = JSON.stringify(stored);
  for (const field of TRIMMED_FIRST) {
    if (utf8Bytes(json) <= MAX_STORED_RESULT_BYTES) break;
    const value = stored[field];
    if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) continue;
    // Lists stay lists (empty), the rest become null.
    (stored as unknown as Record<string, unknown>)[field] = field === 'links' || field === 'jsonld' ? [] : null;
    stored.trimmed = [...(stored.trimmed ?? []), field];
    json = JSON.stringify(stored);
  }
  return json;
}

/** Consecutive slices of `items` whose UTF-8 sizes (plus a comma each) add up to at most `budget` bytes; an item larger than that is a slice of its own. */
export function chunkByBytes(items: string[], budget: number): string[][] {
  const slices: string[][] = [];
  let current: string[] = [];
  let size = 2;
  for (const item of items) {
    const bytes = utf8Bytes(item) + 1;
    if (current.length > 0 && size + bytes > budget) {
      slices.push(current);
      current = [];
      size = 2;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length > 0) slices.push(current);
  return slices;
}
