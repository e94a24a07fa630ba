import type { ContentElement, ContentNode } from './tree';

/**
 * Which part of a page is its main content, on the light tree of ./tree.ts.
 *
 * The method is Readability's (Mozilla's reader view), which the published
 * article-extraction benchmarks rank near the top of open-source extractors:
 * paragraphs score their ancestors by length and commas, class and id names
 * vote for or against an element, link-heavy blocks lose, and the best
 * candidate is widened to the siblings that belong with it. Before scoring,
 * chrome is dropped by tag, role, and by class and id names; after it, blocks
 * inside the content that look like furniture (share bars, related links,
 * image galleries without prose) are dropped by their shape, inside out.
 * When an attempt yields too little text, it is retried with fewer of those
 * rules (comments and sidebars stay out), and the longest attempt wins.
 *
 * Beyond Readability: a story cut into same-class chunks around ads is
 * gathered whole (#withKin); a container whose text sits mostly in three or
 * more children of one class is a thread or a listing, and those children
 * are its content (#repeated); headings that repeat the title, bylines,
 * captions, tag lists and pull quotes are left out. On the public
 * article-extraction benchmark this scores F1 0.968 against Readability.js's
 * 0.947 (README "Performance").
 */

/** Never content, main or not: no text a reader sees. */
const NEVER = new Set(
  'head script style noscript template svg math iframe object embed canvas audio video select option datalist input button textarea map area link meta base title dialog'.split(' '),
);

/** Chrome by tag: dropped before scoring when only the main content is wanted. */
const CHROME_TAGS = new Set(['nav', 'aside', 'footer', 'menu']);

/** Chrome by ARIA role. */
const CHROME_ROLES = new Set(['navigation', 'menu', 'menubar', 'complementary', 'alert', 'alertdialog', 'dialog', 'banner', 'contentinfo', 'search']);

/** Class and id words of elements that are rarely content (Readability's list, plus a few). */
const UNLIKELY =
  /-ad-|ai2html|banner|breadcrumbs?|combx|comment|community|cookie|consent|cover-wrap|disqus|extra|footer|gdpr|header|legends|menu|related|remark|replies|rss|shoutbox|sidebar|skyscraper|social|sponsor|supplemental|ad-break|agegate|pagination|pager|popup|yom-remote|newsletter|subscribe|signup|promo|outbrain|taboola|recommend|trending|most-?read|most-?popular|signature|postprofile|user-?info|user-?profile|author-?info|profile-?card/i;
/** The UNLIKELY words that hold even when an attempt is retried without UNLIKELY (a short story is not its comments). */
const ALWAYS_UNLIKELY = /comment|disqus|replies|respond|sidebar|related|cookie|consent|outbrain|taboola/i;
/** Words that keep an element an UNLIKELY word would drop. */
const MAYBE = /and|article|body|column|content|main|mathjax|shadow|story|entry|post-?text/i;

/** Class and id words of an article's furniture inside its content: bylines and datelines, captions and credits, tag lists. */
const BYLINE = /byline|author|dateline|writtenby|p-author|timestamp|posted-?on|entry-meta|post-meta|article-meta|published|pubdate/i;
const CAPTION = /caption|credit/i;
const TAGS = /(^|[\s_-])tags?([\s_-]|$)|tag-?cloud|tags-?list|topics/i;

const POSITIVE = /article|body|content|entry|hentry|h-entry|main|page|pagination|post|text|blog|story|prose|articlebody/i;
const NEGATIVE =
  /-ad-|hidden|^hid$| hid$| hid |^hid |banner|combx|comment|com-|contact|footer|gdpr|masthead|media|meta|outbrain|promo|related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|tags|widget|byline|author-bio|newsletter|subscribe|recommend|social/i;

/** Elements that start a block of their own (the rest are inline and join their neighbours' text). */
export const BLOCK = new Set(
  'address article aside blockquote body center dd details dir div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li main menu nav ol p pre section summary table tbody td tfoot th thead tr ul caption'.split(
    ' ',
  ),
);

const HEADINGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);

/** Elements scored as paragraphs when they hold text. */
const PARAGRAPH_TAGS = new Set(['p', 'pre', 'td', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'li', 'dd']);

/** Children of one kind that make a thread or a listing, and the share of the container's text they must hold. */
const REPEATED_MIN = 3;
const REPEATED_TAGS = new Set(['div', 'article', 'section', 'li']);
const REPEATED_SHARE = 0.6;
/** How far up chunks of the story that share the top candidate's class are looked for. */
const KIN_LEVELS = 5;
/** A paragraph shorter than this (in characters) casts no vote. */
const MIN_PARAGRAPH = 25;
/** An attempt that yields less text than this is retried with fewer rules. */
const MIN_ARTICLE = 500;
/** Ancestors a paragraph's score reaches (parent full, grandparent half, then score / (level × 3)). */
const SCORE_LEVELS = 5;

interface Stats {
  /** Characters of text, whitespace runs counted as one. */
  text: number;
  /** Characters of text inside links. */
  link: number;
  commas: number;
  score: number;
  scored: boolean;
}

interface Rules {
  stripUnlikely: boolean;
  weighClasses: boolean;
  cleanConditionally: boolean;
}

const ATTEMPTS: Rules[] = [
  { stripUnlikely: true, weighClasses: true, cleanConditionally: true },
  { stripUnlikely: false, weighClasses: true, cleanConditionally: true },
  { stripUnlikely: false, weighClasses: false, cleanConditionally: true },
  { stripUnlikely: false, weighClasses: false, cleanConditionally: false },
];

/**
 * The content to write: the nodes to render in order, and the set of
 * elements inside them to leave out. With `onlyMain` false, the whole body
 * less what is never visible.
 */
export interface ContentSelection {
  nodes: ContentNode[];
  skip: ReadonlySet<ContentElement>;
}

/**
 * `title` is the page's title (its metadata): a heading inside the content
 * that repeats it is left out, as the title is a field of its own.
 */
export function selectContent(root: ContentElement, onlyMain: boolean, title: string | null = null): ContentSelection {
  const body = findBody(root);
  const hidden = new Set<ContentElement>();
  markHidden(body, hidden);
  if (!onlyMain) return { nodes: body.children, skip: hidden };
  let best: ContentSelection | null = null;
  let bestLength = -1;
  for (const rules of ATTEMPTS) {
    const attempt = new Attempt(body, hidden, rules, title).run();
    const length = attempt.length;
    if (length > bestLength) {
      best = attempt.selection;
      bestLength = length;
    }
    if (length >= MIN_ARTICLE) break;
  }
  return best!;
}

function findBody(root: ContentElement): ContentElement {
  for (const child of root.children) {
    if (typeof child === 'string') continue;
    if (child.tag === 'body') return child;
    if (child.tag === 'html') {
      const body = child.children.find((c): c is ContentElement => typeof c !== 'string' && c.tag === 'body');
      return body ?? child;
    }
  }
  return root;
}

/** Elements never shown: NEVER tags, `hidden`, `aria-hidden="true"`, `display:none` and `visibility:hidden`. */
function markHidden(node: ContentElement, hidden: Set<ContentElement>): void {
  for (const child of node.children) {
    if (typeof child === 'string') continue;
    if (isHidden(child)) hidden.add(child);
    else markHidden(child, hidden);
  }
}

function isHidden(el: ContentElement): boolean {
  if (NEVER.has(el.tag)) return true;
  const a = el.attrs;
  if (!a) return false;
  if (a.hidden !== undefined) return true;
  if (a['aria-hidden'] === 'true' && el.tag !== 'img' && el.tag !== 'figure') return true;
  const style = a.style;
  return style !== undefined && /display\s*:\s*none|visibility\s*:\s*hidden/i.test(style);
}

const matchString = (el: ContentElement) => `${el.attrs?.class ?? ''} ${el.attrs?.id ?? ''}`;

function classWeight(el: ContentElement): number {
  let weight = 0;
  for (const name of [el.attrs?.class, el.attrs?.id]) {
    if (!name) continue;
    if (NEGATIVE.test(name)) weight -= 25;
    if (POSITIVE.test(name)) weight += 25;
  }
  if (el.attrs?.itemprop === 'articleBody') weight += 25;
  return weight;
}

function tagWeight(tag: string): number {
  if (HEADINGS.has(tag)) return -5;
  switch (tag) {
    case 'div':
    case 'article':
    case 'main':
      return 5;
    case 'pre':
    case 'td':
    case 'blockquote':
      return 3;
    case 'address':
    case 'ol':
    case 'ul':
    case 'dl':
    case 'dd':
    case 'dt':
    case 'li':
    case 'form':
      return -3;
    case 'th':
      return -5;
    default:
      return 0;
  }
}

const SPACES = /\s+/g;

/** Text length with whitespace runs counted as one character, and its commas. */
function measure(text: string): { length: number; commas: number } {
  const collapsed = text.replace(SPACES, ' ');
  let commas = 0;
  for (let i = collapsed.indexOf(','); i >= 0; i = collapsed.indexOf(',', i + 1)) commas++;
  for (const c of collapsed) if (c === '，' || c === '、' || c === '،') commas++;
  return { length: collapsed.trim() === '' ? 0 : collapsed.length, commas };
}

/** One try at finding the main content under a set of rules. */
class Attempt {
  readonly #stats = new Map<ContentElement, Stats>();
  readonly #skip: Set<ContentElement>;
  /** Characters of text on the page before anything is dropped. */
  #pageText = 0;

  constructor(
    private readonly body: ContentElement,
    hidden: ReadonlySet<ContentElement>,
    private readonly rules: Rules,
    private readonly title: string | null,
  ) {
    this.#skip = new Set(hidden);
  }

  run(): { selection: ContentSelection; length: number } {
    // Measured twice: once so no rule drops most of the page, once with the chrome gone.
    this.#pageText = this.#measure(this.body).text;
    this.#dropChrome(this.body);
    this.#measure(this.body);
    const candidates = this.#score();
    const top = this.#pickTop(candidates);
    const nodes = this.#repeated(top) ?? this.#withKin(top);
    if (this.rules.cleanConditionally) for (const node of nodes) if (typeof node !== 'string') this.#clean(node);
    let length = 0;
    for (const node of nodes) length += typeof node === 'string' ? node.trim().length : this.#visibleText(node);
    return { selection: { nodes, skip: this.#skip }, length };
  }

  #dropChrome(node: ContentElement): void {
    for (const child of node.children) {
      if (typeof child === 'string' || this.#skip.has(child)) continue;
      if (this.#isChrome(child)) this.#skip.add(child);
      else this.#dropChrome(child);
    }
  }

  #isChrome(el: ContentElement): boolean {
    if (CHROME_TAGS.has(el.tag)) return true;
    const role = el.attrs?.role;
    if (role && CHROME_ROLES.has(role)) return true;
    // A page's header is chrome; an article's (a teaser's title, a post's heading) is not.
    if (el.tag === 'header' && !this.#holdsProse(el) && !this.#inside(el, 'article')) return true;
    if (el.tag === 'article' || el.tag === 'main' || el.tag === 'a' || el.tag === 'body') return false;
    const names = matchString(el);
    if (names.length <= 1 || el.attrs?.itemprop === 'articleBody') return false;
    // Comments, sidebars and the like are never the story, whatever attempt this is.
    // (Unless it holds most of the page: "container penci_sidebar" wraps a whole story.)
    if (ALWAYS_UNLIKELY.test(names) && !MAYBE.test(names) && this.#visibleText(el) < this.#pageText / 2) return true;
    return this.rules.stripUnlikely && UNLIKELY.test(names) && !MAYBE.test(names);
  }

  /** A header that holds paragraphs of its own (some sites wrap the whole page in one). */
  #holdsProse(el: ContentElement): boolean {
    let paragraphs = 0;
    const walk = (node: ContentElement): void => {
      for (const child of node.children) {
        if (typeof child === 'string') continue;
        if (child.tag === 'p' && measure(textOfVisible(child, this.#skip)).length > 80) paragraphs++;
        else walk(child);
        if (paragraphs >= 3) return;
      }
    };
    walk(el);
    return paragraphs >= 3;
  }

  /** Fills text, link text and commas for every element not skipped, bottom up. */
  #measure(el: ContentElement): Stats {
    const stats: Stats = { text: 0, link: 0, commas: 0, score: 0, scored: false };
    for (const child of el.children) {
      if (typeof child === 'string') {
        const m = measure(child);
        stats.text += m.length;
        stats.commas += m.commas;
      } else if (!this.#skip.has(child)) {
        const inner = this.#measure(child);
        stats.text += inner.text;
        stats.commas += inner.commas;
        stats.link += child.tag === 'a' ? (child.attrs?.href?.startsWith('#') ? inner.text * 0.3 : inner.text) : inner.link;
      }
    }
    this.#stats.set(el, stats);
    return stats;
  }

  #density(el: ContentElement): number {
    const s = this.#stats.get(el);
    return s && s.text > 0 ? s.link / s.text : 0;
  }

  #visibleText(el: ContentElement): number {
    return this.#stats.get(el)?.text ?? 0;
  }

  /** Scores every paragraph's ancestors; answers the elements that got a score. */
  #score(): ContentElement[] {
    const candidates: ContentElement[] = [];
    /** A paragraph of `text` characters credits `parent` and the ancestors above it. */
    const credit = (parent: ContentElement, text: number, commas: number) => {
      if (text < MIN_PARAGRAPH) return;
      const score = 1 + commas + Math.min(Math.floor(text / 100), 3);
      let ancestor: ContentElement | null = parent;
      for (let level = 0; ancestor && level < SCORE_LEVELS; level++, ancestor = ancestor.parent) {
        if (ancestor === this.body.parent) break;
        const stats = this.#stats.get(ancestor);
        if (!stats) break;
        if (!stats.scored) {
          stats.scored = true;
          stats.score = tagWeight(ancestor.tag) + (this.rules.weighClasses ? classWeight(ancestor) : 0);
          candidates.push(ancestor);
        }
        stats.score += score / (level === 0 ? 1 : level === 1 ? 2 : level * 3);
      }
    };
    const walk = (el: ContentElement): void => {
      let runText = 0;
      let runCommas = 0;
      let hasBlock = false;
      for (const child of el.children) {
        if (typeof child !== 'string' && this.#skip.has(child)) continue;
        if (typeof child !== 'string' && BLOCK.has(child.tag)) {
          hasBlock = true;
          break;
        }
      }
      const isParagraph = PARAGRAPH_TAGS.has(el.tag) || (el.tag === 'div' && !hasBlock);
      if (isParagraph && el.parent) {
        const stats = this.#stats.get(el)!;
        credit(el.parent, stats.text, stats.commas);
        if (!hasBlock) return;
      }
      for (const child of el.children) {
        if (typeof child === 'string') {
          const m = measure(child);
          runText += m.length;
          runCommas += m.commas;
          continue;
        }
        if (this.#skip.has(child)) continue;
        if (!BLOCK.has(child.tag)) {
          const stats = this.#stats.get(child)!;
          runText += stats.text;
          runCommas += stats.commas;
          continue;
        }
        // Inline text between blocks reads as a paragraph of this element.
        if (!isParagraph) credit(el, runText, runCommas);
        runText = 0;
        runCommas = 0;
        walk(child);
      }
      if (!isParagraph) credit(el, runText, runCommas);
    };
    walk(this.body);
    for (const el of candidates) {
      const stats = this.#stats.get(el)!;
      stats.score *= 1 - this.#density(el);
    }
    return candidates;
  }

  #scoreOf(el: ContentElement | null): number | null {
    if (!el) return null;
    const s = this.#stats.get(el);
    return s?.scored ? s.score : null;
  }

  #pickTop(candidates: ContentElement[]): ContentElement {
    if (candidates.length === 0) return this.body;
    const ranked = [...candidates].sort((a, b) => this.#stats.get(b)!.score - this.#stats.get(a)!.score);
    let top = ranked[0]!;
    const topScore = this.#stats.get(top)!.score;
    if (top === this.body || topScore <= 0) return this.body;

    // Several strong candidates under one ancestor: the content is that ancestor (a story split in sections).
    const alternatives = ranked.slice(1, 5).filter((c) => this.#stats.get(c)!.score / topScore >= 0.75);
    if (alternatives.length >= 3) {
      for (let parent = top.parent; parent && parent !== this.body; parent = parent.parent) {
        const holding = alternatives.filter((alt) => contains(parent!, alt)).length;
        if (holding >= 3) {
          top = parent;
          break;
        }
      }
    }

    // Climb while the parent scores better: the candidate is part of a larger whole.
    let lastScore = this.#scoreOf(top) ?? topScore;
    const threshold = lastScore / 3;
    for (let parent = top.parent; parent && parent !== this.body; parent = parent.parent) {
      const parentScore = this.#scoreOf(parent);
      if (parentScore === null) continue;
      if (parentScore < threshold) break;
      if (parentScore > lastScore) {
        top = parent;
        break;
      }
      lastScore = parentScore;
    }

    // An only child is its parent.
    for (let parent = top.parent; parent && parent !== this.body; parent = top.parent) {
      const visible = parent.children.filter((c) => (typeof c === 'string' ? c.trim() !== '' : !this.#skip.has(c)));
      if (visible.length !== 1) break;
      top = parent;
    }
    return top;
  }

  /**
   * A thread or a listing: when most of the top candidate's text sits in
   * REPEATED_MIN or more children of one kind (the same first class name:
   * posts, comments in a thread, teasers), those children are the content and
   * the rest of the container (rules, pagination, "similar topics") is not.
   */
  #repeated(top: ContentElement): ContentElement[] | null {
    // Through wrappers of one child (the top candidate may be one, see #pickTop).
    for (;;) {
      const visible = top.children.filter((c): c is ContentElement => typeof c !== 'string' && !this.#skip.has(c) && this.#visibleText(c) > 0);
      if (visible.length !== 1 || this.#visibleText(visible[0]!) < this.#visibleText(top) * 0.95) break;
      top = visible[0]!;
    }
    // Children that share a class name ("post" of "post-2400 post type-post"), the containers among them.
    const groups = new Map<string, ContentElement[]>();
    for (const child of top.children) {
      if (typeof child === 'string' || this.#skip.has(child) || !REPEATED_TAGS.has(child.tag)) continue;
      for (const name of new Set(child.attrs?.class?.split(/\s+/).filter(Boolean))) {
        const group = groups.get(name);
        if (group) group.push(child);
        else groups.set(name, [child]);
      }
    }
    const total = this.#visibleText(top);
    let best: ContentElement[] | null = null;
    let bestText = total * REPEATED_SHARE;
    for (const group of groups.values()) {
      if (group.length < REPEATED_MIN) continue;
      const text = group.reduce((n, el) => n + this.#visibleText(el), 0);
      if (text >= bestText) {
        best = group;
        bestText = text;
      }
    }
    return best;
  }

  /**
   * The top candidate with its siblings, or, when the story is cut into
   * chunks that share the top candidate's class under a near ancestor (the
   * body split around ads and embeds), every such chunk in page order.
   */
  #withKin(top: ContentElement): ContentNode[] {
    const name = top.attrs?.class?.trim();
    if (!name || top === this.body) return this.#withSiblings(top);
    let ancestor = top;
    for (let i = 0; i < KIN_LEVELS && ancestor.parent && ancestor.parent !== this.body; i++) ancestor = ancestor.parent;
    const depth = depthOf(top);
    const kin: ContentElement[] = [];
    const walk = (el: ContentElement): void => {
      for (const child of el.children) {
        if (typeof child === 'string' || this.#skip.has(child)) continue;
        // The same class at the same depth, holding prose rather than links: another chunk of the story.
        const same = child.attrs?.class?.trim() === name && depthOf(child) === depth;
        if (same && (child === top || (this.#visibleText(child) >= MIN_PARAGRAPH && this.#density(child) < 0.5))) kin.push(child);
        else walk(child);
      }
    };
    walk(ancestor);
    if (kin.length <= 1) return this.#withSiblings(top);
    return kin.flatMap((el) => (el === top ? this.#withSiblings(top) : [el]));
  }

  /** The top candidate and the siblings that belong with it (Readability's sibling rules). */
  #withSiblings(top: ContentElement): ContentNode[] {
    const parent = top.parent;
    if (!parent || top === this.body) return [top];
    const topScore = this.#scoreOf(top) ?? 0;
    const threshold = Math.max(10, topScore * 0.2);
    const kind = firstClass(top);
    const nodes: ContentNode[] = [];
    for (const sibling of parent.children) {
      if (sibling === top) {
        nodes.push(sibling);
        continue;
      }
      if (typeof sibling === 'string' || this.#skip.has(sibling)) continue;
      // A sibling of the same kind (its first class name: "post bg1" and "post bg2") gets a fifth of the top's score.
      const bonus = kind !== '' && firstClass(sibling) === kind ? topScore * 0.2 : 0;
      const score = this.#scoreOf(sibling);
      if (score !== null && score + bonus >= threshold) {
        nodes.push(sibling);
        continue;
      }
      if (sibling.tag === 'p') {
        const length = this.#visibleText(sibling);
        const density = this.#density(sibling);
        const text = textOfVisible(sibling, this.#skip);
        if ((length > 80 && density < 0.25) || (length > 0 && length <= 80 && density === 0 && /\.( |$)/.test(text))) nodes.push(sibling);
      }
    }
    return nodes;
  }

  /**
   * Drops blocks inside the content that look like furniture rather than
   * prose (Readability's conditional cleaning): link lists, image strips,
   * forms, share and related blocks, by their share of links, images and text.
   */
  #clean(el: ContentElement): void {
    // Inside out, as Readability's removals run: a post judged after its buttons and profile are gone.
    for (const child of el.children) {
      if (typeof child === 'string' || this.#skip.has(child)) continue;
      this.#clean(child);
      if (this.#isFurniture(child)) this.#drop(child);
    }
  }

  /** Skips an element and takes its text, links and commas off its ancestors' figures. */
  #drop(el: ContentElement): void {
    this.#skip.add(el);
    const stats = this.#stats.get(el);
    if (!stats) return;
    const link = el.tag === 'a' ? stats.text : stats.link;
    for (let p = el.parent; p; p = p.parent) {
      const up = this.#stats.get(p);
      if (!up) break;
      up.text -= stats.text;
      up.link -= link;
      up.commas -= stats.commas;
    }
  }

  #isFurniture(el: ContentElement): boolean {
    const tag = el.tag;
    const names = matchString(el);
    const stats = this.#stats.get(el);
    if (!stats) return false;
    if (/share|social|sharing/i.test(names) && stats.text < 500) return true;
    if (tag === 'figcaption' || (CAPTION.test(names) && stats.text < 300)) return true;
    if (BYLINE.test(names) && stats.text < 150) return true;
    if (el.attrs?.itemprop === 'author' || (tag === 'time' && stats.text < 80)) return true;
    if (TAGS.test(names) && stats.text < 300) return true;
    // A pull quote repeats a sentence of the story.
    if (/pull-?quote/i.test(names)) return true;
    if (this.title && /^h[1-3]$/.test(tag) && duplicatesTitle(textOfVisible(el, this.#skip), this.title)) return true;
    if ((tag === 'h1' || tag === 'h2' || tag === 'h3') && this.rules.weighClasses && classWeight(el) < 0) return true;
    if (!['form', 'fieldset', 'table', 'ul', 'ol', 'div', 'section', 'figure', 'dl'].includes(tag)) return false;
    // A data table stays, unless it is mostly links (a "similar topics" index).
    if (tag === 'table' && this.#isDataTable(el)) return this.#density(el) > 0.5;
    if (this.#inside(el, 'pre') || this.#inside(el, 'code')) return false;
    const weight = this.rules.weighClasses ? classWeight(el) : 0;
    const score = stats.scored ? stats.score : 0;
    if (weight + score < 0) return true;
    if (stats.commas >= 10) return false;
    const counts = this.#count(el);
    const density = this.#density(el);
    const isList = tag === 'ul' || tag === 'ol';
    const contentLength = stats.text;
    if (counts.img > 1 && counts.p / counts.img < 0.5 && !this.#inside(el, 'figure') && tag !== 'figure') return true;
    if (!isList && counts.li > counts.p + 100) return true;
    if (counts.input > Math.floor(counts.p / 3)) return true;
    if (!isList && contentLength < MIN_PARAGRAPH && (counts.img === 0 || counts.img > 2) && counts.headings === 0 && !this.#inside(el, 'figure')) return true;
    if (!isList && weight < 25 && density > 0.2) return true;
    if (weight >= 25 && density > 0.5) return true;
    if ((counts.embed === 1 && contentLength < 75) || counts.embed > 1) return true;
    return false;
  }

  #isDataTable(table: ContentElement): boolean {
    if (table.attrs?.role === 'presentation') return false;
    let rows = 0;
    let cells = 0;
    let header = false;
    let nested = false;
    const walk = (el: ContentElement, depth: number): void => {
      for (const child of el.children) {
        if (typeof child === 'string') continue;
        if (child.tag === 'table' && depth > 0) nested = true;
        if (child.tag === 'tr') rows++;
        if (child.tag === 'td' || child.tag === 'th') cells++;
        if (child.tag === 'th' || child.tag === 'thead' || child.tag === 'caption') header = true;
        if (child.tag !== 'table') walk(child, depth + 1);
        else nested = true;
      }
    };
    walk(table, 0);
    if (nested) return false;
    if (header) return true;
    return rows >= 2 && cells > rows && cells >= 4;
  }

  #inside(el: ContentElement, tag: string): boolean {
    for (let p = el.parent; p; p = p.parent) if (p.tag === tag) return true;
    return false;
  }

  #count(el: ContentElement): { p: number; img: number; li: number; input: number; embed: number; headings: number } {
    const counts = { p: 0, img: 0, li: 0, input: 0, embed: 0, headings: 0 };
    const walk = (node: ContentElement): void => {
      for (const child of node.children) {
        if (typeof child === 'string' || this.#skip.has(child)) continue;
        switch (child.tag) {
          case 'div':
            // A div of text alone is a paragraph (Readability turns it into one before counting).
            if (!child.children.some((c) => typeof c !== 'string' && BLOCK.has(c.tag)) && (this.#stats.get(child)?.text ?? 0) > 0) counts.p++;
            break;
          case 'p':
          case 'pre':
            counts.p++;
            break;
          case 'img':
            counts.img++;
            break;
          case 'li':
            counts.li++;
            break;
          case 'input':
          case 'select':
          case 'textarea':
            counts.input++;
            break;
          case 'embed':
          case 'object':
          case 'iframe':
            counts.embed++;
            break;
          default:
            if (HEADINGS.has(child.tag)) counts.headings++;
        }
        walk(child);
      }
    };
    walk(el);
    return counts;
  }
}

function contains(ancestor: ContentElement, node: ContentElement): boolean {
  for (let p: ContentElement | null = node; p; p = p.parent) if (p === ancestor) return true;
  return false;
}

/** The text of a subtree less the skipped elements. */
export function textOfVisible(node: ContentNode, skip: ReadonlySet<ContentElement>): string {
  if (typeof node === 'string') return node;
  if (skip.has(node)) return '';
  let out = '';
  for (const child of node.children) out += textOfVisible(child, skip);
  return out;
}

/**
 * True when a heading repeats the page's title: nearly all its words are the
 * title's, and it is at least half the title (a subhead whose few words the
 * title happens to hold is content).
 */
function duplicatesTitle(heading: string, title: string): boolean {
  const h = normalise(heading).split(' ').filter(Boolean);
  const t = normalise(title).split(' ').filter(Boolean);
  if (h.length === 0 || t.length === 0) return false;
  const titleWords = new Set(t);
  const chars = (words: string[]) => words.reduce((n, w) => n + w.length, 0);
  const shared = chars(h.filter((w) => titleWords.has(w)));
  return shared / chars(h) > 0.75 && chars(h) >= chars(t) * 0.5;
}

/** Lower case, words only, a reply's "Re:" dropped. */
function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/^\s*re\s*:\s*/, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** An element's first class name ("post" of "post has-profile bg1"); empty without one. */
function firstClass(el: ContentElement): string {
  return el.attrs?.class?.trim().split(/\s+/)[0] ?? '';
}

function depthOf(el: ContentElement): number {
  let depth = 0;
  for (let p = el.parent; p; p = p.parent) depth++;
  return depth;
}
