/**
 * The plain Node peer: what a Node user writes instead of fanout. Global fetch
 * (undici) with a bounded pool (p-limit), each body read up to a byte cap, then the
 * title by regex and the first N characters of tag-stripped text.
 *
 * Protocol (the bench runner drives it; usable by hand too):
 *   stdin line 1: the job, JSON {"urls": [...], "concurrency": N, "maxBytes": B, "snippetLength": L, "warmup": [...]}
 *   stdout:       "ready" once parsed and warmed up (the runner samples CPU/RSS then)
 *   stdin line 2: "go" (or EOF) starts the run
 *   stdout:       one JSON line {"makespanMs", "firstResultMs", "results": [{ok, status, title, snippet, bytes}]}
 *   then waits for stdin to close, so the runner can read this process's CPU time before it exits.
 */
import { readCapped, servePeer } from './serve.mjs';

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
const decodeEntities = (s) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ENTITIES[e.toLowerCase()] ?? m;
  });
const collapse = (s) => s.replace(/\s+/g, ' ').trim();

/** Title and the first `n` characters of visible text, the way a quick script does it. */
export function extract(html, n) {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html);
  const bodyAt = html.search(/<body[\s>]/i);
  const text = (bodyAt >= 0 ? html.slice(bodyAt) : html)
    .replace(/<(script|style|noscript|template)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ');
  return {
    title: title ? collapse(decodeEntities(title[1])) : null,
    snippet: collapse(decodeEntities(text)).slice(0, n) || null,
  };
}

async function fetchOne(url, job) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(job.timeoutMs ?? 60_000) });
    const buf = res.body ? await readCapped(res.body, job.maxBytes) : Buffer.alloc(0);
    const text = new TextDecoder().decode(buf);
    const bytes = buf.byteLength;
    return { ok: res.ok, status: res.status, ...extract(text, job.snippetLength), bytes };
  } catch (error) {
    return { ok: false, status: null, title: null, snippet: null, bytes: 0, error: String(error?.cause ?? error) };
  }
}

await servePeer(fetchOne);
