import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BadInputError, FileNotFoundError } from '@rwkv-streams/core';
import { decodeLexiconRows, encodeLexiconRows, looksLikeBinaryLexicon } from './lexicon-binary.js';
import { forEachTsvLine } from './tsv-lines.js';
import { CharVocabulary } from './vocabulary.js';
import { type BigramCounts, WordPairCounts, WordPairScores } from './word-pairs.js';
import { NO_NODE, type WordTrie, WordTrieBuilder } from './word-trie.js';
import {
  buildTripleCounts,
  readTripleFile,
  TRIGRAM_FILE_SUFFIX,
  type TrigramCounts,
} from './word-triples.js';

export { type BigramCounts, readBigramFile } from './word-pairs.js';
export type { TrigramCounts } from './word-triples.js';

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
   * Added for each completed word (default -0.5: a penalty). Word log-probabilities are all
   * negative, so the fused score favours fewer words; a bonus would offset that, a penalty
   * adds to it, as word insertion penalties do in speech decoders. Which one pays depends on
   * the acoustic model: 0.5 did for the shipped weights until 2026-12-05 evening (bonus 0.5-1
   * within 0.3 points on the dev set); the weights shipped since insert short words, and on
   * both dev sets the default decoding went 9.1 -> 8.0% (dev set 1) and 8.4 -> 7.5% (dev set
   * 2) with -0.5 (0 and -1.0 in between or worse; bench/speech/devset-2026-12-05-word-bonus.txt).
   */
  readonly wordBonus?: number;
  /** Word-pair counts: a completed word is scored given the word before it (default: unigram only). */
  readonly bigrams?: BigramCounts;
  /**
   * Word-triple counts (histories of two words, `"u v"`): a completed word is scored given the
   * two words before it where its history is a kept pair, backing off to the pairs. Needs
   * `bigrams`.
   */
  readonly trigrams?: TrigramCounts;
  /** Absolute discount of the pair and triple counts (default 0.75). */
  readonly discount?: number;
}

/** No known previous word (a word outside the lexicon came before): unigram scores. */
const UNKNOWN = -1;
/** The start of the utterance, as a previous word (`<s>` in the bigram file). */
const START = -2;
/** The trie position of a hypothesis inside a word outside the lexicon. */
const OOV = -1;
/** The trie's root node. */
const ROOT = 0;

/**
 * Where a hypothesis stands: a node of the lexicon's trie (or -1: inside a word outside it),
 * the word before, for the bigram scores, and the index of the last two words' pair (-1:
 * none kept), for the trigram scores. Opaque to the decoders: they only pass it back.
 */
export interface LexiconState {
  readonly node: number;
  readonly prev: number;
  readonly pair: number;
}

const vocab = new CharVocabulary();
const SPACE = vocab.space;
const APOSTROPHE = vocab.symbols.indexOf("'");
const FIRST_LETTER = vocab.symbols.indexOf('a');
const BIGRAM_FILE_SUFFIX = '.bigrams.tsv.gz';

/** What lexicons built from the same counts share: the trie, unigram and pair counts. */
interface LexiconTables {
  /** The file the tables were read from (named in errors found later). */
  readonly source?: string;
  readonly trie: WordTrie;
  /** The words' counts as read (kept for the binary form). */
  readonly counts: Float64Array;
  readonly unigramLog: Float64Array;
  /** Per trie node: the best word log-probability in its subtree (the look-ahead). */
  readonly best: Float64Array;
  readonly pairs: WordPairCounts | undefined;
  /** Triple counts in rows of the kept pairs (needs `pairs`). */
  readonly triples: WordPairCounts | undefined;
  readonly words: readonly string[];
}

/**
 * A word language model over characters, for shallow fusion in the beam searches:
 * hypotheses walk a trie of the words, the score of a word arrives spread along its letters
 * (each letter adds the change in the best reachable word's log-probability: the look-ahead
 * that lets beam search prune misspellings early), a space completes the word, and a word
 * outside the lexicon costs `oovLogProb` instead (so names and rare words stay possible).
 * With bigram counts, a completed word's score is log P(word | previous word) by interpolated
 * absolute discounting over the unigram (P = max(c(v,w) - D, 0) / c(v) + lambda(v) P(w)),
 * corrected at the space; the look-ahead stays unigram. With triple counts too, a word after
 * a kept pair is scored given both words, the same way over the pair's score. All scores are
 * multiplied by `scale`. Built from word counts, e.g. the training text's (`words.tsv` beside
 * the shipped speech model: `word<TAB>count` lines, `words.bigrams.tsv.gz` and
 * `words.trigrams.tsv.gz`; the same in the binary `words.lex`, {@link toBinary}). Held in typed arrays: the
 * shipped lexicon (every pair and triple of the training text) keeps 49 MiB
 * (`bench/src/lexicon-load.ts`).
 */
export class WordLexicon {
  /** The start state (the start of an utterance). */
  readonly root: LexiconState = { node: ROOT, prev: START, pair: -1 };
  /** Words in the lexicon. */
  readonly size: number;
  /** Word pairs in the bigram part (0: unigram only). */
  readonly bigramPairs: number;
  /** Word triples in the trigram part (0: none). */
  readonly trigramTriples: number;
  private readonly tables: LexiconTables;
  /** Tables `fromFile` read, for the constructor it calls next (set and taken synchronously). */
  static #readTables: LexiconTables | undefined;
  private readonly scale: number;
  private readonly oov: number;
  private readonly bonus: number;
  private readonly pairScores: WordPairScores | undefined;
  private readonly tripleScores: WordPairScores | undefined;
  /** The state after a word outside the lexicon (or a prefix that is no word) ends: made once, not per step. */
  private readonly unknownRoot: LexiconState = { node: ROOT, prev: UNKNOWN, pair: -1 };

  /**
   * A lexicon of `counts` (word -> count; words of a-z and apostrophe), with word pairs when
   * `options.bigrams` is given; or, given another lexicon, its words and pairs (shared, not
   * copied) with the weights of `options`.
   */
  constructor(counts: ReadonlyMap<string, number> | WordLexicon, options: WordLexiconOptions = {}) {
    const read = WordLexicon.#readTables;
    WordLexicon.#readTables = undefined;
    if (read) {
      this.tables = read;
      this.size = read.words.length;
    } else if (counts instanceof WordLexicon) {
      if (options.bigrams || options.trigrams)
        throw new BadInputError(
          'bigrams and trigrams cannot be given with a lexicon to share: it brings its own',
          {
            field: options.bigrams ? 'bigrams' : 'trigrams',
          },
        );
      this.tables = counts.tables;
      this.size = counts.size;
    } else {
      const words = [...counts.keys()];
      const values = [...counts.values()];
      const ids = new Map(words.map((w, i) => [w, i]));
      if (options.trigrams && !options.bigrams)
        throw new BadInputError('trigrams need bigrams: a triple is scored over its pair', {
          field: 'trigrams',
        });
      this.tables = buildTables(
        words,
        values,
        (n) => (options.bigrams ? WordPairCounts.build(options.bigrams, ids, n, values) : undefined),
        (n, pairs) => (options.trigrams ? buildTripleCounts(options.trigrams, ids, n, pairs) : undefined),
      );
      this.size = counts.size;
    }
    this.scale = options.scale ?? 0.3;
    this.oov = options.oovLogProb ?? -30;
    this.bonus = options.wordBonus ?? -0.5;
    checkWeights(this.scale, this.oov, this.bonus);
    const t = this.tables;
    const discount = options.discount ?? 0.75;
    const wordName = (r: number) => (r === t.words.length ? '<s>' : t.words[r]!);
    this.pairScores = t.pairs?.logProbs(discount, t.unigramLog, wordName, t.source);
    const pairs = t.pairs;
    // a triple row p is pair p = (u, v): below it, the pair model's log P(w | v)
    this.tripleScores = pairs
      ? t.triples?.logProbs(
          discount,
          (p, w) => this.pairLogProb(pairs.followerAt(p), w),
          (p) => `${wordName(pairs.rowAt(p))} ${t.words[pairs.followerAt(p)]}`,
          t.source,
        )
      : undefined;
    this.bigramPairs = t.pairs?.pairs ?? 0;
    this.trigramTriples = this.tripleScores ? t.triples!.pairs : 0;
  }

  /**
   * The same words and pairs with other weights (scale, oovLogProb, wordBonus, discount: each
   * left out takes its default, as in the constructor); the trie and counts are shared.
   */
  withOptions(options: Omit<WordLexiconOptions, 'bigrams'>): WordLexicon {
    return new WordLexicon(this, options);
  }

  /** log P(word | prev): the bigram where there is one, else the unigram (scaled by the backoff weight). */
  private pairLogProb(prev: number, word: number): number {
    const uni = this.tables.unigramLog[word]!;
    if (!this.pairScores || prev === UNKNOWN) return uni;
    return this.pairScores.logProb(WordPairScores.row(prev, this.tables.words.length), word, uni) ?? uni;
  }

  /** log P(word | the state's last two words): the trigram where its pair has triples, else the bigram. */
  private wordLogProb(state: LexiconState, word: number): number {
    const bi = this.pairLogProb(state.prev, word);
    if (!this.tripleScores || state.pair < 0) return bi;
    return this.tripleScores.logProb(state.pair, word, bi) ?? bi;
  }

  /** The state after word `id` completes in `state`: its pair with the word before, for the triples. */
  private afterWord(state: LexiconState, id: number): LexiconState {
    const pair =
      this.tripleScores && state.prev !== UNKNOWN
        ? this.pairScores!.indexOf(WordPairScores.row(state.prev, this.tables.words.length), id)
        : -1;
    return { node: ROOT, prev: id, pair };
  }

  /**
   * Reads `word<TAB>count` lines (typed errors name the file and line), and the bigram
   * counts from `<name>.bigrams.tsv.gz` beside it when there (`history<TAB>word<TAB>count`
   * lines, gzip; a `history<TAB>*<TAB>total` line gives a history's total, required for `<s>`),
   * unless `options.bigrams` is `false`, and the triple counts from `<name>.trigrams.tsv.gz`
   * when there too (`u v<TAB>word<TAB>count` lines), unless `options.trigrams` is `false`.
   */
  static fromFile(
    path: string,
    options: Omit<WordLexiconOptions, 'bigrams' | 'trigrams'> & { bigrams?: false; trigrams?: false } = {},
  ): WordLexicon {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      throw new FileNotFoundError(`lexicon file not found: ${path}`, { file: path });
    }
    const { bigrams: useBigrams, trigrams: useTrigrams, ...rest } = options;
    const tables = looksLikeBinaryLexicon(bytes)
      ? readBinaryTables(bytes, path, useBigrams !== false, useBigrams !== false && useTrigrams !== false)
      : readTextTables(bytes.toString('utf8'), path, useBigrams !== false, useTrigrams !== false);
    // the constructor takes the tables read here instead of building them from a map
    WordLexicon.#readTables = tables;
    try {
      return new WordLexicon(new Map(), rest);
    } finally {
      WordLexicon.#readTables = undefined;
    }
  }

  /**
   * The binary form of this lexicon's words and counts (gzip; see `lexicon-binary.ts`):
   * {@link fromFile} reads it back to the same lexicon, several times faster than the text
   * files (the weights of `options` are not stored: they are given when reading).
   */
  toBinary(): Uint8Array {
    const t = this.tables;
    return gzipSync(
      encodeLexiconRows({
        words: t.words,
        counts: t.counts,
        ...(t.pairs ? { pairs: t.pairs.rows() } : {}),
        ...(t.pairs && t.triples ? { triples: t.triples.rows() } : {}),
      }),
      { level: 9 },
    );
  }

  /**
   * Writes {@link toBinary} to `path` (conventionally `words.lex` beside `words.tsv`), through
   * a temporary file renamed into place, so a failed write leaves no partial file.
   */
  writeBinary(path: string): void {
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, this.toBinary());
      renameSync(tmp, path);
    } catch (e) {
      rmSync(tmp, { force: true }); // a half-written file (disk full) is not left behind
      throw e;
    }
  }

  /** One symbol from `state`: the score to add and the new state. */
  step(state: LexiconState, token: number): { delta: number; state: LexiconState } {
    const s = this.scale;
    const { node, prev, pair } = state;
    const { trie, best } = this.tables;
    if (node === OOV)
      return token === SPACE ? { delta: this.bonus, state: this.unknownRoot } : { delta: 0, state };
    if (token === SPACE) {
      if (node === ROOT) return { delta: 0, state }; // a space between words again
      const id = trie.wordId[node]!;
      const end = id >= 0 ? this.wordLogProb(state, id) : this.oov;
      return {
        delta: s * (end - best[node]!) + this.bonus,
        state: id >= 0 ? this.afterWord(state, id) : this.unknownRoot,
      };
    }
    const child = trie.child(node, token);
    if (child !== NO_NODE)
      return { delta: s * (best[child]! - best[node]!), state: { node: child, prev, pair } };
    return { delta: s * (this.oov - best[node]!), state: { node: OOV, prev, pair } };
  }

  /** Score to add when a hypothesis ends in `state` (its last word completed). */
  finalize(state: LexiconState): number {
    const { node } = state;
    if (node === ROOT) return 0;
    if (node === OOV) return this.bonus;
    const id = this.tables.trie.wordId[node]!;
    const end = id >= 0 ? this.wordLogProb(state, id) : this.oov;
    return this.scale * (end - this.tables.best[node]!) + this.bonus;
  }
}

function checkWeights(scale: number, oov: number, bonus: number): void {
  if (!Number.isFinite(bonus))
    throw new BadInputError(`wordBonus must be a finite number, got ${bonus}`, { field: 'wordBonus' });
  if (!(scale >= 0)) throw new BadInputError(`scale must be >= 0, got ${scale}`, { field: 'scale' });
  if (!(oov < 0))
    throw new BadInputError(`oovLogProb must be a negative number, got ${oov}`, { field: 'oovLogProb' });
}

/**
 * The tables of a text lexicon (`word<TAB>count` lines; the pair and triple files beside it
 * when there and wanted), read straight into arrays: a word given twice keeps its first place
 * and its later count, as a Map would; no map of strings to counts is kept.
 */
function readTextTables(text: string, path: string, wantPairs: boolean, wantTriples: boolean): LexiconTables {
  const words: string[] = [];
  const counts: number[] = [];
  const ids = new Map<string, number>();
  forEachTsvLine(text, 2, (columns, lineNo, raw) => {
    const [word, count] = columns ?? [];
    const c = Number(count);
    if (!word || /\s/.test(word) || !(c > 0))
      throw new BadInputError(`line ${lineNo}: expected 'word<TAB>count', got '${raw().slice(0, 60)}'`, {
        file: path,
        field: `line ${lineNo}`,
      });
    const id = ids.get(word);
    if (id === undefined) {
      ids.set(word, words.length);
      words.push(word);
      counts.push(c);
    } else counts[id] = c;
  });
  const bigramPath = path.replace(/\.tsv$/, '') + BIGRAM_FILE_SUFFIX;
  const trigramPath = path.replace(/\.tsv$/, '') + TRIGRAM_FILE_SUFFIX;
  const withPairs = wantPairs && existsSync(bigramPath);
  const withTriples = withPairs && wantTriples && existsSync(trigramPath);
  return buildTables(
    words,
    counts,
    (n) => (withPairs ? WordPairCounts.readFile(bigramPath, ids, n, counts) : undefined),
    (n, pairs) => (withTriples ? readTripleFile(trigramPath, ids, n, pairs) : undefined),
    path,
  );
}

/** The tables of the binary form ({@link WordLexicon.toBinary}); typed errors name the file and field. */
function readBinaryTables(
  bytes: Uint8Array,
  path: string,
  wantPairs: boolean,
  wantTriples: boolean,
): LexiconTables {
  let raw: Uint8Array;
  try {
    raw = gunzipSync(bytes);
  } catch (e) {
    throw new BadInputError(`binary lexicon does not unzip (${(e as Error).message}): ${path}`, {
      file: path,
    });
  }
  const rows = decodeLexiconRows(raw, path);
  return buildTables(
    rows.words,
    rows.counts,
    () => (wantPairs && rows.pairs ? WordPairCounts.fromRows(rows.pairs) : undefined),
    () => (wantTriples && rows.triples ? WordPairCounts.fromRows(rows.triples) : undefined),
    path,
  );
}

/**
 * The trie, unigram log-probabilities, pair and triple counts of `words` with `counts` (typed
 * errors name the word); `pairs(n)` reads the pair counts for the n word ids, `triples(n,
 * pairs)` the triple counts in rows of those pairs.
 */
function buildTables(
  words: readonly string[],
  counts: ArrayLike<number>,
  pairs: (words: number) => WordPairCounts | undefined,
  triples: (words: number, pairs: WordPairCounts) => WordPairCounts | undefined = () => undefined,
  source?: string,
): LexiconTables {
  const at = (field: string) => ({ ...(source !== undefined ? { file: source } : {}), field });
  let total = 0;
  words.forEach((w, i) => {
    const c = counts[i]!;
    if (!(c > 0) || !Number.isFinite(c))
      throw new BadInputError(`count of '${w}' must be a positive number, got ${c}`, at(w));
    total += c;
  });
  if (total === 0) throw new BadInputError('the lexicon has no words', at('counts'));
  const unigramLog = new Float64Array(words.length);
  const builder = new WordTrieBuilder(words.reduce((n, w) => n + w.length, 1));
  const symbols = new Uint8Array(64);
  let scratch = symbols;
  words.forEach((w, id) => {
    if (w.length > scratch.length) scratch = new Uint8Array(w.length);
    for (let i = 0; i < w.length; i++) {
      const code = w.charCodeAt(i);
      const sym = code >= 97 && code <= 122 ? code - 97 + FIRST_LETTER : code === 39 ? APOSTROPHE : -1;
      if (sym < 0)
        throw new BadInputError(
          `lexicon entry '${w}' is not one word of the alphabet (a-z, apostrophe): '${w[i]}' at ${i}`,
          at(w),
        );
      scratch[i] = sym;
    }
    if (w.length === 0) throw new BadInputError('an empty lexicon entry: not a word', at(`word ${id}`));
    unigramLog[id] = Math.log(counts[id]! / total);
    builder.add(scratch, w.length, id);
  });
  const trie = builder.finish();
  const pairCounts = pairs(words.length);
  return {
    ...(source !== undefined ? { source } : {}),
    trie,
    counts: Float64Array.from(counts),
    unigramLog,
    best: trie.subtreeMax(unigramLog),
    pairs: pairCounts,
    triples: pairCounts ? triples(words.length, pairCounts) : undefined,
    words,
  };
}
