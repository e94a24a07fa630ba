import { Parser } from 'htmlparser2';

/**
 * A light document tree of the whole page, for the content formats
 * (markdown, text, html): the main-content scorer needs to see the page at
 * once, which a streaming handler cannot. Only what the scorer and the
 * writers read is kept: the tag, a few attributes, text.
 *
 * htmlparser2 tokenizes (entities decoded, raw-text elements kept whole) in
 * JavaScript: about 1.3 ms for a 170 KB page, where building the same tree
 * from HTMLRewriter's callbacks cost 10-20 ms (each element, end tag and text
 * chunk is a call from the runtime into JavaScript; measured in the bench,
 * README "Performance"). The HTML rules a browser applies for a missing end
 * tag (`<p>a<p>b`, `<li>` after `<li>`, a `<td>` after a `<td>`) are applied
 * here, at the next start tag, more fully than htmlparser2's own; an end tag
 * closes everything opened since its element.
 */

export interface ContentElement {
  tag: string;
  /** The attributes kept (KEPT_ATTRIBUTES), entities decoded; null when none. */
  attrs: Record<string, string> | null;
  parent: ContentElement | null;
  children: ContentNode[];
}

/** Text is kept as decoded strings, whitespace as written (a `<pre>` needs it). */
export type ContentNode = ContentElement | string;

/** Attributes the scorer and the writers read (and `base`'s href); every other attribute is dropped as it is read. */
const KEPT_ATTRIBUTES: ReadonlySet<string> = new Set([
  'class',
  'id',
  'role',
  'hidden',
  'aria-hidden',
  'aria-label',
  'style',
  'itemprop',
  'href',
  'src',
  'data-src',
  'data-lazy-src',
  'data-original',
  'srcset',
  'alt',
  'title',
  'colspan',
  'lang',
  'type',
  'datetime',
]);

/** Elements whose content is never page text. */
const RAW_TEXT: ReadonlySet<string> = new Set(['script', 'style', 'noscript', 'template', 'textarea', 'title', 'xmp', 'iframe', 'noembed', 'noframes']);

/** Start tags that close an open `<p>` (HTML's "close a p element" rule). */
const CLOSES_P: ReadonlySet<string> = new Set(
  'address article aside blockquote details dialog div dl fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr main menu nav ol p pre section table ul'.split(' '),
);

/** Elements past which an implied end does not look (HTML's scope boundaries, simplified). */
const SCOPE: ReadonlySet<string> = new Set(['html', 'body', 'table', 'td', 'th', 'caption', 'template', 'button', 'object', 'marquee', 'applet', 'svg', 'math']);

/** What a list item's or definition's start does not look past for an open one to close. */
const LIST_ITEM_STOP: ReadonlySet<string> = new Set(
  'ul ol menu dl table td th tr tbody thead tfoot caption body html blockquote section article aside nav main header footer form fieldset figure details dialog button object template'.split(' '),
);
const HEADINGS: ReadonlySet<string> = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);

/**
 * A start tag that closes an open element of its family, as a browser's
 * parser does: the innermost open element in `closes`, with everything
 * opened inside it, unless an element in `stop` comes first (`top`: only
 * when the open element is the current one).
 */
interface Implied {
  closes: ReadonlySet<string>;
  stop: ReadonlySet<string> | 'top';
}
const TABLE_SECTIONS: ReadonlySet<string> = new Set(['table', 'thead', 'tbody', 'tfoot', 'html', 'body']);
const IMPLIED: Readonly<Record<string, Implied>> = {
  li: { closes: new Set(['li']), stop: LIST_ITEM_STOP },
  dt: { closes: new Set(['dt', 'dd']), stop: LIST_ITEM_STOP },
  dd: { closes: new Set(['dt', 'dd']), stop: LIST_ITEM_STOP },
  tr: { closes: new Set(['tr']), stop: TABLE_SECTIONS },
  td: { closes: new Set(['td', 'th']), stop: new Set(['tr', ...TABLE_SECTIONS]) },
  th: { closes: new Set(['td', 'th']), stop: new Set(['tr', ...TABLE_SECTIONS]) },
  thead: { closes: new Set(['thead', 'tbody', 'tfoot']), stop: new Set(['table', 'html', 'body']) },
  tbody: { closes: new Set(['thead', 'tbody', 'tfoot']), stop: new Set(['table', 'html', 'body']) },
  tfoot: { closes: new Set(['thead', 'tbody', 'tfoot']), stop: new Set(['table', 'html', 'body']) },
  option: { closes: new Set(['option']), stop: 'top' },
  h1: { closes: HEADINGS, stop: 'top' },
  h2: { closes: HEADINGS, stop: 'top' },
  h3: { closes: HEADINGS, stop: 'top' },
  h4: { closes: HEADINGS, stop: 'top' },
  h5: { closes: HEADINGS, stop: 'top' },
  h6: { closes: HEADINGS, stop: 'top' },
};

/**
 * Deepest element kept as its own node: anything deeper adds its text to the
 * element at this depth. Real pages rarely nest past 60; the cap keeps the
 * tree walkers' recursion bounded whatever a page does (100,000 nested divs).
 */
export const MAX_TREE_DEPTH = 256;

/** Most elements kept; past this, new elements add their text to the open one. */
export const MAX_TREE_ELEMENTS = 60_000;

/** Longest text kept in the tree, in characters (a body is byte-capped too). */
export const MAX_TREE_TEXT = 4_000_000;

/** The page's tree: `html` parsed whole. */
export function buildTree(html: string): ContentElement {
  const tree = new TreeBuilder();
  const parser = new Parser(
    {
      onopentag: (name, attributes) => tree.open(name, attributes),
      onclosetag: (name) => tree.close(name),
      ontext: (text) => tree.text(text),
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeSelfClosing: false },
  );
  parser.end(html);
  return tree.root;
}

/** Builds the tree from a parser's events (exported for the tests of its caps). */
export class TreeBuilder {
  readonly root: ContentElement = { tag: '#document', attrs: null, parent: null, children: [] };
  readonly #stack: ContentElement[] = [this.root];
  #elements = 0;
  #textChars = 0;
  /** Open elements past the caps, which have no node: their end tags close nothing of the tree. */
  #overflow = 0;

  /** The open element text goes to. */
  get #top(): ContentElement {
    return this.#stack[this.#stack.length - 1]!;
  }

  /** The deepest open element's depth (the document is 0). */
  get depth(): number {
    return this.#stack.length - 1;
  }

  /** A start tag; answers whether it has a node of its own (not past the caps). */
  open(tag: string, attributes: Record<string, string>): boolean {
    if (this.#overflow > 0 || this.#stack.length > MAX_TREE_DEPTH || this.#elements >= MAX_TREE_ELEMENTS) {
      if (!VOID.has(tag)) this.#overflow++;
      return false;
    }
    this.#implyEnds(tag);
    const node: ContentElement = { tag, attrs: keptAttributes(attributes), parent: this.#top, children: [] };
    this.#top.children.push(node);
    this.#elements++;
    if (!VOID.has(tag)) this.#stack.push(node);
    return true;
  }

  /** An end tag (the parser's, implied ones included): closes its element and what was opened inside it. */
  close(tag: string): void {
    if (VOID.has(tag)) return;
    if (this.#overflow > 0) {
      this.#overflow--;
      return;
    }
    for (let i = this.#stack.length - 1; i > 0; i--) {
      if (this.#stack[i]!.tag === tag) {
        this.#stack.length = i;
        return;
      }
    }
  }

  /** Text, entities decoded; dropped inside raw-text elements (script, style, ...). */
  text(text: string): void {
    const top = this.#top;
    if (this.#textChars >= MAX_TREE_TEXT || RAW_TEXT.has(top.tag)) return;
    this.#textChars += text.length;
    const last = top.children.length - 1;
    if (last >= 0 && typeof top.children[last] === 'string') top.children[last] += text;
    else top.children.push(text);
  }

  /** Closes what the new start tag ends, as a browser's parser would (see IMPLIED, CLOSES_P). */
  #implyEnds(tag: string): void {
    const stack = this.#stack;
    if (CLOSES_P.has(tag)) {
      for (let i = stack.length - 1; i > 0; i--) {
        const open = stack[i]!.tag;
        if (open === 'p') {
          stack.length = i;
          break;
        }
        if (SCOPE.has(open) || !INLINE_OR_P.has(open)) break;
      }
    }
    const rule = IMPLIED[tag];
    if (!rule) return;
    for (let i = stack.length - 1; i > 0; i--) {
      const open = stack[i]!.tag;
      if (rule.closes.has(open)) {
        stack.length = i;
        return;
      }
      if (rule.stop === 'top' || rule.stop.has(open)) return;
    }
  }
}

/** Elements an open `<p>` may hold: a block start closes the p through them. */
const INLINE_OR_P: ReadonlySet<string> = new Set(
  'p a abbr b bdi bdo cite code data dfn em font i kbd mark q s samp small span strike strong sub sup time tt u var'.split(' '),
);

/** Elements without content (no end tag). */
const VOID: ReadonlySet<string> = new Set('area base br col embed hr img input link meta param source track wbr'.split(' '));

function keptAttributes(attributes: Record<string, string>): Record<string, string> | null {
  let kept: Record<string, string> | null = null;
  for (const name in attributes) {
    if (!KEPT_ATTRIBUTES.has(name)) continue;
    kept ??= {};
    kept[name] = attributes[name]!;
  }
  return kept;
}

/** The text of a subtree, whitespace as written. */
export function textOf(node: ContentNode): string {
  if (typeof node === 'string') return node;
  let out = '';
  for (const child of node.children) out += textOf(child);
  return out;
}
