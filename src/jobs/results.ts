import { CancelledFailure, UnprocessedFailure } from '../errors';
import { failedResult, type PageResult } from '../result';
import type { ChunkView } from './protocol';

/** One result of a job, with its input index. */
export type IndexedResult = PageResult & { index: number };

/**
 * A finished chunk's results, in input order: a recorded chunk's from its R2
 * object, a cancelled or unprocessed chunk's written from its URLs. The results
 * pages and the job's webhook events both read chunks this way.
 */
export async function chunkResults(chunk: Exclude<ChunkView, { state: 'queued' }>, bucket: R2Bucket | undefined): Promise<IndexedResult[]> {
  if (chunk.state !== 'done') {
    const failure = chunk.state === 'cancelled' ? new CancelledFailure() : new UnprocessedFailure();
    return chunk.urls.map((url, i) => ({ index: chunk.first + i, ...failedResult(url, failure) }));
  }
  const object = await bucket?.get(chunk.object);
  if (!object) throw new Error(`job results object ${chunk.object} is missing`);
  return (await object.text())
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as IndexedResult);
}

/**
 * Reads a job's results in input order from its chunks: recorded chunks from
 * their R2 objects, cancelled and unprocessed ones written from their URLs.
 * A page ends at the first chunk not recorded yet (`waiting`), so a client
 * polling a running job resumes from `nextCursor` and misses nothing.
 */
export class JobResults {
  constructor(
    private readonly job: { chunks(from: number, limit: number): Promise<ChunkView[]> },
    private readonly bucket: R2Bucket,
  ) {}

  /** Results at indexes from `from` on, `limit` of them at most (after `keep`); `nextCursor` null once the job's end is reached. */
  async page(from: number, limit: number, keep: (r: PageResult) => boolean): Promise<{ results: IndexedResult[]; nextCursor: number | null; waiting: boolean }> {
    const out: IndexedResult[] = [];
    let next = from;
    for (;;) {
      // With a filter, a window of `limit` indexes may keep few: read on, a window at a time.
      const chunks: ChunkView[] = await this.job.chunks(next, limit);
      if (chunks.length === 0) return { results: out, nextCursor: null, waiting: false };
      for (const chunk of chunks) {
        if (chunk.state === 'queued') return { results: out, nextCursor: Math.max(next, chunk.first), waiting: true };
        for (const result of await this.#read(chunk)) {
          if (result.index < next) continue;
          if (out.length === limit) return { results: out, nextCursor: result.index, waiting: false };
          if (keep(result)) out.push(result);
          next = result.index + 1;
        }
      }
    }
  }

  #read(chunk: Exclude<ChunkView, { state: 'queued' }>): Promise<IndexedResult[]> {
    return chunkResults(chunk, this.bucket);
  }
}
