import { challengeInBody, type ChallengeVendor } from '../challenge';
import { CONTENT_FORMATS, EMPTY_FIELDS, type ContentFormat, type Format, type PageFields } from '../result';
import { CHARSET_PRESCAN_BYTES, decideHtmlCharset, decideTextCharset } from './charset';
import { extractHtml, type SnippetOptions, type StopFlag } from './html';
import { htmlInput } from './html-input';
import { kindOf, looksBinary, sniffKind, SNIFF_BYTES } from './kind';
import { extractContent } from './content';
import { extractPlain, plainContent } from './plain';
import { feedFromJson, feedFromXml } from './feed';
import { concatBytes, PrefixedBody, type ChunkSource } from './prefix';

/**
 * Extraction: what a body says, by its kind. HTML and XML stream through
 * HTMLRewriter (./html.ts), JSON and text are decoded as they stream
 * (./plain.ts), binary bodies give nothing but their type. The charset is
 * decided the way browsers decide it (./charset.ts).
 *
 * Extraction reads; it does not own the body. The engine hands it a source
 * of chunks (its byte-capped reader) and ends the body once `extract`
 * resolves, so nothing here knows about caps, timeouts or connections.
 */

export interface ExtractOptions extends SnippetOptions {
  /** The URL the body came from (after redirects); relative URLs resolve against it. */
  pageUrl: string;
}

/** What a body yielded. */
export interface Extracted {
  fields: PageFields;
  /** Canonical WHATWG encoding name the text was decoded with; null for binary bodies. */
  charset: string | null;
  /** Set when the body is a bot challenge, not the page (its fields are then empty). */
  challenge?: ChallengeVendor;
}

export type { SnippetOptions } from './html';
export type { ChunkSource } from './prefix';

const BINARY: Extracted = { fields: EMPTY_FIELDS, charset: null };

/**
 * Reads `source` as far as the fields need and extracts what its type allows:
 * HTML metadata and text, JSON compacted, text's start. A body that is binary
 * by its type or by its first bytes is not read past its first chunk(s).
 * Rejects with the source's own error when reading fails.
 */
export async function extract(source: ChunkSource, contentType: string | null, options: ExtractOptions): Promise<Extracted> {
  const body = new PrefixedBody(source);
  let kind = kindOf(contentType);
  if (kind === null) {
    await body.takeUntil(1);
    const first = body.prefix();
    kind = first.byteLength > 0 ? sniffKind(first) : 'binary';
  }
  if (kind === 'binary') {
    // Images, PDFs, archives: the type is the answer; stop after the first chunk.
    await body.takeUntil(1);
    return withFormats(BINARY, options);
  }

  await body.takeUntil(kind === 'html' ? CHARSET_PRESCAN_BYTES : SNIFF_BYTES);
  const prefix = body.prefix();
  const decision = kind === 'html' ? decideHtmlCharset(prefix, contentType) : decideTextCharset(prefix, contentType);
  // Labelled text but binary bytes (a NUL, an image's signature): treated as the binary it is.
  if (!decision.encoding.startsWith('utf-16') && looksBinary(prefix)) return withFormats(BINARY, options);
  if (kind === 'html') {
    const challenge = challengeInBody(prefix);
    if (challenge) return { fields: EMPTY_FIELDS, charset: decision.encoding, challenge };
  }

  // The feed format reads the whole text as well: the HTML reader cannot tell XML's structure.
  const feedText: string[] | null = options.formats?.includes('feed') ? [] : null;
  if (kind !== 'html') {
    // Content formats give text and JSON as they are, up to maxContentChars (and one more character, to tell a cut).
    const content = contentFormats(options);
    const contentCap = (options.maxContentChars ?? Number.MAX_SAFE_INTEGER) + 1;
    let contentText = '';
    const whole =
      feedText || content.length > 0
        ? (text: string) => {
            feedText?.push(text);
            if (content.length > 0 && contentText.length < contentCap) contentText += text.slice(0, contentCap - contentText.length);
          }
        : undefined;
    let fields = await extractPlain(body, kind, decision, options, whole);
    if (feedText) fields = { ...fields, feed: kind === 'json' ? feedFromJson(feedText.join(''), options.pageUrl) : null };
    if (content.length > 0) fields = { ...fields, ...plainContent(contentText, kind, content, options.maxContentChars) };
    return withFormats({ fields, charset: decision.encoding }, options);
  }

  // The rewriter reports a failed input as an error of its own; answer with the input's (timeout, reset).
  let inputError: unknown;
  const stop: StopFlag = { requested: false, bytes: 0 };
  // The content formats parse the whole page again (./content.ts), and only an XML body can be a feed:
  // an HTML page's bytes are kept only for them.
  const content = contentFormats(options);
  const feedXml = feedText !== null && isXml(contentType, prefix);
  const keptBytes: Uint8Array[] | null = content.length > 0 || feedXml ? [] : null;
  const input = htmlInput(body, decision, stop, (error) => (inputError = error), keptBytes ? (chunk) => keptBytes.push(chunk) : undefined);
  let fields: PageFields;
  try {
    fields = await extractHtml(input.stream, options.pageUrl, options, stop);
  } catch (error) {
    throw inputError ?? error;
  }
  if (!keptBytes) return withFormats({ fields, charset: decision.encoding }, options);
  // The rewriter may have stopped early (metadata and snippet in hand): the content needs the rest.
  if (content.length > 0) await input.readRest();
  const text = new TextDecoder().decode(concatBytes(keptBytes));
  if (feedText) fields.feed = feedXml ? feedFromXml(text, options.pageUrl) : null;
  if (content.length > 0) {
    Object.assign(
      fields,
      extractContent(text, {
        formats: content,
        pageUrl: options.pageUrl,
        title: fields.title,
        onlyMainContent: options.onlyMainContent !== false,
        maxChars: options.maxContentChars ?? Number.MAX_SAFE_INTEGER,
      }),
    );
  }
  return withFormats({ fields, charset: decision.encoding }, options);
}

/**
 * Every format asked for has its field in every body's result: what the body
 * gave, else empty (`links: []`, `jsonld: []`, `feed: null`).
 */
function withFormats(extracted: Extracted, options: ExtractOptions): Extracted {
  const formats = options.formats ?? [];
  if (formats.length === 0) return extracted;
  const fields = { ...extracted.fields };
  if (formats.includes('links')) fields.links ??= [];
  if (formats.includes('jsonld')) {
    fields.jsonld ??= [];
    fields.jsonldSkipped ??= 0;
  }
  if (formats.includes('feed')) fields.feed ??= null;
  const content = contentFormats(options);
  for (const format of content) fields[format] ??= null;
  if (content.length > 0) fields.contentTruncated ??= false;
  return { ...extracted, fields };
}

function contentFormats(options: ExtractOptions): ContentFormat[] {
  return (options.formats ?? []).filter((format: Format): format is ContentFormat => (CONTENT_FORMATS as readonly Format[]).includes(format));
}

/** An XML media type, or a body that starts like XML or a feed (BOM and whitespace aside). */
function isXml(contentType: string | null, prefix: Uint8Array): boolean {
  const media = contentType?.split(';')[0]!.trim().toLowerCase() ?? '';
  if (media.endsWith('/xml') || media.endsWith('+xml')) return true;
  const head = new TextDecoder('latin1').decode(prefix.subarray(0, 256)).replace(/^(\xef\xbb\xbf|\ufeff)/, '').trimStart();
  return /^<(\?xml|rss|feed|rdf:rdf)\b/i.test(head);
}
