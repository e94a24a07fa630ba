import { decodeText } from './text';

/**
 * A small, forgiving XML reader for feeds: elements, attributes, text, CDATA;
 * comments, processing instructions and the doctype are skipped. It builds a
 * tree (feeds are read whole, up to `maxBytes`) and never throws: an end tag
 * that matches nothing open is ignored, one that matches an outer element
 * closes the inner ones, and whatever is still open at the end is closed.
 * Entities are decoded as HTML decodes them (XML's five, numeric ones, and the
 * HTML names sloppy feeds use). Names keep their prefix, in lower case
 * (`dc:creator`).
 *
 * Why not a library: the XML parsers that fit workerd bring 45-64 KB gzipped
 * into the Worker (fast-xml-parser with its entity tables, measured through
 * @rowanmanning/feed-parser and feedsmith), more than half of fanout's whole
 * bundle, for the handful of elements a feed has.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (not its children's), decoded, CDATA included. */
  text: string;
}

/** Deepest nesting kept: a feed is a few levels deep; anything deeper is not a feed's structure. */
const MAX_DEPTH = 64;
/** Most elements kept: bounds the tree whatever the input. */
const MAX_ELEMENTS = 100_000;

const NAME = /[^\s/>]+/y;
const ATTRIBUTE = /\s*([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/y;

/**
 * What a forgiving reader knows about a vocabulary: opening one of `repeated`
 * closes whatever was left open inside the nearest of `containers` (an
 * unclosed `<title>` must not swallow the next `<item>`).
 */
export interface XmlShape {
  repeated: ReadonlySet<string>;
  containers: ReadonlySet<string>;
}

/** Parses `xml` into a tree under a synthetic root named `#document`. */
export function parseXml(xml: string, shape?: XmlShape): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let count = 0;
  let at = 0;
  const top = () => stack[stack.length - 1]!;
  const addText = (text: string, raw: boolean) => {
    if (text) top().text += raw ? text : decodeText(text);
  };

  while (at < xml.length) {
    const lt = xml.indexOf('<', at);
    if (lt === -1) {
      addText(xml.slice(at), false);
      break;
    }
    addText(xml.slice(at, lt), false);
    if (xml.startsWith('<!--', lt)) {
      at = endOf(xml, '-->', lt + 4);
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9);
      addText(xml.slice(lt + 9, end === -1 ? xml.length : end), true);
      at = end === -1 ? xml.length : end + 3;
    } else if (xml[lt + 1] === '?' || xml[lt + 1] === '!') {
      at = endOf(xml, '>', lt + 2);
    } else if (xml[lt + 1] === '/') {
      const close = xml.indexOf('>', lt + 2);
      const name = xml.slice(lt + 2, close === -1 ? xml.length : close).trim().toLowerCase();
      const open = stack.map((element) => element.name).lastIndexOf(name);
      if (open > 0) stack.length = open;
      at = close === -1 ? xml.length : close + 1;
    } else {
      NAME.lastIndex = lt + 1;
      const name = NAME.exec(xml)?.[0];
      if (!name) {
        addText('<', true);
        at = lt + 1;
        continue;
      }
      const element: XmlElement = { name: name.toLowerCase(), attrs: {}, children: [], text: '' };
      let pos = lt + 1 + name.length;
      for (;;) {
        ATTRIBUTE.lastIndex = pos;
        const match = ATTRIBUTE.exec(xml);
        if (!match || match[0].length === 0) break;
        element.attrs[match[1]!.toLowerCase()] = decodeText(match[2] ?? match[3] ?? match[4] ?? '');
        pos += match[0].length;
      }
      const close = xml.indexOf('>', pos);
      const selfClosing = close !== -1 && xml[close - 1] === '/';
      at = close === -1 ? xml.length : close + 1;
      if (count++ >= MAX_ELEMENTS) continue;
      if (shape?.repeated.has(element.name)) {
        while (stack.length > 1 && !shape.containers.has(top().name)) stack.pop();
      }
      if (stack.length <= MAX_DEPTH) top().children.push(element);
      if (!selfClosing && stack.length <= MAX_DEPTH) stack.push(element);
    }
  }
  return root;
}

function endOf(xml: string, marker: string, from: number): number {
  const end = xml.indexOf(marker, from);
  return end === -1 ? xml.length : end + marker.length;
}

/** The first child named one of `names` (prefixes included, lower case). */
export function child(element: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  return element?.children.find((c) => names.includes(c.name));
}

/** Every child named one of `names`. */
export function children(element: XmlElement | undefined, ...names: string[]): XmlElement[] {
  return element ? element.children.filter((c) => names.includes(c.name)) : [];
}

/** All text of an element and its descendants, in order (for HTML inside a description, say). */
export function textOf(element: XmlElement | undefined): string {
  if (!element) return '';
  return element.text + element.children.map(textOf).join(' ');
}
