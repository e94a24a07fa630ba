/**
 * Main-content quality the way the published article-extraction benchmarks
 * score it (scrapinghub/article-extraction-benchmark, evaluate.py): the
 * extracted text and the hand-labelled article body are cut into word 4-grams
 * ("shingles", words being runs of \w), matched as multisets, and each page's
 * true positives, false positives and false negatives are normalised to sum to
 * 1 so long pages weigh no more than short ones. Precision and recall are
 * averaged over pages; F1 is their harmonic mean.
 */

const WORD = /[\p{L}\p{N}_]+/gu;

/** Word tokens as Python's `\w+` with re.UNICODE finds them. */
export function tokens(text) {
  return (text ?? '').match(WORD) ?? [];
}

function shingles(text, n) {
  const words = tokens(text);
  const counts = new Map();
  const last = Math.max(1, words.length - n + 1);
  for (let i = 0; i < last; i++) {
    const gram = words.slice(i, i + n);
    if (gram.length === 0) continue;
    const key = gram.join('\u0001');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** One page: `{ tp, fp, fn }`, normalised to sum to 1 (all 0 when both texts are empty). */
export function shingleMatch(truth, pred, n = 4) {
  const t = shingles(truth, n);
  const p = shingles(pred, n);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const key of new Set([...t.keys(), ...p.keys()])) {
    const a = t.get(key) ?? 0;
    const b = p.get(key) ?? 0;
    tp += Math.min(a, b);
    fp += Math.max(0, b - a);
    fn += Math.max(0, a - b);
  }
  const sum = tp + fp + fn;
  return sum > 0 ? { tp: tp / sum, fp: fp / sum, fn: fn / sum } : { tp, fp, fn };
}

function precision({ tp, fp, fn }) {
  if (fp === 0 && fn === 0) return 1;
  if (tp === 0 && fp === 0) return 0;
  return tp / (tp + fp);
}

function recall({ tp, fp, fn }) {
  if (fp === 0 && fn === 0) return 1;
  if (tp === 0 && fn === 0) return 0;
  return tp / (tp + fn);
}

const mean = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Corpus scores over `{ truth, pred }` pairs: `{ f1, precision, recall, pages }`. */
export function corpusF1(pairs) {
  const matches = pairs.map(({ truth, pred }) => shingleMatch(truth, pred));
  const p = mean(matches.filter((m) => m.tp + m.fp > 0).map(precision));
  const r = mean(matches.filter((m) => m.tp + m.fn > 0).map(recall));
  return { f1: p + r > 0 ? (2 * p * r) / (p + r) : 0, precision: p, recall: r, pages: pairs.length };
}

/** One page's F1 (for per-page reports and tests). */
export function pageF1(truth, pred) {
  return corpusF1([{ truth, pred }]).f1;
}
