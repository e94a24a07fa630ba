/**
 * Types of ./f1.mjs, for TypeScript callers (test/content.test.ts): the
 * project type-checks with allowJs off, so the .mjs itself is not read.
 */

/** Word tokens as Python's `\w+` with re.UNICODE finds them. */
export function tokens(text: string | null | undefined): string[];

/** One page: true positives, false positives and false negatives of word 4-grams, normalised to sum to 1. */
export function shingleMatch(truth: string, pred: string, n?: number): { tp: number; fp: number; fn: number };

/** Corpus scores: precision and recall averaged over pages, F1 their harmonic mean. */
export function corpusF1(pairs: { truth: string; pred: string }[]): { f1: number; precision: number; recall: number; pages: number };

/** One page's F1. */
export function pageF1(truth: string, pred: string): number;
