import { readFileSync } from 'node:fs';
import { BadInputError, FileNotFoundError } from '@rwkv-streams/core';
import { CharVocabulary } from './vocabulary.js';

/** Options of a word lexicon used as a language model in beam search. */
export interface WordLexiconOptions {
  /**
   * Weight of the word log-probabilities against the acoustic scores (default 0.3). The
   * defaults were tuned with the shipped model on 150 utterances of training sentences its
   * training never used (bench/src/speech-heldout.ts --lm), not on the held-out sets.
   */
  readonly scale?: number;
  /** Log-probability of a word outside the lexicon (default -20; the rarest listed word has about -13.9). */
  readonly oovLogProb?: number;
  /**
   * Added for each completed word (default 1). Word log-probabilities are all negative, so
   * without it the fused score favours dropping words; the bonus balances that, as word
   * insertion penalties do in speech decoders.
   */
  readonly wordBonus?: number;
}

interface TrieNode {
  readonly next: Map<number, TrieNode>;
  /** log P(word) when a word ends here, else -Infinity. */
  word: number;
  /** The best word log-probability in this subtree (the look-ahead). */
  best: number;
}

/** Where a hypothesis stands: inside the lexicon's trie, or inside a word outside it. */
export type LexiconState = TrieNode | 'oov';

const SPACE = 1;

/**
 * A unigram word language model over characters, for shallow fusion in the beam searches:
 * hypotheses walk a trie of the words, the score of a word arrives spread along its letters
 * (each letter adds the change in the best reachable word's log-probability: the look-ahead
 * that lets beam search prune misspellings early), a space completes the word, and a word
 * outside the lexicon costs `oovLogProb` instead (so names and rare words stay possible).
 * All scores are multiplied by `scale`. Built from word counts, e.g. the training text's
 * (`words.tsv` beside the shipped speech model: `word<TAB>count` lines).
 */
export class WordLexicon {
  /** The start state (between words). */
  readonly root: LexiconState;
  private readonly scale: number;
  private readonly oov: number;
  private readonly bonus: number;
  /** Words in the lexicon. */
  readonly size: number;

  constructor(
    /** The word counts it was built from. */
    readonly counts: ReadonlyMap<string, number>,
    options: WordLexiconOptions = {},
  ) {
    this.scale = options.scale ?? 0.3;
    this.oov = options.oovLogProb ?? -20;
    this.bonus = options.wordBonus ?? 1;
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
    const root: TrieNode = { next: new Map(), word: -Infinity, best: -Infinity };
    for (const [w, c] of counts) {
      const ids = vocab.encode(w);
      if (ids.length === 0 || ids.includes(SPACE))
        throw new BadInputError(`lexicon entry '${w}' is not one word of the alphabet (a-z, apostrophe)`, {
          field: w,
        });
      let node = root;
      for (const id of ids) {
        let child = node.next.get(id);
        if (!child) {
          child = { next: new Map(), word: -Infinity, best: -Infinity };
          node.next.set(id, child);
        }
        node = child;
      }
      node.word = Math.log(c / total);
    }
    const fill = (n: TrieNode): number => {
      let best = n.word;
      for (const c of n.next.values()) best = Math.max(best, fill(c));
      n.best = best;
      return best;
    };
    fill(root);
    this.root = root;
    this.size = counts.size;
  }

  /** Reads `word<TAB>count` lines (typed errors name the file and line). */
  static fromFile(path: string, options: WordLexiconOptions = {}): WordLexicon {
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
    return new WordLexicon(counts, options);
  }

  /** One symbol from `state`: the score to add and the new state. */
  step(state: LexiconState, token: number): { delta: number; state: LexiconState } {
    const s = this.scale;
    if (state === 'oov')
      return token === SPACE ? { delta: this.bonus, state: this.root } : { delta: 0, state: 'oov' };
    if (token === SPACE) {
      if (state === this.root) return { delta: 0, state }; // a space between words again
      const end = state.word > -Infinity ? state.word : this.oov;
      return { delta: s * (end - state.best) + this.bonus, state: this.root };
    }
    const child = state.next.get(token);
    if (child) return { delta: s * (child.best - state.best), state: child };
    return { delta: s * (this.oov - state.best), state: 'oov' };
  }

  /** Score to add when a hypothesis ends in `state` (its last word completed). */
  finalize(state: LexiconState): number {
    if (state === this.root) return 0;
    if (state === 'oov') return this.bonus;
    return this.scale * ((state.word > -Infinity ? state.word : this.oov) - state.best) + this.bonus;
  }
}
