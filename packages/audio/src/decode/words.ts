import type { DecodedToken } from './tokens.js';
import type { CharVocabulary } from './vocabulary.js';

/** A word with its start and end in seconds since the stream began. */
export interface TimedWord {
  readonly word: string;
  readonly start: number;
  readonly end: number;
}

/**
 * Words of decoded character tokens with times: a word is a run of non-space symbols; it
 * starts at its first symbol's frame and ends one frame after its last symbol's frame.
 * `frameSeconds` is the duration of one model frame (10 ms x the encoder's subsampling).
 */
export function timedWords(
  tokens: readonly DecodedToken[],
  vocab: CharVocabulary,
  frameSeconds: number,
): TimedWord[] {
  const words: TimedWord[] = [];
  let word = '';
  let first = 0;
  let last = 0;
  const flush = () => {
    if (word) words.push({ word, start: first * frameSeconds, end: (last + 1) * frameSeconds });
    word = '';
  };
  for (const t of tokens) {
    if (t.id === vocab.space) {
      flush();
      continue;
    }
    if (!word) first = t.frame;
    word += vocab.symbols[t.id] ?? '';
    last = t.frame;
  }
  flush();
  return words;
}
