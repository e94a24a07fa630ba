import robotsParser from 'robots-parser';
import { RobotsDisallowedFailure } from '../errors';
import { concatBytes } from '../extract/prefix';
import { checkUrl } from '../guard';
import { CappedBody } from './read-body';
import { sleep as timerSleep } from './wait';

/**
 * robots.txt (RFC 9309), for `respectRobots`: each host's file is fetched
 * once and kept for ROBOTS_TTL_MS in this isolate (concurrent URLs of a host
 * wait for the same fetch), parsed by robots-parser, and read for fanout's
 * product token. `Crawl-delay` spaces the starts of a host's URLs in a batch.
 */

/** How long a host's robots.txt is kept in this isolate. */
export const ROBOTS_TTL_MS = 60 * 60 * 1000;
/** Hosts whose robots.txt is kept at once; the oldest is forgotten first. */
const ROBOTS_MAX_HOSTS = 1_000;
/** The most of a robots.txt read (RFC 9309 §2.5 asks crawlers to read at least 500 KiB). */
export const ROBOTS_MAX_BYTES = 512 * 1024;
/** Longest wait for a robots.txt; one that does not answer by then counts as unreachable. */
export const ROBOTS_TIMEOUT_MS = 5_000;
/** Longest `Crawl-delay` honoured, in ms: a site asking for more gets this (a batch has a deadline). */
export const MAX_CRAWL_DELAY_MS = 30_000;

/** What a host's robots.txt says, as fanout reads it. */
export interface RobotsRules {
  /** Whether fanout may fetch `url` (of this host). */
  allows(url: string): boolean;
  /** The spacing the host asks for between requests, in ms (0 without `Crawl-delay`). */
  crawlDelayMs: number;
  /** Why everything is refused, when the file could not be read (RFC 9309: a 5xx or no answer means "disallow all"). */
  unreachable: string | null;
}

const ALLOW_ALL: RobotsRules = { allows: () => true, crawlDelayMs: 0, unreachable: null };

/** Redirects followed for a robots.txt (RFC 9309 §2.3.1.2: at least five), each through the guard. */
const ROBOTS_MAX_REDIRECTS = 5;

export interface RobotsFetch {
  fetch: typeof fetch;
  userAgent: string;
  allowPrivate: boolean;
  /** The batch's signal: a batch that ends stops its robots.txt fetches too. */
  signal: AbortSignal;
}

/** Reads a host's robots.txt for `agent` (fanout's product token), by RFC 9309's rules on status. */
export async function fetchRobots(origin: string, agent: string, how: RobotsFetch): Promise<RobotsRules> {
  let url = `${origin}/robots.txt`;
  let response: Response | null = null;
  const signal = AbortSignal.any([how.signal, AbortSignal.timeout(ROBOTS_TIMEOUT_MS)]);
  try {
    for (let hop = 0; hop <= ROBOTS_MAX_REDIRECTS; hop++) {
      response = await how.fetch(url, { headers: { 'user-agent': how.userAgent }, redirect: 'manual', signal });
      const location = response.status >= 300 && response.status < 400 ? response.headers.get('location') : null;
      if (!location) break;
      await response.body?.cancel().catch(() => {});
      const verdict = checkUrl(location, { allowPrivate: how.allowPrivate, base: url });
      // A redirect the guard refuses leaves the file unavailable: as for a 4xx, nothing is refused by it.
      if (!verdict.ok) return ALLOW_ALL;
      url = verdict.url.href;
      response = null;
    }
  } catch (error) {
    return unreachable(`robots.txt unreachable: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!response) return unreachable(`robots.txt: more than ${ROBOTS_MAX_REDIRECTS} redirects`);
  // 4xx: "unavailable", everything may be fetched; 5xx: "unreachable", nothing (RFC 9309 §2.3.1.3, §2.3.1.4).
  if (response.status >= 400 && response.status < 500) {
    await response.body?.cancel().catch(() => {});
    return ALLOW_ALL;
  }
  if (response.status >= 500 || response.status < 200 || response.status >= 300) {
    await response.body?.cancel().catch(() => {});
    return unreachable(`robots.txt answered ${response.status}`);
  }
  const text = await readCapped(response, ROBOTS_MAX_BYTES, signal);
  // The file a redirect ends at speaks for the host that was asked (RFC 9309 §2.3.1.2).
  const robots = robotsParser(`${origin}/robots.txt`, text);
  const delay = robots.getCrawlDelay(agent);
  return {
    // A URL of another origin is no business of this file: allowed here, its own host decides.
    allows: (target) => robots.isAllowed(target, agent) !== false,
    crawlDelayMs: typeof delay === 'number' && delay > 0 ? Math.min(delay * 1000, MAX_CRAWL_DELAY_MS) : 0,
    unreachable: null,
  };
}

function unreachable(why: string): RobotsRules {
  return { allows: () => false, crawlDelayMs: 0, unreachable: why };
}

/** The body's first `max` bytes as UTF-8 text (fanout's byte-capped reader; the rest is cancelled). */
async function readCapped(response: Response, max: number, signal: AbortSignal): Promise<string> {
  if (!response.body) return '';
  const body = new CappedBody(response.body, max, signal);
  const chunks: Uint8Array[] = [];
  try {
    for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) chunks.push(chunk);
  } finally {
    await body.finish(false);
  }
  return new TextDecoder().decode(concatBytes(chunks));
}

/** Each host's rules, fetched once and kept for ROBOTS_TTL_MS (per isolate). */
export class RobotsCache {
  readonly #entries = new Map<string, { expires: number; rules: Promise<RobotsRules> }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The rules of `origin`, fetching them unless a live copy (or a fetch under way) is at hand. */
  rules(origin: string, load: () => Promise<RobotsRules>): Promise<RobotsRules> {
    const entry = this.#entries.get(origin);
    if (entry && entry.expires > this.now()) return entry.rules;
    this.#entries.delete(origin);
    if (this.#entries.size >= ROBOTS_MAX_HOSTS) this.#entries.delete(this.#entries.keys().next().value!);
    const rules = load();
    this.#entries.set(origin, { expires: this.now() + ROBOTS_TTL_MS, rules });
    return rules;
  }
}

/** The isolate's cache (a Worker isolate serves many requests; a new one starts empty). */
export const robotsCache = new RobotsCache();

/** fanout's product token in a User-Agent (`fanout/0.1.0 (+https://...)` gives `fanout`). */
export function productToken(userAgent: string): string {
  return /^[^\s/]+/.exec(userAgent)?.[0] ?? 'fanout';
}

/**
 * Spaces the starts of one host's URLs `delayMs` apart: each start takes the
 * next free time of its host and waits for it.
 */
export class HostSpacing {
  readonly #next = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void> = timerSleep,
  ) {}

  async wait(host: string, delayMs: number, signal: AbortSignal): Promise<void> {
    if (delayMs <= 0) return;
    const now = this.now();
    const at = Math.max(now, this.#next.get(host) ?? now);
    this.#next.set(host, at + delayMs);
    if (at > now) await this.sleep(at - now, signal);
  }
}

/** The failure of a URL robots.txt refuses (or that the unreachable file refuses with the rest). */
export function robotsFailure(url: string, rules: RobotsRules): RobotsDisallowedFailure | null {
  if (rules.allows(url)) return null;
  return new RobotsDisallowedFailure(rules.unreachable ?? 'robots.txt disallows this URL for fanout');
}
