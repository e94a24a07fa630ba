/**
 * What kind of body a response is, from its Content-Type and its first bytes
 * (a light version of the WHATWG MIME Sniffing Standard).
 */

export type Kind = 'html' | 'json' | 'text' | 'binary';

/** How fanout treats a media type. XML (feeds, sitemaps) goes through the HTML reader: its text and <title> come out right. */
export function kindOf(contentType: string | null): Kind | null {
  if (!contentType) return null;
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  if (media === 'text/html' || media === 'application/xhtml+xml') return 'html';
  if (media === 'application/xml' || media === 'text/xml' || media.endsWith('+xml')) return 'html';
  if (media === 'application/json' || media === 'text/json' || media.endsWith('+json')) return 'json';
  if (media.startsWith('text/')) return 'text';
  return 'binary';
}

/**
 * Bytes looked at to tell text from binary: the MIME Sniffing Standard's
 * "resource header" for text/plain (§7.1, 1445 bytes).
 */
export const SNIFF_BYTES = 1445;

/** Guesses the kind of an untyped body from its first bytes. */
export function sniffKind(first: Uint8Array): Kind {
  const head = new TextDecoder('latin1').decode(first.subarray(0, 512)).replace(/^\ufeff|^\xef\xbb\xbf/, '').trimStart();
  if (/^<(!doctype html|html|head|body|title|meta|!--|\?xml|rss|feed)/i.test(head)) return 'html';
  if (/^[[{]/.test(head)) return 'json';
  return looksBinary(first) ? 'binary' : 'text';
}

/**
 * Signatures of images, documents and archives that can start without a
 * binary data byte in their first bytes (MIME Sniffing Standard §6.1, §6.2, §7.1).
 */
const SIGNATURES: readonly (readonly number[])[] = [
  [0xff, 0xd8, 0xff], // JPEG
  [0x47, 0x49, 0x46, 0x38], // GIF8
  [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], // PNG
  [0x25, 0x50, 0x44, 0x46, 0x2d], // %PDF-
  [0x50, 0x4b, 0x03, 0x04], // ZIP (and docx, xlsx, epub, jar)
  [0x1f, 0x8b, 0x08], // gzip
  [0x52, 0x61, 0x72, 0x20, 0x1a, 0x07, 0x00], // RAR
  [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], // 7z
];

/**
 * True when a body's first bytes are not text: an image, document or archive
 * signature, or a binary data byte (0x00-0x08, 0x0B, 0x0E-0x1A, 0x1C-0x1F)
 * within SNIFF_BYTES, as the MIME Sniffing Standard rules for text/plain
 * (§7.1). Used on bodies labelled text as well: a binary body served as
 * text/html must not turn into a snippet of control characters. The caller
 * skips it for UTF-16 text, whose ASCII characters carry NUL bytes.
 */
export function looksBinary(prefix: Uint8Array): boolean {
  // UTF-8 or UTF-16 byte order marks mean text (§7.1 step 2-4).
  if ((prefix[0] === 0xfe && prefix[1] === 0xff) || (prefix[0] === 0xff && prefix[1] === 0xfe)) return false;
  if (prefix[0] === 0xef && prefix[1] === 0xbb && prefix[2] === 0xbf) return false;
  if (SIGNATURES.some((signature) => signature.every((byte, i) => prefix[i] === byte))) return true;
  // RIFF....WEBP
  if (prefix[0] === 0x52 && prefix[1] === 0x49 && prefix[2] === 0x46 && prefix[3] === 0x46 && prefix[8] === 0x57 && prefix[9] === 0x45 && prefix[10] === 0x42 && prefix[11] === 0x50) return true;
  const end = Math.min(prefix.byteLength, SNIFF_BYTES);
  for (let i = 0; i < end; i++) {
    const byte = prefix[i]!;
    if (byte <= 0x08 || byte === 0x0b || (byte >= 0x0e && byte <= 0x1a) || (byte >= 0x1c && byte <= 0x1f)) return true;
  }
  return false;
}
