/**
 * The bench's scenarios: which URLs (with their latency and size knobs), at what
 * concurrency, and how each is judged. Latencies are drawn from a seeded generator,
 * so every contender, round and run fetches exactly the same URLs.
 */
import { titleFor } from '../origin.mjs';
import { CONTENT_MAX_BYTES, contentPages } from './content.mjs';

/** mulberry32: a small seeded PRNG, enough for reproducible latency spreads. */
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KB = 1000;
const MB = 1024 * 1024;
/** A typical HTML page's size (HTTP Archive's median HTML document is a few tens of KB). */
const PAGE = 30 * KB;

/** Latency spread: uniform in [lo, hi] ms, seeded. */
const uniform = (rand, lo, hi) => Math.round(lo + rand() * (hi - lo));

function pages(count, delayOf, size = PAGE) {
  return Array.from({ length: count }, (_, i) => ({ id: String(i), delay: delayOf(i), size, type: 'page', title: titleFor(String(i)) }));
}

/**
 * kind: latency -> makespan against max(slowest URL, total latency / concurrency)
 *       throughput -> URLs/s and CPU ms per URL
 *       budget -> CPU ms of one batch against the Free plan's 10 ms
 *       memory -> peak RSS growth and bytes the origin sent
 *       first -> time to the first result (NDJSON for fanout) against the fastest URL's latency
 *       content -> main content as Markdown: pages/s and CPU ms per page in the rounds, then
 *                  shingle F1 against the article text in one quality pass (see contentScenario)
 */
export function fullScenarios() {
  const spread = seeded(0x5eed1);
  const tailRand = seeded(0x7a11);
  const tailCount = 240;
  const slow = new Set();
  while (slow.size < Math.round(tailCount * 0.05)) slow.add(Math.floor(tailRand() * tailCount));
  const firstRand = seeded(0xf157);
  return [
    {
      name: 'lat200',
      label: '120 URLs × 200 ms, c=6',
      kind: 'latency',
      concurrency: 6,
      urls: pages(120, () => 200),
    },
    {
      name: 'spread',
      label: '600 URLs × 50–250 ms, c=24',
      kind: 'latency',
      concurrency: 24,
      urls: pages(600, () => uniform(spread, 50, 250)),
    },
    {
      name: 'tail',
      label: '240 URLs, 5% at 3 s, rest 50–250 ms, c=24',
      kind: 'latency',
      concurrency: 24,
      urls: pages(tailCount, (i) => (slow.has(i) ? 3000 : uniform(tailRand, 50, 250))),
    },
    {
      name: 'throughput',
      label: '2,000 URLs × 0 ms, 60 KB, c=32',
      kind: 'throughput',
      concurrency: 32,
      urls: pages(2000, () => 0, 60 * KB),
    },
    {
      name: 'budget50',
      label: '50 typical pages (60 KB), c=6: CPU per batch',
      kind: 'budget',
      concurrency: 6,
      urls: pages(50, () => 0, 60 * KB),
    },
    {
      name: 'memory',
      label: '50 URLs × 200 MB bodies, c=50',
      kind: 'memory',
      concurrency: 50,
      urls: Array.from({ length: 50 }, (_, i) => ({ id: String(i), delay: 0, size: 200 * MB, type: 'huge', title: 'Huge page' })),
    },
    {
      name: 'first',
      label: 'first result: 24 URLs, fastest 100 ms, rest 300–800 ms, c=6',
      kind: 'first',
      concurrency: 6,
      // The fastest URL is among the first `concurrency`, so it starts at once for every contender.
      urls: pages(24, (i) => (i === 2 ? 100 : uniform(firstRand, 300, 800))),
    },
    contentScenario(),
  ];
}

/**
 * Real article pages (bench/lib/content.mjs: the test fixtures and, when BENCH_CONTENT_CORPUS
 * names a copy, the article-extraction benchmark), 0 ms latency, whole pages (CONTENT_MAX_BYTES),
 * c=6. The rounds ask for Markdown (fanout `formats: ["markdown"]`, the peer's markdown mode);
 * the quality pass asks for text (fanout `formats: ["text"]`, Readability's textContent).
 * Only fanout and the content peer run it. `notes` says which page sets were skipped;
 * with no page at all the runner skips the scenario.
 */
export function contentScenario() {
  const { pages: found, notes } = contentPages();
  return {
    name: 'content',
    label: `content: ${found.length} article pages → Markdown, c=6`,
    kind: 'content',
    concurrency: 6,
    maxBytes: CONTENT_MAX_BYTES,
    request: { formats: ['markdown'], maxBytes: CONTENT_MAX_BYTES },
    peerJob: { mode: 'markdown' },
    contenders: ['fanout', 'fanout-bare', 'fanout-baseline', 'node-content'],
    sets: { fixtures: found.filter((p) => p.set === 'fixtures').length, corpus: found.filter((p) => p.set === 'corpus').length },
    notes,
    urls: found.map((p) => ({ id: p.id, delay: 0, type: 'content', set: p.set, source: p.source, truth: p.truth })),
  };
}

/** A tiny run for CI: a few URLs of each kind that matters for correctness. */
export function smokeScenarios() {
  const rand = seeded(0x5a0e);
  return [
    { name: 'smoke', label: 'smoke: 12 URLs × 20–60 ms, c=4', kind: 'latency', concurrency: 4, urls: pages(12, () => uniform(rand, 20, 60)) },
    {
      name: 'smoke-huge',
      label: 'smoke: 4 URLs × 200 MB bodies, c=4',
      kind: 'memory',
      concurrency: 4,
      urls: Array.from({ length: 4 }, (_, i) => ({ id: String(i), delay: 0, size: 200 * MB, type: 'huge', title: 'Huge page' })),
    },
    { name: 'smoke-first', label: 'smoke: first result, 6 URLs, fastest 50 ms', kind: 'first', concurrency: 3, urls: pages(6, (i) => (i === 1 ? 50 : 300)) },
  ];
}

/** The ideal makespan: no scheduler can beat the slowest URL, nor total latency spread over every slot. */
export function lowerBoundMs(scenario) {
  const delays = scenario.urls.map((u) => u.delay);
  const sum = delays.reduce((a, b) => a + b, 0);
  return Math.max(Math.max(...delays), sum / scenario.concurrency);
}

/**
 * The makespan of an ideal pool that starts URLs in input order, `slots` at a time, with
 * no overhead at all: what p-limit, a Semaphore or fanout's pool could reach at best. It
 * sits above lowerBoundMs when slow URLs come late in the list (the tail scenario).
 */
export function inOrderPoolMs(scenario, slots = scenario.concurrency) {
  const free = new Array(Math.min(slots, scenario.urls.length)).fill(0);
  for (const { delay } of scenario.urls) {
    let at = 0;
    for (let i = 1; i < free.length; i++) if (free[i] < free[at]) at = i;
    free[at] += delay;
  }
  return Math.max(...free);
}

/** The earliest any first result can arrive: the fastest URL among those that start at once. */
export function firstBoundMs(scenario) {
  return Math.min(...scenario.urls.slice(0, scenario.concurrency).map((u) => u.delay));
}
