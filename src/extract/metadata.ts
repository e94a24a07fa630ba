import type { FeedLink, MetadataField, PageFields, Sources } from '../result';
import { isoDate } from './dates';
import { jsonLdFacts, parseJsonLd, type JsonLdFacts } from './jsonld';
import { cleanValue, cutAtWord, decodeText, tidy } from './text';

/**
 * A page's metadata, gathered as the rewriter meets it (wherever in the
 * document a browser's parser would find it), then resolved field by field:
 * each field takes the first candidate, in a documented order, that gives a
 * usable value; every candidate is kept for `provenance`.
 */

/** Most JSON-LD text kept per page: real pages carry a few KiB; a huge block is someone else's data dump. */
const JSONLD_MAX_CHARS = 262_144;
/** A first paragraph shorter than this is a caption or a label, not a description. */
const PARAGRAPH_MIN_CHARS = 80;
/** Longest description taken from a paragraph. */
const PARAGRAPH_MAX_CHARS = 300;

/** A `<link>` worth keeping: icons, feeds, image_src, canonical. */
interface LinkTag {
  rel: string[];
  href: string;
  type: string | null;
  sizes: string | null;
  title: string | null;
}

/** One source's value for a field, before cleaning. */
interface Candidate {
  from: string;
  value: string | null | undefined;
}

/** Feed media types a `<link rel="alternate">` advertises (RSS, Atom, JSON Feed). */
const FEED_TYPES: ReadonlySet<string> = new Set([
  'application/rss+xml',
  'application/atom+xml',
  'application/rdf+xml',
  'application/feed+json',
  'application/json',
  'text/xml',
  'application/xml',
]);

/** og:type and JSON-LD types that mean "an article": pages where an author and a date are worth looking for. */
const ARTICLE_TYPE = /article|posting|blog|news|report|review/i;

export class PageMetadata {
  readonly metas = new Map<string, string>();
  lang: string | null = null;
  baseHref: string | null = null;
  /** The first <title>'s raw text, as its chunks arrive; null until one is seen. */
  titleRaw: string | null = null;
  /** The first <h1>'s text, once it ended. */
  h1: string | null = null;
  /** The first paragraph that reads like prose, once found. */
  paragraph: string | null = null;
  /** The first `<time datetime>` (one marked as the publication date wins). */
  time: string | null = null;
  /** `itemprop` values (author, datePublished, dateModified): the first of each. */
  readonly itemprops = new Map<string, string>();
  /** Text of the first `<a rel="author">`. */
  relAuthor: string | null = null;
  /** True once an `<article>` element was seen. */
  sawArticle = false;
  readonly #links: LinkTag[] = [];
  readonly #jsonLd: string[] = [];
  #jsonLdChars = 0;
  #facts: JsonLdFacts | null = null;
  #jsonLdValues: unknown[] = [];
  #jsonLdFailed = 0;

  addMeta(el: Element): void {
    const content = el.getAttribute('content');
    if (content === null) return;
    const key = (el.getAttribute('property') ?? el.getAttribute('name') ?? el.getAttribute('itemprop'))?.trim().toLowerCase();
    if (key && !this.metas.has(key)) this.metas.set(key, content);
    const equiv = el.getAttribute('http-equiv')?.trim().toLowerCase();
    if (equiv === 'content-language' && !this.metas.has('content-language')) this.metas.set('content-language', content);
  }

  addLink(el: Element): void {
    const rel = el.getAttribute('rel')!.toLowerCase().split(/\s+/);
    if (!rel.some((r) => r === 'canonical' || r === 'icon' || r === 'apple-touch-icon' || r === 'apple-touch-icon-precomposed' || r === 'alternate' || r === 'image_src')) return;
    this.#links.push({ rel, href: el.getAttribute('href')!, type: el.getAttribute('type'), sizes: el.getAttribute('sizes'), title: el.getAttribute('title') });
  }

  /** Starts a JSON-LD block; its text follows through `addJsonLdText`. */
  startJsonLd(): void {
    if (this.#jsonLdChars < JSONLD_MAX_CHARS) this.#jsonLd.push('');
  }

  /** A JSON-LD block ended: the facts are read again when next asked for. */
  endJsonLd(): void {
    this.#facts = null;
  }

  addJsonLdText(text: string): void {
    if (this.#jsonLd.length === 0 || this.#jsonLdChars >= JSONLD_MAX_CHARS) return;
    this.#jsonLd[this.#jsonLd.length - 1] += text;
    this.#jsonLdChars += text.length;
  }

  addItemprop(name: string, value: string | null): void {
    if (value && !this.itemprops.has(name)) this.itemprops.set(name, value);
  }

  /** A finished paragraph's text: the first one long enough to read as prose is kept. */
  offerParagraph(text: string): void {
    if (this.paragraph !== null) return;
    const value = tidy(text);
    if (value && value.length >= PARAGRAPH_MIN_CHARS && /[.!?。…]/.test(value)) this.paragraph = cutAtWord(value, PARAGRAPH_MAX_CHARS);
  }

  /** The JSON-LD facts (parsed once, on first use). */
  get facts(): JsonLdFacts {
    if (!this.#facts) {
      const { values, failed } = parseJsonLd(this.#jsonLd);
      this.#facts = jsonLdFacts(values);
      this.#jsonLdValues = values;
      this.#jsonLdFailed = failed;
    }
    return this.#facts;
  }

  /** JSON-LD blocks that did not parse. */
  get jsonLdFailed(): number {
    void this.facts;
    return this.#jsonLdFailed;
  }

  /** Every JSON-LD block that parsed, in page order. */
  get jsonLdValues(): unknown[] {
    void this.facts;
    return this.#jsonLdValues;
  }

  /** What the page's relative URLs resolve against: its `<base href>`, else its URL. */
  base(pageUrl: string): string {
    return resolveUrl(this.baseHref, pageUrl) ?? pageUrl;
  }

  /** What the metas said, judged once (when the head is over): see `wants`. */
  #fromMetas: { title: boolean; description: boolean; author: boolean; published: boolean; article: boolean } | null = null;

  /**
   * What a link preview still lacks once the head is read: a title (then the
   * h1 will do), a description (then the first real paragraph), and, for an
   * article, its author or its date (then a byline, `<time>` or a JSON-LD
   * block in the body). Cheap: the metas are judged once, the rest are flags.
   */
  wants(): { title: boolean; description: boolean; byline: boolean } {
    const has = (...keys: string[]) => keys.some((key) => cleanValue(this.metas.get(key)) !== null);
    const metas = (this.#fromMetas ??= {
      title: has('og:title', 'twitter:title'),
      description: has('description', 'og:description', 'twitter:description'),
      author: has('author', 'article:author', 'parsely-author', 'dc.creator'),
      published: has('article:published_time', 'date', 'pubdate', 'publish-date', 'dc.date', 'parsely-pub-date'),
      article: ARTICLE_TYPE.test(this.metas.get('og:type') ?? ''),
    });
    const facts = this.#jsonLd.length > 0 ? this.facts : null;
    const title = this.titleRaw === null && this.h1 === null && !metas.title && !facts?.headline && !facts?.name;
    const description = this.paragraph === null && !metas.description && !facts?.description;
    const article = this.sawArticle || metas.article || ARTICLE_TYPE.test(facts?.type ?? '');
    const author = metas.author || !!facts?.author || this.itemprops.has('author') || this.relAuthor !== null;
    const published = metas.published || !!facts?.datePublished || this.itemprops.has('datePublished') || this.time !== null;
    return { title, description, byline: article && (!author || !published) };
  }

  /** Every field, resolved against the page's URL, and where each came from when asked. */
  resolve(pageUrl: string, provenance: boolean): Pick<PageFields, MetadataField | 'feeds'> & { sources?: Sources } {
    const base = this.base(pageUrl);
    const facts = this.facts;
    const meta = (key: string): Candidate => ({ from: key, value: this.metas.get(key) });
    const sources: Sources = {};
    const pick = <T extends string>(field: MetadataField, candidates: Candidate[], clean: (value: string) => T | null): T | null => {
      let chosen: { from: string; value: T } | null = null;
      const seen: { from: string; value: string }[] = [];
      for (const { from, value } of candidates) {
        const cleaned = value == null ? null : clean(value);
        if (cleaned === null) continue;
        chosen ??= { from, value: cleaned };
        // Without provenance the first usable value is the answer; the rest need not be cleaned.
        if (!provenance) break;
        seen.push({ from, value: cleaned });
      }
      if (provenance && chosen) sources[field] = { from: chosen.from, candidates: seen };
      return chosen?.value ?? null;
    };
    const attribute = (value: string) => cleanValue(value);
    const url = (value: string) => resolveUrl(cleanValue(value), base);

    const siteName = pick('siteName', [meta('og:site_name'), meta('application-name'), { from: 'json-ld:publisher', value: facts.publisher }, { from: 'json-ld:website', value: facts.website }, { from: 'twitter:site', value: this.metas.get('twitter:site')?.replace(/^@/, '') }], attribute);
    const title = pick(
      'title',
      [
        { from: '<title>', value: this.titleRaw === null ? null : decodeText(this.titleRaw) },
        meta('og:title'),
        meta('twitter:title'),
        { from: 'json-ld:headline', value: facts.headline },
        { from: 'json-ld:name', value: facts.name },
        { from: 'h1', value: this.h1 },
      ],
      (value) => tidy(value),
    );
    return {
      title: title && siteName ? withoutSiteName(title, siteName) : title,
      description: pick('description', [meta('description'), meta('og:description'), meta('twitter:description'), { from: 'json-ld:description', value: facts.description }, { from: 'p', value: this.paragraph }], attribute),
      lang: pick('lang', [{ from: '<html lang>', value: this.lang }, meta('content-language'), { from: 'og:locale', value: this.metas.get('og:locale')?.replace('_', '-') }], (value) => cleanValue(value, 64)),
      canonical: pick('canonical', [{ from: 'link[rel=canonical]', value: this.#link('canonical')?.href }, meta('og:url')], url),
      image: pick('image', [meta('og:image'), meta('og:image:url'), meta('og:image:secure_url'), meta('twitter:image'), meta('twitter:image:src'), { from: 'json-ld:image', value: facts.image }, { from: 'link[rel=image_src]', value: this.#link('image_src')?.href }], url),
      siteName,
      author: pick('author', [{ from: 'json-ld:author', value: facts.author }, meta('author'), meta('article:author'), meta('parsely-author'), meta('dc.creator'), { from: 'itemprop:author', value: this.itemprops.get('author') }, { from: 'a[rel=author]', value: this.relAuthor }], personName),
      published: pick('published', [meta('article:published_time'), { from: 'json-ld:datePublished', value: facts.datePublished }, { from: 'itemprop:datePublished', value: this.itemprops.get('datePublished') }, meta('date'), meta('pubdate'), meta('publish-date'), meta('dc.date'), meta('parsely-pub-date'), { from: '<time>', value: this.time }], isoDate),
      modified: pick('modified', [meta('article:modified_time'), meta('og:updated_time'), { from: 'json-ld:dateModified', value: facts.dateModified }, { from: 'itemprop:dateModified', value: this.itemprops.get('dateModified') }], isoDate),
      icon: pick('icon', [...this.#icons().map((href) => ({ from: 'link[rel=icon]', value: href })), { from: '/favicon.ico', value: '/favicon.ico' }], url),
      type: pick('type', [meta('og:type'), { from: 'json-ld:@type', value: facts.type }], (value) => cleanValue(value, 64)),
      feeds: this.#feeds(base),
      ...(provenance ? { sources } : {}),
    };
  }

  #link(rel: string): LinkTag | undefined {
    return this.#links.find((link) => link.rel.includes(rel));
  }

  /** Icon hrefs, best first: the largest declared size (an SVG or `any` counts as large), apple-touch-icon's 180 when it has none. */
  #icons(): string[] {
    const size = (link: LinkTag): number => {
      if (link.sizes?.toLowerCase() === 'any' || link.type === 'image/svg+xml' || /\.svg(?:$|\?)/i.test(link.href)) return 512;
      const declared = Math.max(0, ...[...(link.sizes ?? '').matchAll(/(\d+)x\d+/gi)].map((m) => Number(m[1])));
      if (declared > 0) return declared;
      return link.rel.some((rel) => rel.startsWith('apple-touch-icon')) ? 180 : 16;
    };
    return this.#links
      .filter((link) => link.rel.some((rel) => rel === 'icon' || rel.startsWith('apple-touch-icon')))
      .map((link, order) => ({ link, order, size: size(link) }))
      .sort((a, b) => b.size - a.size || a.order - b.order)
      .map(({ link }) => link.href);
  }

  /** Feeds the page advertises, absolute and deduplicated. */
  #feeds(base: string): FeedLink[] {
    const feeds = new Map<string, FeedLink>();
    for (const link of this.#links) {
      const type = link.type?.trim().toLowerCase() ?? '';
      if (!link.rel.includes('alternate') || !FEED_TYPES.has(type)) continue;
      const url = resolveUrl(cleanValue(link.href), base);
      if (url && !feeds.has(url)) feeds.set(url, { url, type, title: cleanValue(link.title) });
    }
    return [...feeds.values()];
  }
}

/** Resolves a URL found in the page against the page's base; only http(s) results are kept. */
export function resolveUrl(value: string | null | undefined, base: string): string | null {
  if (!value) return null;
  try {
    const url = new URL(value, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** A person's name as a byline writes it: without "By", never a URL or an e-mail address. */
function personName(raw: string): string | null {
  const value = cleanValue(raw, 200)?.replace(/^(?:written\s+|posted\s+)?by[\s:]+/i, '').trim();
  if (!value || value.length > 120) return null;
  if (/^https?:\/\/|^www\.|@.+\./i.test(value)) return null;
  return value;
}

/** Separators pages put between a title and the site's name. */
const TITLE_SEPARATOR = /\s+[|\-–—·•:»/]\s+/;

/**
 * "Headline | Site" and "Site | Headline" lose the site's name when it is the
 * page's siteName: a preview shows the site apart. Anything else is kept as written.
 */
function withoutSiteName(title: string, siteName: string): string {
  const parts = title.split(TITLE_SEPARATOR);
  if (parts.length < 2) return title;
  const site = siteName.toLowerCase();
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  const separators = title.match(new RegExp(TITLE_SEPARATOR.source, 'g'))!;
  if (last.toLowerCase() === site) return title.slice(0, title.length - last.length - separators[separators.length - 1]!.length).trim() || title;
  if (first.toLowerCase() === site) return title.slice(first.length + separators[0]!.length).trim() || title;
  return title;
}
