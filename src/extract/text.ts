import { decodeHTML, decodeHTMLAttribute } from 'entities/decode';

/**
 * Text helpers shared by the HTML, JSON and plain-text extractors.
 */

/** Whitespace as HTML and Unicode see it, including NBSP and the zero-width joiners pages use as padding. */
const SPACE_RUN = /[\s\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]+/gu;

/**
 * C0 and C1 control characters, DEL included, except those HTML counts as
 * whitespace (tab, line feed, form feed, carriage return; and vertical tab,
 * which `\s` collapses too). No text field carries them: a NUL or an escape
 * sequence in a title or snippet is never page text a reader meant to see.
 */
const CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/;
const CONTROLS = new RegExp(CONTROL.source, 'g');

/** Removes control characters (see CONTROL). */
export function stripControls(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROLS, '') : text;
}

/** Collapses runs of whitespace to one space, drops control characters, and trims. */
export function collapseWhitespace(text: string): string {
  return stripControls(text).replace(SPACE_RUN, ' ').trim();
}

/** Decodes HTML character references in text content (all of HTML5's named references, legacy forms included). */
export function decodeText(raw: string): string {
  return raw.includes('&') ? decodeHTML(raw) : raw;
}

/** Decodes HTML character references in an attribute value (attribute rules for legacy references). */
export function decodeAttribute(raw: string): string {
  return raw.includes('&') ? decodeHTMLAttribute(raw) : raw;
}

/** Longest title, description or other field value kept, in characters. */
export const FIELD_MAX_LENGTH = 2000;

/** Text as HTML text content: `&`, `<` and `>` escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/** Already-decoded text: collapsed, trimmed, capped; null when empty. */
export function tidy(text: string, maxLength = FIELD_MAX_LENGTH): string | null {
  const value = cutAtWord(collapseWhitespace(text), maxLength);
  return value === '' ? null : value;
}

/** A raw attribute value: entities decoded, then tidied; null when missing or empty. */
export function cleanValue(raw: string | null | undefined, maxLength = FIELD_MAX_LENGTH): string | null {
  return raw == null ? null : tidy(decodeAttribute(raw), maxLength);
}

/**
 * Cuts collapsed text to at most `max` characters (code points are never split),
 * at the last word boundary when one falls in the last third.
 */
export function cutAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let end = max;
  // Do not split a surrogate pair.
  if (isHighSurrogate(text.charCodeAt(end - 1))) end--;
  const boundary = text.lastIndexOf(' ', end);
  if (text[end] === ' ') return text.slice(0, end).trimEnd();
  if (boundary > end * 0.66) return text.slice(0, boundary).trimEnd();
  return text.slice(0, end).trimEnd();
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Collects text appended in pieces into collapsed form, up to a character cap.
 * `separate()` marks a boundary (a block element) so "a</p><p>b" reads "a b".
 */
export class TextBuffer {
  #out = '';
  #pendingSpace = false;

  constructor(readonly cap: number) {}

  /** True once the buffer holds `cap` characters; further text is ignored. */
  get full(): boolean {
    return this.#out.length >= this.cap;
  }

  get text(): string {
    return this.#out;
  }

  /** Appends decoded text; whitespace is collapsed across pieces. */
  append(text: string): void {
    if (this.full || text === '') return;
    const startsWithSpace = /^[\s\u00a0]/u.test(text);
    const collapsed = collapseWhitespace(text);
    if (collapsed === '') {
      if (this.#out !== '') this.#pendingSpace = true;
      return;
    }
    if (this.#out !== '' && (this.#pendingSpace || startsWithSpace)) this.#out += ' ';
    this.#out += collapsed;
    this.#pendingSpace = /[\s\u00a0]$/u.test(text);
    if (this.#out.length > this.cap) this.#out = this.#out.slice(0, this.cap);
  }

  /** Marks a boundary between blocks. */
  separate(): void {
    if (this.#out !== '') this.#pendingSpace = true;
  }
}

/**
 * Compacts JSON text as it streams, removing whitespace outside strings. Works
 * on truncated input too (a cut body still yields a readable prefix).
 */
export class JsonCompactor {
  #inString = false;
  #escaped = false;
  out = '';

  constructor(readonly cap: number) {}

  get full(): boolean {
    return this.out.length >= this.cap;
  }

  push(text: string): void {
    let piece = '';
    for (const ch of stripControls(text)) {
      if (this.#inString) {
        piece += ch;
        if (this.#escaped) this.#escaped = false;
        else if (ch === '\\') this.#escaped = true;
        else if (ch === '"') this.#inString = false;
      } else if (ch === '"') {
        this.#inString = true;
        piece += ch;
      } else if (!/\s/u.test(ch)) {
        piece += ch;
      }
      if (this.out.length + piece.length >= this.cap) break;
    }
    this.out += piece;
  }
}

const WORD = /[\p{L}\p{N}]+/gu;

/** Lower-cased words of a query, without duplicates. */
export function queryTerms(query: string): string[] {
  return [...new Set((query.toLocaleLowerCase().match(WORD) ?? []).filter((w) => w.length > 0))];
}

/**
 * The window of `text` (at most `length` characters, cut at word boundaries)
 * that best matches the query's words: most distinct terms, then most hits,
 * then earliest. A word matches a term when equal to it, or when the term has
 * four or more characters and starts the word ("crossing" finds "crossings").
 * Returns null when no word matches.
 */
export function bestWindow(text: string, terms: readonly string[], length: number): string | null {
  if (terms.length === 0 || length <= 0) return null;
  const hits: Array<{ at: number; end: number; term: number }> = [];
  for (const match of text.matchAll(WORD)) {
    const word = match[0].toLocaleLowerCase();
    const term = terms.findIndex((t) => word === t || (t.length >= 4 && word.startsWith(t)));
    if (term !== -1) hits.push({ at: match.index, end: match.index + match[0].length, term });
  }
  if (hits.length === 0) return null;

  let best = { score: -1, start: 0 };
  for (let i = 0; i < hits.length; i++) {
    // Lead in a little before the first hit so it reads in context.
    const start = Math.max(0, hits[i]!.at - Math.floor(length / 5));
    const seen = new Set<number>();
    let count = 0;
    for (let j = i; j < hits.length && hits[j]!.end <= start + length; j++) {
      seen.add(hits[j]!.term);
      count++;
    }
    const score = seen.size * 1000 + count;
    if (score > best.score) best = { score, start };
  }

  // Align the start to a word boundary, then cut the end at one.
  let start = best.start;
  if (start > 0) {
    const space = text.indexOf(' ', start - 1);
    if (space !== -1 && space < hits.find((h) => h.at >= best.start)!.at) start = space + 1;
  }
  return cutAtWord(text.slice(start), length);
}

/**
 * A 64-bit hash (two 32-bit FNV-1a lanes with different offsets; Math.imul
 * keeps it cheap, where BigInt arithmetic per character is not) of a text's words, fed in pieces: whitespace is
 * collapsed first, so reflowed markup hashes the same and only a change of
 * words changes it. Used by watch lists to notice changes beyond the snippet.
 */
export class TextHash {
  #a = 0x811c9dc5;
  #b = 0x050c5d1f;
  #pendingSpace = false;
  #started = false;

  /** Adds text (entities already decoded). */
  update(text: string): void {
    const words = collapseWhitespace(text);
    if (words === '') {
      if (this.#started) this.#pendingSpace = true;
      return;
    }
    if (this.#started && (this.#pendingSpace || /^[\s\u00a0]/u.test(text))) this.#mix(32);
    for (let i = 0; i < words.length; i++) this.#mix(words.charCodeAt(i));
    this.#started = true;
    this.#pendingSpace = /[\s\u00a0]$/u.test(text);
  }

  /** Marks a block boundary (as TextBuffer.separate). */
  separate(): void {
    if (this.#started) this.#pendingSpace = true;
  }

  #mix(code: number): void {
    this.#a = Math.imul(this.#a ^ code, 0x01000193);
    this.#b = Math.imul(this.#b ^ code, 0x01000193);
  }

  /** The hash as 16 hex digits. */
  digest(): string {
    return (this.#a >>> 0).toString(16).padStart(8, '0') + (this.#b >>> 0).toString(16).padStart(8, '0');
  }
}
