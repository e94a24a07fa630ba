import type { ContentFormat, PageFields } from '../result';
import { selectContent } from './main-content';
import { resolveUrl } from './metadata';
import { renderHtml, renderText } from './render';
import { buildTree, type ContentElement } from './tree';

/**
 * The content formats of an HTML page: its main content (or its whole body)
 * as Markdown, text or cleaned HTML. The page is parsed whole into a light
 * tree (./tree.ts), the main content is found on it (./main-content.ts) and
 * written (./render.ts).
 */

export interface ContentOptions {
  formats: readonly ContentFormat[];
  /** The page's URL after redirects: relative URLs resolve against its `<base href>`, else it. */
  pageUrl: string;
  /** The page's title (its metadata): a heading inside the content that repeats it is left out. */
  title: string | null;
  onlyMainContent: boolean;
  maxChars: number;
}

export type ContentFields = Pick<PageFields, ContentFormat | 'contentTruncated'>;

export function extractContent(html: string, options: ContentOptions): ContentFields {
  const root = buildTree(html);
  const selection = selectContent(root, options.onlyMainContent, options.title);
  const render = { base: baseOf(root, options.pageUrl), maxChars: options.maxChars };
  const out: ContentFields = { contentTruncated: false };
  for (const format of options.formats) {
    const rendered = format === 'html' ? renderHtml(selection, render) : renderText(selection, format, render);
    out[format] = rendered.content;
    if (rendered.truncated) out.contentTruncated = true;
  }
  return out;
}

/** The first `<base href>` resolved against the page's URL, else the page's URL. */
function baseOf(root: ContentElement, pageUrl: string): string {
  const find = (el: ContentElement, depth: number): string | null => {
    for (const child of el.children) {
      if (typeof child === 'string') continue;
      if (child.tag === 'base' && child.attrs?.href) return child.attrs.href;
      if (child.tag === 'body' || depth > 2) continue;
      const found = find(child, depth + 1);
      if (found) return found;
    }
    return null;
  };
  return resolveUrl(find(root, 0)?.trim(), pageUrl) ?? pageUrl;
}
