/** Word edits between a reference and a hypothesis, for word error rates. */
export interface WordErrorCount {
  /** Substitutions + deletions + insertions (Levenshtein distance over words). */
  readonly edits: number;
  /** Words in the reference. */
  readonly words: number;
}

/**
 * The word-level Levenshtein distance between `reference` and `hypothesis` (split on
 * whitespace); word error rate = sum of edits / sum of reference words over a set.
 */
export function wordErrors(reference: string, hypothesis: string): WordErrorCount {
  const r = reference.split(/\s+/).filter((w) => w.length > 0);
  const h = hypothesis.split(/\s+/).filter((w) => w.length > 0);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++)
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return { edits: prev[h.length]!, words: r.length };
}
