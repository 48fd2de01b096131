import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { BadInputError, FileNotFoundError } from '@rwkv-streams/core';
import { CharVocabulary } from './vocabulary.js';

/** Options of a word lexicon used as a language model in beam search. */
export interface WordLexiconOptions {
  /**
   * Weight of the word log-probabilities against the acoustic scores (default 0.3). The
   * defaults were tuned with the shipped model and lexicon on 150-300 utterances of training
   * sentences its training and its lexicon never used (bench/src/speech-heldout.ts --lm), not
   * on the held-out sets.
   */
  readonly scale?: number;
  /**
   * Log-probability of a word outside the lexicon (default -30; the rarest word of the shipped
   * lexicon has about -14.1). With the dictionary in the shipped lexicon few real words are
   * outside it, so a misspelling may cost more: -30 beat -20 on the dev set (9.3% against
   * 10.2% WER, beam 16).
   */
  readonly oovLogProb?: number;
  /**
   * Added for each completed word (default 0.5). Word log-probabilities are all negative, so
   * without it the fused score favours dropping words; the bonus balances that, as word
   * insertion penalties do in speech decoders.
   */
  readonly wordBonus?: number;
  /** Word-pair counts: a completed word is scored given the word before it (default: unigram only). */
  readonly bigrams?: BigramCounts;
  /** Absolute discount of the bigram counts (default 0.75). */
  readonly discount?: number;
}

interface TrieNode {
  readonly next: Map<number, TrieNode>;
  /** log P(word) when a word ends here, else -Infinity. */
  word: number;
  /** The word's index when a word ends here, else -1. */
  id: number;
  /** The best word log-probability in this subtree (the look-ahead). */
  best: number;
}

/** No known previous word (a word outside the lexicon came before): unigram scores. */
const UNKNOWN = -1;
/** The start of the utterance, as a previous word (`<s>` in the bigram file). */
const START = -2;

/**
 * Where a hypothesis stands: a place in the lexicon's trie (or inside a word outside it), and
 * the word before, for the bigram scores. Opaque to the decoders: they only pass it back.
 */
export interface LexiconState {
  readonly node: TrieNode | 'oov';
  readonly prev: number;
}

/**
 * Word-pair counts for the bigram part of a {@link WordLexicon}: history -> next word -> count
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

const SPACE = 1;
const BIGRAM_FILE_SUFFIX = '.bigrams.tsv.gz';

/**
 * A word language model over characters, for shallow fusion in the beam searches:
 * hypotheses walk a trie of the words, the score of a word arrives spread along its letters
 * (each letter adds the change in the best reachable word's log-probability: the look-ahead
 * that lets beam search prune misspellings early), a space completes the word, and a word
 * outside the lexicon costs `oovLogProb` instead (so names and rare words stay possible).
 * With bigram counts, a completed word's score is log P(word | previous word) by interpolated
 * absolute discounting over the unigram (P = max(c(v,w) - D, 0) / c(v) + lambda(v) P(w)),
 * corrected at the space; the look-ahead stays unigram. All scores are multiplied by `scale`.
 * Built from word counts, e.g. the training text's (`words.tsv` beside the shipped speech
 * model: `word<TAB>count` lines, and `words.bigrams.tsv.gz`).
 */
export class WordLexicon {
  /** The start state (the start of an utterance). */
  readonly root: LexiconState;
  /** Words in the lexicon. */
  readonly size: number;
  /** Word pairs in the bigram part (0: unigram only). */
  readonly bigramPairs: number;
  /** The bigram counts it was built with, to build another with other weights (undefined: none). */
  readonly bigrams: BigramCounts | undefined;
  private readonly scale: number;
  private readonly oov: number;
  private readonly bonus: number;
  private readonly trieRoot: TrieNode;
  /** Per previous word (index, or START): next word index -> log P(next | previous). */
  private readonly pairLogProb = new Map<number, Map<number, number>>();
  /** Per previous word: log lambda, the backoff weight of the unigram. */
  private readonly backoffLog = new Map<number, number>();
  /** log P(word) by index. */
  private readonly unigramLog: number[] = [];

  constructor(
    /** The word counts it was built from. */
    readonly counts: ReadonlyMap<string, number>,
    options: WordLexiconOptions = {},
  ) {
    this.scale = options.scale ?? 0.3;
    this.oov = options.oovLogProb ?? -30;
    this.bonus = options.wordBonus ?? 0.5;
    if (!Number.isFinite(this.bonus))
      throw new BadInputError(`wordBonus must be a finite number, got ${this.bonus}`, { field: 'wordBonus' });
    if (!(this.scale >= 0))
      throw new BadInputError(`scale must be >= 0, got ${this.scale}`, { field: 'scale' });
    if (!(this.oov < 0))
      throw new BadInputError(`oovLogProb must be a negative number, got ${this.oov}`, {
        field: 'oovLogProb',
      });
    const vocab = new CharVocabulary();
    let total = 0;
    for (const [w, c] of counts) {
      if (!(c > 0) || !Number.isFinite(c))
        throw new BadInputError(`count of '${w}' must be a positive number, got ${c}`, { field: w });
      total += c;
    }
    if (total === 0) throw new BadInputError('the lexicon has no words', { field: 'counts' });
    const root: TrieNode = { next: new Map(), word: -Infinity, id: -1, best: -Infinity };
    const ids = new Map<string, number>();
    for (const [w, c] of counts) {
      const chars = vocab.encode(w);
      if (chars.length === 0 || chars.includes(SPACE))
        throw new BadInputError(`lexicon entry '${w}' is not one word of the alphabet (a-z, apostrophe)`, {
          field: w,
        });
      let node = root;
      for (const ch of chars) {
        let child = node.next.get(ch);
        if (!child) {
          child = { next: new Map(), word: -Infinity, id: -1, best: -Infinity };
          node.next.set(ch, child);
        }
        node = child;
      }
      node.word = Math.log(c / total);
      node.id = this.unigramLog.length;
      ids.set(w, node.id);
      this.unigramLog.push(node.word);
    }
    const fill = (n: TrieNode): number => {
      let best = n.word;
      for (const c of n.next.values()) best = Math.max(best, fill(c));
      n.best = best;
      return best;
    };
    fill(root);
    this.trieRoot = root;
    this.root = { node: root, prev: START };
    this.size = counts.size;
    this.bigrams = options.bigrams;
    this.bigramPairs = options.bigrams ? this.addBigrams(options.bigrams, ids, options.discount ?? 0.75) : 0;
  }

  /** Fills the bigram tables; returns the number of pairs kept (pairs of unknown words are skipped). */
  private addBigrams(bigrams: BigramCounts, ids: ReadonlyMap<string, number>, discount: number): number {
    if (!(discount > 0 && discount < 1))
      throw new BadInputError(`discount must be between 0 and 1, got ${discount}`, { field: 'discount' });
    let kept = 0;
    for (const [history, nexts] of bigrams.pairs) {
      const v = history === '<s>' ? START : ids.get(history);
      if (v === undefined) continue;
      const total = bigrams.historyTotals.get(history) ?? this.counts.get(history);
      if (total === undefined)
        throw new BadInputError(`bigram history '${history}' has no total count`, { field: history });
      const table = new Map<number, number>();
      let keptMass = 0;
      for (const [word, c] of nexts) {
        const w = ids.get(word);
        if (w === undefined) continue;
        if (!(c > 0) || !Number.isFinite(c))
          throw new BadInputError(`count of '${history} ${word}' must be a positive number, got ${c}`, {
            field: `${history} ${word}`,
          });
        table.set(w, c);
        keptMass += Math.max(c - discount, 0);
      }
      if (keptMass >= total)
        throw new BadInputError(
          `bigram counts after '${history}' add up to more than its total (${total}): not counts of one text`,
          { field: history },
        );
      const lambda = 1 - keptMass / total;
      for (const [w, c] of table) {
        const p = Math.max(c - discount, 0) / total + lambda * Math.exp(this.unigramLog[w]!);
        table.set(w, Math.log(p));
      }
      this.pairLogProb.set(v, table);
      this.backoffLog.set(v, Math.log(lambda));
      kept += table.size;
    }
    return kept;
  }

  /** log P(word | prev): the bigram where there is one, else the unigram (scaled by the backoff weight). */
  private wordLogProb(prev: number, word: number): number {
    const table = this.pairLogProb.get(prev);
    if (!table) return this.unigramLog[word]!;
    return table.get(word) ?? this.backoffLog.get(prev)! + this.unigramLog[word]!;
  }

  /**
   * Reads `word<TAB>count` lines (typed errors name the file and line), and the bigram
   * counts from `<name>.bigrams.tsv.gz` beside it when there (`history<TAB>word<TAB>count`
   * lines, gzip; a `history<TAB>*<TAB>total` line gives a history's total, required for `<s>`),
   * unless `options.bigrams` is `false`.
   */
  static fromFile(
    path: string,
    options: Omit<WordLexiconOptions, 'bigrams'> & { bigrams?: false } = {},
  ): WordLexicon {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      throw new FileNotFoundError(`lexicon file not found: ${path}`, { file: path });
    }
    const counts = new Map<string, number>();
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      const [word, count, extra] = line.split('\t');
      const c = Number(count);
      if (!word || /\s/.test(word) || extra !== undefined || !(c > 0))
        throw new BadInputError(`line ${i + 1}: expected 'word<TAB>count', got '${line.slice(0, 60)}'`, {
          file: path,
          field: `line ${i + 1}`,
        });
      counts.set(word, c);
    });
    const bigramPath = path.replace(/\.tsv$/, '') + BIGRAM_FILE_SUFFIX;
    const { bigrams: useBigrams, ...rest } = options;
    const bigrams = useBigrams !== false && existsSync(bigramPath) ? readBigramFile(bigramPath) : undefined;
    return new WordLexicon(counts, { ...rest, ...(bigrams ? { bigrams } : {}) });
  }

  /** One symbol from `state`: the score to add and the new state. */
  step(state: LexiconState, token: number): { delta: number; state: LexiconState } {
    const s = this.scale;
    const { node, prev } = state;
    if (node === 'oov')
      return token === SPACE
        ? { delta: this.bonus, state: { node: this.trieRoot, prev: UNKNOWN } }
        : { delta: 0, state };
    if (token === SPACE) {
      if (node === this.trieRoot) return { delta: 0, state }; // a space between words again
      const end = node.id >= 0 ? this.wordLogProb(prev, node.id) : this.oov;
      return {
        delta: s * (end - node.best) + this.bonus,
        state: { node: this.trieRoot, prev: node.id >= 0 ? node.id : UNKNOWN },
      };
    }
    const child = node.next.get(token);
    if (child) return { delta: s * (child.best - node.best), state: { node: child, prev } };
    return { delta: s * (this.oov - node.best), state: { node: 'oov', prev } };
  }

  /** Score to add when a hypothesis ends in `state` (its last word completed). */
  finalize(state: LexiconState): number {
    const { node, prev } = state;
    if (node === this.trieRoot) return 0;
    if (node === 'oov') return this.bonus;
    const end = node.id >= 0 ? this.wordLogProb(prev, node.id) : this.oov;
    return this.scale * (end - node.best) + this.bonus;
  }
}

/** Reads a bigram file (`history<TAB>word<TAB>count` lines, gzip); typed errors name file and line. */
export function readBigramFile(path: string): BigramCounts {
  let text: string;
  try {
    text = gunzipSync(readFileSync(path)).toString('utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT')
      throw new FileNotFoundError(`bigram file not found: ${path}`, { file: path });
    throw new BadInputError(`bigram file is not gzip: ${path}`, { file: path });
  }
  const pairs = new Map<string, Map<string, number>>();
  const historyTotals = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const [history, word, count, extra] = line.split('\t');
    const c = Number(count);
    if (!history || !word || extra !== undefined || !(c > 0))
      throw new BadInputError(
        `line ${i + 1}: expected 'history<TAB>word<TAB>count', got '${line.slice(0, 60)}'`,
        {
          file: path,
          field: `line ${i + 1}`,
        },
      );
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
