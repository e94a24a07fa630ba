/**
 * A bounded pool that starts tasks in input order, with an optional bound per
 * key (host), and stops starting new ones when its signal aborts (p-limit and
 * p-map's model: a queue, not polling).
 */

export interface PoolOptions {
  /** Most tasks running at once. */
  concurrency: number;
  /** Most tasks running at once that share a key; undefined = no bound beyond `concurrency`. */
  perKey?: number | undefined;
  /** Abort: no further task starts; running tasks see their own signal. */
  signal?: AbortSignal;
}

export interface PoolTask {
  /** Tasks with the same key share the `perKey` bound (fanout passes the hostname). */
  key: string;
  /** Runs the task; must not reject (a failure is a result). */
  run: () => Promise<void>;
  /** Called instead of `run` for a task that never started because the pool was aborted. */
  skip: () => void;
}

/**
 * Runs every task, at most `concurrency` at once and `perKey` per key. Resolves
 * when every task has either run to completion or been skipped.
 */
export function runPool(tasks: readonly PoolTask[], options: PoolOptions): Promise<void> {
  const { concurrency, perKey, signal } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`Expected \`concurrency\` to be an integer >= 1, got ${concurrency}`);
  }
  if (perKey !== undefined && (!Number.isInteger(perKey) || perKey < 1)) {
    throw new TypeError(`Expected \`perKey\` to be an integer >= 1 or undefined, got ${perKey}`);
  }

  const waiting = [...tasks];
  const runningByKey = new Map<string, number>();
  let running = 0;

  return new Promise<void>((resolve) => {
    const finishIfIdle = () => {
      if (running === 0 && waiting.length === 0) resolve();
    };

    const skipAll = () => {
      for (const task of waiting.splice(0)) task.skip();
      finishIfIdle();
    };

    const pump = () => {
      if (signal?.aborted) return skipAll();
      // Take the first waiting task (input order) whose key still has room.
      for (let i = 0; i < waiting.length && running < concurrency; ) {
        const task = waiting[i]!;
        const busy = runningByKey.get(task.key) ?? 0;
        if (perKey !== undefined && busy >= perKey) {
          i++;
          continue;
        }
        waiting.splice(i, 1);
        running++;
        runningByKey.set(task.key, busy + 1);
        void task.run().catch(() => {}).finally(() => {
          running--;
          const left = runningByKey.get(task.key)! - 1;
          if (left === 0) runningByKey.delete(task.key);
          else runningByKey.set(task.key, left);
          pump();
        });
      }
      finishIfIdle();
    };

    signal?.addEventListener('abort', skipAll, { once: true });
    pump();
  });
}
