/**
 * A bounded pool that starts tasks in input order, with an optional bound per
 * key (host), and stops starting new ones when its signal aborts (p-limit and
 * p-map's model: a queue, not polling).
 *
 * A task holds its slot until it settles, or until it calls `release` first:
 * fanout's slot is a connection, and a page whose body is already read whole
 * gives its connection to the next URL before its CPU-only extraction.
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
  /**
   * Runs the task; must not reject (a failure is a result). `release` gives the
   * task's slot (and its key's) to the next task before the task settles; calling
   * it again, or settling afterwards, gives nothing more.
   */
  run: (release: () => void) => Promise<void>;
  /** Called instead of `run` for a task that never started because the pool was aborted. */
  skip: () => void;
}

/**
 * Runs every task, at most `concurrency` holding a slot at once and `perKey`
 * per key. Resolves when every task has either settled or been skipped.
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
  /** Tasks holding a slot. */
  let running = 0;
  /** Tasks started and not yet settled (released ones included). */
  let unsettled = 0;

  return new Promise<void>((resolve) => {
    const finishIfIdle = () => {
      if (unsettled === 0 && waiting.length === 0) resolve();
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
        unsettled++;
        runningByKey.set(task.key, busy + 1);
        let holding = true;
        const release = () => {
          if (!holding) return;
          holding = false;
          running--;
          const left = runningByKey.get(task.key)! - 1;
          if (left === 0) runningByKey.delete(task.key);
          else runningByKey.set(task.key, left);
          pump();
        };
        void task.run(release).catch(() => {}).finally(() => {
          unsettled--;
          if (holding) release();
          else finishIfIdle();
        });
      }
      finishIfIdle();
    };

    signal?.addEventListener('abort', skipAll, { once: true });
    pump();
  });
}
