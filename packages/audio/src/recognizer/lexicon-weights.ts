import { CTC_LEXICON_WEIGHTS } from '../decode/ctc-lexicon-weights.js';
import type { WordLexiconOptions } from '../decode/word-lexicon.js';
import type { DecodingMethod } from './recognizer-options.js';

/**
 * The word-lexicon weights a beam search of `method` is tuned for: `CTC_LEXICON_WEIGHTS` for
 * CTC prefix beam search, none (the lexicon's own defaults, tuned for the transducer's beam
 * search) otherwise. Spread a user's own weights over it:
 * `WordLexicon.fromFile(path, { ...lexiconWeightsFor(method), scale })`.
 */
export function lexiconWeightsFor(
  method: DecodingMethod,
): Readonly<Pick<WordLexiconOptions, 'scale' | 'oovLogProb' | 'wordBonus'>> {
  return method === 'ctc-beam' ? CTC_LEXICON_WEIGHTS : {};
}
