/**
 * The word-pair (bigram) part of a word lexicon, in typed arrays: per history word, its
 * followers' ids sorted with their counts (compressed rows), and the log-probabilities that
 * interpolated absolute discounting gives them for one discount.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { BadInputError, FileNotFoundError } from '@rwkv-streams/core';
import type { CountRows } from './lexicon-binary.js';
import { forEachTsvLine } from './tsv-lines.js';

/**
 * Word-pair counts for the bigram part of a word lexicon: history -> next word -> count
 * (`<s>` is the start of an utterance). Pairs seen once may be left out (the file we ship
 * keeps counts of 2 and more); their probability comes from the unigram through the backoff.
 */
export interface BigramCounts {
  readonly pairs: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /**
   * How often each history was followed by any word, pairs left out included (default: the
   * word's unigram count; `<s>` must be given: the number of sentences).
   */
  readonly historyTotals: ReadonlyMap<string, number>;
}

/** The history `<s>` (the start of an utterance) in the pair rows: the row after the words'. */
const startRow = (words: number): number => words;

/** Pair counts by word id, for one set of word ids. */
export class WordPairCounts {
  /** Pairs kept (those whose two words are both in the lexicon). */
  readonly pairs: number;

  /**
   * Row r's followers are `next[rowStart[r] .. rowStart[r + 1])`, ascending; rows: the words'
   * ids, then `<s>`; `total[r]` is the history's total count (NaN: the history has no row).
   */
  private constructor(
    private readonly rowStart: Int32Array,
    private readonly next: Int32Array,
    private readonly count: Float64Array,
    private readonly total: Float64Array,
  ) {
    this.pairs = next.length;
  }

  /**
   * The counts of `bigrams` whose words have ids (below `words`) in `ids` (pairs with an
   * unknown word are skipped); a history's total defaults to its unigram count
   * (`unigramCounts[id]`).
   */
  static build(
    bigrams: BigramCounts,
    ids: ReadonlyMap<string, number>,
    words: number,
    unigramCounts: ArrayLike<number>,
  ): WordPairCounts {
    const pairs = new PairList(words + 1);
    for (const [history, nexts] of bigrams.pairs) {
      const v = history === '<s>' ? startRow(words) : ids.get(history);
      if (v === undefined) continue;
      const total = bigrams.historyTotals.get(history) ?? (v < words ? unigramCounts[v] : undefined);
      if (total === undefined)
        throw new BadInputError(`bigram history '${history}' has no total count`, { field: history });
      pairs.openRow(v, total);
      for (const [word, c] of nexts) {
        const w = ids.get(word);
        if (w === undefined) continue;
        if (!(c > 0) || !Number.isFinite(c))
          throw new BadInputError(`count of '${history} ${word}' must be a positive number, got ${c}`, {
            field: `${history} ${word}`,
          });
        pairs.push(v, w, c);
      }
    }
    return WordPairCounts.fromList(pairs);
  }

  /**
   * The counts of a bigram file (`history<TAB>word<TAB>count` lines, gzip; see
   * {@link readBigramFile}) read straight into rows of word ids, without maps of strings.
   */
  static readFile(
    path: string,
    ids: ReadonlyMap<string, number>,
    words: number,
    unigramCounts: ArrayLike<number>,
  ): WordPairCounts {
    const pairs = new PairList(words + 1);
    const named = new Map<string, number>();
    const rowName = new Map<number, string>();
    forEachBigramLine(path, (history, word, c) => {
      if (word === '*') {
        named.set(history, c);
        return;
      }
      const v = history === '<s>' ? startRow(words) : ids.get(history);
      if (v === undefined) return;
      rowName.set(v, history);
      const w = ids.get(word);
      if (w !== undefined) pairs.push(v, w, c);
    });
    for (const [v, history] of rowName) {
      const total = named.get(history) ?? (v < words ? unigramCounts[v] : undefined);
      if (total === undefined)
        throw new BadInputError(`bigram history '${history}' has no total count`, {
          file: path,
          field: history,
        });
      pairs.openRow(v, total);
    }
    return WordPairCounts.fromList(pairs);
  }

  /** Counts already in rows (the binary lexicon's; {@link rows} gives them). */
  static fromRows(rows: CountRows): WordPairCounts {
    return new WordPairCounts(rows.rowStart, rows.next, rows.count, rows.total);
  }

  /** The rows as held (shared, not copied): for the binary lexicon. */
  rows(): CountRows {
    return { rowStart: this.rowStart, next: this.next, count: this.count, total: this.total };
  }

  /**
   * Index of the pair (history row, word) among the kept pairs (the row of its triples in a
   * trigram table), or -1 where it was not kept.
   */
  indexOf(row: number, word: number): number {
    return findInRow(this.rowStart, this.next, row, word);
  }

  /** The history row of kept pair `index` (the last row starting at or before it). */
  rowAt(index: number): number {
    let lo = 0;
    let hi = this.rowStart.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.rowStart[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The follower word of kept pair `index`. */
  followerAt(index: number): number {
    return this.next[index]!;
  }

  /** The count of kept pair `index` (the default total of the triples it is the history of). */
  countAt(index: number): number {
    return this.count[index]!;
  }

  /** Rows sorted by follower; a pair given twice keeps its later count, as a map would. */
  static fromList(list: PairList): WordPairCounts {
    const rows = list.total.length;
    const n = list.length;
    const rowStart = new Int32Array(rows + 1);
    for (let i = 0; i < n; i++) rowStart[list.row[i]! + 1]!++;
    for (let r = 0; r < rows; r++) rowStart[r + 1] = rowStart[r + 1]! + rowStart[r]!;
    // counting sort by row (stable: within a row, in the order given)
    const order = new Int32Array(n);
    const fill = rowStart.slice(0, rows);
    for (let i = 0; i < n; i++) order[fill[list.row[i]!]!++] = i;
    const keptStart = new Int32Array(rows + 1);
    const next = new Int32Array(n);
    const count = new Float64Array(n);
    let kept = 0;
    for (let r = 0; r < rows; r++) {
      keptStart[r] = kept;
      const row = order.subarray(rowStart[r]!, rowStart[r + 1]!);
      let sorted = true;
      for (let i = 1; i < row.length && sorted; i++) sorted = list.next[row[i - 1]!]! < list.next[row[i]!]!;
      if (!sorted) row.sort((a, b) => list.next[a]! - list.next[b]! || a - b);
      for (let i = 0; i < row.length; i++) {
        const at = row[i]!;
        if (i + 1 < row.length && list.next[row[i + 1]!] === list.next[at]) continue; // a later one follows
        next[kept] = list.next[at]!;
        count[kept] = list.count[at]!;
        kept++;
      }
    }
    keptStart[rows] = kept;
    return new WordPairCounts(keptStart, next.slice(0, kept), count.slice(0, kept), list.total);
  }

  /**
   * log P(w | v) for the kept pairs and log lambda(v) for every history, by interpolated
   * absolute discounting over the order below: P = max(c(v,w) - D, 0) / c(v) + lambda(v) P(w),
   * where log P(w) is `lowerLog[w]` (the unigram, for word pairs) or `lowerLog(row, w)` (for
   * word triples: the pair model's log P(w | the history's last word)). `historyName(row)`
   * names a history in errors (and `file` the file the counts came from). Every history's counts are checked and its lambda computed
   * here; a row's pair scores are computed the first time the row is looked up (a decoder
   * reaches few of the 600,000 rows of the shipped lexicon: computing them all took about a
   * third of its loading time).
   */
  logProbs(
    discount: number,
    lowerLog: Float64Array | ((row: number, word: number) => number),
    historyName: (row: number) => string,
    file?: string,
  ): WordPairScores {
    const lower = typeof lowerLog === 'function' ? lowerLog : (_row: number, w: number) => lowerLog[w]!;
    if (!(discount > 0 && discount < 1))
      throw new BadInputError(`discount must be between 0 and 1, got ${discount}`, { field: 'discount' });
    const backoffLog = new Float64Array(this.total.length).fill(Number.NaN);
    for (let r = 0; r < this.total.length; r++) {
      const total = this.total[r]!;
      if (Number.isNaN(total)) continue;
      let keptMass = 0;
      for (let i = this.rowStart[r]!; i < this.rowStart[r + 1]!; i++)
        keptMass += Math.max(this.count[i]! - discount, 0);
      if (keptMass >= total) {
        const name = historyName(r);
        throw new BadInputError(
          `word counts after '${name}' add up to more than its total (${total}): not counts of one text`,
          { ...(file !== undefined ? { file } : {}), field: name },
        );
      }
      backoffLog[r] = Math.log(1 - keptMass / total);
    }
    const { rowStart, next, count, total } = this;
    const fillRow = (r: number, pairLog: Float64Array): void => {
      // lambda again from the counts (not exp of its log): the same bits as computed above
      let keptMass = 0;
      for (let i = rowStart[r]!; i < rowStart[r + 1]!; i++) keptMass += Math.max(count[i]! - discount, 0);
      const lambda = 1 - keptMass / total[r]!;
      for (let i = rowStart[r]!; i < rowStart[r + 1]!; i++)
        pairLog[i] = Math.log(
          Math.max(count[i]! - discount, 0) / total[r]! + lambda * Math.exp(lower(r, next[i]!)),
        );
    };
    return new WordPairScores(rowStart, next, backoffLog, fillRow);
  }
}

/**
 * The pair log-probabilities for one discount; shares the rows of its {@link WordPairCounts}.
 * A row's scores are computed on its first lookup (`fillRow`), then kept.
 */
export class WordPairScores {
  private readonly pairLog: Float64Array;
  private readonly filled: Uint8Array;

  constructor(
    private readonly rowStart: Int32Array,
    private readonly next: Int32Array,
    private readonly backoffLog: Float64Array,
    private readonly fillRow: (row: number, pairLog: Float64Array) => void,
  ) {
    this.pairLog = new Float64Array(next.length);
    this.filled = new Uint8Array(backoffLog.length);
  }

  /** The row of a history: a word id, or -2 for the start of an utterance (`words` ids in all). */
  static row(prev: number, words: number): number {
    return prev === -2 ? startRow(words) : prev;
  }

  /**
   * log P(word | history row): the pair's where it was seen, the backoff weight plus the
   * unigram where not, undefined where the history has no pairs (the unigram applies).
   */
  logProb(row: number, word: number, lowerLog: number): number | undefined {
    const backoff = this.backoffLog[row]!;
    if (Number.isNaN(backoff)) return undefined;
    const at = findInRow(this.rowStart, this.next, row, word);
    if (at < 0) return backoff + lowerLog;
    if (this.filled[row] === 0) {
      this.fillRow(row, this.pairLog);
      this.filled[row] = 1;
    }
    return this.pairLog[at]!;
  }

  /** Index of the pair (history row, word) among the kept pairs, or -1. */
  indexOf(row: number, word: number): number {
    return findInRow(this.rowStart, this.next, row, word);
  }
}

/** Binary search of `word` among row `row`'s ascending followers: its index, or -1. */
function findInRow(rowStart: Int32Array, next: Int32Array, row: number, word: number): number {
  if (row < 0 || row + 1 >= rowStart.length) return -1;
  let lo = rowStart[row]!;
  let hi = rowStart[row + 1]! - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const w = next[mid]!;
    if (w === word) return mid;
    if (w < word) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Pairs (history row, follower, count) as they are read, and each history row's total. */
export class PairList {
  length = 0;
  row = new Int32Array(1024);
  next = new Int32Array(1024);
  count = new Float64Array(1024);
  /** Per row (for pairs: the words', then `<s>`): the history's total count, NaN without a row. */
  readonly total: Float64Array;

  /** A list over `rows` history rows (word pairs: the words and `<s>`; word triples: the kept pairs). */
  constructor(rows: number) {
    this.total = new Float64Array(rows).fill(Number.NaN);
  }

  /** Gives row `v` (with or without pairs) its history total. */
  openRow(v: number, total: number): void {
    this.total[v] = total;
  }

  push(v: number, w: number, c: number): void {
    if (this.length === this.row.length) {
      const grow = <T extends Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer>>(
        a: T,
        make: (n: number) => T,
      ): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.row = grow(this.row, (n) => new Int32Array(n));
      this.next = grow(this.next, (n) => new Int32Array(n));
      this.count = grow(this.count, (n) => new Float64Array(n));
    }
    this.row[this.length] = v;
    this.next[this.length] = w;
    this.count[this.length] = c;
    this.length++;
  }
}

/**
 * Calls `line` for each `history<TAB>word<TAB>count` line of a gzip bigram file (`word` is
 * `*` on a history's total line); typed errors name the file and line.
 */
export function forEachBigramLine(
  path: string,
  line: (history: string, word: string, count: number) => void,
): void {
  let text: string;
  try {
    text = gunzipSync(readFileSync(path)).toString('utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT')
      throw new FileNotFoundError(`bigram file not found: ${path}`, { file: path });
    throw new BadInputError(`bigram file is not gzip: ${path}`, { file: path });
  }
  forEachTsvLine(text, 3, (columns, lineNo, raw) => {
    const [history, word, count] = columns ?? [];
    const c = Number(count);
    if (!history || !word || !(c > 0))
      throw new BadInputError(
        `line ${lineNo}: expected 'history<TAB>word<TAB>count', got '${raw().slice(0, 60)}'`,
        { file: path, field: `line ${lineNo}` },
      );
    line(history, word, c);
  });
}

/** Reads a bigram file (`history<TAB>word<TAB>count` lines, gzip); typed errors name file and line. */
export function readBigramFile(path: string): BigramCounts {
  const pairs = new Map<string, Map<string, number>>();
  const historyTotals = new Map<string, number>();
  forEachBigramLine(path, (history, word, c) => {
    if (word === '*') {
      historyTotals.set(history, c);
      return;
    }
    let m = pairs.get(history);
    if (!m) {
      m = new Map();
      pairs.set(history, m);
    }
    m.set(word, c);
  });
  return { pairs, historyTotals };
}
