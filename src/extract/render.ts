import { BLOCK, type ContentSelection } from './main-content';
import { resolveUrl } from './metadata';
import { cutAtWord, escapeHtml, stripControls } from './text';
import { textOf, type ContentElement, type ContentNode } from './tree';

/**
 * The content formats written from a selection of the page tree
 * (./main-content.ts): GitHub-flavoured Markdown, plain text, and cleaned
 * HTML. All three are cut at a block boundary once `maxChars` is reached.
 */

export interface RenderOptions {
  /** What relative URLs resolve against (the page's `<base href>`, else its URL). */
  base: string;
  maxChars: number;
}

export interface Rendered {
  content: string | null;
  truncated: boolean;
}

type Mode = 'markdown' | 'text';

const SPACE_RUN = /[ \t\n\r\f\u00a0]+/g;
const HEADING = /^h([1-6])$/;
const LIST_MARKER = /^(?:- |\d+\. )/;
/** Containers whose blocks are written as their own (no mark of theirs in Markdown or text). */
const CONTAINERS = new Set(['div', 'section', 'article', 'main', 'body', 'html', 'header', 'center', 'span', 'form', 'fieldset', 'details', 'summary', 'hgroup', 'font', '#document', 'address', 'picture']);

/** Markdown or plain text of the selection. */
export function renderText(selection: ContentSelection, mode: Mode, options: RenderOptions): Rendered {
  const writer = new BlockWriter(mode, selection.skip, options.base);
  const blocks = writer.blocks(selection.nodes, 0);
  return joinCapped(blocks, options.maxChars);
}

/** Blocks joined by blank lines, cut at a block boundary once `max` characters are reached. */
function joinCapped(blocks: string[], max: number): Rendered {
  let out = '';
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i]!;
    const next = out === '' ? block : `${out}\n\n${block}`;
    if (next.length > max) {
      // A first block longer than the cap is cut at a word, not dropped.
      if (out === '') out = cutAtWord(block, max);
      return { content: out || null, truncated: true };
    }
    out = next;
  }
  return { content: out || null, truncated: false };
}

/** Writes nodes as Markdown (or text) blocks. */
class BlockWriter {
  constructor(
    private readonly mode: Mode,
    private readonly skip: ReadonlySet<ContentElement>,
    private readonly base: string,
  ) {}

  get #md(): boolean {
    return this.mode === 'markdown';
  }

  /** The blocks of a run of nodes: inline runs become paragraphs, block elements their own. */
  blocks(nodes: readonly ContentNode[], depth: number): string[] {
    const out: string[] = [];
    let inline = '';
    const endParagraph = () => {
      const text = tidyInline(inline);
      if (text) out.push(text);
      inline = '';
    };
    for (const node of nodes) {
      if (typeof node === 'string') {
        inline += this.#text(node);
        continue;
      }
      if (this.skip.has(node)) continue;
      if (!BLOCK.has(node.tag) && node.tag !== 'picture') {
        inline += this.#inline(node);
        continue;
      }
      endParagraph();
      out.push(...this.#block(node, depth));
    }
    endParagraph();
    return out;
  }

  #block(el: ContentElement, depth: number): string[] {
    const tag = el.tag;
    const heading = HEADING.exec(tag);
    if (heading) {
      const text = tidyInline(this.#inlineChildren(el)).replace(/\n+/g, ' ');
      if (!text) return [];
      return [this.#md ? `${'#'.repeat(Number(heading[1]))} ${text}` : text];
    }
    switch (tag) {
      case 'ul':
      case 'ol':
        return this.#list(el, tag === 'ol', depth);
      case 'pre':
        return this.#code(el);
      case 'blockquote': {
        const inner = this.blocks(el.children, depth);
        if (inner.length === 0) return [];
        if (!this.#md) return inner;
        return [inner.join('\n\n').split('\n').map((line) => (line ? `> ${line}` : '>')).join('\n')];
      }
      case 'table':
        return this.#table(el, depth);
      case 'hr':
        return this.#md ? ['---'] : [];
      case 'dl':
        return this.#definitions(el, depth);
      case 'li':
      case 'dd':
      case 'dt':
      case 'p':
      default:
        return this.blocks(el.children, depth);
    }
  }

  #list(el: ContentElement, ordered: boolean, depth: number): string[] {
    const items: string[] = [];
    let n = 1;
    for (const child of el.children) {
      if (typeof child === 'string') {
        const text = tidyInline(this.#text(child));
        if (text) items.push(this.#md ? `- ${text}` : text);
        continue;
      }
      if (this.skip.has(child)) continue;
      if (child.tag === 'ul' || child.tag === 'ol') {
        // A list straight inside a list (invalid, common): indented under the previous item.
        const nested = this.#list(child, child.tag === 'ol', depth + 1).join('\n');
        if (nested) items.push(this.#md ? indent(nested, '  ') : nested);
        continue;
      }
      const inner = child.tag === 'li' ? this.blocks(child.children, depth + 1) : this.blocks([child], depth + 1);
      if (inner.length === 0) continue;
      if (!this.#md) {
        items.push(inner.join('\n'));
        continue;
      }
      const marker = ordered ? `${n++}. ` : '- ';
      const pad = ' '.repeat(marker.length);
      // A list inside an item follows its line directly (a tight list); other blocks after a blank line.
      const body = inner.reduce((all, block) => (all === '' ? block : `${all}${LIST_MARKER.test(block) ? '\n' : '\n\n'}${block}`), '').split('\n');
      items.push(`${marker}${body[0]}${body.length > 1 ? `\n${indent(body.slice(1).join('\n'), pad)}` : ''}`);
    }
    if (items.length === 0) return [];
    return [items.join('\n')];
  }

  #code(el: ContentElement): string[] {
    const code = stripControls(textOf(el)).replace(/^\n/, '').replace(/\s+$/, '');
    if (!code) return [];
    if (!this.#md) return [code];
    const language = languageOf(el);
    let fence = '```';
    while (code.includes(fence)) fence += '`';
    return [`${fence}${language}\n${code}\n${fence}`];
  }

  #table(el: ContentElement, depth: number): string[] {
    const caption = el.children.find((c): c is ContentElement => typeof c !== 'string' && c.tag === 'caption' && !this.skip.has(c));
    const title = caption ? tidyInline(this.#inlineChildren(caption)) : '';
    const table = this.#tableBody(el, depth);
    return title && table.length > 0 ? [title, ...table] : table;
  }

  #tableBody(el: ContentElement, depth: number): string[] {
    const rows = tableRows(el, this.skip);
    const layout = rows.some((row) => row.some((cell) => hasBlocks(cell, this.skip, true)));
    if (layout || rows.length === 0) {
      // A layout table: its cells are blocks of the page.
      const out: string[] = [];
      for (const row of rows) for (const cell of row) out.push(...this.blocks(cell.children, depth));
      return out;
    }
    const text = rows.map((row) => row.map((cell) => tidyInline(this.#inlineChildren(cell)).replace(/\n+/g, ' ')));
    if (!this.#md) return [text.map((row) => row.filter(Boolean).join('\t')).filter(Boolean).join('\n')].filter(Boolean);
    const width = Math.max(...text.map((row) => row.length));
    const line = (cells: string[]) => `| ${Array.from({ length: width }, (_, i) => (cells[i] ?? '').replace(/\|/g, '\\|')).join(' | ')} |`;
    const [head, ...body] = text;
    return [[line(head!), `| ${Array.from({ length: width }, () => '---').join(' | ')} |`, ...body.map(line)].join('\n')];
  }

  #definitions(el: ContentElement, depth: number): string[] {
    const out: string[] = [];
    for (const child of el.children) {
      if (typeof child === 'string' || this.skip.has(child)) continue;
      if (child.tag === 'dt') {
        const term = tidyInline(this.#inlineChildren(child));
        if (term) out.push(this.#md ? `**${term}**` : term);
      } else {
        out.push(...this.blocks(child.tag === 'dd' ? child.children : [child], depth));
      }
    }
    return out;
  }

  #inlineChildren(el: ContentElement): string {
    let out = '';
    for (const child of el.children) out += typeof child === 'string' ? this.#text(child) : this.#inline(child);
    return out;
  }

  /** An element inside a paragraph. */
  #inline(el: ContentElement): string {
    if (this.skip.has(el)) return '';
    const md = this.#md;
    switch (el.tag) {
      case 'br':
        return md ? '  \n' : '\n';
      case 'img':
        return md ? this.#image(el) : '';
      case 'a': {
        // A heading's permalink (¶, #, §, 🔗 linking to its own anchor) is no text of the page.
        if (el.attrs?.href?.startsWith('#') && !/[\p{L}\p{N}]/u.test(textOf(el))) return '';
        const inner = this.#inlineChildren(el);
        const text = inner.trim();
        if (!md || !text) return inner;
        const href = this.#url(el.attrs?.href);
        if (!href) return inner;
        return wrapKeepingSpace(inner, `[${text}](${href}${titlePart(el)})`);
      }
      case 'strong':
      case 'b':
        return md ? emphasise(this.#inlineChildren(el), '**') : this.#inlineChildren(el);
      case 'em':
      case 'i':
      case 'cite':
        return md ? emphasise(this.#inlineChildren(el), '*') : this.#inlineChildren(el);
      case 'del':
      case 's':
      case 'strike':
        return md ? emphasise(this.#inlineChildren(el), '~~') : this.#inlineChildren(el);
      case 'code':
      case 'kbd':
      case 'samp':
      case 'tt': {
        const code = textOf(el).replace(SPACE_RUN, ' ');
        if (!md || !code.trim()) return code;
        const tick = code.includes('`') ? '``' : '`';
        return wrapKeepingSpace(code, `${tick}${code.trim()}${tick}`);
      }
      default:
        if (BLOCK.has(el.tag)) return ` ${this.#inlineChildren(el)} `;
        return this.#inlineChildren(el);
    }
  }

  #image(el: ContentElement): string {
    const src = this.#url(imageSource(el));
    if (!src) return '';
    const alt = (el.attrs?.alt ?? '').replace(SPACE_RUN, ' ').trim().replace(/[[\]]/g, '\\$&');
    return `![${alt}](${src}${titlePart(el)})`;
  }

  #url(raw: string | undefined): string | null {
    if (!raw) return null;
    const url = resolveUrl(raw.trim(), this.base);
    return url ? url.replace(/[()\s]/g, (c) => encodeURIComponent(c)) : null;
  }

  #text(text: string): string {
    const collapsed = stripControls(text).replace(SPACE_RUN, ' ');
    return this.#md ? escapeMarkdown(collapsed) : collapsed;
  }
}

/** The source of an image: a lazy-loading attribute when `src` is a placeholder, else `src`, else the first of `srcset`. */
export function imageSource(el: ContentElement): string | undefined {
  const a = el.attrs ?? {};
  const lazy = a['data-src'] ?? a['data-lazy-src'] ?? a['data-original'];
  const src = a.src;
  if (lazy && (!src || src.startsWith('data:'))) return lazy;
  if (src && !src.startsWith('data:')) return src;
  const first = a.srcset?.trim().split(/\s+/)[0];
  return first || lazy;
}

function titlePart(el: ContentElement): string {
  const title = el.attrs?.title?.replace(SPACE_RUN, ' ').trim();
  return title ? ` "${title.replace(/"/g, '\\"')}"` : '';
}

/** The code's language, as highlighters name it: `language-x` / `lang-x` on the pre or its code, or `highlight-x` around it. */
function languageOf(pre: ContentElement): string {
  const names: string[] = [];
  for (let el: ContentElement | null = pre; el && names.length < 4; el = el.parent) names.push(el.attrs?.class ?? '');
  const code = pre.children.find((c): c is ContentElement => typeof c !== 'string' && c.tag === 'code');
  if (code) names.unshift(code.attrs?.class ?? '');
  for (const name of names) {
    const match = /(?:^|\s)(?:language|lang|highlight|brush:?)-?\s*([a-z0-9_+#.-]+)/i.exec(name);
    if (match && match[1] !== 'none' && match[1] !== 'plaintext' && match[1] !== 'source') return match[1]!.toLowerCase();
  }
  return '';
}

function indent(text: string, pad: string): string {
  return text
    .split('\n')
    .map((line) => (line ? pad + line : line))
    .join('\n');
}

/** Inline text of a paragraph: spaces collapsed, trimmed per line. */
function tidyInline(text: string): string {
  return text
    .replace(/[ \t]+/g, ' ')
    .split('\n')
    .map((line, i, lines) => (i < lines.length - 1 && line.endsWith('  ') ? `${line.trim()}  ` : line.trim()))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** `**x**` around the text, spaces kept outside the markers; nothing for empty text. */
function emphasise(inner: string, mark: string): string {
  if (!inner.trim()) return inner;
  return wrapKeepingSpace(inner, `${mark}${inner.trim()}${mark}`);
}

function wrapKeepingSpace(inner: string, wrapped: string): string {
  const lead = /^\s/.test(inner) ? ' ' : '';
  const trail = /\s$/.test(inner) ? ' ' : '';
  return `${lead}${wrapped}${trail}`;
}

const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * Escapes what would otherwise become Markdown syntax inside text. An
 * underscore inside a word (`snake_case`, an e-mail address) is no emphasis
 * in GitHub-flavoured Markdown and stays as it is.
 */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>]/g, (c: string, at: number) =>
    c === '_' && WORD_CHAR.test(text[at - 1] ?? '') && WORD_CHAR.test(text[at + 1] ?? '') ? c : `\\${c}`,
  );
}

/** The rows of a table (nested tables' rows excluded), each a list of its cells. */
function tableRows(table: ContentElement, skip: ReadonlySet<ContentElement>): ContentElement[][] {
  const rows: ContentElement[][] = [];
  const walk = (el: ContentElement) => {
    for (const child of el.children) {
      if (typeof child === 'string' || skip.has(child)) continue;
      if (child.tag === 'tr') {
        const cells = child.children.filter((c): c is ContentElement => typeof c !== 'string' && (c.tag === 'td' || c.tag === 'th') && !skip.has(c));
        if (cells.length > 0) rows.push(cells);
      } else if (child.tag === 'thead' || child.tag === 'tbody' || child.tag === 'tfoot') walk(child);
    }
  };
  walk(table);
  return rows;
}

function hasBlocks(el: ContentElement, skip: ReadonlySet<ContentElement>, top = false): boolean {
  for (const child of el.children) {
    if (typeof child === 'string' || skip.has(child)) continue;
    if (child.tag === 'table' || child.tag === 'ul' || child.tag === 'ol' || child.tag === 'pre' || (!top && child.tag === 'p') || /^h[1-6]$/.test(child.tag)) return true;
    if (child.tag === 'p' && top) {
      // Several paragraphs in a cell: layout.
      if (el.children.filter((c) => typeof c !== 'string' && c.tag === 'p').length > 1) return true;
    }
    if (hasBlocks(child, skip)) return true;
  }
  return false;
}

/** Tags kept in the `html` format; others are unwrapped (their content kept). */
const KEPT_TAGS = new Set(
  'p h1 h2 h3 h4 h5 h6 ul ol li blockquote pre code table thead tbody tfoot tr th td caption a img em strong b i u s del ins sub sup br hr figure figcaption dl dt dd section article div small mark q cite abbr time kbd samp var'.split(
    ' ',
  ),
);
const VOID_TAGS = new Set(['br', 'hr', 'img']);
const HTML_ATTRIBUTES = ['href', 'src', 'alt', 'title'] as const;

/** The selection as cleaned HTML: structure kept, attributes cut to href, src, alt and title, URLs absolute. */
export function renderHtml(selection: ContentSelection, options: RenderOptions): Rendered {
  const parts: string[] = [];
  const writeNode = (node: ContentNode): string => {
    if (typeof node === 'string') return escapeHtml(stripControls(node));
    if (selection.skip.has(node)) return '';
    let inner = '';
    if (!VOID_TAGS.has(node.tag)) for (const child of node.children) inner += writeNode(child);
    if (node.tag === 'a' && node.attrs?.href?.startsWith('#') && !/[\p{L}\p{N}]/u.test(textOf(node))) return '';
    if (!KEPT_TAGS.has(node.tag)) return inner;
    let attrs = '';
    for (const name of HTML_ATTRIBUTES) {
      let value = name === 'src' && node.tag === 'img' ? imageSource(node) : node.attrs?.[name];
      if (value === undefined) continue;
      if (name === 'href' || name === 'src') {
        const url = resolveUrl(value.trim(), options.base);
        if (!url) continue;
        value = url;
      }
      attrs += ` ${name}="${escapeHtml(value).replace(/"/g, '&quot;')}"`;
    }
    if (node.tag === 'img' && !attrs.includes(' src=')) return '';
    return VOID_TAGS.has(node.tag) ? `<${node.tag}${attrs}>` : `<${node.tag}${attrs}>${inner}</${node.tag}>`;
  };
  // Cut at block boundaries: containers are opened into their children, block by block.
  const flatten = (nodes: readonly ContentNode[]): void => {
    for (const node of nodes) {
      if (typeof node !== 'string' && !selection.skip.has(node) && CONTAINERS.has(node.tag) && hasBlockChild(node)) flatten(node.children);
      else {
        const html = writeNode(node);
        if (html.trim()) parts.push(html.trim());
      }
    }
  };
  flatten(selection.nodes);
  return joinCapped(parts, options.maxChars);
}

function hasBlockChild(el: ContentElement): boolean {
  return el.children.some((c) => typeof c !== 'string' && BLOCK.has(c.tag));
}
