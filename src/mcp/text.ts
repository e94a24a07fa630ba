import type { BatchResult, PageResult } from '../result';

/**
 * What an agent reads: fetch results as compact text. The JSON of a result
 * is long (timings, validators, every metadata field); a model needs the
 * index, the outcome, the title and the content it asked for.
 */

/**
 * Characters of text a fetch_pages answer holds, all pages together: about
 * 25,000 tokens, the size of one page at the default maxContentChars. Each
 * page gets an equal share of what is left when its turn comes, so short
 * pages leave room for long ones; the full results are in structuredContent.
 */
export const MAX_TEXT_CHARS = 100_000;

/** A title or URL is shown up to this many characters (a URL may be 8,192). */
const MAX_LINE_CHARS = 300;

/** Cuts `text` to `max` characters, marking the cut. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The outcome in a few characters: `200`, or the error code and the status when there was one. */
export function outcomeOf(result: PageResult): string {
  if (!result.error) return String(result.status);
  return result.status === null ? result.error.code : `${result.error.code} ${result.status}`;
}

/** The first line of a page's block: index, outcome, URL (the final one, when redirects changed it). */
function headline(index: number, result: PageResult): string {
  const url = result.finalUrl && result.finalUrl !== result.url ? `${result.url} -> ${result.finalUrl}` : result.url;
  return `[${index}] ${outcomeOf(result)} ${clip(url, MAX_LINE_CHARS)}`;
}

/** One page as text: its headline, title, error, snippet, each content format it has, and counts of the list formats. */
function pageBlock(index: number, result: PageResult): string {
  const lines = [headline(index, result)];
  if (result.title) lines.push(`title: ${clip(result.title, MAX_LINE_CHARS)}`);
  if (result.error) lines.push(`error: ${result.error.message}`);
  if (result.snippet) lines.push(`snippet: ${result.snippet}`);
  const counts = [
    result.links && `links: ${result.links.length}`,
    result.jsonld && `jsonld blocks: ${result.jsonld.length}`,
    result.feed && `feed items: ${result.feed.items.length}`,
  ].filter(Boolean);
  if (counts.length > 0) lines.push(`${counts.join(', ')} (in structuredContent)`);
  for (const format of ['markdown', 'text'] as const) {
    const content = result[format];
    if (content) lines.push(`--- ${format}${result.contentTruncated ? ' (cut at maxContentChars)' : ''} ---`, content);
  }
  return lines.join('\n');
}

/**
 * A batch as text: a summary line, then one block per URL in input order.
 * Every block keeps its headline; the rest of a block is cut to its share of
 * MAX_TEXT_CHARS, and the cut says where the whole result is.
 */
export function batchText({ results, stats }: BatchResult): string {
  const summary = `${stats.ok} ok, ${stats.failed} failed of ${stats.total} URLs in ${stats.durationMs} ms${stats.deadlineReached ? ' (deadlineMs reached)' : ''}`;
  let left = MAX_TEXT_CHARS - summary.length;
  const blocks = results.map((result, index) => {
    const share = Math.max(0, Math.floor(left / (results.length - index)));
    const block = pageBlock(index, result);
    const head = headline(index, result);
    const shown = block.length <= share ? block : `${block.slice(0, Math.max(share, head.length))}\n… [cut: the whole result is structuredContent.results[${index}]]`;
    left -= Math.min(shown.length, left);
    return shown;
  });
  return [summary, ...blocks].join('\n\n');
}

/** One page's markdown for read_page: title and final URL first, then the content (or why there is none). */
export function pageMarkdown(result: PageResult): string {
  const head = [`title: ${result.title ?? '(none)'}`, `url: ${result.finalUrl ?? result.url}`, `status: ${result.status}`];
  if (result.contentTruncated) head.push(`(cut at maxContentChars; ask with a larger maxContentChars for more)`);
  const body = result.markdown ?? `(no readable content in this ${result.contentType ?? 'untyped'} body)`;
  return `${head.join('\n')}\n\n${body}`;
}
