import type { PageResult } from '../result';

/**
 * Change detection between two checks of one URL. Only content fields are
 * compared, never timings or byte counts, so an unchanged page is never flagged.
 */

/** The fields compared between runs, in the order `changes` lists them. */
export const COMPARED_FIELDS = [
  'status',
  'finalUrl',
  'title',
  'description',
  'lang',
  'canonical',
  'image',
  'siteName',
  'author',
  'published',
  'modified',
  'icon',
  'type',
  'snippet',
  'textHash',
] as const;

export type ComparedField = (typeof COMPARED_FIELDS)[number];

/** What is kept of a good check to compare the next one against. */
export type Content = { [K in ComparedField]: string | number | null };

/**
 * How a URL moved between runs:
 * `new` (first check), `ok` (good then and now), `failing` (good before, failed now),
 * `recovered` (failed before, good now), `still_failing`.
 */
export const URL_STATES = ['new', 'ok', 'failing', 'recovered', 'still_failing'] as const;
export type UrlState = (typeof URL_STATES)[number];

/** What the previous run left for a URL. */
export interface Previous {
  ok: boolean;
  content: Content | null;
}

export interface Verdict {
  changed: boolean;
  changes: ComparedField[];
  state: UrlState;
  /** The content to remember for next time (the previous one when this check failed or was a 304). */
  content: Content | null;
}

/** The compared fields of a result. */
export function contentOf(result: PageResult): Content {
  const content = {} as Content;
  for (const field of COMPARED_FIELDS) content[field] = (result[field as keyof PageResult] as string | number | null | undefined) ?? null;
  return content;
}

/**
 * Compares a check with what the previous run saw. A 304 (notModified) is
 * unchanged by definition; a failure changes the state, never the content.
 */
export function compare(previous: Previous | null, result: PageResult, notModified: boolean): Verdict {
  if (!result.ok) {
    return {
      changed: false,
      changes: [],
      state: previous === null ? 'new' : previous.ok ? 'failing' : 'still_failing',
      content: previous?.content ?? null,
    };
  }
  const state = previous === null ? 'new' : previous.ok ? 'ok' : 'recovered';
  if (notModified) return { changed: false, changes: [], state, content: previous?.content ?? null };
  const content = contentOf(result);
  if (!previous?.content) return { changed: false, changes: [], state, content };
  // A field the previous check did not record (it predates the field) is not a change.
  const changes = COMPARED_FIELDS.filter((field) => field in previous.content! && previous.content![field] !== content[field]);
  return { changed: changes.length > 0, changes, state, content };
}
