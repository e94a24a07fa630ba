import type { PageLink } from '../result';
import { resolveUrl } from './metadata';
import { cleanValue, decodeAttribute, decodeText, stripControls, tidy } from './text';

/** Most links kept per page: a sitemap-like page has thousands; past this they are someone's data, not navigation. */
export const MAX_LINKS = 5_000;
/** Longest anchor text kept while it is read (it is cut to the field maximum when tidied). */
const TEXT_MAX_CHARS = 2_000;

interface RawLink {
  href: string;
  rel: string | null;
  label: string | null;
  text: string;
}

/**
 * Every `<a href>` of a page, for the `links` format. An anchor's text is
 * what its element-scoped text handler delivers until the next anchor starts
 * (no end-tag handler needed: those are one per element, and others use them).
 */
export class LinkCollector {
  readonly #raw: RawLink[] = [];
  #current: RawLink | null = null;

  start(el: Element): void {
    if (this.#raw.length >= MAX_LINKS) {
      this.#current = null;
      return;
    }
    this.#current = {
      href: el.getAttribute('href')!,
      rel: el.getAttribute('rel'),
      label: el.getAttribute('title') ?? el.getAttribute('aria-label'),
      text: '',
    };
    this.#raw.push(this.#current);
  }

  addText(text: string): void {
    if (this.#current && this.#current.text.length < TEXT_MAX_CHARS) this.#current.text += text;
  }

  /**
   * The links as absolute http(s) URLs without their fragment, deduplicated
   * (the first occurrence wins), in page order.
   */
  resolve(pageUrl: string, base: string): PageLink[] {
    const site = siteOf(pageUrl);
    const links = new Map<string, PageLink>();
    for (const raw of this.#raw) {
      // An empty href is the base document itself (WHATWG URL: "" resolves to the base).
      const resolved = resolveUrl(stripControls(decodeAttribute(raw.href)).trim() || base, base);
      if (!resolved) continue;
      const url = resolved.replace(/#.*$/, '');
      if (links.has(url)) continue;
      const rel = raw.rel?.trim().toLowerCase().split(/\s+/).filter(Boolean).join(' ') || null;
      links.set(url, { url, text: tidy(decodeText(raw.text)) ?? cleanValue(raw.label), rel, internal: siteOf(url) === site });
    }
    return [...links.values()];
  }
}

/** A URL's host without a leading `www.`: links between the two stay on the site. */
export function siteOf(url: string): string {
  return new URL(url).host.replace(/^www\./, '');
}
