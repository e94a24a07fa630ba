import type { ContentFormat, PageFields } from '../result';
import { EMPTY_FIELDS } from '../result';
import type { CharsetDecision } from './charset';
import { QUERY_TEXT_CAP, type SnippetOptions } from './html';
import type { PrefixedBody } from './prefix';
import { bestWindow, cutAtWord, escapeHtml, JsonCompactor, queryTerms, stripControls, TextBuffer, TextHash } from './text';

/**
 * JSON and plain text: decoded as they stream, JSON compacted (whitespace
 * outside strings removed), text whitespace-collapsed; the snippet is their
 * start, or the window that best matches `query`.
 */
export async function extractPlain(
  body: PrefixedBody,
  kind: 'json' | 'text',
  decision: CharsetDecision,
  options: SnippetOptions,
  /** Also hands on the whole decoded text (the feed format reads a JSON Feed from it). */
  whole?: (text: string) => void,
): Promise<PageFields> {
  const decoder = new TextDecoder(decision.encoding);
  const terms = options.query ? queryTerms(options.query) : [];
  const cap = terms.length > 0 ? QUERY_TEXT_CAP : options.snippetLength + 64;
  const sink = kind === 'json' ? new JsonCompactor(cap) : new TextBuffer(cap);
  const hash = options.hashText ? new TextHash() : null;
  const push = (text: string) => {
    whole?.(text);
    hash?.update(text);
    if (sink.full) return;
    if (sink instanceof JsonCompactor) sink.push(text);
    else sink.append(text);
  };
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
    if (!sink.full || hash || whole) push(decoder.decode(chunk, { stream: true }));
  }
  push(decoder.decode());
  const text = sink instanceof JsonCompactor ? sink.out : sink.text;
  const snippet = options.snippetLength > 0 ? (bestWindow(text, terms, options.snippetLength) ?? cutAtWord(text, options.snippetLength)) || null : null;
  return { ...EMPTY_FIELDS, snippet, ...(hash ? { textHash: hash.digest() } : {}) };
}

/**
 * The content formats of a text or JSON body: the text as it is (JSON in a
 * fenced `json` block in Markdown, `<pre>` in HTML), cut at `maxChars`.
 */
export function plainContent(
  whole: string,
  kind: 'json' | 'text',
  formats: readonly ContentFormat[],
  maxChars = Number.MAX_SAFE_INTEGER,
): Pick<PageFields, ContentFormat | 'contentTruncated'> {
  const cut = whole.length > maxChars;
  const text = stripControls(cut ? whole.slice(0, maxChars) : whole).trim();
  const out: Pick<PageFields, ContentFormat | 'contentTruncated'> = { contentTruncated: cut };
  for (const format of formats) {
    if (!text) out[format] = null;
    else if (format === 'text') out.text = text;
    else if (format === 'html') out.html = `<pre>${escapeHtml(text)}</pre>`;
    else out.markdown = kind === 'json' ? `\`\`\`json\n${text}\n\`\`\`` : text;
  }
  return out;
}
