/**
 * JSON-LD (`<script type="application/ld+json">`): the blocks parsed, and the
 * facts link previews want read from the page's main entity, the way
 * metascraper and the search engines read them. A block that does not parse
 * is skipped and counted; a fact of the wrong shape is ignored.
 */

type Node = Record<string, unknown>;

/** The facts fanout takes from JSON-LD; each null when the page gives none. */
export interface JsonLdFacts {
  /** The main entity's @type (its first, when it has several). */
  type: string | null;
  headline: string | null;
  name: string | null;
  description: string | null;
  /** People, joined with ", " (names only: organisations as authors count too). */
  author: string | null;
  datePublished: string | null;
  dateModified: string | null;
  image: string | null;
  publisher: string | null;
  /** The name of a `WebSite` node. */
  website: string | null;
}

/** Parses blocks; returns what parsed and how many did not. */
export function parseJsonLd(blocks: readonly string[]): { values: unknown[]; failed: number } {
  const values: unknown[] = [];
  let failed = 0;
  for (const block of blocks) {
    // CDATA and HTML comment wrappers appear in real pages; JSON.parse would refuse them.
    const text = block.replace(/^\s*(?:<!--|<!\[CDATA\[)|(?:-->|\]\]>)\s*$/g, '').trim();
    if (text === '') continue;
    try {
      values.push(JSON.parse(text));
    } catch {
      failed++;
    }
  }
  return { values, failed };
}

/** Types whose node is the page's content, most specific first. */
const CONTENT_TYPES = [
  /article$/i,
  /posting$/i,
  /^(report|review|recipe|product|event|course|howto|question|videoobject|podcastepisode|creativework|book|movie|musicrecording)$/i,
  /page$/i,
];

/** Every node of the JSON-LD values: top-level objects, arrays and @graph members, one level of nesting. */
function nodesOf(values: readonly unknown[]): Node[] {
  const nodes: Node[] = [];
  const visit = (value: unknown, depth: number) => {
    if (depth > 3) return;
    if (Array.isArray(value)) return value.forEach((item) => visit(item, depth + 1));
    if (!isNode(value)) return;
    nodes.push(value);
    if (Array.isArray(value['@graph'])) visit(value['@graph'], depth + 1);
  };
  values.forEach((value) => visit(value, 0));
  return nodes;
}

/** A JSON object (not an array, not null). */
export function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typesOf(node: Node): string[] {
  const type = node['@type'];
  if (typeof type === 'string') return [type.replace(/^.*[/#]/, '')];
  return Array.isArray(type) ? type.filter((t): t is string => typeof t === 'string').map((t) => t.replace(/^.*[/#]/, '')) : [];
}

/** The page's main entity: the first node of the most specific content type. */
function mainEntity(nodes: readonly Node[]): Node | null {
  for (const pattern of CONTENT_TYPES) {
    const found = nodes.find((node) => typesOf(node).some((type) => pattern.test(type)));
    if (found) return found;
  }
  return nodes.find((node) => typeof node.headline === 'string' || typeof node.name === 'string') ?? null;
}

function text(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() || null;
  if (typeof value === 'number') return String(value);
  return null;
}

/**
 * Reads a reference or a value: `{ "@id": ... }` is looked up among the nodes;
 * arrays give their items.
 */
function resolve(value: unknown, byId: ReadonlyMap<string, Node>): unknown[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => (isNode(item) && typeof item['@id'] === 'string' && Object.keys(item).length === 1 ? (byId.get(item['@id']) ?? item) : item));
}

function nameOf(value: unknown, byId: ReadonlyMap<string, Node>): string | null {
  const names = resolve(value, byId)
    .map((item) => (isNode(item) ? text(item.name) : text(item)))
    .filter((name): name is string => name !== null);
  return names.length > 0 ? [...new Set(names)].join(', ') : null;
}

function imageOf(value: unknown, byId: ReadonlyMap<string, Node>): string | null {
  for (const item of resolve(value, byId)) {
    const url = isNode(item) ? (text(item.url) ?? text(item.contentUrl)) : text(item);
    if (url) return url;
  }
  return null;
}

/** The facts of the page's JSON-LD. */
export function jsonLdFacts(values: readonly unknown[]): JsonLdFacts {
  const nodes = nodesOf(values);
  const byId = new Map<string, Node>();
  for (const node of nodes) if (typeof node['@id'] === 'string') byId.set(node['@id'], node);
  const main = mainEntity(nodes);
  const website = nodes.find((node) => typesOf(node).includes('WebSite'));
  const organization = nodes.find((node) => typesOf(node).some((type) => /^(organization|newsmediaorganization|corporation)$/i.test(type)));
  return {
    type: main ? (typesOf(main)[0] ?? null) : null,
    headline: main ? text(main.headline) : null,
    name: main ? text(main.name) : null,
    description: main ? text(main.description) : null,
    author: main ? nameOf(main.author ?? main.creator, byId) : null,
    datePublished: main ? (text(main.datePublished) ?? text(main.dateCreated) ?? text(main.uploadDate)) : null,
    dateModified: main ? text(main.dateModified) : null,
    image: main ? (imageOf(main.image, byId) ?? imageOf(main.thumbnailUrl, byId)) : null,
    publisher: (main ? nameOf(main.publisher, byId) : null) ?? (organization ? text(organization.name) : null),
    website: website ? text(website.name) : null,
  };
}
