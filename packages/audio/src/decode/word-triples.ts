/**
 * The word-triple (trigram) part of a word lexicon: counts of a word after a two-word history,
 * in the same compressed rows as the pairs ({@link WordPairCounts}), one row per kept word
 * pair, so that a hypothesis carries the index of its last pair and looks its triples up
 * without strings.
 *
 * @module
 */
import { BadInputError } from '@rwkv-streams/core';
import { type BigramCounts, forEachBigramLine, PairList, WordPairCounts } from './word-pairs.js';

/**
 * Word-triple counts: two-word history (`"u v"`, the words separated by one space; `"<s> v"`
 * for the second word of an utterance) -> next word -> count. A history's total defaults to
 * its pair's count, so only triples whose history is a kept pair can be scored (the file we
 * ship keeps triples seen twice or more, and pairs likewise).
 */
export type TrigramCounts = BigramCounts;

/** The file of word triples beside a lexicon `NAME.tsv`: `NAME.trigrams.tsv.gz`. */
export const TRIGRAM_FILE_SUFFIX = '.trigrams.tsv.gz';

/**
 * Triple counts as rows of `pairs`' kept pairs: row p holds the followers of pair p's two
 * words. `ids` maps words to ids (below `words`; `<s>` is row `words` of the pairs); triples
 * with a word outside the lexicon or a history that is not a kept pair are skipped.
 */
export function buildTripleCounts(
  trigrams: TrigramCounts,
  ids: ReadonlyMap<string, number>,
  words: number,
  pairs: WordPairCounts,
  file?: string,
): WordPairCounts {
  const list = new PairList(pairs.pairs);
  for (const [history, nexts] of trigrams.pairs) {
    const p = pairIndex(history, ids, words, pairs, file);
    if (p < 0) continue;
    list.openRow(p, historyTotal(trigrams.historyTotals.get(history), p, pairs, history, file));
    for (const [word, c] of nexts) {
      const w = ids.get(word);
      if (w === undefined) continue;
      if (!(c > 0) || !Number.isFinite(c))
        throw new BadInputError(`count of '${history} ${word}' must be a positive number, got ${c}`, {
          ...(file ? { file } : {}),
          field: `${history} ${word}`,
        });
      list.push(p, w, c);
    }
  }
  return WordPairCounts.fromList(list);
}

/**
 * The triples of a trigram file (`u v<TAB>word<TAB>count` lines, gzip; a `u v<TAB>*<TAB>total`
 * line gives a history's total) read straight into rows of `pairs`, without maps of strings.
 */
export function readTripleFile(
  path: string,
  ids: ReadonlyMap<string, number>,
  words: number,
  pairs: WordPairCounts,
): WordPairCounts {
  const list = new PairList(pairs.pairs);
  const totals = new Map<number, number>();
  const named = new Map<number, string>();
  forEachBigramLine(path, (history, word, c) => {
    const p = pairIndex(history, ids, words, pairs, path);
    if (p < 0) return;
    named.set(p, history);
    if (word === '*') {
      totals.set(p, c);
      return;
    }
    const w = ids.get(word);
    if (w !== undefined) list.push(p, w, c);
  });
  for (const [p, history] of named) list.openRow(p, historyTotal(totals.get(p), p, pairs, history, path));
  return WordPairCounts.fromList(list);
}

/** The kept pair a two-word history names, or -1 (a word outside the lexicon, a pair not kept). */
function pairIndex(
  history: string,
  ids: ReadonlyMap<string, number>,
  words: number,
  pairs: WordPairCounts,
  file: string | undefined,
): number {
  const space = history.indexOf(' ');
  if (space <= 0 || space === history.length - 1 || history.indexOf(' ', space + 1) >= 0)
    throw new BadInputError(`trigram history '${history}' is not two words separated by one space`, {
      ...(file ? { file } : {}),
      field: history,
    });
  const u = history.slice(0, space);
  const v = ids.get(history.slice(space + 1));
  const row = u === '<s>' ? words : ids.get(u);
  if (row === undefined || v === undefined) return -1;
  return pairs.indexOf(row, v);
}

function historyTotal(
  given: number | undefined,
  p: number,
  pairs: WordPairCounts,
  history: string,
  file: string | undefined,
): number {
  const total = given ?? pairs.countAt(p);
  if (!(total > 0) || !Number.isFinite(total))
    throw new BadInputError(`trigram history '${history}' total must be a positive number, got ${total}`, {
      ...(file ? { file } : {}),
      field: history,
    });
  return total;
}
