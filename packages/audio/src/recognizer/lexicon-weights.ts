import { CTC_LEXICON_WEIGHTS } from '../decode/ctc-lexicon-weights.js';
import type { WordLexiconOptions } from '../decode/word-lexicon.js';
import type { DecodingMethod } from './recognizer-options.js';

/** The word lexicon's weights a recognizer's beam search uses. */
export type LexiconWeights = Readonly<Pick<WordLexiconOptions, 'scale' | 'oovLogProb' | 'wordBonus'>>;

/**
 * The word-lexicon weights for a beam search of `method`: those it is tuned for
 * (`CTC_LEXICON_WEIGHTS` for CTC prefix beam search; none, i.e. the lexicon's own defaults,
 * tuned for the transducer's beam search, otherwise), with a user's `overrides` over them
 * (an undefined override leaves the weight as it was):
 * `WordLexicon.fromFile(path, lexiconWeightsFor(method, { scale }))`.
 */
export function lexiconWeightsFor(
  method: DecodingMethod,
  overrides: { readonly scale?: number | undefined; readonly wordBonus?: number | undefined } = {},
): LexiconWeights {
  return {
    ...(method === 'ctc-beam' ? CTC_LEXICON_WEIGHTS : {}),
    ...(overrides.scale !== undefined ? { scale: overrides.scale } : {}),
    ...(overrides.wordBonus !== undefined ? { wordBonus: overrides.wordBonus } : {}),
  };
}
