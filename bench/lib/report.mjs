/**
 * Turns the runs into figures: medians per scenario and contender, the lower bound and
 * efficiency, ratios to each peer, the issue's targets; then a text table and an SVG chart.
 */
import { firstBoundMs, inOrderPoolMs, lowerBoundMs } from './scenarios.mjs';
import { MAX_BYTES } from './contenders.mjs';

/** The read buffer the "bytes sent" target allows per URL on top of maxBytes (one 64 KiB socket read). */
export const READ_BUFFER = 65_536;
/** The Workers Free plan's CPU time limit per invocation, in ms. */
export const FREE_CPU_MS = 10;

export function median(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** The figure a scenario is judged by (lower is better): makespan, or the first result. */
export const headline = (kind, figures) => (kind === 'first' ? figures.firstResultMs : figures.makespanMs);

/** Medians and derived figures for one scenario × contender from its runs. */
export function summarize(scenario, runs) {
  const n = scenario.urls.length;
  const makespanMs = median(runs.map((r) => r.makespanMs));
  const cpuMs = median(runs.map((r) => r.cpuMs));
  const bound = scenario.kind === 'latency' ? lowerBoundMs(scenario) : null;
  return {
    runs: runs.length,
    makespanMs,
    boundMs: bound,
    efficiency: bound && makespanMs ? bound / makespanMs : null,
    ...(scenario.kind === 'latency'
      ? (() => {
          const poolMs = inOrderPoolMs(scenario);
          return { poolMs, poolEfficiency: makespanMs ? poolMs / makespanMs : null };
        })()
      : {}),
    urlsPerSec: makespanMs ? n / (makespanMs / 1000) : null,
    cpuMs,
    cpuMsPerUrl: cpuMs === null ? null : cpuMs / n,
    workerCpuMs: median(runs.map((r) => r.workerCpuMs)),
    rssGrowthMiB: median(runs.map((r) => r.rss?.peakGrowthMiB)),
    rssGrowthMaxMiB: Math.max(...runs.map((r) => r.rss?.peakGrowthMiB ?? 0)),
    firstResultMs: median(runs.map((r) => r.firstResultMs)),
    firstBoundMs: scenario.kind === 'first' ? firstBoundMs(scenario) : null,
    originBytes: median(runs.map((r) => r.origin?.bytesSent)),
    originRequests: median(runs.map((r) => r.origin?.requests)),
    originMaxInFlight: median(runs.map((r) => r.origin?.maxInFlight)),
    correct: Math.min(...runs.map((r) => r.correct)),
    total: n,
  };
}

/** Adds `vs` (this contender's headline ÷ each peer's; below 1 means faster) to every summary. */
export function addRatios(scenario, byContender) {
  for (const [name, figures] of Object.entries(byContender)) {
    figures.vs = {};
    for (const [peer, other] of Object.entries(byContender)) {
      if (peer === name) continue;
      const a = headline(scenario.kind, figures);
      const b = headline(scenario.kind, other);
      figures.vs[peer] = a && b ? a / b : null;
      if (scenario.kind === 'throughput' || scenario.kind === 'budget' || scenario.kind === 'content') {
        figures.vs[`${peer}Cpu`] = figures.cpuMs && other.cpuMs ? figures.cpuMs / other.cpuMs : null;
      }
    }
  }
}

const fmt = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));

const PEERS = ['node', 'aiohttp'];

/** The contenders the issue's targets apply to: fanout as shipped (fanout-single is a reference, not a configuration). */
const JUDGED = ['fanout', 'fanout-bare'];

/** The issue's targets, each with the figure that decides it, for every fanout contender (`fanout`, `fanout-bare`). */
export function judge(scenarios, summaries) {
  const out = [];
  const fanouts = [...new Set(Object.values(summaries).flatMap((s) => Object.keys(s)))].filter((n) => JUDGED.includes(n));
  for (const who of fanouts) {
    const f = (name) => summaries[name]?.[who];
    const add = (target, figure, met) => out.push({ contender: who, target, figure, met });
    for (const [name, min] of [
      ['lat200', 0.95],
      ['spread', 0.9],
      ['tail', 0.9],
    ]) {
      if (f(name)) add(`efficiency >= ${min} in ${name}`, `${fmt(f(name).efficiency, 3)}`, f(name).efficiency >= min);
    }
    for (const scenario of scenarios) {
      const s = f(scenario.name);
      if (!s) continue;
      for (const peer of PEERS) {
        const ratio = s.vs?.[peer];
        if (ratio === undefined) continue;
        const what = scenario.kind === 'first' ? 'first result' : 'makespan';
        add(`not below ${peer} in ${scenario.name} (${what})`, `${fmt(ratio, 2)}× ${peer}'s`, ratio !== null && ratio <= 1);
      }
    }
    const tp = f('throughput');
    if (tp && summaries.throughput.node) {
      add('CPU/URL <= node peer (throughput)', `${fmt(tp.cpuMsPerUrl, 2)} vs ${fmt(summaries.throughput.node.cpuMsPerUrl, 2)} ms`, tp.cpuMsPerUrl <= summaries.throughput.node.cpuMsPerUrl);
    }
    const b = f('budget50');
    if (b) {
      const floor = summaries.budget50.floor;
      const note = floor ? `; the floor Worker: ${fmt(floor.cpuMs, 1)} ms` : '';
      add(`50-URL batch within the Free plan's ${FREE_CPU_MS} ms CPU`, `${fmt(b.cpuMs, 1)} ms (process CPU${note})`, b.cpuMs <= FREE_CPU_MS);
    }
    const m = f('memory');
    if (m) {
      add('worker RSS growth < 64 MiB (200 MB bodies)', `${fmt(m.rssGrowthMiB, 1)} MiB (max ${fmt(m.rssGrowthMaxMiB, 1)})`, m.rssGrowthMaxMiB < 64);
      const perUrl = (s) => s.originBytes / s.total / 1024;
      // What the peers' sockets took shows what the kernel takes whoever the client is.
      const others = PEERS.filter((p) => summaries.memory[p]).map((p) => `${p} ${fmt(perUrl(summaries.memory[p]))}`);
      add(
        'origin bytes sent <= maxBytes + one read buffer per URL',
        `${fmt(perUrl(m))} KiB/URL vs ${fmt((MAX_BYTES + READ_BUFFER) / 1024)} KiB${others.length ? ` (${others.join(', ')} KiB/URL)` : ''}`,
        perUrl(m) * 1024 <= MAX_BYTES + READ_BUFFER,
      );
    }
    const fr = f('first');
    if (fr) add('first NDJSON line within 50 ms of the fastest URL', `${fmt(fr.firstResultMs)} ms vs ${fr.firstBoundMs} ms`, fr.firstResultMs - fr.firstBoundMs <= 50);
  }
  return out;
}

/** A plain-text table (also valid Markdown). */
export function table(scenarios, summaries, contenders) {
  const peers = contenders.filter((c) => PEERS.includes(c));
  const head = ['scenario', 'contender', 'makespan ms', 'bound ms', 'eff.', 'eff. pool', 'URLs/s', 'CPU ms/URL', 'RSS +MiB', 'origin MB', 'first ms', ...peers.map((p) => `÷ ${p}`), 'ok'];
  const rows = [];
  for (const scenario of scenarios) {
    for (const name of contenders) {
      const s = summaries[scenario.name]?.[name];
      if (!s) continue;
      rows.push([
        scenario.name,
        name,
        fmt(s.makespanMs),
        fmt(s.boundMs),
        fmt(s.efficiency, 3),
        fmt(s.poolEfficiency, 3),
        fmt(s.urlsPerSec),
        fmt(s.cpuMsPerUrl, 3),
        fmt(s.rssGrowthMiB, 1),
        fmt(s.originBytes / 1e6, 1),
        scenario.kind === 'first' ? `${fmt(s.firstResultMs)} (≥${s.firstBoundMs})` : fmt(s.firstResultMs),
        ...peers.map((p) => (p === name ? '' : fmt(s.vs?.[p], 2))),
        `${s.correct}/${s.total}`,
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/**
 * The content scenario's own table: speed and CPU per page in the rounds, CPU against the
 * content peer's, and main-content quality per page set (shingle F1, precision, recall).
 * Null when no content scenario ran.
 */
export function contentTable(scenarios, summaries, contenders) {
  const scenario = scenarios.find((s) => s.kind === 'content');
  if (!scenario || !summaries[scenario.name]) return null;
  const peer = 'node-content';
  const sets = ['fixtures', 'corpus'].filter((set) => contenders.some((c) => summaries[scenario.name][c]?.quality?.[set]));
  const head = ['contender', 'pages', 'makespan ms', 'pages/s', 'CPU ms/page', `CPU ÷ ${peer}`, 'RSS +MiB', ...sets.flatMap((set) => [`${set} F1`, 'P', 'R']), 'ok'];
  const rows = [];
  for (const name of contenders) {
    const s = summaries[scenario.name][name];
    if (!s) continue;
    rows.push([
      name,
      s.total,
      fmt(s.makespanMs),
      fmt(s.urlsPerSec, 1),
      fmt(s.cpuMsPerUrl, 2),
      name === peer ? '' : fmt(s.vs?.[`${peer}Cpu`], 2),
      fmt(s.rssGrowthMiB, 1),
      ...sets.flatMap((set) => {
        const q = s.quality?.[set];
        return [fmt(q?.f1, 3), fmt(q?.precision, 3), fmt(q?.recall, 3)];
      }),
      `${s.correct}/${s.total}`,
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  const pages = Object.entries(scenario.sets ?? {})
    .filter(([, n]) => n)
    .map(([set, n]) => `${n} ${set}`)
    .join(' + ');
  return [
    `${scenario.label} (${pages}; Markdown in the rounds, quality from one text pass per contender)`,
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const COLORS = {
  fanout: '#f38020',
  'fanout-bare': '#faad63',
  'fanout-single': '#fdd3a8',
  'fanout-baseline': '#c9a0dc',
  floor: '#9e9e9e',
  node: '#3c873a',
  aiohttp: '#3572a5',
  'node-content': '#7fb77e',
};

/**
 * A hand-written SVG: one small bar panel per figure that matters, a bar per contender,
 * the value printed on each bar, and the target drawn as a dashed line where there is one.
 */
export function svg(meta, scenarios, summaries, contenders) {
  const get = (scenario, name) => summaries[scenario]?.[name];
  const panels = [
    { title: 'Efficiency, 120 × 200 ms (c=6)', scenario: 'lat200', value: (s) => s.efficiency, digits: 2, max: 1, ceiling: true, target: 0.95, better: 'higher' },
    { title: 'Efficiency, 600 × 50–250 ms (c=24)', scenario: 'spread', value: (s) => s.efficiency, digits: 2, max: 1, ceiling: true, target: 0.9, better: 'higher' },
    { title: 'Efficiency, 5% at 3 s (c=24)', scenario: 'tail', value: (s) => s.efficiency, digits: 2, max: 1, ceiling: true, target: 0.9, better: 'higher' },
    { title: 'URLs/s, 2,000 × 60 KB (c=32)', scenario: 'throughput', value: (s) => s.urlsPerSec, digits: 0, better: 'higher' },
    { title: 'CPU ms per URL, 2,000 × 60 KB', scenario: 'throughput', value: (s) => s.cpuMsPerUrl, digits: 2, better: 'lower' },
    { title: 'CPU ms, one 50-page batch', scenario: 'budget50', value: (s) => s.cpuMs, digits: 1, target: FREE_CPU_MS, better: 'lower' },
    { title: 'Peak RSS growth MiB, 50 × 200 MB', scenario: 'memory', value: (s) => s.rssGrowthMiB, digits: 1, target: 64, better: 'lower' },
    { title: 'First result ms (fastest URL 100 ms)', scenario: 'first', value: (s) => s.firstResultMs, digits: 0, target: 150, better: 'lower' },
    { title: 'CPU ms per page, article → Markdown (c=6)', scenario: 'content', value: (s) => s.cpuMsPerUrl, digits: 2, better: 'lower' },
    {
      title: `Main-content F1, ${summaries.content && Object.values(summaries.content).some((s) => s.quality?.corpus) ? 'extraction benchmark' : 'fixtures'}`,
      scenario: 'content',
      value: (s) => s.quality?.corpus?.f1 ?? s.quality?.fixtures?.f1 ?? null,
      digits: 3,
      max: 1,
      better: 'higher',
    },
  ].filter((p) => summaries[p.scenario]);
  const cols = 2;
  const pw = 420;
  const barH = 22;
  const ph = 48 + contenders.length * (barH + 8) + 22;
  const top = 64;
  const width = cols * pw + 20;
  const height = top + Math.ceil(panels.length / cols) * ph + (meta.baseline ? 66 : 50);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="14" y="24" font-size="16" font-weight="600">fanout vs Node fetch + p-limit vs Python asyncio + aiohttp</text>`,
    `<text x="14" y="44" fill="#555">${esc(meta.summaryLine)}</text>`,
  ];
  panels.forEach((p, i) => {
    const x0 = 10 + (i % cols) * pw;
    const y0 = top + Math.floor(i / cols) * ph;
    const present = contenders.filter((c) => get(p.scenario, c));
    const values = present.map((c) => p.value(get(p.scenario, c)));
    const max = p.max ?? Math.max(...values.filter((v) => v !== null), p.target ?? 0) * 1.15;
    const labelW = contenders.some((c) => c.length > 13) ? 104 : 86;
    const plotW = pw - labelW - 30;
    parts.push(`<text x="${x0 + 4}" y="${y0 + 18}" font-weight="600">${esc(p.title)}</text>`);
    parts.push(`<text x="${x0 + pw - 24}" y="${y0 + 18}" text-anchor="end" fill="#777">${p.better} is better</text>`);
    present.forEach((c, j) => {
      const y = y0 + 30 + j * (barH + 8);
      const v = values[j];
      const w = v === null || !max ? 0 : Math.max(1, (v / max) * plotW);
      parts.push(`<text x="${x0 + labelW - 6}" y="${y + barH * 0.7}" text-anchor="end">${esc(c)}</text>`);
      parts.push(`<rect x="${x0 + labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[c] ?? '#888'}" rx="2"/>`);
      parts.push(`<text x="${x0 + labelW + w + 4}" y="${y + barH * 0.7}">${v === null ? 'n/a' : Number(v).toFixed(p.digits)}</text>`);
    });
    // The best an in-order pool can do with this URL list (below 1 when slow URLs come late).
    const pool = p.ceiling ? contenders.map((c) => get(p.scenario, c)).find((s) => s?.poolMs) : null;
    if (pool && pool.boundMs / pool.poolMs < 0.97) {
      const ceiling = pool.boundMs / pool.poolMs;
      const cx = x0 + labelW + ceiling * plotW;
      const yb = y0 + 30 + present.length * (barH + 8) - 4;
      parts.push(`<line x1="${cx.toFixed(1)}" y1="${y0 + 26}" x2="${cx.toFixed(1)}" y2="${yb}" stroke="#555" stroke-dasharray="2 2"/>`);
      parts.push(`<text x="${cx.toFixed(1)}" y="${yb + 23}" text-anchor="middle" fill="#555" font-size="10">in-order ceiling ${ceiling.toFixed(2)}</text>`);
    }
    if (p.target !== undefined && max) {
      const tx = x0 + labelW + (p.target / max) * plotW;
      const yb = y0 + 30 + present.length * (barH + 8) - 4;
      parts.push(`<line x1="${tx.toFixed(1)}" y1="${y0 + 26}" x2="${tx.toFixed(1)}" y2="${yb}" stroke="#c00" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${tx.toFixed(1)}" y="${yb + 11}" text-anchor="middle" fill="#c00" font-size="10">target ${p.better === 'lower' ? '≤' : '≥'} ${p.target}</text>`);
    }
  });
  if (meta.baseline) parts.push(`<text x="14" y="${height - 44}" fill="#555" font-size="11">fanout-baseline: the Worker of commit ${esc(meta.baseline)}, bare, in the same rounds (an A/B of two commits)</text>`);
  parts.push(`<text x="14" y="${height - 28}" fill="#555" font-size="11">fanout: under wrangler dev · fanout-bare: the deploy bundle in bare workerd · fanout-single: bare, without scale-out (one invocation)</text>`);
  parts.push(`<text x="14" y="${height - 12}" fill="#777" font-size="11">${esc(meta.machineLine)}</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
