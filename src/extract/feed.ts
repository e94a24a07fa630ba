import type { Feed, FeedItem } from '../result';
import { isoDate } from './dates';
import { isNode as isObject } from './jsonld';
import { resolveUrl } from './metadata';
import { cutAtWord, decodeText, tidy } from './text';
import { child, children, parseXml, textOf, type XmlElement, type XmlShape } from './xml';

/**
 * Feeds for the `feed` format: RSS 2.0 (and 0.9x), RSS 1.0/RDF, Atom 1.0 and
 * JSON Feed 1.x read into one shape. Dates become ISO 8601; links resolve
 * against the feed's URL; summaries are plain text. A body that is not a feed,
 * or a broken one, gives null, never an error.
 */

/** Most items kept per feed. */
export const MAX_FEED_ITEMS = 1_000;
/** Items and entries never nest in anything but these: an unclosed element before one is closed by it. */
const FEED_SHAPE: XmlShape = {
  repeated: new Set(['item', 'entry']),
  containers: new Set(['#document', 'rss', 'channel', 'rdf:rdf', 'rdf', 'feed']),
};

/** Longest summary kept, in characters (cut at a word). */
const SUMMARY_MAX_CHARS = 1_000;

/** The feed in an XML body, or null when the body is not one. */
export function feedFromXml(xml: string, feedUrl: string): Feed | null {
  const root = parseXml(xml, FEED_SHAPE);
  const rss = child(root, 'rss');
  if (rss) return rssFeed(child(rss, 'channel'), children(child(rss, 'channel'), 'item'), feedUrl, 'rss');
  const rdf = child(root, 'rdf:rdf', 'rdf');
  if (rdf) return rssFeed(child(rdf, 'channel'), children(rdf, 'item'), feedUrl, 'rdf');
  const atom = child(root, 'feed');
  if (atom) return atomFeed(atom, feedUrl);
  return null;
}

/** The feed in a JSON body (JSON Feed), or null when the body is not one. */
export function feedFromJson(json: string, feedUrl: string): Feed | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (!isObject(value) || typeof value.version !== 'string' || !value.version.startsWith('https://jsonfeed.org/version/')) return null;
  const items = Array.isArray(value.items) ? value.items.filter(isObject).slice(0, MAX_FEED_ITEMS) : [];
  return {
    format: 'json',
    title: plain(value.title),
    link: url(value.home_page_url, feedUrl),
    description: plain(value.description),
    updated: null,
    items: items.map((item) => {
      const link = url(item.url, feedUrl);
      return {
        id: plain(item.id) ?? link,
        title: plain(item.title),
        link,
        published: isoDate(str(item.date_published)),
        updated: isoDate(str(item.date_modified)),
        author: names(Array.isArray(item.authors) ? item.authors : item.author ? [item.author] : []),
        summary: summary(str(item.summary) ?? str(item.content_text) ?? htmlText(str(item.content_html))),
      };
    }),
  };
}

/** A simple field's value: the element's own text (an unclosed one does not take its swallowed children's). */
function own(element: XmlElement | undefined, ...names: string[]): string | null {
  return tidy(child(element, ...names)?.text ?? '');
}

function rssFeed(channel: XmlElement | undefined, items: XmlElement[], feedUrl: string, format: 'rss' | 'rdf'): Feed {
  const text = own;
  return {
    format,
    title: text(channel, 'title'),
    link: url(text(channel, 'link'), feedUrl),
    description: summary(htmlText(textOf(child(channel, 'description')))),
    updated: isoDate(text(channel, 'lastbuilddate', 'pubdate', 'dc:date')),
    items: items.slice(0, MAX_FEED_ITEMS).map((item): FeedItem => {
      const guid = child(item, 'guid');
      const guidText = tidy(guid?.text ?? '');
      const permalink = guid && guid.attrs.ispermalink !== 'false' ? url(guidText, feedUrl) : null;
      const link = url(text(item, 'link'), feedUrl) ?? url(item.attrs['rdf:about'], feedUrl) ?? permalink;
      return {
        id: guidText ?? link,
        title: text(item, 'title'),
        link,
        published: isoDate(text(item, 'pubdate', 'dc:date')),
        updated: isoDate(text(item, 'atom:updated', 'dc:modified')),
        author: rssAuthor(text(item, 'dc:creator', 'author')),
        summary: summary(htmlText(textOf(child(item, 'description', 'content:encoded')))),
      };
    }),
  };
}

function atomFeed(feed: XmlElement, feedUrl: string): Feed {
  const text = own;
  return {
    format: 'atom',
    title: text(feed, 'title'),
    link: atomLink(feed, feedUrl),
    description: text(feed, 'subtitle'),
    updated: isoDate(text(feed, 'updated')),
    items: children(feed, 'entry')
      .slice(0, MAX_FEED_ITEMS)
      .map((entry): FeedItem => {
        const content = child(entry, 'summary') ?? child(entry, 'content');
        const html = content && content.attrs.type !== 'text';
        return {
          id: text(entry, 'id'),
          title: text(entry, 'title'),
          link: atomLink(entry, feedUrl),
          published: isoDate(text(entry, 'published', 'issued')),
          updated: isoDate(text(entry, 'updated', 'modified')),
          author: names(children(entry, 'author').map((author) => own(author, 'name'))),
          summary: summary(html ? htmlText(textOf(content)) : textOf(content)),
        };
      }),
  };
}

/** Atom's link: `rel="alternate"` (or no rel), else the first. */
function atomLink(element: XmlElement, feedUrl: string): string | null {
  const links = children(element, 'link');
  const link = links.find((l) => !l.attrs.rel || l.attrs.rel === 'alternate') ?? links[0];
  return url(link?.attrs.href, feedUrl);
}

/** RSS writes authors as `jane@example.com (Jane Doe)`: the name, when there is one. */
function rssAuthor(value: string | null): string | null {
  if (!value) return null;
  const named = /^\S+@\S+\s*\((.+)\)$/.exec(value);
  if (named) return tidy(named[1]!);
  return /^\S+@\S+$/.test(value) ? null : value;
}

function names(list: unknown[]): string | null {
  const found = list.map((item) => (isObject(item) ? plain(item.name) : plain(item))).filter((name): name is string => name !== null);
  return found.length > 0 ? found.join(', ') : null;
}

/** HTML (escaped in RSS, or in CDATA) as text: tags dropped, entities decoded, blocks apart. */
function htmlText(html: string | null): string {
  if (!html) return '';
  return decodeText(html.replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ').replace(/<[^>]*>/g, ' '));
}

function summary(text: string | null): string | null {
  const value = tidy(text ?? '');
  return value ? cutAtWord(value, SUMMARY_MAX_CHARS) : null;
}

function url(value: unknown, base: string): string | null {
  return typeof value === 'string' ? resolveUrl(value.trim(), base) : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function plain(value: unknown): string | null {
  return typeof value === 'string' ? tidy(value) : typeof value === 'number' ? String(value) : null;
}
