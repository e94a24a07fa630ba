/**
 * Which encoding a body is in, decided the way browsers decide it (WHATWG
 * Encoding Standard and the HTML spec's "determining the character encoding"):
 * BOM, then the Content-Type charset, then `<meta charset>` / `http-equiv` in
 * the first CHARSET_PRESCAN_BYTES, then UTF-8. HTMLRewriter itself only honours
 * the Content-Type charset and throws on UTF-16 (docs/workers-platform.md), so
 * fanout decides here and hands the rewriter UTF-8.
 */

/** Bytes scanned for `<meta charset>` (the HTML spec's prescan uses 1024; some pages put it later). */
export const CHARSET_PRESCAN_BYTES = 4096;

/** Where the decision came from, for tests and debugging. */
export type CharsetSource = 'bom' | 'header' | 'meta' | 'default';

export interface CharsetDecision {
  /** Canonical WHATWG name, lower case (e.g. "utf-8", "windows-1251", "shift_jis"). */
  encoding: string;
  source: CharsetSource;
  /** Bytes of BOM to skip. */
  bomLength: number;
}

/** Canonical name for a label, or null when the runtime's TextDecoder does not know it. */
export function canonicalEncoding(label: string): string | null {
  try {
    return new TextDecoder(label.trim()).encoding.toLowerCase();
  } catch {
    return null;
  }
}

/** The `charset` parameter of a Content-Type header, if any. */
export function charsetFromContentType(contentType: string | null): string | null {
  if (!contentType) return null;
  const match = /;\s*charset\s*=\s*("?)([^";,\s]+)\1/i.exec(contentType);
  return match ? match[2]! : null;
}

function sniffBom(bytes: Uint8Array): CharsetDecision | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: 'utf-8', source: 'bom', bomLength: 3 };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'utf-16le', source: 'bom', bomLength: 2 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'utf-16be', source: 'bom', bomLength: 2 };
  return null;
}

const META = /<meta\b[^>]*>/gi;
const META_CHARSET = /\bcharset\s*=\s*["']?\s*([^\s"'/>;]+)/i;
const HTTP_EQUIV = /\bhttp-equiv\s*=\s*["']?\s*content-type/i;
const CONTENT_ATTR = /\bcontent\s*=\s*(["'])(.*?)\1/i;

/**
 * A `<meta charset>` or `<meta http-equiv="Content-Type" content="...; charset=...">`
 * in the first bytes (comments stripped first so a commented-out meta does not count).
 */
export function charsetFromMeta(prefix: Uint8Array): string | null {
  // latin1 maps every byte to one char, so ASCII markup reads the same in any ASCII-compatible encoding.
  const head = new TextDecoder('latin1').decode(prefix).replace(/<!--[\s\S]*?-->/g, '');
  for (const tag of head.match(META) ?? []) {
    if (HTTP_EQUIV.test(tag)) {
      const content = CONTENT_ATTR.exec(tag)?.[2];
      const label = content ? charsetFromContentType(`x;${content.replace(/^[^;]*;?/, '')}`) : null;
      if (label) return label;
      continue;
    }
    const label = META_CHARSET.exec(tag)?.[1];
    if (label) return label;
  }
  return null;
}

/**
 * Decides the encoding of an HTML body from its first bytes and its Content-Type.
 * A meta that claims UTF-16 means UTF-8 (HTML spec: the prescan saw ASCII bytes).
 */
export function decideHtmlCharset(prefix: Uint8Array, contentType: string | null): CharsetDecision {
  const bom = sniffBom(prefix);
  if (bom) return bom;
  const fromHeader = charsetFromContentType(contentType);
  const headerEncoding = fromHeader ? canonicalEncoding(fromHeader) : null;
  if (headerEncoding && headerEncoding !== 'replacement') {
    return { encoding: headerEncoding, source: 'header', bomLength: 0 };
  }
  const fromMeta = charsetFromMeta(prefix);
  let metaEncoding = fromMeta ? canonicalEncoding(fromMeta) : null;
  if (metaEncoding?.startsWith('utf-16')) metaEncoding = 'utf-8';
  if (metaEncoding && metaEncoding !== 'replacement') {
    return { encoding: metaEncoding, source: 'meta', bomLength: 0 };
  }
  return { encoding: 'utf-8', source: 'default', bomLength: 0 };
}

/** Decides the encoding of a JSON or text body: BOM, Content-Type charset, then UTF-8 (RFC 8259 §8.1). */
export function decideTextCharset(prefix: Uint8Array, contentType: string | null): CharsetDecision {
  const bom = sniffBom(prefix);
  if (bom) return bom;
  const label = charsetFromContentType(contentType);
  const encoding = label ? canonicalEncoding(label) : null;
  if (encoding && encoding !== 'replacement') return { encoding, source: 'header', bomLength: 0 };
  return { encoding: 'utf-8', source: 'default', bomLength: 0 };
}
