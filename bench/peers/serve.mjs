/**
 * The stdin/stdout protocol both Node peers speak with the runner
 * (bench/lib/contenders.mjs): a job as one JSON line, a warm-up off the clock,
 * `ready`, a go line, the run's record as one JSON line, then stay alive until
 * the runner has read the process's CPU time and closes stdin.
 */
import { createInterface } from 'node:readline';
import pLimit from 'p-limit';

/** Reads at most `maxBytes` of a body, then cancels the rest (the origin stops sending); the bytes read. */
export async function readCapped(body, maxBytes) {
  const reader = body.getReader();
  const parts = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    bytes += value.byteLength;
    if (bytes >= maxBytes) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(parts, bytes).subarray(0, maxBytes);
}

/** Runs the job's URLs through `fetchOne(url, job)` at the job's concurrency, timing the whole and the first result. */
async function run(job, fetchOne) {
  const limit = pLimit(job.concurrency);
  const start = performance.now();
  let firstResultMs = null;
  const results = await Promise.all(
    job.urls.map((url) =>
      limit(async () => {
        const result = await fetchOne(url, job);
        firstResultMs ??= performance.now() - start;
        return result;
      }),
    ),
  );
  return { makespanMs: performance.now() - start, firstResultMs, results };
}

/** Serves one job on stdin/stdout with `fetchOne`, then exits. */
export async function servePeer(fetchOne) {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const job = JSON.parse((await lines.next()).value);
  // Off the clock, as a long-running user process would be: the code warmed up and keep-alive
  // connections open (the runner passes `warmup` URLs; fanout's workerd is warm the same way).
  if (job.warmup?.length) await run({ ...job, urls: job.warmup }, fetchOne);
  process.stdout.write('ready\n');
  await lines.next();
  const out = await run(job, fetchOne);
  process.stdout.write(`${JSON.stringify(out)}\n`);
  while (!(await lines.next()).done) {
    /* wait */
  }
  process.exit(0);
}
