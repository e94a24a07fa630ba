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

/** Author metas whose repeats are several authors, joined. */
const AUTHOR_METAS: ReadonlySet<string> = new Set(['author', 'article:author', 'dc.creator', 'dc:creator']);
/** A byline found by its class is short: a longer text is an author box, not a name. */
const CLASS_BYLINE_MAX_CHARS = 100;

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
  /** The first byline found by its class (`byline`, `author`) that reads as a name. */
  classByline: string | null = null;
  /** Every value of the author metas that pages repeat (one `dc.creator` per author). */
  readonly #authorMetas = new Map<string, string[]>();
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
    // `property="dc:description og:description"` names two keys.
    const keys = (el.getAttribute('property') ?? el.getAttribute('name') ?? el.getAttribute('itemprop'))?.trim().toLowerCase().split(/\s+/) ?? [];
    for (const key of keys) {
      if (!key) continue;
      if (!this.metas.has(key)) this.metas.set(key, content);
      if (AUTHOR_METAS.has(key)) this.#authorMetas.set(key, [...(this.#authorMetas.get(key) ?? []), content]);
    }
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

  /** A byline's text, found by its class: kept when it reads as a person's name. */
  offerClassByline(text: string): void {
    if (this.classByline === null && text.length <= CLASS_BYLINE_MAX_CHARS && personName(text) !== null) this.classByline = text;
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
    // Titles that name the page rather than the site; `<title>` may carry the site's name around one of them.
    const titleText = this.titleRaw === null ? null : tidy(decodeText(this.titleRaw));
    const h1 = this.h1 === null ? null : tidy(this.h1);
    // An h1 much shorter than the title is more often the site's logo than the page's headline.
    const headlines = [cleanValue(this.metas.get('og:title')), cleanValue(this.metas.get('twitter:title')), facts.headline == null ? null : tidy(facts.headline), h1 && titleText && h1.length >= titleText.length * 0.4 ? h1 : null].filter(
      (value): value is string => value !== null,
    );
    const title = pick(
      'title',
      [
        { from: '<title>', value: this.titleRaw === null ? null : decodeText(this.titleRaw) },
        meta('og:title'),
        meta('twitter:title'),
        meta('parsely-title'),
        { from: 'json-ld:headline', value: facts.headline },
        { from: 'json-ld:name', value: facts.name },
        { from: 'h1', value: this.h1 },
      ],
      // A `<title>` that is only the site's name says nothing of the page when a headline does.
      (value) => {
        const tidied = tidy(value);
        return tidied && siteName && headlines.length > 0 && loose(tidied) === loose(siteName) ? null : tidied;
      },
    );
    const description = pick('description', [meta('description'), meta('og:description'), meta('twitter:description'), { from: 'json-ld:description', value: facts.description }, { from: 'p', value: this.paragraph }], attribute);
    return {
      title: title ? cleanTitle(title, siteName, headlines) : title,
      description: description ? (this.#completed(description, [meta('og:description'), meta('twitter:description'), { from: 'json-ld:description', value: facts.description }], sources) ?? description) : description,
      lang: pick('lang', [{ from: '<html lang>', value: this.lang }, meta('content-language'), { from: 'og:locale', value: this.metas.get('og:locale')?.replace('_', '-') }], (value) => cleanValue(value, 64)),
      canonical: pick('canonical', [{ from: 'link[rel=canonical]', value: this.#link('canonical')?.href }, meta('og:url')], url),
      image: pick('image', [meta('og:image'), meta('og:image:url'), meta('og:image:secure_url'), meta('twitter:image'), meta('twitter:image:src'), { from: 'json-ld:image', value: facts.image }, { from: 'link[rel=image_src]', value: this.#link('image_src')?.href }], url),
      siteName,
      author: pick(
        'author',
        [
          { from: 'json-ld:author', value: facts.author },
          this.#authorMeta('author'),
          this.#authorMeta('article:author'),
          meta('parsely-author'),
          this.#authorMeta('dc.creator'),
          this.#authorMeta('dc:creator'),
          { from: 'itemprop:author', value: this.itemprops.get('author') },
          { from: 'a[rel=author]', value: this.relAuthor },
          { from: '.byline', value: this.classByline },
        ],
        personName,
      ),
      published: this.#earliest(
        pick('published', [meta('article:published_time'), { from: 'json-ld:datePublished', value: facts.datePublished }, { from: 'itemprop:datePublished', value: this.itemprops.get('datePublished') }, meta('date'), meta('pubdate'), meta('publish-date'), meta('dc.date'), meta('parsely-pub-date'), { from: '<time>', value: this.time }], isoDate),
        [{ from: 'json-ld:datePublished', value: facts.datePublished }, { from: 'itemprop:datePublished', value: this.itemprops.get('datePublished') }],
        sources,
      ),

      modified: pick('modified', [meta('article:modified_time'), meta('og:updated_time'), { from: 'json-ld:dateModified', value: facts.dateModified }, { from: 'itemprop:dateModified', value: this.itemprops.get('dateModified') }], isoDate),
      icon: pick('icon', [...this.#icons().map((href) => ({ from: 'link[rel=icon]', value: href })), { from: '/favicon.ico', value: '/favicon.ico' }], url),
      type: pick('type', [meta('og:type'), { from: 'json-ld:@type', value: facts.type }], (value) => cleanValue(value, 64)),
      feeds: this.#feeds(base),
      ...(provenance ? { sources } : {}),
    };
  }

  /** An author meta: every value the page gave for it, joined (one `dc.creator` per author). */
  #authorMeta(key: string): Candidate {
    const values = this.#authorMetas.get(key);
    return { from: key, value: values && values.length > 1 ? values.map((value) => value.trim()).filter(Boolean).join(', ') : this.metas.get(key) };
  }

  /**
   * A description cut short (a meta description that stops mid-word or with
   * an ellipsis) gives way to a later source that says the same at length.
   */
  #completed(chosen: string, later: Candidate[], sources: Sources): string | null {
    const stem = chosen.replace(/(?:\.\.\.|…)$/, '').trim();
    for (const { from, value } of later) {
      const full = cleanValue(value);
      if (!full || full.length <= stem.length || !full.startsWith(stem)) continue;
      if (sources.description) sources.description.from = from;
      return full;
    }
    return null;
  }

  /**
   * The publication date is the first one: when the page's structured data
   * (JSON-LD, itemprop) names an earlier day than the chosen source (an
   * `article:published_time` moved by a re-publish), the earlier wins.
   */
  #earliest(chosen: string | null, structured: Candidate[], sources: Sources): string | null {
    let best = chosen;
    for (const { from, value } of structured) {
      const date = value == null ? null : isoDate(value);
      if (!date || (best !== null && date.slice(0, 10) >= best.slice(0, 10))) continue;
      best = date;
      if (sources.published) sources.published.from = from;
    }
    return best;
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

/** What a byline writes before the names, in the languages of the pages fanout reads most. */
const BY = /^(?:(?:written|posted|words|text|story|reporting)\s+)?(?:by|par|por|von|door|di|av|przez)[\s:]+/i;
/** Where a byline's names end: a date, a time, a handle, an editor's or photographer's credit. */
const BYLINE_END =
  /\s+(?:on\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d|\s+\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\s+\d{1,2}:\d{2}|\s+@\w|\s+[|·•]\s+|\s+(?:edited|updated|published|photos?|photographs?|illustrations?|additional reporting)\b/i;

/** A person's name as a byline writes it: without "By", without the date after it, never a URL or an e-mail address. */
export function personName(raw: string): string | null {
  const value = cleanValue(raw, 200)
    ?.replace(BY, '')
    .split(BYLINE_END)[0]!
    .replace(/[\s,;:–—-]+$/, '')
    .trim();
  if (!value || value.length > 120) return null;
  if (/^https?:\/\/|^www\.|@.+\./i.test(value)) return null;
  // A name has a letter and does not start with a number ("12 comments" is no author).
  if (!/\p{L}/u.test(value) || /^\d/.test(value)) return null;
  return value;
}

/** A separator pages put between a title and the site's name: a short run of symbols between spaces (`|`, `-`, `–`, `·`, `»`, `✩`, `::`; not `&` or `+`, which join words). */
const TITLE_SEPARATOR = /\s+[^\p{L}\p{N}\s"'“‘«([&+]{1,3}\s+/gu;

/** Letters and digits only, lower case: "Aktuálně.cz" and "AKTUÁLNĚ CZ" are loosely the same. */
function loose(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/**
 * A `<title>` loses what is not the page's. A title that is one of the
 * page's headlines (og:title, twitter:title, JSON-LD headline; the h1 when it
 * is at least half the title, not a logo) then a separator and more is cut
 * to that headline ("New Zealand - Wikipedia", a title that repeats itself).
 * Then "Headline | Site" and "Site | Headline" lose the site's name when it
 * is (loosely) the page's siteName. Anything else is kept as written.
 */
function cleanTitle(title: string, siteName: string | null, headlines: string[]): string {
  const separators = [...title.matchAll(TITLE_SEPARATOR)];
  if (separators.length === 0) return title;
  for (const headline of headlines) {
    if (headline.length >= title.length) continue;
    for (const separator of separators) {
      if (title.slice(0, separator.index) === headline) return headline;
    }
  }
  if (siteName) {
    const site = loose(siteName);
    const last = separators[separators.length - 1]!;
    if (isSite(loose(title.slice(last.index + last[0].length)), site)) return title.slice(0, last.index).trim() || title;
    const first = separators[0]!;
    if (isSite(loose(title.slice(0, first.index)), site)) return title.slice(first.index + first[0].length).trim() || title;
  }
  return title;
}

/** A title's end names the site: the same letters, or one holding the other ("Aktuálně.cz" in "Aktuálně.cz - Víte, co se právě děje"). */
function isSite(part: string, site: string): boolean {
  if (part.length < 3 || site.length < 3) return false;
  // A part inside the site's name must be most of it: "Café" is not "Le Petit Café".
  return part === site || (site.includes(part) && part.length * 2 >= site.length) || part.includes(site);
}
